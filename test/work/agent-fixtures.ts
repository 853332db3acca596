// Fixtures for the agent tests: the real OpenAI SDK behind nock answering chat completions from a script of
// tool-calling replies (the recorded response shape, see test/employees/tool-calling-fixtures.ts), every
// request body kept so a test can read what the model was sent; and small readers of the trajectory tables.
import nock from "nock";
import type pg from "pg";
import { openAIToolReply } from "../employees/tool-calling-fixtures.js";

export const OPENAI_API = "https://api.openai.com";

/** One tool call the model makes: a name and its arguments (an object, or a raw string sent as it is). */
export type ScriptedCall = { name: string; args: Record<string, unknown> | string };
/** One reply: its tool calls (none: a text-only answer) and its text. */
export type ScriptedTurn = { calls: ScriptedCall[]; text?: string };

export type ChatRequest = { model: string; messages: { role: string; content: unknown; tool_calls?: unknown[]; tool_call_id?: string }[]; tools?: unknown[] };

/**
 * Answers every POST /v1/chat/completions with `reply(request, index)` (the JSON body of a 200), the i-th
 * request's body kept as `requests[i]`.
 */
export function answerChatCompletions(reply: (request: ChatRequest, index: number) => unknown): { requests: ChatRequest[] } {
  const requests: ChatRequest[] = [];
  nock(OPENAI_API)
    .persist()
    .post("/v1/chat/completions")
    .reply((_uri, body) => {
      const request = (typeof body === "string" ? JSON.parse(body) : body) as ChatRequest;
      const index = requests.length;
      requests.push(request);
      return [200, reply(request, index), { "content-type": "application/json" }];
    });
  return { requests };
}

/**
 * Answers POST /v1/chat/completions turn by turn: `turns[i]` for the i-th request (a function gets the index
 * and the request; past the end, the last entry repeats). Call ids are `call_<turn>_<index>`.
 */
export function openAIAgent(turns: (ScriptedTurn | ((index: number, request: ChatRequest) => ScriptedTurn))[]) {
  const { requests } = answerChatCompletions((request, index) => {
    const entry = turns[Math.min(index, turns.length - 1)];
    if (entry === undefined) throw new Error("the agent script has no turns");
    const turn = typeof entry === "function" ? entry(index, request) : entry;
    const calls = turn.calls.map((call, position) => ({
      id: `call_${index}_${position}`,
      name: call.name,
      arguments: typeof call.args === "string" ? call.args : JSON.stringify(call.args),
    }));
    return openAIToolReply(calls, turn.text ?? null);
  });
  return {
    requests,
    /** The text of every message of the i-th request. */
    sent: (index: number) => (requests[index]?.messages ?? []).map((message) => (typeof message.content === "string" ? message.content : "")).join("\n"),
  };
}

export const call = (name: string, args: Record<string, unknown> | string = {}): ScriptedCall => ({ name, args });
export const turn = (...calls: ScriptedCall[]): ScriptedTurn => ({ calls });
export const submit = (summary: string, tested = "node --test", remaining = ""): ScriptedTurn => turn(call("submit", { summary, tested, remaining }));

export async function workRuns(pool: pg.Pool, taskId: number) {
  const { rows } = await pool.query<{
    id: string;
    mode: string;
    end_reason: string | null;
    ended: boolean;
    steps: number;
    digest: string | null;
    files_changed: string[];
    files_read: string[];
    guidance: string[];
    submission: { summary: string } | null;
    max_steps: number | null;
  }>(
    `SELECT id, mode, end_reason, ended_at IS NOT NULL AS ended, steps, digest, files_changed, files_read, guidance, submission, max_steps
     FROM work_runs WHERE task_id = $1 ORDER BY id`,
    [taskId],
  );
  return rows;
}

export async function toolSteps(pool: pg.Pool, runId: string) {
  const { rows } = await pool.query<{ step: number; tool: string; status: string; exit_code: number | null; observation: string; arguments: string }>(
    "SELECT step, tool, status, exit_code, observation, arguments FROM work_steps WHERE run_id = $1 AND kind = 'tool' ORDER BY step",
    [runId],
  );
  return rows;
}

export async function auditPayloads(pool: pg.Pool, action: string) {
  const { rows } = await pool.query<{ payload: Record<string, unknown> }>("SELECT payload FROM audit.events WHERE action = $1 ORDER BY seq", [action]);
  return rows.map((row) => row.payload);
}
