// The loop's answers to what a model's turn can hold beyond one good call: many calls at once, a submit beside
// other calls, a turn past the time limit, a turn the provider gave no usable reply for (a safety block,
// Gemini's MALFORMED_FUNCTION_CALL), an empty turn. The toolbox is the real one on a real tree; the model is a
// script of turns, and once the real Gemini SDK answered by nock.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { loadProtectedPaths } from "../../src/config/policy-files.js";
import { MAX_CALLS_PER_TURN, runLoop, type AgentLoop } from "../../src/employees/agent/loop.js";
import { createToolbox } from "../../src/employees/agent/tools.js";
import type { StepRecord } from "../../src/employees/agent/trajectory.js";
import type { AgentMessage, ToolCall, ToolTurnResult } from "../../src/models/tool-calling.js";
import { makeTempDir } from "../workspace/git-fixture.js";
import { GEMINI_BASE, geminiClient, scriptPosts } from "./provider-fixtures.js";
import { geminiToolReply } from "./tool-calling-fixtures.js";

let temp: ReturnType<typeof makeTempDir>;
let tree: string;
let ids = 0;

beforeEach(() => {
  temp = makeTempDir("aura-agent-turns-");
  tree = path.join(temp.dir, "tree");
  mkdirSync(path.join(tree, "src"), { recursive: true });
  writeFileSync(path.join(tree, "src", "math.js"), "export const add = (a, b) => a - b;\n");
});

afterEach(() => {
  temp.cleanup();
  nock.cleanAll();
});

function call(name: string, args: Record<string, unknown>): ToolCall {
  ids++;
  return { id: `call-${ids}`, name, rawArguments: JSON.stringify(args), arguments: args };
}

function turnOf(toolCalls: ToolCall[], extra: Partial<ToolTurnResult> = {}): ToolTurnResult {
  return {
    text: "",
    toolCalls,
    usage: { input: 10, cachedInput: 0, output: 5 },
    costUsd: 0,
    model: "scripted",
    provider: "openai",
    durationMs: 0,
    ...extra,
  };
}

const SUBMIT = { summary: "Fixed add.", tested: "read it", remaining: "" };

function loopOf(script: ToolTurnResult[], overrides: Partial<AgentLoop> = {}) {
  const steps: StepRecord[] = [];
  const sent: AgentMessage[][] = [];
  const toolbox = createToolbox({
    root: tree,
    sandbox: { allowUnsandboxed: false },
    commands: { setup: undefined, test: undefined },
    rules: { scope: ["src/**"], protectedPaths: loadProtectedPaths().protected, taskClass: "bugfix" },
    requestScope: () => Promise.resolve({ granted: [], refused: [] }),
  });
  const loop: AgentLoop = {
    toolbox,
    messages: [{ role: "user", content: "Fix add in src/math.js." }],
    turn: (messages) => {
      sent.push(messages.map((message) => ({ ...message })));
      const next = script.shift();
      if (!next) throw new Error("the script has no more turns");
      return Promise.resolve(next);
    },
    record: (step) => {
      steps.push(step);
      return Promise.resolve();
    },
    limits: { maxSteps: 10, maxMs: 60 * 60_000, maxIdleTurns: 3 },
    now: () => new Date("2025-09-01T12:00:00Z"),
    ...overrides,
  };
  return { loop, toolbox, steps, sent };
}

function toolAnswers(messages: readonly AgentMessage[]): string[] {
  return messages.flatMap((message) => (message.role === "tool" ? [message.content] : []));
}

describe("a turn with many calls", () => {
  it(`runs at most ${MAX_CALLS_PER_TURN} calls of one turn and answers the rest as not run, so one turn cannot outrun the step cap`, async () => {
    const many = Array.from({ length: MAX_CALLS_PER_TURN + 4 }, () => call("list_dir", {}));
    const { loop, steps } = loopOf([turnOf(many), turnOf([call("submit", SUBMIT)])]);

    const result = await runLoop(loop);

    expect(result.endReason).toBe("submitted");
    const answers = toolAnswers(result.messages);
    expect(answers.slice(0, MAX_CALLS_PER_TURN)).toEqual(Array.from({ length: MAX_CALLS_PER_TURN }, () => "./ (1 entries):\nsrc/"));
    expect(answers.slice(MAX_CALLS_PER_TURN, MAX_CALLS_PER_TURN + 4)).toEqual(
      Array.from(
        { length: 4 },
        (_, index) =>
          `Not run: a turn may make at most ${MAX_CALLS_PER_TURN} tool calls and this was call ${MAX_CALLS_PER_TURN + index + 1}. Make it again in your next turn if you still need it.`,
      ),
    );
    // Every call is answered and on record, the ones not run with status error.
    expect(steps.filter((step) => step.kind === "tool" && step.status === "error")).toHaveLength(4);
  });

  it("runs no call after the first of a turn once the wall-clock limit has passed, and stops at that limit after the turn", async () => {
    let clock = Date.parse("2025-09-01T12:00:00Z");
    const script = [
      turnOf([call("list_dir", {}), call("edit_file", { path: "src/math.js", search: "a - b", replace: "a + b" }), call("list_dir", { path: "src" })]),
    ];
    const { loop } = loopOf(script, {
      limits: { maxSteps: 10, maxMs: 60_000, maxIdleTurns: 3 },
      // Each read of the clock is half a minute later: the turn starts in time, its calls run past the limit.
      now: () => new Date((clock += 30_000)),
    });

    const result = await runLoop(loop);

    expect(result.endReason).toBe("wall-clock");
    expect(toolAnswers(result.messages)).toEqual([
      "./ (1 entries):\nsrc/",
      "Not run: the work run's time limit was reached during this turn.",
      "Not run: the work run's time limit was reached during this turn.",
    ]);
    expect(readFileSync(path.join(tree, "src", "math.js"), "utf8")).toBe("export const add = (a, b) => a - b;\n");
  });
});

describe("submit beside other calls", () => {
  it("does not take a submit followed by other calls in the same turn: the later calls run, the model is told to submit on its own", async () => {
    const { loop, toolbox } = loopOf([
      turnOf([call("submit", SUBMIT), call("edit_file", { path: "src/math.js", search: "a - b", replace: "a + b" })]),
      turnOf([call("submit", SUBMIT)]),
    ]);

    const result = await runLoop(loop);

    expect(result.endReason).toBe("submitted");
    expect(result.turns).toBe(2);
    expect(toolAnswers(result.messages)[0]).toBe(
      "Not submitted: submit must be the last call of its turn, and other calls came after it. Look at their results, then call submit again on its own.",
    );
    expect([...toolbox.writes().keys()]).toEqual(["src/math.js"]);
  });

  it("does not take a submit after a call of the same turn that failed, and says which one", async () => {
    const { loop } = loopOf([
      turnOf([call("edit_file", { path: "src/math.js", search: "a * b", replace: "a + b" }), call("submit", SUBMIT)]),
      turnOf([call("edit_file", { path: "src/math.js", search: "a - b", replace: "a + b" })]),
      turnOf([call("submit", SUBMIT)]),
    ]);

    const result = await runLoop(loop);

    const answers = toolAnswers(result.messages);
    expect(answers[0]).toMatch(/^Not applied: /);
    expect(answers[1]).toBe("Not submitted: edit_file did not work earlier in this turn. Look at its result and fix what it reports, then call submit again.");
    expect(result.endReason).toBe("submitted");
    expect(result.turns).toBe(3);
  });

  it("takes a submit that ends a turn of calls that all worked", async () => {
    const { loop } = loopOf([turnOf([call("edit_file", { path: "src/math.js", search: "a - b", replace: "a + b" }), call("submit", SUBMIT)])]);

    const result = await runLoop(loop);

    expect(result.endReason).toBe("submitted");
    expect(result.submission).toEqual(SUBMIT);
  });
});

describe("turns without a usable reply", () => {
  it("tells the model its last turn was refused by the provider, records why, and names it when the idle limit stops the run", async () => {
    const refused = () => turnOf([], { refusal: "blocked (SAFETY)", finishReason: "SAFETY" });
    const { loop, steps } = loopOf([refused(), refused()], { limits: { maxSteps: 10, maxMs: 60 * 60_000, maxIdleTurns: 2 } });

    const result = await runLoop(loop);

    expect(result.endReason).toBe("idle");
    expect(result.stop?.reason).toBe("The agent made no progress for 2 turns in a row (the last time the provider gave no usable reply: blocked (SAFETY)).");
    const nudges = result.messages.filter((message) => message.role === "user").slice(1);
    expect(nudges.map((message) => message.content)).toEqual([
      "Your last turn could not be used: the provider gave no answer (blocked (SAFETY)). Go on with the task by calling a tool, or call submit when it is done.",
      "Your last turn could not be used: the provider gave no answer (blocked (SAFETY)). Go on with the task by calling a tool, or call submit when it is done.",
    ]);
    expect(steps.filter((step) => step.kind === "turn").map((step) => step.observation)).toEqual([
      "[no usable reply: blocked (SAFETY)]",
      "[no usable reply: blocked (SAFETY)]",
    ]);
  });

  it("goes on after Gemini's MALFORMED_FUNCTION_CALL: the next request carries no empty model turn and asks for the call again", async () => {
    const Body = z.object({ contents: z.array(z.object({ role: z.string(), parts: z.array(z.record(z.string(), z.unknown())) })) });
    const malformed = { ...geminiToolReply([]), candidates: [{ content: { role: "model", parts: [] }, finishReason: "MALFORMED_FUNCTION_CALL", index: 0 }] };
    const { bodies } = scriptPosts(nock(GEMINI_BASE), "/v1beta/models/gemini-2.5-flash:generateContent", (body) => Body.parse(body), [
      { status: 200, body: malformed },
      { status: 200, body: geminiToolReply([{ name: "submit", args: SUBMIT }]) },
    ]);
    const client = geminiClient();
    const { loop, toolbox } = loopOf([]);
    loop.turn = (messages) => client.turn({ messages, tools: toolbox.specs, protocol: "native" });

    const result = await runLoop(loop);

    expect(result.endReason).toBe("submitted");
    const second = bodies[1]?.contents ?? [];
    expect(second.slice(1)).toEqual([
      { role: "model", parts: [{ text: "(no reply)" }] },
      {
        role: "user",
        parts: [
          {
            text: "Your last turn could not be used: the provider could not parse your tool call (no answer (finish reason MALFORMED_FUNCTION_CALL)). Call the tool again with arguments as one JSON object that matches its schema.",
          },
        ],
      },
    ]);
    // No part of any request is an empty text, which the API refuses.
    expect(bodies.flatMap((body) => body.contents.flatMap((content) => content.parts)).some((part) => part.text === "")).toBe(false);
  });
});
