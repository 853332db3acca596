// Routing simulation (`npm run bench:routing`): three simulated employees — strong and costly, medium and
// cheap, weak and free — over 300 tasks and 50 seeds, through the REAL router (src/manager/route.ts) with
// posteriors folded from the simulated outcomes by the Accountant and statuses moved by the real HR review,
// run right after each outcome as handlePullClosed does. The probation cap counts what routeTask gives it:
// outcomes since the employee's current probation began (src/hr/probation.ts).
// Reports the share of the last 100 tasks routed to the best-value employee, the regret in dollars, and how
// many tasks the router needs to move away from an employee whose quality drops halfway.
import type { TaskOutcome } from "../src/accountant/outcome.js";
import { FORGETTING } from "../src/accountant/posterior.js";
import { posteriorsFromOutcomes, probationOutcomeCounts } from "../src/accountant/posteriors.js";
import { probationSince, type EmployeeStatus } from "../src/hr/employee-status.js";
import { reviewEmployee } from "../src/hr/review-employee.js";
import { route, type RoutingCandidate } from "../src/manager/route.js";
import { seededRandom } from "../src/manager/seeded-random.js";

const TASKS = 300;
const SEEDS = 50;
const LAST = 100;
const TASK_VALUE_USD = 20; // DEFAULT_TASK_VALUES.bugfix
const TASK_CLASS = "bugfix" as const;
const DROP_AT = TASKS / 2;
const DROPPED_QUALITY = 0.3;
/** "Moved away": within a window of this many tasks, the dropped employee gets at most this share. */
const AWAY_WINDOW = 10;
const AWAY_SHARE = 0.2;
const TARGET_SHARE = 0.7;
const TARGET_DETECTION = 40;
const SENSITIVITY = [0.97, 0.95, 0.9] as const;

type SimEmployee = { id: string; quality: number; costUsd: number; provider: RoutingCandidate["provider"] };

const EMPLOYEES: readonly SimEmployee[] = [
  { id: "strong-costly", quality: 0.9, costUsd: 6, provider: "openai" },
  { id: "medium-cheap", quality: 0.8, costUsd: 0.5, provider: "gemini" },
  { id: "weak-free", quality: 0.4, costUsd: 0, provider: "ollama" },
];

const expectedValue = (quality: number, costUsd: number) => quality * TASK_VALUE_USD - costUsd;

type Run = { choices: string[]; regretUsd: number; lastShareBest: number; detection: number | null; finalStatus: Record<string, EmployeeStatus> };

function simulate(seed: number, drop: boolean, gamma: number = FORGETTING): Run {
  const qualityAt = (employee: SimEmployee, t: number) => (drop && employee.id === "medium-cheap" && t >= DROP_AT ? DROPPED_QUALITY : employee.quality);
  // The employee_states rows: status, and who last changed it when (what the probation start is read from).
  type State = { status: EmployeeStatus; changedBy: string | null; changedAt: Date };
  const states = new Map<string, State>(EMPLOYEES.map((employee) => [employee.id, { status: "probation", changedBy: null, changedAt: new Date(0) }]));
  const stateOf = (id: string): State => states.get(id) ?? { status: "probation", changedBy: null, changedAt: new Date(0) };
  const outcomes: TaskOutcome[] = [];
  const choices: string[] = [];
  const start = Date.UTC(2025, 0, 1);
  let regretUsd = 0;
  const outcomeRandom = seededRandom(`bench-outcomes:${seed}:${drop}`);
  for (let t = 0; t < TASKS; t++) {
    const posteriors = posteriorsFromOutcomes(outcomes, gamma);
    // As routeTask does (loadProbationOutcomes): outcomes since each employee's current probation began.
    const onProbation = probationOutcomeCounts(outcomes, new Map(EMPLOYEES.map((employee) => [employee.id, probationSince(stateOf(employee.id))])));
    const candidates: RoutingCandidate[] = EMPLOYEES.map((employee) => ({
      id: employee.id,
      provider: employee.provider,
      status: stateOf(employee.id).status,
      capabilities: [TASK_CLASS],
      local: employee.provider === "ollama",
      posterior: posteriors.get(employee.id) ?? { alpha: 1, beta: 1 },
      outcomes: posteriors.get(employee.id)?.outcomes ?? 0,
      probationOutcomes: onProbation.get(employee.id) ?? 0,
      expectedCostUsd: employee.costUsd,
    }));
    const decision = route({
      installationId: seed,
      repo: "bench/routing",
      issueNumber: t + 1,
      taskId: "T1",
      attempt: 1,
      policyRevision: drop ? "drift" : "stationary",
      taskClass: TASK_CLASS,
      estimate: { tokens: 1000, usd: 0 },
      candidates,
      allowList: [],
      remainingBudget: { tokens: 1_000_000, usd: 100 },
      isCircuitOpen: () => false,
      dataPolicy: { privateRepo: false, localModelsOnly: false },
      excluded: [],
      taskValueUsd: TASK_VALUE_USD,
    });
    const chosen = EMPLOYEES.find((employee) => employee.id === decision.winner);
    if (!chosen) {
      // Everyone suspended: the task waits for a director; count the best value as lost.
      choices.push("none");
      regretUsd += Math.max(...EMPLOYEES.map((e) => expectedValue(qualityAt(e, t), e.costUsd)));
      continue;
    }
    choices.push(chosen.id);
    const best = Math.max(...EMPLOYEES.map((e) => expectedValue(qualityAt(e, t), e.costUsd)));
    regretUsd += best - expectedValue(qualityAt(chosen, t), chosen.costUsd);
    const merged = outcomeRandom() < qualityAt(chosen, t);
    const at = new Date(start + t * 3_600_000);
    outcomes.push({
      employee: chosen.id,
      taskClass: TASK_CLASS,
      taskId: `T${String(t).padStart(4, "0")}`,
      result: merged ? "merged" : "rejected",
      revisionRounds: 0,
      costUsd: chosen.costUsd,
      latencyMs: null,
      assignedAt: at,
      prOpenedAt: at,
      closedAt: at,
    });
    // HR reviews the employee right after each ledger write, as handlePullClosed does (reviewAndApply); the
    // status change lands a moment after the outcome's close, as employee_states.changed_at does.
    const own = outcomes.filter((outcome) => outcome.employee === chosen.id);
    const state = stateOf(chosen.id);
    const review = reviewEmployee({ status: state.status, outcomes: own, strikes: [], now: at, probationSince: probationSince(state) });
    if (review.action !== "none") states.set(chosen.id, { status: review.to, changedBy: "aura/hr", changedAt: new Date(at.getTime() + 1000) });
  }
  const bestId = (t: number) => [...EMPLOYEES].sort((x, y) => expectedValue(qualityAt(y, t), y.costUsd) - expectedValue(qualityAt(x, t), x.costUsd))[0]?.id;
  const last = choices.slice(-LAST);
  const lastShareBest = last.filter((id, i) => id === bestId(TASKS - LAST + i)).length / last.length;
  let detection: number | null = null;
  if (drop) {
    for (let k = 0; DROP_AT + k + AWAY_WINDOW <= TASKS; k++) {
      const window = choices.slice(DROP_AT + k, DROP_AT + k + AWAY_WINDOW);
      if (window.filter((id) => id === "medium-cheap").length / AWAY_WINDOW <= AWAY_SHARE) {
        detection = k;
        break;
      }
    }
  }
  return { choices, regretUsd, lastShareBest, detection, finalStatus: Object.fromEntries([...states].map(([id, state]) => [id, state.status])) };
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const pct = (value: number) => `${(value * 100).toFixed(1)} %`;

function main(): void {
  const started = performance.now();
  const stationary = Array.from({ length: SEEDS }, (_, seed) => simulate(seed, false));
  const drift = Array.from({ length: SEEDS }, (_, seed) => simulate(seed, true));

  const shares = stationary.map((run) => run.lastShareBest);
  const regrets = stationary.map((run) => run.regretUsd);
  const lastShareByEmployee = EMPLOYEES.map((employee) => ({
    id: employee.id,
    share: mean(stationary.map((run) => run.choices.slice(-LAST).filter((id) => id === employee.id).length / LAST)),
  }));
  const detections = drift.map((run) => run.detection);
  const detected = detections.filter((value): value is number => value !== null);
  const driftShares = drift.map((run) => run.lastShareBest);
  const statusCounts = (runs: Run[], id: string) => {
    const counts: Record<string, number> = {};
    for (const run of runs) counts[run.finalStatus[id] ?? "?"] = (counts[run.finalStatus[id] ?? "?"] ?? 0) + 1;
    return Object.entries(counts)
      .map(([status, n]) => `${status} ${n}`)
      .join(", ");
  };

  const shareOk = mean(shares) >= TARGET_SHARE;
  const detectionMedian = detected.length > 0 ? quantile(detected, 0.5) : NaN;
  const detectionOk = detected.length === SEEDS && detectionMedian <= TARGET_DETECTION;
  const lines = [
    "Routing simulation — real router (seeded Beta draws, value = q × task value − cost), Accountant posteriors (γ 0.99), HR review after each outcome (probation cap counts outcomes since the current probation began)",
    `  ${TASKS} tasks × ${SEEDS} seeds, task value $${TASK_VALUE_USD}; employees (quality, cost per task, expected value):`,
    ...EMPLOYEES.map(
      (e) => `    ${e.id.padEnd(14)} q=${e.quality.toFixed(2)}  $${e.costUsd.toFixed(2)}  EV $${expectedValue(e.quality, e.costUsd).toFixed(2)}`,
    ),
    "",
    "Stationary qualities (best value: medium-cheap)",
    `  share of the last ${LAST} tasks to the best-value employee: mean ${pct(mean(shares))}, p10 ${pct(quantile(shares, 0.1))}, median ${pct(quantile(shares, 0.5))}   target ≥ ${pct(TARGET_SHARE)}: ${shareOk ? "MET" : "NOT MET"}`,
    `  last-${LAST} share per employee: ${lastShareByEmployee.map((e) => `${e.id} ${pct(e.share)}`).join(", ")}`,
    `  regret over ${TASKS} tasks (expected $ lost vs always routing to the best): mean $${mean(regrets).toFixed(2)}, median $${quantile(regrets, 0.5).toFixed(2)}, p90 $${quantile(regrets, 0.9).toFixed(2)} (per task $${(mean(regrets) / TASKS).toFixed(3)})`,
    `  final HR status of weak-free: ${statusCounts(stationary, "weak-free")}; medium-cheap: ${statusCounts(stationary, "medium-cheap")}`,
    "",
    `Quality drop: medium-cheap falls to q=${DROPPED_QUALITY} at task ${DROP_AT} (best value becomes strong-costly)`,
    `  tasks until the router moved away (≤ ${pct(AWAY_SHARE)} of a ${AWAY_WINDOW}-task window): median ${detectionMedian}, p10 ${quantile(detected, 0.1)}, p25 ${quantile(detected, 0.25)}, p75 ${quantile(detected, 0.75)}, p90 ${quantile(detected, 0.9)}, max ${detected.length > 0 ? Math.max(...detected) : NaN}; detected in ${detected.length}/${SEEDS} seeds   target ≤ ${TARGET_DETECTION}: ${detectionOk ? "MET" : "NOT MET"}`,
    `  share of the last ${LAST} tasks to the (new) best-value employee: mean ${pct(mean(driftShares))}; regret over ${TASKS} tasks: mean $${mean(drift.map((run) => run.regretUsd)).toFixed(2)}`,
    `  final HR status of medium-cheap after the drop: ${statusCounts(drift, "medium-cheap")}`,
    "",
    `Sensitivity to the forgetting factor (the app uses γ ${FORGETTING}; same seeds):`,
    ...SENSITIVITY.map((gamma) => {
      const s = Array.from({ length: SEEDS }, (_, seed) => simulate(seed, false, gamma));
      const d = Array.from({ length: SEEDS }, (_, seed) => simulate(seed, true, gamma)).flatMap((run) => (run.detection === null ? [] : [run.detection]));
      return `  γ ${gamma.toFixed(2)}: last-${LAST} share to best ${pct(mean(s.map((run) => run.lastShareBest)))}, regret $${mean(s.map((run) => run.regretUsd)).toFixed(2)}, drop detected in ${d.length}/${SEEDS} seeds, median ${quantile(d, 0.5)} tasks, p90 ${quantile(d, 0.9)}`;
    }),
    "",
    `(${(2 * SEEDS * TASKS * (1 + SENSITIVITY.length)).toLocaleString("en-US")} routing decisions in __ELAPSED__ s)`,
  ];
  console.log(lines.join("\n").replace("__ELAPSED__", ((performance.now() - started) / 1000).toFixed(1)));
}

main();
