// The per-person throttle on `/aura` commands, end to end with an explicit clock: past the limit in a window a
// person's commands get no reaction and no reply, one notice and one audit event per window; other people are
// not affected; the next window accepts commands again; a redelivered command is not counted twice.
import { describe, expect, it } from "vitest";
import { COMMAND_LIMIT, COMMAND_WINDOW_MS } from "../../src/director/command-throttle.js";
import { auditActions, commentPayload, DIRECTOR, OUTSIDER, WRITER, useDirectorHarness } from "./fixtures.js";

// Every time the app reads comes from here; the tests move it explicitly.
let clock = new Date("2025-03-01T10:00:00.000Z");
const e2e = useDirectorHarness({
  harness: { env: { AURA_APP_SLUG: "aura-test" }, now: () => clock },
  permissions: { [DIRECTOR]: "maintain", [OUTSIDER]: "read", [WRITER]: "write" },
  replies: true,
});

/** Delivers `/aura dance` (an unknown verb: a "confused" reaction each time) and waits until it is handled. */
async function dance(login: string, issueNumber: number, id?: string): Promise<number> {
  const comment = commentPayload({ body: "/aura dance", login, issueNumber });
  await e2e.harness.deliver("issue_comment", comment.payload, id ? { id } : undefined);
  await e2e.harness.waitForIdle();
  return comment.commentId;
}

async function outcomes(login: string): Promise<string[]> {
  const { rows } = await e2e.harness.db.pool.query<{ outcome: string }>("SELECT outcome FROM director_commands WHERE login = $1 ORDER BY comment_id", [login]);
  return rows.map((row) => row.outcome);
}

const NOTICE = `Aura is ignoring your \`/aura\` commands for now: you sent more than ${COMMAND_LIMIT} in ${COMMAND_WINDOW_MS / 60_000} minutes.`;

describe("a flood of /aura commands from one person", () => {
  it("is acted on up to the limit, then ignored with one notice and one audit event per window", async () => {
    for (let i = 0; i < COMMAND_LIMIT; i++) await dance(OUTSIDER, 61);
    expect(e2e.github.reactions).toHaveLength(COMMAND_LIMIT);

    const over = [await dance(OUTSIDER, 61), await dance(OUTSIDER, 61), await dance(OUTSIDER, 62)];
    await dance(WRITER, 61);

    expect(e2e.github.reactions).toHaveLength(COMMAND_LIMIT + 1);
    expect(e2e.github.reactions.filter((reaction) => over.includes(reaction.commentId))).toEqual([]);
    const notices = e2e.github.replies.filter((reply) => reply.body.includes(NOTICE));
    expect(notices).toEqual([{ issue: 61, body: expect.stringContaining(`@${OUTSIDER}, ${NOTICE}`) }]);
    const throttled = await auditActions(e2e.harness.db.pool, "director.commands_throttled");
    expect(throttled.map((event) => [event.actor, event.payload.commentId, event.payload.commandsInWindow])).toEqual([[OUTSIDER, over[0], COMMAND_LIMIT + 1]]);
    expect((await outcomes(OUTSIDER)).slice(-3)).toEqual(["throttled", "throttled", "throttled"]);
    expect(await outcomes(WRITER)).toEqual(["unknown"]);

    // The window has passed since the last command: commands are acted on again.
    clock = new Date(clock.getTime() + COMMAND_WINDOW_MS + 1_000);
    const accepted = await dance(OUTSIDER, 61);
    expect(e2e.github.reactions.at(-1)).toEqual({ commentId: accepted, content: "confused" });

    // A second flood in the new window: a second notice and a second audit event, not one per command.
    for (let i = 1; i < COMMAND_LIMIT; i++) await dance(OUTSIDER, 63);
    await dance(OUTSIDER, 63);
    await dance(OUTSIDER, 63);
    expect(e2e.github.replies.filter((reply) => reply.body.includes(NOTICE))).toHaveLength(2);
    expect(await auditActions(e2e.harness.db.pool, "director.commands_throttled")).toHaveLength(2);
  }, 180_000);

  it("counts a redelivered command once", async () => {
    clock = new Date(clock.getTime() + 2 * COMMAND_WINDOW_MS);
    const comment = commentPayload({ body: "/aura dance", login: DIRECTOR, issueNumber: 64 });
    for (let i = 0; i < COMMAND_LIMIT + 5; i++) {
      await e2e.harness.deliver("issue_comment", comment.payload);
      await e2e.harness.waitForIdle();
    }

    const { rows } = await e2e.harness.db.pool.query<{ count: string }>("SELECT count(*) FROM director_command_log WHERE login = $1", [DIRECTOR.toLowerCase()]);
    expect(Number(rows[0]?.count)).toBe(1);
    expect(await outcomes(DIRECTOR)).toEqual(["unknown"]);
  }, 120_000);
});
