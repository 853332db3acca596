// A trial by eval: a director's `/aura trial <employee> eval <run>` accepts an `aura eval run` as the trial of an
// employee on probation. HR counts it only on that word and only when the eval's resolved share is convincing
// (lower 2.5 % bound ≥ HR_THRESHOLDS.trialLowerBound): the employee then leaves probation, moved by the director,
// with the run and its figures in the audit record. An eval never moves anyone by itself, and its figures never
// enter the live posterior, HR's review or routing.
import { loadEvalRun, loadEvalTally, resolvedInterval } from "../accountant/eval-results.js";
import type { Queryable } from "../db/queryable.js";
import type { EmployeeStatus } from "./employee-status.js";
import { HR_THRESHOLDS } from "./review-employee.js";
import { findTrial } from "./store.js";

export type TrialRequest = { installationId: number; employeeId: string; runId: number; director: string; note: string | null };

export type TrialFigures = { runId: number; attempts: number; resolved: number; lowerBound: number; upperBound: number };

export type TrialOutcome = { accepted: true; figures: TrialFigures; reason: string } | { accepted: false; reason: string; figures?: TrialFigures };

type TrialCheck = (TrialOutcome & { accepted: false }) | { accepted: true; figures: TrialFigures; reason: string; details: Record<string, unknown> };

const percent = (value: number) => `${(value * 100).toFixed(0)} %`;

/**
 * Whether the eval run can be the employee's trial now: it exists and has finished, it measured the employee,
 * the employee is on probation, this run was not accepted for it before, and the resolved share's lower bound
 * reaches the threshold. Reads only; hr-duty.ts's acceptTrial applies an accepted trial.
 */
export async function checkTrial(client: Queryable, request: TrialRequest, status: EmployeeStatus): Promise<TrialCheck> {
  const { employeeId, runId } = request;
  const run = await loadEvalRun(client, runId);
  if (!run) return { accepted: false, reason: `There is no eval run ${runId} in this app's database. \`aura eval run\` prints the id of each run it records.` };
  if (run.endedAt === null)
    return { accepted: false, reason: `Eval run ${runId} has not finished; finish it (run the same \`aura eval run\` again to resume it) and then accept it.` };
  const tally = await loadEvalTally(client, runId, employeeId);
  if (tally.attempts === 0)
    return { accepted: false, reason: `Eval run ${runId} did not measure \`${employeeId}\`; run an eval with \`--employees ${employeeId}\`.` };
  const interval = resolvedInterval(tally.resolved, tally.attempts);
  const figures = { runId, attempts: tally.attempts, resolved: tally.resolved, lowerBound: interval.lower, upperBound: interval.upper };
  const shown = `${tally.resolved}/${tally.attempts} resolved, 95 % interval ${percent(interval.lower)}–${percent(interval.upper)}`;
  if (status !== "probation") {
    return {
      accepted: false,
      figures,
      reason:
        status === "active"
          ? `\`${employeeId}\` is active already; a trial only takes an employee off probation.`
          : `\`${employeeId}\` is suspended; a director reinstates it first (\`/aura reinstate ${employeeId}\`), then a trial may take it off probation.`,
    };
  }
  const earlier = await findTrial(client, request.installationId, employeeId, runId);
  if (earlier)
    return {
      accepted: false,
      figures,
      reason: `Eval run ${runId} was accepted as \`${employeeId}\`'s trial already (by @${earlier.acceptedBy}); run a new eval for a new trial.`,
    };
  const threshold = HR_THRESHOLDS.trialLowerBound;
  if (interval.lower < threshold) {
    return {
      accepted: false,
      figures,
      reason: `Eval run ${runId}: \`${employeeId}\` ${shown}; the lower bound is below ${percent(threshold)}, so it stays on probation. A larger eval with more resolved tasks narrows the interval.`,
    };
  }
  return {
    accepted: true,
    figures,
    reason: `trial by eval run ${runId} accepted by @${request.director}: ${shown} (lower bound ≥ ${percent(threshold)})`,
    details: {
      trial: {
        runId,
        tasksDigest: run.tasksDigest,
        evalEndedAt: run.endedAt.toISOString(),
        attempts: tally.attempts,
        resolved: tally.resolved,
        lowerBound: interval.lower,
        upperBound: interval.upper,
        threshold,
        note: request.note,
      },
    },
  };
}
