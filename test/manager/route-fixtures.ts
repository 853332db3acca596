// A routing input for tests of the router: one bugfix task of acme/widgets#7 with a roomy budget, open circuits
// and no data policy, among `candidates`; a test overrides what it is about.
import type { RouteInput, RoutingCandidate } from "../../src/manager/route.js";

export function routeInput(candidates: RoutingCandidate[], overrides: Partial<RouteInput> = {}): RouteInput {
  return {
    installationId: 42,
    repo: "acme/widgets",
    issueNumber: 7,
    taskId: "fix-parser",
    attempt: 1,
    policyRevision: "rev-1",
    taskClass: "bugfix",
    estimate: { tokens: 20_000, usd: 0.2 },
    candidates,
    allowList: [],
    remainingBudget: { tokens: 1_000_000, usd: 10 },
    isCircuitOpen: () => false,
    dataPolicy: { privateRepo: false, localModelsOnly: false },
    excluded: [],
    taskValueUsd: 20,
    ...overrides,
  };
}
