// Deterministic routing of a task to an employee. Hard eligibility filters run first, in a fixed order, each
// leaving a recorded reason; then each eligible employee's quality is drawn from its Beta posterior with a PRNG
// seeded from the task, and the best sampled value (quality × task value − expected cost) wins. The decision
// record keeps every candidate, the seed and the draws, so the same inputs always replay to the same winner.
import type { Provider, TaskClass, WorkMode } from "../config/policy-files.js";
import { type SeedParts, routingSeed, sampleBeta, seedMaterial, seededRandom } from "./seeded-random.js";
import type { EmployeeStatus } from "../core/state-machine.js";

/** The filters, in the order they are applied; a candidate's record names the first one it failed. */
export const ELIGIBILITY_FILTERS = ["status", "capability", "allow-list", "budget", "circuit-breaker", "data-policy", "excluded"] as const;
export type EligibilityFilter = (typeof ELIGIBILITY_FILTERS)[number];

/** Probation employees with fewer outcomes (on this probation) than this get at most PROBATION_SHARE of a task class. */
export const PROBATION_MIN_OUTCOMES = 10;
export const PROBATION_SHARE = 0.1;

export type Posterior = { alpha: number; beta: number };
export const UNIFORM_PRIOR: Posterior = { alpha: 1, beta: 1 };

export type RoutingCandidate = {
  id: string;
  provider: Provider;
  status: EmployeeStatus;
  capabilities: readonly TaskClass[];
  /** The model runs on infrastructure the operator controls (registry `dataPolicy.local`). */
  local: boolean;
  /** Beta posterior of merge quality for this task class (the Accountant's); uniform when unknown. */
  posterior?: Posterior;
  /** Raw count of scored outcomes in this task class (not the discounted weight). */
  outcomes: number;
  /**
   * Raw count of scored outcomes in this task class since the employee's current probation began: all of them
   * for an employee that has never left probation, only the newer ones after HR put it back on probation or a
   * director reinstated it. The probation cap counts these; omitted, it counts `outcomes`.
   */
  probationOutcomes?: number;
  /** Expected dollar cost of this task for this employee: the task's token estimate at its price. */
  expectedCostUsd: number;
  /** How the employee works (registry `tools`): with tools natively, by actions, or single-shot (`none`). */
  workMode?: WorkMode;
};

export type RouteInput = SeedParts & {
  taskClass: TaskClass;
  /** The plan's estimate for the task; tokens are checked against the remaining budget. */
  estimate: { tokens: number; usd: number };
  candidates: readonly RoutingCandidate[];
  /** The repo's `employees:` allow-list; empty allows every registered employee. */
  allowList: readonly string[];
  /** The repo's `agent.requireTools`: employees that cannot work with tools (`tools: none`) are left out. */
  requireTools?: boolean;
  /** What is left of the tightest applicable budget (task, requirement, day). */
  remainingBudget: { tokens: number; usd: number };
  /** True when the employee's circuit breaker is open (its provider keeps failing). */
  isCircuitOpen: (employeeId: string) => boolean;
  dataPolicy: { privateRepo: boolean; localModelsOnly: boolean };
  /** Employees that already failed this task (provider failover moves past them). */
  excluded: readonly string[];
  /** Dollar value of a merged PR of this task class (repo `taskValues`). */
  taskValueUsd: number;
};

export type CandidateRecord = {
  employeeId: string;
  provider: Provider;
  status: EmployeeStatus;
  outcomes: number;
  /** Outcomes since the current probation began (what the probation cap counts). */
  probationOutcomes: number;
  eligible: boolean;
  /** The first filter the candidate failed, or null when eligible. */
  failedFilter: EligibilityFilter | null;
  reason: string;
  posterior: Posterior;
  expectedCostUsd: number;
  /** Sampled quality q ~ Beta(alpha, beta); null for ineligible candidates. */
  draw: number | null;
  /** q × task value − expected cost; null for ineligible candidates. */
  score: number | null;
  /** Eligible, but kept out of this draw by the probation cap. */
  probationCapped: boolean;
  /** How the candidate would work the task; null when the candidate did not say. */
  workMode: WorkMode | null;
};

export type ProbationCapRecord = {
  /** Whether the cap was in force: a newcomer on probation and an active employee were both eligible. */
  applies: boolean;
  /** The seeded uniform that chose the lane; null when the cap did not apply. */
  u: number | null;
  share: number;
  /** `probation`: only newcomers competed (u < share); `open`: newcomers were capped out; `none`: no cap. */
  lane: "probation" | "open" | "none";
};

export type RoutingDecision = {
  kind: "seeded-draw" | "director-override";
  seed: string;
  seedMaterial: string;
  policyRevision: string;
  taskClass: TaskClass;
  attempt: number;
  taskValueUsd: number;
  estimate: { tokens: number; usd: number };
  probationCap: ProbationCapRecord;
  /** Every candidate, sorted by id, eligible or not, with why. */
  candidates: CandidateRecord[];
  winner: string | null;
  /** How the winner works the task (agent with native tools, actions, or single-shot `none`); null without a winner. */
  workMode: WorkMode | null;
  reason: string;
  override: { employeeId: string; director: string; bypassed: EligibilityFilter[]; routerWouldChoose: string | null } | null;
};

const formatUsd = (usd: number) => `$${usd.toFixed(4)}`;

/** The first hard filter a candidate fails, with a sentence saying why; null when it passes them all. */
function firstFailedFilter(
  candidate: RoutingCandidate,
  input: RouteInput,
  skip: ReadonlySet<EligibilityFilter>,
): { filter: EligibilityFilter; reason: string } | null {
  const checks: Record<EligibilityFilter, () => string | null> = {
    status: () => (candidate.status === "suspended" ? "suspended by HR; suspended employees never get work" : null),
    capability: () =>
      candidate.capabilities.includes(input.taskClass) ? null : `not capable of ${input.taskClass} tasks (capabilities: ${candidate.capabilities.join(", ")})`,
    // The repository decides who may work on it: its allow-list, and whether tools are required.
    "allow-list": () => {
      if (input.allowList.length > 0 && !input.allowList.includes(candidate.id)) return "not in this repository's employees allow-list";
      if (input.requireTools && candidate.workMode === "none")
        return "works without tools (tools: none), and this repository requires tools (agent.requireTools)";
      return null;
    },
    budget: () => {
      if (input.estimate.tokens > input.remainingBudget.tokens)
        return `estimate of ${input.estimate.tokens} tokens exceeds the ${input.remainingBudget.tokens} tokens left`;
      if (candidate.expectedCostUsd > input.remainingBudget.usd)
        return `expected cost ${formatUsd(candidate.expectedCostUsd)} exceeds the ${formatUsd(input.remainingBudget.usd)} left`;
      return null;
    },
    "circuit-breaker": () => (input.isCircuitOpen(candidate.id) ? `circuit breaker open: ${candidate.provider} keeps failing` : null),
    "data-policy": () =>
      input.dataPolicy.privateRepo && input.dataPolicy.localModelsOnly && !candidate.local ? "private repository allows local models only" : null,
    excluded: () => (input.excluded.includes(candidate.id) ? "already failed this task; failing over to another employee" : null),
  };
  for (const filter of ELIGIBILITY_FILTERS) {
    if (skip.has(filter)) continue;
    const reason = checks[filter]();
    if (reason !== null) return { filter, reason };
  }
  return null;
}

type Evaluation = { seed: string; material: string; records: CandidateRecord[]; probationCap: ProbationCapRecord; winner: string | null; reason: string };

function evaluate(input: RouteInput): Evaluation {
  const material = seedMaterial(input);
  const seed = routingSeed(input);
  const sorted = [...input.candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const records = sorted.map((candidate) => candidateRecord(candidate, input, seed));
  const { pool, probationCap } = applyProbationCap(
    records.filter((record) => record.eligible),
    seed,
  );

  let best: CandidateRecord | undefined;
  for (const record of pool) {
    // Pool is sorted by id, so a strict comparison keeps the lower id on a tie.
    if (!best || (record.score ?? -Infinity) > (best.score ?? -Infinity)) best = record;
  }
  if (!best) return { seed, material, records, probationCap, winner: null, reason: noWinnerReason(records) };
  const reason = `highest sampled value: q=${best.draw?.toFixed(4)} × ${formatUsd(input.taskValueUsd)} − ${formatUsd(best.expectedCostUsd)} = ${best.score?.toFixed(4)}`;
  return { seed, material, records, probationCap, winner: best.employeeId, reason };
}

/** The candidate's filters and, when eligible, its seeded draw and score. */
function candidateRecord(candidate: RoutingCandidate, input: RouteInput, seed: string): CandidateRecord {
  const failed = firstFailedFilter(candidate, input, new Set());
  const posterior = candidate.posterior ?? UNIFORM_PRIOR;
  let draw: number | null = null;
  let score: number | null = null;
  if (!failed) {
    // One stream per employee: its draw does not depend on who else is a candidate.
    draw = sampleBeta(posterior.alpha, posterior.beta, seededRandom(seed, `employee:${candidate.id}`));
    score = draw * input.taskValueUsd - candidate.expectedCostUsd;
  }
  return {
    employeeId: candidate.id,
    provider: candidate.provider,
    status: candidate.status,
    outcomes: candidate.outcomes,
    probationOutcomes: candidate.probationOutcomes ?? candidate.outcomes,
    eligible: failed === null,
    failedFilter: failed?.filter ?? null,
    reason: failed?.reason ?? "eligible",
    posterior: { alpha: posterior.alpha, beta: posterior.beta },
    expectedCostUsd: candidate.expectedCostUsd,
    draw,
    score,
    probationCapped: false,
    workMode: candidate.workMode ?? null,
  };
}

/**
 * Who competes in this draw: everyone eligible, unless newcomers on probation and active employees are both
 * eligible; then a seeded lane lets only the newcomers compete (PROBATION_SHARE of draws) or only the others.
 * Marks (and gives the reason for) every eligible record the lane keeps out.
 */
function applyProbationCap(eligible: CandidateRecord[], seed: string): { pool: CandidateRecord[]; probationCap: ProbationCapRecord } {
  // Probation is a trial of PROBATION_MIN_OUTCOMES fresh outcomes, for a new employee and equally for one HR
  // put back on probation: its older outcomes earned it the status it just lost, so they do not lift the cap.
  const isNewcomer = (record: CandidateRecord) => record.status === "probation" && record.probationOutcomes < PROBATION_MIN_OUTCOMES;
  const newcomers = eligible.filter(isNewcomer);
  const activeExists = eligible.some((record) => record.status === "active");
  if (!activeExists || newcomers.length === 0) return { pool: eligible, probationCap: { applies: false, u: null, share: PROBATION_SHARE, lane: "none" } };

  // The cap is a seeded lane, not a running tally: replaying a decision needs nothing but its seed.
  const u = seededRandom(seed, "probation-lane")();
  const lane = u < PROBATION_SHARE ? "probation" : "open";
  let pool: CandidateRecord[];
  if (lane === "probation") {
    pool = newcomers;
    for (const record of eligible) {
      if (!isNewcomer(record)) record.probationCapped = true;
    }
  } else {
    pool = eligible.filter((record) => !isNewcomer(record));
    for (const record of newcomers) record.probationCapped = true;
  }
  for (const record of eligible) {
    if (record.probationCapped) {
      record.reason =
        lane === "probation"
          ? `eligible, but this draw is the probation lane (u=${u.toFixed(4)} < ${PROBATION_SHARE})`
          : `eligible, but capped: on probation with ${record.probationOutcomes} of ${PROBATION_MIN_OUTCOMES} outcomes (u=${u.toFixed(4)} ≥ ${PROBATION_SHARE})`;
    }
  }
  return { pool, probationCap: { applies: true, u, share: PROBATION_SHARE, lane } };
}

/** Why nobody won: how many candidates each filter stopped. */
function noWinnerReason(records: CandidateRecord[]): string {
  if (records.length === 0) return "no employees are registered";
  const counts = new Map<EligibilityFilter, number>();
  for (const record of records) if (record.failedFilter) counts.set(record.failedFilter, (counts.get(record.failedFilter) ?? 0) + 1);
  const summary = [...counts].map(([filter, count]) => `${count} × ${filter}`).join(", ");
  return `no eligible employee (${summary})`;
}

function decision(input: RouteInput, evaluation: Evaluation, kind: RoutingDecision["kind"]): RoutingDecision {
  return {
    kind,
    seed: evaluation.seed,
    seedMaterial: evaluation.material,
    policyRevision: input.policyRevision,
    taskClass: input.taskClass,
    attempt: input.attempt,
    taskValueUsd: input.taskValueUsd,
    estimate: { tokens: input.estimate.tokens, usd: input.estimate.usd },
    probationCap: evaluation.probationCap,
    candidates: evaluation.records,
    winner: evaluation.winner,
    workMode: workModeOfWinner(input, evaluation.winner),
    reason: evaluation.reason,
    override: null,
  };
}

function workModeOfWinner(input: RouteInput, winner: string | null): WorkMode | null {
  return input.candidates.find((candidate) => candidate.id === winner)?.workMode ?? null;
}

/** Routes one task attempt. Pure: the same input always gives the same decision. */
export function route(input: RouteInput): RoutingDecision {
  return decision(input, evaluate(input), "seeded-draw");
}

/** A director may look past capability and earlier failures; never past suspension, allow-list, budget, breaker or data policy. */
export const OVERRIDE_BYPASSES: readonly EligibilityFilter[] = ["capability", "excluded"];

/**
 * A director's `/aura reassign`: the named employee wins if it passes the filters a director cannot waive. The
 * record still holds every candidate, its draw, and whom the router itself would have chosen.
 */
export function routeOverride(input: RouteInput, override: { employeeId: string; director: string }): RoutingDecision {
  const evaluation = evaluate(input);
  const base = decision(input, evaluation, "director-override");
  const target = input.candidates.find((candidate) => candidate.id === override.employeeId);
  const record = { employeeId: override.employeeId, director: override.director, bypassed: [] as EligibilityFilter[], routerWouldChoose: evaluation.winner };
  if (!target) {
    return { ...base, winner: null, reason: `override refused: ${override.employeeId} is not a registered employee`, override: record };
  }
  const blocking = firstFailedFilter(target, input, new Set(OVERRIDE_BYPASSES));
  if (blocking) {
    return { ...base, winner: null, reason: `override refused: ${override.employeeId} fails ${blocking.filter} (${blocking.reason})`, override: record };
  }
  const waived = firstFailedFilter(target, input, new Set());
  const bypassed = OVERRIDE_BYPASSES.filter((filter) => {
    if (!waived) return false;
    const others = new Set<EligibilityFilter>(ELIGIBILITY_FILTERS.filter((f) => f !== filter));
    return firstFailedFilter(target, input, others) !== null;
  });
  return {
    ...base,
    winner: target.id,
    workMode: target.workMode ?? null,
    reason: `director @${override.director} reassigned the task to ${target.id}${bypassed.length > 0 ? ` (waiving ${bypassed.join(", ")})` : ""}`,
    override: { ...record, bypassed },
  };
}
