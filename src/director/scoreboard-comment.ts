// The scoreboard of one installation, built from its ledgers and HR states, and `/aura scoreboard`'s comment:
// posted on the issue the first time, edited in place afterwards. Eval figures (the newest finished `aura eval run`
// of each employee, and a director's accepted trial) are passed apart from the ledgers, to be shown labelled.
import type pg from "pg";
import { loadOutcomes, loadStrikes } from "../accountant/ledger.js";
import { renderScoreboard, SCOREBOARD_MARKER, type ScoreboardEmployee, type ScoreboardInput } from "../accountant/scoreboard.js";
import { upsertStickyComment } from "../github/sticky-comment.js";
import { EmployeeStatus, INITIAL_STATUS } from "../hr/employee-status.js";
import { loadEmployeeStatuses, loadTrials } from "../hr/probation.js";
import { loadLatestEvalTallies, resolvedInterval } from "../accountant/eval-results.js";
import type { Services } from "../services.js";
import { installationAccount, recordScoreboardComment, scoreboardCommentId } from "./store.js";

type Queryable = Pick<pg.PoolClient, "query">;

/** Every registered employee, and any that left the registry but still has ledger rows, with its numbers. */
export async function buildScoreboardInput(client: Queryable, services: Pick<Services, "policies" | "now">, installationId: number): Promise<ScoreboardInput> {
  const outcomes = await loadOutcomes(client, installationId);
  const strikes = await loadStrikes(client, installationId);
  const states = new Map([...(await loadEmployeeStatuses(client, installationId))].map(([employee, status]) => [employee, EmployeeStatus.parse(status)]));
  const ids = new Set<string>(services.policies.employees.employees.map((employee) => employee.id));
  for (const outcome of outcomes) ids.add(outcome.employee);
  for (const strike of strikes) ids.add(strike.employee);
  const evals = await loadLatestEvalTallies(client);
  const trials = await loadTrials(client, installationId);
  const employees: ScoreboardEmployee[] = [...ids].sort().map((employee) => {
    const tally = evals.get(employee);
    const trial = trials.get(employee);
    return {
      employee,
      status: states.get(employee) ?? INITIAL_STATUS,
      outcomes: outcomes.filter((outcome) => outcome.employee === employee),
      strikes: strikes.filter((strike) => strike.employee === employee),
      eval:
        tally?.endedAt == null
          ? undefined
          : {
              runId: tally.runId,
              attempts: tally.attempts,
              resolved: tally.resolved,
              interval: resolvedInterval(tally.resolved, tally.attempts),
              endedAt: tally.endedAt,
              trial: trial ? { runId: trial.runId, acceptedBy: trial.acceptedBy } : undefined,
            },
    };
  });
  const account = await installationAccount(client, installationId);
  return { employees, now: services.now(), scope: account ?? `installation ${installationId}` };
}

/** Posts or updates the scoreboard comment on an issue; returns its id and whether it was new. */
export async function upsertScoreboard(
  services: Services,
  target: { installationId: number; repo: string; issueNumber: number },
): Promise<{ commentId: number; created: boolean }> {
  const input = await buildScoreboardInput(services.pool, services, target.installationId);
  const known = await scoreboardCommentId(services.pool, target);
  const [owner = "", repo = ""] = target.repo.split("/");
  const result = await upsertStickyComment(services.github.forInstallation(target.installationId), {
    owner,
    repo,
    issueNumber: target.issueNumber,
    marker: SCOREBOARD_MARKER,
    body: renderScoreboard(input),
    commentId: known,
  });
  await recordScoreboardComment(services.pool, target, result.commentId);
  return result;
}
