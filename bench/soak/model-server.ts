// The soak's model: a loopback OpenAI-compatible server (POST /v1/chat/completions) that answers at once, so
// the app processes reach it through OPENAI_BASE_URL exactly as they would reach a vLLM or a gateway. A request
// without tools is the Manager's planning call and gets the plan; a tool-calling request is one agent turn,
// answered from how many assistant turns the conversation already holds, so it needs no state of its own and a
// conversation a killed process began is answered the same way when another process starts it again.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { PLAN } from "../../test/e2e/pipeline-fixture.js";
import { openAIReply } from "../../test/employees/provider-fixtures.js";
import { openAIToolReply } from "../../test/employees/tool-calling-fixtures.js";

type ChatRequest = { messages?: { role?: string }[]; tools?: unknown[] };

/** The agent's turns: fix add(), add a test for it, submit. */
const TURNS = [
  { name: "edit_file", args: { path: "src/math.js", search: "a - b", replace: "a + b" } },
  {
    name: "edit_file",
    args: {
      path: "test/math.test.js",
      search: "test('doubles', () => assert.strictEqual(double(4), 8));",
      replace: "test('doubles', () => assert.strictEqual(double(4), 8));\ntest('adds', () => assert.strictEqual(add(2, 3), 5));",
    },
  },
  { name: "submit", args: { summary: "add() adds now; a test covers it.", tested: "node --test test/", remaining: "" } },
];

export type ModelServer = { baseUrl: string; calls: { plan: number; turns: number }; close: () => Promise<void> };

function answer(request: ChatRequest, calls: ModelServer["calls"]): unknown {
  if (request.tools === undefined) {
    calls.plan++;
    return openAIReply(JSON.stringify(PLAN));
  }
  calls.turns++;
  const done = (request.messages ?? []).filter((message) => message.role === "assistant").length;
  const step = TURNS[Math.min(done, TURNS.length - 1)] as (typeof TURNS)[number];
  return openAIToolReply([{ id: `call_${done}`, name: step.name, arguments: JSON.stringify(step.args) }]);
}

export async function startModelServer(): Promise<ModelServer> {
  const calls = { plan: 0, turns: 0 };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (request.method !== "POST" || !request.url?.endsWith("/chat/completions")) {
        response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not found" } }));
        return;
      }
      const body = answer(JSON.parse(Buffer.concat(chunks).toString("utf8")) as ChatRequest, calls);
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
