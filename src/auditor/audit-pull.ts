// The Auditor's job for one head SHA of an agent pull request: run the tests itself on that SHA and on the base,
// compare with what the employee's own run showed (as the app recorded it), store the evidence, then have the
// governor judge the PR again (the `evidence` rule now has its answer) and post ONE review for the SHA with the
// verdict and inline comments.
// A retried or redelivered job finds its stored run and review and posts nothing twice. The review is recorded on
// the run only once the verdict it goes with is published (status posted, verdict audited, draft made ready): an
// attempt that stopped between posting the review and publishing (GitHub refusing the status until the retries
// ran out, or a SIGKILL) leaves no recorded review, so the next attempt judges the PR again and finds the review on
// GitHub instead of posting a second one. Then, when configured, another employee adds the advisory LLM review
// (advisory-review.ts), which never gates.
import type { SpendHolder } from "../models/budgets.js";
import { readRepoConfig } from "../github/repo-config-reader.js";
import { evaluatePull, type Evaluation } from "../governor/gate.js";
import { getPull, isAgentPull, splitRepo, type GitHubPull } from "../github/pull.js";
import type { Services } from "../services.js";
import { runAdvisoryReview } from "./advisory-review.js";
import { commitSourceFor } from "../workspace/commit-checkout.js";
import { compareEvidence } from "./claims.js";
import { finishRun, loadRun, loadRunClaim, recordReview, startRun, type AuditReport, type PullAt, type RunSummary } from "./evidence-store.js";
import { findReview, postReview, renderReview, reviewDigest, updateReview } from "./review.js";
import { fewerTestsThanBase, runPassed, runTestsAt } from "./run-tests.js";

export type AuditJob = { installationId: number; repo: string; pullNumber: number; headSha: string };

function notRun(problem: string): RunSummary {
  return { command: null, exitCode: null, timedOut: false, sandbox: null, counts: undefined, logSha256: null, durationMs: 0, problem, logTail: "" };
}

async function runEvidence(services: Services, at: PullAt, pull: GitHubPull): Promise<AuditReport> {
  const octokit = services.github.forInstallation(at.installationId);
  const config = await readRepoConfig(services, octokit, { ...splitRepo(at.repo), ref: pull.base.sha });
  // What the employee's run showed, from the app's own record: never from the PR body, which holds model text.
  const claim = await loadRunClaim(services.pool, { ...at, headRef: pull.head.ref });
  const diff = { files: pull.changed_files, additions: pull.additions, deletions: pull.deletions };
  if (!config.ok) {
    const head = notRun("`.github/aura.yml` on the base branch is invalid, so the test command is unknown");
    return { headSha: at.headSha, baseSha: pull.base.sha, head, base: undefined, claim, flags: [], diff };
  }
  const source = await commitSourceFor(
    { options: services.workspace, githubWebUrl: services.config.githubWebUrl, auth: () => octokit.auth({ type: "installation" }) },
    pull,
  );
  // The base first: only the repository's own code runs in the work tree before the work under audit.
  const [base, head] = (await runTestsAt(services, source, [pull.base.sha, at.headSha], config.config)) as [RunSummary, RunSummary];
  const observed = (run: RunSummary) => ({ exitCode: run.exitCode, timedOut: run.timedOut, counts: run.counts });
  const flags = compareEvidence({ claim, head: observed(head), base: base.problem ? undefined : observed(base), headSha: at.headSha });
  return { headSha: at.headSha, baseSha: pull.base.sha, head, base, claim, flags, diff };
}

/** The review of the head on GitHub, and the digest of the body it was posted with ("" when not known). */
type HeadReview = { id: number; url: string; digest: string };

/** Posts the one review for the SHA (or finds the one already posted); its URL goes on the status. */
async function ensureReview(services: Services, at: PullAt, report: AuditReport, passed: boolean, evaluation: Evaluation): Promise<HeadReview | undefined> {
  if (evaluation.pull.head.sha !== at.headSha) return undefined;
  const stored = await loadRun(services.pool, at);
  if (stored?.reviewId && stored.reviewUrl) return { id: stored.reviewId, url: stored.reviewUrl, digest: stored.reviewDigest ?? "" };
  const octokit = services.github.forInstallation(at.installationId);
  const body = renderReview(report, evaluation, passed);
  const existing = await findReview(octokit, { ...at, botLogin: services.config.botLogin });
  const review = existing ?? (await postReview(octokit, { ...at, botLogin: services.config.botLogin }, body, evaluation.described?.comments ?? []));
  await services.audit.append({
    actor: "aura/auditor",
    action: existing ? "auditor.review.found" : "auditor.review.posted",
    subject: `${at.repo}#${at.pullNumber}`,
    payload: { headSha: at.headSha, reviewId: review.id, inlineComments: evaluation.described?.comments.length ?? 0 },
  });
  return { ...review, digest: existing ? "" : reviewDigest(body) };
}

/** Edits the review of the evaluated head when the verdict it shows has changed (e.g. after an override). */
export async function refreshReview(services: Services, evaluation: Evaluation): Promise<void> {
  if (!evaluation.agent) return;
  const at = { ...evaluation.ref, headSha: evaluation.pull.head.sha };
  const run = await loadRun(services.pool, at);
  if (!run?.reviewId || !run.report || run.state === "pending") return;
  const body = renderReview(run.report, evaluation, run.state === "passed");
  const digest = reviewDigest(body);
  if (digest === run.reviewDigest) return;
  await updateReview(services.github.forInstallation(at.installationId), at, run.reviewId, body);
  await recordReview(services.pool, at, { id: run.reviewId, url: run.reviewUrl ?? "", digest });
}

/** `holder`: the job attempt running the audit, named in the advisory review's budget reservation. */
export async function auditPull(services: Services, job: AuditJob, options: { holder?: SpendHolder } = {}): Promise<void> {
  const at: PullAt = job;
  const log = services.log.child({ repo: job.repo, pull: job.pullNumber, headSha: job.headSha });
  const existing = await loadRun(services.pool, at);
  if (existing?.reviewId) {
    log.info("auditor already reviewed this head; only the advisory review may be outstanding");
    await advisoryReview(services, job, undefined, options.holder);
    return;
  }
  const octokit = services.github.forInstallation(job.installationId);
  const pull = await getPull(octokit, job.repo, job.pullNumber);
  if (!isAgentPull(pull)) return;
  if (pull.head.sha !== job.headSha) {
    log.info({ current: pull.head.sha }, "head moved on; the newer head has its own audit");
    return;
  }
  const stored = await startRun(services.pool, at, pull.base.sha);
  let report = stored.report;
  let passed = stored.state === "passed";
  if (stored.state === "pending" || !report) {
    report = await runEvidence(services, at, pull);
    passed = runPassed(report.head) && !fewerTestsThanBase(report.head, report.base);
    await finishRun(services.pool, at, passed ? "passed" : "failed", report);
    await services.audit.append({
      actor: "aura/auditor",
      action: "auditor.run",
      subject: `${job.repo}#${job.pullNumber}`,
      payload: {
        headSha: job.headSha,
        baseSha: report.baseSha,
        passed,
        exitCode: report.head.exitCode,
        counts: report.head.counts ?? null,
        baseCounts: report.base?.counts ?? null,
        sandbox: report.head.sandbox,
        mode: report.head.mode ?? null,
        logSha256: report.head.logSha256,
        flags: report.flags,
      },
    });
  }
  const finished = report;
  // The evidence has landed: judge the PR again now, and attach the review to that verdict. The review is
  // recorded only after the verdict is published (see the module comment).
  let review: HeadReview | undefined;
  const evaluation = await evaluatePull(
    services,
    { installationId: job.installationId, repo: job.repo, pullNumber: job.pullNumber },
    {
      beforePublish: async (evaluation) => {
        review = await ensureReview(services, at, finished, passed, evaluation);
        return review?.url;
      },
      afterPublish: async (evaluation) => {
        if (review) await recordReview(services.pool, at, review);
        await refreshReview(services, evaluation);
      },
    },
  );
  await advisoryReview(services, job, evaluation, options.holder);
}

/** The advisory LLM review after the evidence review; whatever goes wrong in it, the audit job still succeeds. */
async function advisoryReview(services: Services, at: PullAt, evaluation: Evaluation | undefined, holder: SpendHolder | undefined): Promise<void> {
  try {
    await runAdvisoryReview(services, at, evaluation, holder ? { holder } : {});
  } catch (error) {
    services.log.warn({ repo: at.repo, pull: at.pullNumber, headSha: at.headSha, err: error }, "advisory review could not run; it never gates");
    await services.audit
      .append({
        actor: "aura/auditor",
        action: "auditor.advisory.error",
        subject: `${at.repo}#${at.pullNumber}`,
        payload: { headSha: at.headSha, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) },
      })
      .catch(() => undefined);
  }
}
