// The soak in CI (issue 17), the same runSoak as `npm run bench:soak`, smaller: three `src/main.ts` processes on
// one database behind the fake GitHub edge, ten requirements, one process killed with SIGKILL every 12 s and
// started again, 5 % of GitHub requests answered 502 and 5 % with a secondary rate limit. Every requirement must
// end done with its task merged, nothing written twice, the audit chain verifying and no reservation left open.
// The second test shows the checks fail on what they look for: a comment written twice, a requirement missing,
// one left in progress, a reservation left open.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGitHubEdge } from "../../src/local/github-edge.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { findDuplicates, readEndStates, readReservations } from "../../bench/soak/checks.js";
import { runSoak, type SoakReport } from "../../bench/soak/run.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { PROJECT } from "../e2e/pipeline-fixture.js";
import { createBareRemote, useTempDir } from "../workspace/git-fixture.js";

const probe = probeBwrap();
const temp = useTempDir("aura-soak-test-");
const REQUIREMENTS = 10;
let db: TestDatabase | undefined;
let report: SoakReport | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe.skipIf(!probe.ok)(`soak: three processes, SIGKILLs and GitHub faults${probe.ok ? "" : ` (skipped: ${probe.ok ? "" : probe.error})`}`, () => {
  it("brings every requirement to done exactly once: no duplicate PR, comment or review; the audit verifies; no reservation open", async () => {
    report = await runSoak({
      databaseUrl: db?.url ?? "",
      requirements: REQUIREMENTS,
      killEveryMs: 12_000,
      faults: { share502: 0.05, shareSecondary: 0.05, seed: 17 },
      timeoutMs: 240_000,
    });

    expect(report.kills).toBeGreaterThanOrEqual(1);
    expect(report.github.faulted502).toBeGreaterThan(0);
    expect(report.github.faultedSecondary).toBeGreaterThan(0);
    expect(report.checks.lost).toEqual([]);
    expect(report.checks.stuck).toEqual([]);
    expect(report.done).toBe(REQUIREMENTS);
    expect(report.checks.duplicates).toEqual([]);
    expect(report.checks.audit).toMatchObject({ ok: true });
    expect(report.checks.reservations.reserved ?? 0).toBe(0);
    expect(report.checks.reservations.settled).toBeGreaterThanOrEqual(REQUIREMENTS * 4);
    expect(report.ok).toBe(true);
  }, 300_000);

  it("the checks catch what they look for: a comment written twice, a requirement lost or stuck, a reservation left open", async () => {
    if (!db || !report) throw new Error("the soak run above did not finish");
    const parent = path.join(temp.dir, "dup");
    mkdirSync(parent, { mode: 0o711 });
    const remote = createBareRemote(parent, PROJECT);
    const edge = createGitHubEdge({
      owner: "soak-org",
      name: "dup",
      bare: remote.bare,
      cloneUrl: remote.url,
      botLogin: "aura-orchestra[bot]",
      permissions: {},
      issue: { number: 7, title: "t", body: "b", user: "someone" },
    });
    const comments = new URL("/repos/soak-org/dup/issues/7/comments", "http://127.0.0.1");
    edge.respond("POST", comments, { body: "<!-- aura:status requirement=1 -->\nPlanning." });
    edge.respond("POST", comments, { body: "A plain note." });
    expect(findDuplicates("soak-org/dup", edge, "aura-orchestra[bot]")).toEqual([]);

    edge.respond("POST", comments, { body: "<!-- aura:status requirement=1 -->\nWorking." });
    edge.addComment(7, "A plain note.", "someone");
    const { rows } = await db.pool.query<{ id: string; repo: string; issue: number }>(
      "UPDATE requirements SET state = 'in_progress' WHERE id = (SELECT min(id) FROM requirements) RETURNING id, repo, issue_number AS issue",
    );
    const changed = rows[0] as { repo: string; issue: number };
    await db.pool.query("UPDATE model_spend SET state = 'reserved' WHERE id = (SELECT min(id) FROM model_spend)");
    const ends = await readEndStates(db.pool, 1, [
      { fullName: changed.repo, issue: changed.issue },
      { fullName: "soak-org/never-labelled", issue: 9_900 },
    ]);

    expect(findDuplicates("soak-org/dup", edge, "aura-orchestra[bot]")).toEqual(["2 × soak-org/dup #7 comment <!-- aura:status requirement=1 -->"]);
    expect(ends.lost).toEqual(["soak-org/never-labelled#9900"]);
    expect(ends.stuck).toEqual([`${changed.repo}#${changed.issue}: requirement in_progress, tasks merged`]);
    expect((await readReservations(db.pool)).reserved).toBe(1);
  });
});
