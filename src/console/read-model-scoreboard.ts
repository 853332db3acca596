// The read model's scoreboard: for each installation the reader directs a repository of, the same ranking
// `/aura scoreboard` posts (the Accountant's rankScoreboard over the Director's buildScoreboardInput: the
// ledgers, HR states and the registry), with each employee's posterior interval, counts, rates, strikes and cost,
// and the dated outcomes a chart of cost per merged PR is drawn from. The numbers are the installation's, as in
// the comment any director of one of its repositories can ask for; no repository or task is named in them.
import type pg from "pg";
import type { PolicySet } from "../config/policy-files.js";
import { rankScoreboard, type ScoreboardRow } from "../accountant/scoreboard.js";
import type { TaskOutcome } from "../accountant/outcome.js";
import { buildScoreboardInput } from "../director/scoreboard-comment.js";
import { visibleInstallations, type Visibility } from "./visible.js";

export type ScoreboardOutcome = Pick<TaskOutcome, "result" | "taskClass" | "costUsd" | "revisionRounds" | "closedAt">;

export type InstallationScoreboard = {
  installationId: number;
  /** The installation's account, or "installation N" when unknown. */
  scope: string;
  rows: (ScoreboardRow & { outcomes: ScoreboardOutcome[] })[];
};

/**
 * The scoreboards of the visible installations (one, with `installationId`; none when it is not visible),
 * ranked exactly as the scoreboard comment ranks them.
 */
export async function getScoreboards(
  deps: { pool: Pick<pg.Pool, "query">; policies: PolicySet; now: () => Date },
  visible: Visibility,
  installationId?: number,
): Promise<InstallationScoreboard[]> {
  const installations = visibleInstallations(visible).filter((id) => installationId === undefined || id === installationId);
  const boards: InstallationScoreboard[] = [];
  for (const id of installations) {
    const input = await buildScoreboardInput(deps.pool as Pick<pg.PoolClient, "query">, deps, id);
    const outcomesOf = new Map(input.employees.map((entry) => [entry.employee, entry.outcomes]));
    const rows = rankScoreboard(input.employees, input.now).map((row) => ({
      ...row,
      outcomes: [...(outcomesOf.get(row.stats.employee) ?? [])]
        .sort((x, y) => x.closedAt.getTime() - y.closedAt.getTime())
        .map(({ result, taskClass, costUsd, revisionRounds, closedAt }) => ({ result, taskClass, costUsd, revisionRounds, closedAt })),
    }));
    boards.push({ installationId: id, scope: input.scope ?? `installation ${id}`, rows });
  }
  return boards;
}
