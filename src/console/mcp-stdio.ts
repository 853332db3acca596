// `aura mcp`: the MCP server over stdio, for an IDE that starts it as a child process. It runs where the app's
// configuration is (the database, the App's credentials, with which it checks directorship as the console does).
// Who calls: the person of AURA_MCP_TOKEN (a personal token issued in the console), or else the user of
// GITHUB_TOKEN (asked of GitHub). GITHUB_TOKEN is also what submit_requirement files issues with. Logs go to
// stderr: stdout carries the protocol.
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import pino from "pino";
import type { AppConfig } from "../config/env.js";
import { loadPolicySet } from "../config/policy-files.js";
import { createPool } from "../db/pool.js";
import { createGitHubAccess } from "../github/octokit.js";
import { createMcpServer, type McpServices } from "./mcp.js";
import { gitHubPerson, SubmitRefused } from "./mcp-submit.js";
import { authenticateToken, type Person } from "./tokens.js";

export type StdioStreams = { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };

/** Serves MCP on stdin/stdout until stdin ends; returns the exit code (non-zero when the caller is refused). */
export async function runMcpStdio(config: AppConfig, databaseUrl: string, streams: StdioStreams): Promise<number> {
  if (!config.hasCredentials) {
    streams.stderr.write("aura mcp needs the App's credentials (APP_ID and PRIVATE_KEY or PRIVATE_KEY_PATH) to check which repositories you direct.\n");
    return 2;
  }
  const log = pino({ name: "aura-mcp", level: config.LOG_LEVEL }, pino.destination(2));
  const pool = createPool(databaseUrl, { max: 4 });
  try {
    const person = await callerOf(config, pool, streams.stderr);
    if (!person) return 2;
    const services: McpServices = {
      pool,
      log,
      github: createGitHubAccess({ appId: Number(config.APP_ID), privateKey: config.privateKey ?? "", baseUrl: config.githubApiUrl, log }),
      policies: loadPolicySet(),
      now: () => new Date(),
      config,
    };
    const server = createMcpServer(services, { person, githubToken: config.GITHUB_TOKEN });
    const closed = new Promise<void>((resolve) => {
      streams.stdin.once("end", resolve);
      streams.stdin.once("close", resolve);
    });
    await server.connect(new StdioServerTransport(streams.stdin as NodeJS.ReadStream, streams.stdout as NodeJS.WriteStream));
    log.info({ login: person.login }, "MCP server on stdio");
    await closed;
    await server.close();
    return 0;
  } finally {
    await pool.end();
  }
}

async function callerOf(config: AppConfig, pool: ReturnType<typeof createPool>, stderr: NodeJS.WritableStream): Promise<Person | undefined> {
  if (config.AURA_MCP_TOKEN) {
    const auth = await authenticateToken(pool, config.AURA_MCP_TOKEN);
    if (auth.ok) return auth.person;
    stderr.write(`aura mcp: AURA_MCP_TOKEN refused: ${auth.message}\n`);
    return undefined;
  }
  if (config.GITHUB_TOKEN) {
    try {
      return await gitHubPerson(config.GITHUB_TOKEN, config.githubApiUrl);
    } catch (error) {
      if (!(error instanceof SubmitRefused)) throw error;
      stderr.write(`aura mcp: ${error.message}\n`);
      return undefined;
    }
  }
  stderr.write("aura mcp: set AURA_MCP_TOKEN to a personal token issued in the console (or GITHUB_TOKEN to your own GitHub token) so it knows who you are.\n");
  return undefined;
}
