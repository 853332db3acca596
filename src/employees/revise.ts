// Revisions: a director's `/aura revise <instructions>` or "changes requested" review sends the task back to
// the same employee, which adds commits to the same branch. The request and the round count (which the
// Accountant uses: each round lowers the reward of a merge) are recorded with the transition, in the caller's
// transaction, and the work job is enqueued there too.
import type pg from "pg";
import { appendEvents } from "../audit/append.js";
import { transitionTask } from "../core/transitions.js";
import type { TaskState } from "../core/state-machine.js";
import type { Services } from "../services.js";
import { enqueue } from "../queue/enqueue.js";
import { findRevisionBySource, insertRevisionRequest, lockTaskForRevision, setRevisionRounds } from "./store.js";

export type InlineComment = { path: string; line?: number | null; body: string };

export type RevisionInput = {
  taskId: number;
  instructions: string;
  inlineComments?: InlineComment[];
  /** The director's login. */
  by: string;
  /** The command comment id or review id: a redelivered request is recorded once. */
  sourceKey?: string;
};

export type RevisionResult = { revisionId: number; round: number; created: boolean };

/** The task cannot be revised in its state (no PR yet, merged, cancelled…). */
export class RevisionNotPossible extends Error {
  override name = "RevisionNotPossible";
}

const REVISABLE: readonly TaskState[] = ["pr_open", "needs_director"];

export async function requestRevision(_services: Pick<Services, "log">, client: pg.PoolClient, input: RevisionInput): Promise<RevisionResult> {
  if (input.sourceKey) {
    const row = await findRevisionBySource(client, input.sourceKey);
    if (row) return { revisionId: Number(row.id), round: row.round, created: false };
  }
  const task = await lockTaskForRevision(client, input.taskId);
  if (!task) throw new RevisionNotPossible(`task ${input.taskId} does not exist`);
  if (!REVISABLE.includes(task.state) || task.pr_number === null) {
    throw new RevisionNotPossible(
      `task ${input.taskId} is ${task.state}${task.pr_number === null ? " and has no pull request" : ""}; only a task with an open pull request (or one waiting for a director) can be revised`,
    );
  }
  const round = task.revision_rounds + 1;
  const revisionId = await insertRevisionRequest(client, {
    taskId: input.taskId,
    round,
    instructions: input.instructions,
    inlineComments: input.inlineComments ?? [],
    by: input.by,
    sourceKey: input.sourceKey ?? null,
  });
  await setRevisionRounds(client, input.taskId, round);
  await transitionTask(client, input.taskId, "working", {
    actor: input.by,
    by: "director",
    reason: `revision round ${round} requested by @${input.by}`,
    details: { revisionId, round },
  });
  await appendEvents(client, [
    {
      actor: input.by,
      action: "task.revision_requested",
      subject: `task:${input.taskId}`,
      payload: { taskId: input.taskId, revisionId, round, instructions: input.instructions, inlineComments: input.inlineComments ?? [] },
    },
  ]);
  await enqueue(client, "task.work", { taskId: input.taskId, revisionId });
  return { revisionId, round, created: true };
}
