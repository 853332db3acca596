// The MCP server's tools, over the console's read model: the same facts the console shows, limited to the
// repositories the caller directs (decided when a tool first needs it, once per connection or HTTP request),
// and submit_requirement, which files a labelled issue as the caller (mcp-submit.ts). Transports: mcp-http.ts
// (`/mcp` on the app's server) and mcp-stdio.ts (`aura mcp`).
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode, McpError, type CallToolResult, type ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { PolicySet } from "../config/policy-files.js";
import { visibleRepositories, type AccessServices } from "./access.js";
import { submitRequirement, SubmitInput, SubmitRefused } from "./mcp-submit.js";
import { getRequirement, getTask, listRequirements, listTasks, MAX_PAGE } from "./read-model.js";
import { auditStatus, listAuditEvents } from "./read-model-audit.js";
import { getScoreboards } from "./read-model-scoreboard.js";
import type { Person } from "./tokens.js";
import type { Visibility } from "./visible.js";

export type McpServices = AccessServices & { policies: PolicySet; now: () => Date; config: { githubApiUrl: string } };

export type McpCaller = {
  person: Person;
  /** The caller's own GitHub token, for submit_requirement only. */
  githubToken: string | undefined;
};

export const SERVER_INFO = { name: "aura-orchestra", version: "0.1.0" } as const;

const limit = z.number().int().min(1).max(MAX_PAGE).optional().describe(`At most this many (1–${MAX_PAGE}, default 100)`);
const repo = z.string().optional().describe("Only this repository, owner/name");

function json(value: unknown): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(value, null, 2) }] };
}

function refusal(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

export function createMcpServer(services: McpServices, caller: McpCaller): McpServer {
  const server = new McpServer(SERVER_INFO, {
    instructions:
      "Aura Orchestra: requirements, tasks, agent trajectories, Governor verdicts, Auditor evidence, scoreboards and the audit log " +
      `of the repositories @${caller.person.login} directs. submit_requirement files a labelled GitHub issue as you; Aura's normal intake takes it from there.`,
  });
  let visible: Promise<Visibility> | undefined;
  const see = () => (visible ??= visibleRepositories(services, caller.person.login));
  registerReadTools(server, services, see);
  registerAuditTools(server, services, see);
  registerResources(server, services, see);
  server.registerTool(
    "submit_requirement",
    {
      title: "Submit a requirement",
      description:
        "File a GitHub issue with the repository's requirement label, as you (with your own GitHub token). Aura's intake then checks your permission and plans it as for any labelled issue.",
      inputSchema: {
        repo: z.string().describe("owner/name of a repository you direct"),
        title: z.string().describe("The issue title"),
        body: z.string().optional().describe("The issue body (Markdown): what should change and why"),
      },
    },
    async (args) => {
      const input = SubmitInput.safeParse(args);
      if (!input.success) return refusal(`Nothing was filed: ${input.error.issues.map((issue) => issue.message).join("; ")}`);
      try {
        return json(await submitRequirement(services, { ...caller, visible: await see() }, input.data));
      } catch (error) {
        if (error instanceof SubmitRefused) return refusal(error.message);
        throw error;
      }
    },
  );
  return server;
}

function registerReadTools(server: McpServer, services: McpServices, see: () => Promise<Visibility>): void {
  server.registerTool(
    "list_repositories",
    { title: "Repositories you direct", description: "The repositories whose Aura records you can read here (you are their director)." },
    async () => json(await see()),
  );
  server.registerTool(
    "list_requirements",
    {
      title: "List requirements",
      description: "Requirements (labelled issues) in the repositories you direct, newest first, with state, task count and cost.",
      inputSchema: {
        repo,
        state: z.string().optional().describe("Only this state, e.g. planning, in_progress, done"),
        before_id: z.number().int().optional(),
        limit,
      },
    },
    async (args) =>
      json(await listRequirements(services.pool, await see(), { repo: args.repo, state: args.state, beforeId: args.before_id, limit: args.limit })),
  );
  server.registerTool(
    "list_tasks",
    {
      title: "List tasks",
      description: "Tasks of the current plans in the repositories you direct, newest first: state, employee, pull request, cost.",
      inputSchema: {
        repo,
        state: z.string().optional().describe("Only this state, e.g. working, pr_open, merged"),
        requirement_id: z.number().int().optional(),
        before_id: z.number().int().optional(),
        limit,
      },
    },
    async (args) =>
      json(
        await listTasks(services.pool, await see(), {
          repo: args.repo,
          state: args.state,
          requirementId: args.requirement_id,
          beforeId: args.before_id,
          limit: args.limit,
        }),
      ),
  );
  server.registerTool(
    "get_task",
    {
      title: "Get a task",
      description:
        "One task: why its employee was chosen (routing decision), its agent trajectory, the Governor's latest verdict rule by rule, the Auditor's evidence, diff stats and cost.",
      inputSchema: { task_id: z.number().int(), steps: z.boolean().optional().describe("Include every trajectory step (default true)") },
    },
    async (args) => {
      const task = await getTask(services.pool, await see(), args.task_id, { steps: args.steps });
      return task ? json(task) : refusal(`Task ${args.task_id} was not found among the repositories you direct.`);
    },
  );
  server.registerTool(
    "get_scoreboard",
    {
      title: "Get the scoreboard",
      description:
        "Employees ranked by the lower bound of their quality posterior, with the interval, merge rate, strikes and cost, per installation you direct a repository of (the numbers /aura scoreboard posts).",
      inputSchema: { installation_id: z.number().int().optional() },
    },
    async (args) => json(await getScoreboards(services, await see(), args.installation_id)),
  );
}

function registerAuditTools(server: McpServer, services: McpServices, see: () => Promise<Visibility>): void {
  server.registerTool(
    "list_audit_events",
    {
      title: "List audit events",
      description:
        "Audit events about the repositories you direct (their issues, pull requests, tasks, and their installations), newest first; after_seq lists oldest first from there.",
      inputSchema: {
        subject: z.string().optional().describe("Exactly this subject, e.g. octo-org/widgets#12"),
        action: z.string().optional().describe("Exactly this action, e.g. task.assigned"),
        since: z.string().datetime({ offset: true }).optional(),
        until: z.string().datetime({ offset: true }).optional(),
        before_seq: z.number().int().optional(),
        after_seq: z.number().int().optional(),
        limit,
      },
    },
    async (args) =>
      json(
        await listAuditEvents(services.pool, await see(), {
          subject: args.subject,
          action: args.action,
          since: args.since === undefined ? undefined : new Date(args.since),
          until: args.until === undefined ? undefined : new Date(args.until),
          beforeSeq: args.before_seq,
          afterSeq: args.after_seq,
          limit: args.limit,
        }),
      ),
  );
  server.registerTool(
    "verify_audit",
    { title: "Verify the audit chain", description: "Recompute the audit log's hash chain and check it ends at the head: intact, or the first bad event." },
    async () => {
      const status = await auditStatus(services.pool as Parameters<typeof auditStatus>[0], await see(), services.now);
      return status ? json(status) : refusal("You direct no repository here, so there is no audit log to verify for you.");
    },
  );
}

function resource(uri: URL, value: unknown): ReadResourceResult {
  return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(value, null, 2) }] };
}

/** A resource id from the URI, or a "not found" for anything that is not a positive integer. */
function resourceId(value: string | string[] | undefined, what: string): number {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^[1-9][0-9]{0,17}$/.test(text))
    throw new McpError(ErrorCode.InvalidParams, `No ${what} ${String(text)}: ids are positive integers.`);
  return Number(text);
}

/**
 * The same facts as resources, for clients that attach context by URI: a task (`aura://tasks/{id}`, as get_task),
 * a requirement with its tasks (`aura://requirements/{id}`), and the scoreboard. Listing names the latest tasks and
 * requirements you can see; another repository's id is "not found", as in the tools.
 */
function registerResources(server: McpServer, services: McpServices, see: () => Promise<Visibility>): void {
  const notFound = (what: string, id: number) => new McpError(ErrorCode.InvalidParams, `${what} ${id} was not found among the repositories you direct.`);
  server.registerResource(
    "task",
    new ResourceTemplate("aura://tasks/{id}", {
      list: async () => ({
        resources: (await listTasks(services.pool, await see(), { limit: 50 })).map((task) => ({
          uri: `aura://tasks/${task.id}`,
          name: `${task.repo}#${task.issueNumber} ${task.key}: ${task.title}`,
          mimeType: "application/json",
        })),
      }),
    }),
    { title: "Task", description: "A task with its routing, trajectory, verdict, evidence, diff stats and cost", mimeType: "application/json" },
    async (uri, variables) => {
      const id = resourceId(variables.id, "task");
      const task = await getTask(services.pool, await see(), id);
      if (!task) throw notFound("Task", id);
      return resource(uri, task);
    },
  );
  server.registerResource(
    "requirement",
    new ResourceTemplate("aura://requirements/{id}", {
      list: async () => ({
        resources: (await listRequirements(services.pool, await see(), { limit: 50 })).map((requirement) => ({
          uri: `aura://requirements/${requirement.id}`,
          name: `${requirement.repo}#${requirement.issueNumber}: ${requirement.title}`,
          mimeType: "application/json",
        })),
      }),
    }),
    { title: "Requirement", description: "A requirement, its plan and its current tasks", mimeType: "application/json" },
    async (uri, variables) => {
      const id = resourceId(variables.id, "requirement");
      const visible = await see();
      const requirement = await getRequirement(services.pool, visible, id);
      if (!requirement) throw notFound("Requirement", id);
      return resource(uri, { ...requirement, tasks: await listTasks(services.pool, visible, { requirementId: id, limit: MAX_PAGE }) });
    },
  );
  server.registerResource(
    "scoreboard",
    "aura://scoreboard",
    { title: "Scoreboard", description: "Employees ranked by the lower bound of their quality posterior", mimeType: "application/json" },
    async (uri) => resource(uri, await getScoreboards(services, await see())),
  );
}
