// Migration 020 recorded every pull request the gate had judged as open without asking GitHub; migration 021
// closed those whose task says how they ended and marked the rest `unconfirmed`. The leader's reconciler asks
// GitHub once about each of them: still open at the recorded head, the row is confirmed; closed (or gone), it is
// recorded closed (merged or not); open at another head, it no longer speaks for the recorded commit. Either
// way the recorded commit's status is computed again, so an old closed agent PR stops counting as the agent's
// say there and its commit gets the agent-commit failure.
import type { Services } from "../services.js";
import { restatusCommit } from "./commit-status.js";
import { withPullLock } from "./gate.js";
import { getPull } from "../github/pull.js";
import { listUnconfirmedPulls, markPullConfirmed, recordPullMoved, recordUnconfirmedPullClosed, type UnconfirmedPull } from "./verdict-store.js";

export type ConfirmedPull = UnconfirmedPull & { found: "open" | "closed" | "merged" | "moved" | "gone" };

/** Confirms up to `batch` unconfirmed rows against GitHub; a row GitHub could not be asked about waits for the next pass. */
export async function confirmBackfilledPulls(services: Services, options: { batch: number }): Promise<ConfirmedPull[]> {
  const rows = await listUnconfirmedPulls(services.pool, options.batch);
  const confirmed: ConfirmedPull[] = [];
  for (const row of rows) {
    try {
      const found = await confirmPull(services, row);
      if (found) confirmed.push({ ...row, found });
    } catch (error) {
      services.log.warn(
        { repo: row.repo, pull: row.pullNumber, reason: String(error) },
        "could not confirm a backfilled pull request with GitHub; trying again on the next pass",
      );
    }
  }
  return confirmed;
}

async function confirmPull(services: Services, row: UnconfirmedPull): Promise<ConfirmedPull["found"] | undefined> {
  const octokit = services.github.forInstallation(row.installationId);
  const pull = await getPull(octokit, row.repo, row.pullNumber).catch((error: unknown) => {
    // Deleted, or the repository is gone or no longer readable by the app: it has no open pull request there.
    const status = (error as { status?: number }).status;
    if (status === 404 || status === 410) return undefined;
    throw error;
  });
  const found = await withPullLock(services, row, async () => {
    if (pull?.state === "open" && pull.head.sha === row.headSha) return (await markPullConfirmed(services.pool, row)) ? "open" : undefined;
    if (pull?.state === "open") return (await recordPullMoved(services.pool, row, pull.head.sha)) ? "moved" : undefined;
    const merged = pull?.merged ?? false;
    if (!(await recordUnconfirmedPullClosed(services.pool, row, merged))) return undefined;
    return pull ? (merged ? "merged" : "closed") : "gone";
  });
  if (found && found !== "open") {
    await restatusCommit(services, octokit, { installationId: row.installationId, repo: row.repo, sha: row.headSha });
    await services.audit.append({
      actor: "aura/reconciler",
      action: "governor.pull.confirmed",
      subject: `${row.repo}#${row.pullNumber}`,
      payload: { headSha: row.headSha, found, currentHead: pull?.head.sha ?? null },
    });
  }
  return found;
}
