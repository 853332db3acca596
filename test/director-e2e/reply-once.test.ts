// The Director's reply to a `/aura` command is posted once: GitHub can answer 502 to a reply it has applied (the
// retry plugin must not repeat it blind), and a process can die between posting the reply and marking the command
// acknowledged (the job's next run must find the reply, not post it again). The reply's hidden marker names the
// command comment. The handler is run directly on the delivery the inbox stored, so a test can run it twice.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { handleDirectorCommand } from "../../src/director/commands.js";
import { replyMarker } from "../../src/director/github-replies.js";
import { GITHUB_API, unthrottledGitHub } from "../helpers/harness.js";
import { testServices } from "../helpers/services.js";
import { commentPayload, DIRECTOR, mockReplies, REPO, seedAgentTask, useDirectorHarness } from "./fixtures.js";

const e2e = useDirectorHarness({
  // The inbox stores each command and queues its job, which stays queued: the tests run the handler themselves.
  harness: { exceptTasks: ["task.work", "director.command"] },
  permissions: { [DIRECTOR]: "maintain" },
  statusComments: true,
});

/**
 * Replies recorded (mockReplies) and listed back as the app's comments on the issue; with `applied502`, the first
 * reply post is applied and answered 502 (registered before the recording mock, so it answers first).
 */
function recordReplies(issueNumber: number, options: { applied502?: boolean } = {}) {
  // Filled in once mockReplies runs, after the 502 is registered; the 502's reply records into it.
  const recorder: { github?: ReturnType<typeof mockReplies> } = {};
  const recorded = () => recorder.github?.replies ?? [];
  if (options.applied502) {
    nock(GITHUB_API)
      .post(`/repos/${REPO}/issues/${issueNumber}/comments`)
      .reply(502, (_uri, body) => {
        recorded().push({ issue: issueNumber, body: (body as { body: string }).body });
        return { message: "Server Error" };
      });
  }
  const github = mockReplies();
  recorder.github = github;
  nock(GITHUB_API)
    .persist()
    .get(`/repos/${REPO}/issues/${issueNumber}/comments`)
    .query(true)
    .reply(200, () =>
      recorded()
        .filter((reply) => reply.issue === issueNumber)
        .map((reply, index) => ({ id: 660_000 + index, body: reply.body, user: { login: e2e.harness.config.botLogin, type: "Bot" } })),
    );
  return github;
}

/** A director's `/aura suspend` comment, stored by the inbox; the services to handle it (GitHub retries without pauses). */
async function suspendCommand(installationId: number) {
  const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", installationId });
  const comment = commentPayload({ body: "/aura suspend gpt-4.1-mini Testing replies", login: DIRECTOR, issueNumber: task.issueNumber, installationId });
  const { id: deliveryId } = await e2e.harness.deliver("issue_comment", comment.payload);
  const services = { ...testServices(e2e.harness.db), github: unthrottledGitHub() };
  return { task, commentId: comment.commentId, deliveryId, services };
}

async function employeeStatus(installationId: number): Promise<string | undefined> {
  const { rows } = await e2e.harness.db.pool.query<{ status: string }>(
    "SELECT status FROM employee_states WHERE installation_id = $1 AND employee_id = 'gpt-4.1-mini'",
    [installationId],
  );
  return rows[0]?.status;
}

async function repliedAt(installationId: number, commentId: number): Promise<Date | null | undefined> {
  const { rows } = await e2e.harness.db.pool.query<{ replied_at: Date | null }>(
    "SELECT replied_at FROM director_commands WHERE installation_id = $1 AND comment_id = $2",
    [installationId, commentId],
  );
  return rows[0]?.replied_at;
}

describe("a reply to a command that GitHub applied but answered 502", () => {
  it("is found by its marker and not posted again; the command is done and acknowledged", async () => {
    const { task, commentId, deliveryId, services } = await suspendCommand(51);
    const github = recordReplies(task.issueNumber, { applied502: true });

    const outcome = await handleDirectorCommand(services, deliveryId);

    expect(outcome).toBe("done");
    expect(github.replies).toHaveLength(1);
    expect(github.replies[0]?.body).toBe(
      `${replyMarker(commentId)}\nDirector @${DIRECTOR} suspended \`gpt-4.1-mini\`: Testing replies. It gets no new work until a director reinstates it.`,
    );
    expect(await employeeStatus(51)).toBe("suspended");
    expect(await repliedAt(51, commentId)).toBeInstanceOf(Date);
  });
});

describe("a command whose run died between posting the reply and marking it acknowledged", () => {
  it("is replied to once when its job runs again", async () => {
    const { task, commentId, deliveryId, services } = await suspendCommand(52);
    const github = recordReplies(task.issueNumber);
    const first = await handleDirectorCommand(services, deliveryId);
    // What a kill between the post and the mark leaves: the reply on GitHub, the command not acknowledged.
    await e2e.harness.db.pool.query("UPDATE director_commands SET replied_at = NULL WHERE installation_id = 52 AND comment_id = $1", [commentId]);

    const second = await handleDirectorCommand(services, deliveryId);

    expect([first, second]).toEqual(["done", "already_handled"]);
    expect(github.replies).toHaveLength(1);
    expect(github.replies[0]?.body.startsWith(`${replyMarker(commentId)}\n`)).toBe(true);
    expect(await employeeStatus(52)).toBe("suspended");
    expect(await repliedAt(52, commentId)).toBeInstanceOf(Date);
  });
});
