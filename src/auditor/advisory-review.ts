// The optional advisory LLM review (`auditor.reviewer` in .github/aura.yml): after the Auditor's evidence review,
// an employee other than the PR's author reads the (bounded) diff and returns zod-validated findings, which the
// app posts as one separate COMMENT review marked "Advisory — does not gate". It never approves or requests
// changes and never touches `aura/hnsc`. One per head SHA: a row in `auditor_advisory_reviews` and a hidden marker
// are checked before any model call or post (the marker again after a post GitHub answers 5xx, which it may have
// applied: src/github/create-once.ts), so a redelivery or a retry neither pays nor posts twice. When the reviewer is
// the author, or the model fails, nothing is posted: the outcome is logged and audited.
import { z } from "zod";
import type { Employee } from "../config/policy-files.js";
import { effectiveBudgets, type RepoConfig } from "../config/repo-config.js";
import { trySessionLock } from "../db/advisory-lock.js";
import { BudgetExhausted, budgetedCall, utcDay, type SpendHolder, type SpendSubject } from "../models/budgets.js";
import { ModelCallError, OutputAllowanceTooSmall, type ChatMessage, type StructuredResult } from "../models/model-client.js";
import { defaultPriceFor } from "../models/prices.js";
import { createOnce, NO_BLIND_RETRY } from "../github/create-once.js";
import { inertCode, inertInline } from "../github/inert-markdown.js";
import type { InstallationOctokit } from "../github/octokit.js";
import { readRepoConfig } from "../github/repo-config-reader.js";
import type { Evaluation } from "../governor/gate.js";
import { getPull, isAgentPull, listPullFiles, splitRepo, type GitHubPull } from "../github/pull.js";
import type { ChangedFile } from "../governor/pull-context.js";
import { findTaskForPull, type FoundTask } from "../governor/task-record.js";
import type { Services } from "../services.js";
import type { PullAt } from "./evidence-store.js";
import { advisoryReviewState, claimAdvisoryReview, settleAdvisoryReview, type AdvisorySettlement, type AdvisoryState } from "./store.js";

export const ADVISORY_LABEL = "Advisory — does not gate";
/** Characters of diff the reviewer sees; the rest of the files are named as omitted. */
export const MAX_DIFF_CHARS = 60_000;
const MAX_BODY_CHARS = 4_000;
const MAX_OUTPUT_TOKENS = 4_096;
const MAX_FINDINGS = 30;

export function advisoryMarker(headSha: string): string {
  return `<!-- aura:advisory sha=${headSha} -->`;
}

export const AdvisoryFinding = z.object({
  path: z.string().min(1).max(500).describe("Repository path of the file, exactly as in the diff"),
  line: z.number().int().positive().nullable().describe("Line number in the new file, or null for the whole file"),
  severity: z.enum(["info", "minor", "major"]),
  message: z.string().min(1).max(1000).describe("The problem and a concrete suggestion, in one or two sentences"),
});
export type AdvisoryFinding = z.infer<typeof AdvisoryFinding>;

export const AdvisoryReviewReply = z.object({
  summary: z.string().min(1).max(2000).describe("Overall assessment of the change in a few sentences"),
  findings: z.array(AdvisoryFinding).max(MAX_FINDINGS),
});
export type AdvisoryReviewReply = z.infer<typeof AdvisoryReviewReply>;

export type AdvisoryOutcome =
  | { kind: "none"; reason: string }
  | { kind: "done"; state: "posted" | "skipped" | "failed" }
  | { kind: "posted"; reviewId: number; findings: number; costUsd: number }
  | { kind: "skipped"; reason: string }
  | { kind: "failed"; reason: string };

/** The diff as the reviewer reads it: whole files' patches until MAX_DIFF_CHARS, then the omitted files by name. */
export function boundedDiff(files: readonly ChangedFile[], maxChars = MAX_DIFF_CHARS): { text: string; shown: number; omitted: string[] } {
  const parts: string[] = [];
  const omitted: string[] = [];
  let used = 0;
  for (const file of files) {
    const header = `--- ${file.previousFilename ?? file.filename}\n+++ ${file.filename} (${file.status}, +${file.additions} -${file.deletions})\n`;
    const piece = `${header}${file.patch ?? "(no textual patch: binary or too large)"}\n`;
    if (used + piece.length > maxChars) {
      omitted.push(file.filename);
      continue;
    }
    parts.push(piece);
    used += piece.length;
  }
  return { text: parts.join("\n"), shown: parts.length, omitted };
}

/** The reviewer's prompt: its role, the PR's title and (bounded) description, and the bounded diff. */
export function buildAdvisoryMessages(input: {
  reviewer: string;
  author: string;
  title: string;
  body: string | null;
  taskClass: string | undefined;
  files: readonly ChangedFile[];
}): { messages: ChatMessage[]; shown: number; omitted: string[] } {
  const diff = boundedDiff(input.files);
  const body = (input.body ?? "")
    .replace(/<!--[\s\S]*?-->/g, "")
    .trim()
    .slice(0, MAX_BODY_CHARS);
  const system = [
    `You are ${input.reviewer}, reviewing a pull request written by another AI employee (${input.author}).`,
    "Your review is advisory: it does not approve, block or merge anything; a human director decides.",
    "Report concrete problems only: bugs, security issues, missing or weakened tests, changes outside what the title describes.",
    `Give each finding the file path exactly as it appears in the diff and the line in the new file (null for the whole file). At most ${MAX_FINDINGS} findings; an empty list is a fine answer.`,
    "Reply with JSON only.",
  ].join("\n");
  const user = [
    `Pull request: ${input.title}`,
    input.taskClass ? `Task class: ${input.taskClass}` : "",
    "",
    "Description:",
    body === "" ? "(none)" : body,
    "",
    "Diff:",
    diff.text === "" ? "(no textual changes)" : diff.text,
    diff.omitted.length > 0 ? `\n(${diff.omitted.length} more changed files were left out for length: ${diff.omitted.slice(0, 50).join(", ")})` : "",
  ]
    .filter((line, index, all) => line !== "" || all[index - 1] !== "")
    .join("\n");
  return {
    messages: [
      { role: "system", content: system },
      { role: "user", content: user },
    ],
    shown: diff.shown,
    omitted: diff.omitted,
  };
}

/** Model text placed in markdown: one line, inert (no markers, HTML, images, links, mentions, references). */
const inline = inertInline;

export function renderAdvisoryReview(input: {
  headSha: string;
  reviewer: string;
  author: string;
  reply: AdvisoryReviewReply;
  costUsd: number;
  shown: number;
  omitted: number;
}): string {
  const lines = [
    advisoryMarker(input.headSha),
    `## ${ADVISORY_LABEL}: review by \`${input.reviewer}\` on \`${input.headSha.slice(0, 7)}\``,
    "",
    `> **${ADVISORY_LABEL}.** An employee other than the author (\`${input.author}\`) read the diff. This review never approves or requests changes and does not affect \`aura/hnsc\`; a director decides.`,
    "",
    inline(input.reply.summary),
    "",
  ];
  if (input.reply.findings.length === 0) {
    lines.push("No findings.");
  } else {
    lines.push("| Severity | Location | Finding |", "| --- | --- | --- |");
    for (const finding of input.reply.findings) {
      const where = inertCode(`${finding.path}${finding.line === null ? "" : `:${finding.line}`}`, { table: true });
      lines.push(`| ${finding.severity} | ${where} | ${inline(finding.message)} |`);
    }
  }
  const coverage = input.omitted > 0 ? `${input.shown} of ${input.shown + input.omitted} files shown to the reviewer` : `${input.shown} files reviewed`;
  lines.push("", `${coverage} · cost $${input.costUsd.toFixed(4)}`);
  return lines.join("\n");
}

type Queryable = Pick<Services["pool"], "query">;

/** Claims the head SHA for the reviewer; an existing row that is not pending means this SHA is settled. */
async function claim(db: Queryable, at: PullAt, reviewer: string): Promise<{ state: AdvisoryState }> {
  await claimAdvisoryReview(db, at, reviewer);
  return { state: (await advisoryReviewState(db, at)) ?? "pending" };
}

/** The state of this SHA's advisory review when it is settled (a redelivery then needs no GitHub read at all). */
async function settledState(db: Queryable, at: PullAt): Promise<"posted" | "skipped" | "failed" | undefined> {
  const state = await advisoryReviewState(db, at);
  return state === undefined || state === "pending" ? undefined : state;
}

async function settle(services: Pick<Services, "pool" | "audit" | "log">, at: PullAt, outcome: AdvisorySettlement & { reviewer: string }): Promise<void> {
  await settleAdvisoryReview(services.pool, at, outcome);
  await services.audit.append({
    actor: "aura/auditor",
    action: `auditor.advisory.${outcome.state}`,
    subject: `${at.repo}#${at.pullNumber}`,
    payload: {
      headSha: at.headSha,
      reviewer: outcome.reviewer,
      detail: outcome.detail,
      findings: outcome.findings ?? null,
      costUsd: outcome.costUsd ?? null,
      reviewId: outcome.review?.id ?? null,
    },
  });
  const log = services.log.child({ repo: at.repo, pull: at.pullNumber, headSha: at.headSha, reviewer: outcome.reviewer });
  if (outcome.state === "failed") log.warn({ detail: outcome.detail }, "advisory review failed; nothing posted");
  else log.info({ state: outcome.state, detail: outcome.detail }, "advisory review settled");
}

const Review = z.object({ id: z.number(), body: z.string().nullable().optional(), html_url: z.string(), user: z.object({ login: z.string() }).nullable() });

async function findAdvisoryReview(octokit: InstallationOctokit, at: PullAt, botLogin: string): Promise<{ id: number; url: string } | undefined> {
  const items = await octokit.paginate("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", {
    ...splitRepo(at.repo),
    pull_number: at.pullNumber,
    per_page: 100,
  });
  const marker = advisoryMarker(at.headSha);
  const found = z
    .array(Review)
    .parse(items)
    .find((item) => item.user?.login === botLogin && item.body?.includes(marker));
  return found ? { id: found.id, url: found.html_url } : undefined;
}

/** The model call under a budget reservation against the task's requirement (settled with the real usage). */
async function callReviewer(
  services: Services,
  input: { reviewer: Employee; messages: ChatMessage[]; subject: SpendSubject; config: RepoConfig; holder: SpendHolder | undefined },
): Promise<StructuredResult<AdvisoryReviewReply>> {
  const budgets = effectiveBudgets(services.policies.budgets, input.config);
  return budgetedCall(
    services.pool,
    {
      subject: input.subject,
      budgets,
      purpose: "advisory-review",
      // The audit job's attempt: a reservation left by a killed attempt is released when that attempt is gone.
      ...(input.holder ? { holder: input.holder } : {}),
      at: services.now(),
      prompt: { messages: input.messages, schema: AdvisoryReviewReply },
      maxOutputTokens: Math.min(input.reviewer.limits.maxTokensPerCall, MAX_OUTPUT_TOKENS),
      timeoutMs: input.reviewer.limits.timeoutSeconds * 1000,
      price: defaultPriceFor(input.reviewer, services.now()),
    },
    (bounds) =>
      services.modelFor(input.reviewer).generate({ name: "AdvisoryReview", schema: AdvisoryReviewReply, messages: input.messages, temperature: 0, ...bounds }),
  );
}

type Reviewed = { pull: GitHubPull; files: readonly ChangedFile[]; task: FoundTask | undefined };

/** What the reviewer reads: from the evaluation just published for this head, or fetched afresh. */
async function gather(services: Services, octokit: InstallationOctokit, at: PullAt, evaluation: Evaluation | undefined): Promise<Reviewed> {
  if (evaluation && evaluation.pull.head.sha === at.headSha && evaluation.ctx) {
    return { pull: evaluation.pull, files: evaluation.ctx.files, task: evaluation.task };
  }
  const pull = await getPull(octokit, at.repo, at.pullNumber);
  const files = await listPullFiles(octokit, at.repo, at.pullNumber);
  const task = await findTaskForPull(services.pool, { ...at, headRef: pull.head.ref, body: pull.body });
  return { pull, files, task };
}

/**
 * Runs the advisory review for one head SHA when the base branch's config names a reviewer. Returns what
 * happened; expected failures (reviewer is the author, budget, model errors) are settled, never thrown.
 * Two audit jobs of the same head (an `opened` and a `ready_for_review` close together) both find the SHA
 * pending: the second finds the head's lock held and leaves the review to the first, so the model is paid
 * and the review posted once. `holder` is the audit job's attempt, named in the budget reservation so a
 * killed attempt's reservation is released when its job runs again (releaseStaleReservations).
 */
export async function runAdvisoryReview(
  services: Services,
  at: PullAt,
  evaluation?: Evaluation,
  options: { holder?: SpendHolder } = {},
): Promise<AdvisoryOutcome> {
  const lock = await trySessionLock(services.pool, "aura:advisory", `${at.installationId}:${at.repo}#${at.pullNumber}@${at.headSha}`);
  if (!lock) return { kind: "none", reason: "another job is reviewing this head" };
  try {
    return await reviewHead(services, at, evaluation, options.holder);
  } finally {
    await lock.release();
  }
}

async function reviewHead(services: Services, at: PullAt, evaluation: Evaluation | undefined, holder: SpendHolder | undefined): Promise<AdvisoryOutcome> {
  const settled = await settledState(services.pool, at);
  if (settled) return { kind: "done", state: settled };
  const octokit = services.github.forInstallation(at.installationId);
  const reviewed = await gather(services, octokit, at, evaluation);
  const { pull, task } = reviewed;
  if (!isAgentPull(pull) || pull.head.sha !== at.headSha) return { kind: "none", reason: "not the current head of an agent pull request" };
  const config = await readRepoConfig(services, octokit, { ...splitRepo(at.repo), ref: pull.base.sha });
  if (!config.ok) return { kind: "none", reason: "the base branch's .github/aura.yml is invalid" };
  const reviewerId = config.config.auditor.reviewer;
  if (reviewerId === null) return { kind: "none", reason: "no auditor.reviewer configured" };

  const row = await claim(services.pool, at, reviewerId);
  if (row.state !== "pending") return { kind: "done", state: row.state };
  const author = task?.record.assignedEmployee;
  const skip = async (reason: string): Promise<AdvisoryOutcome> => {
    await settle(services, at, { state: "skipped", reviewer: reviewerId, detail: reason });
    return { kind: "skipped", reason };
  };
  if (!task || author === undefined) return skip("the task record (and so the author employee) is unknown");
  if (author === reviewerId)
    return skip(`the reviewer \`${reviewerId}\` is the author of this pull request; an advisory review must come from another employee`);
  const reviewer = services.policies.employees.employees.find((employee) => employee.id === reviewerId);
  if (!reviewer) return skip(`\`${reviewerId}\` is not in the employees registry`);

  const existing = await findAdvisoryReview(octokit, at, services.config.botLogin);
  if (existing) {
    await settle(services, at, { state: "posted", reviewer: reviewerId, detail: "found the review posted before", review: existing });
    return { kind: "done", state: "posted" };
  }

  const prompt = buildAdvisoryMessages({
    reviewer: reviewerId,
    author,
    title: pull.title,
    body: pull.body,
    taskClass: task.record.taskClass,
    files: reviewed.files,
  });
  let result: StructuredResult<AdvisoryReviewReply>;
  try {
    const subject = reviewerSpend(services, at, task, reviewerId);
    result = await callReviewer(services, { reviewer, messages: prompt.messages, subject, config: config.config, holder });
  } catch (error) {
    if (error instanceof BudgetExhausted || error instanceof OutputAllowanceTooSmall) return skip(`budget: ${error.message}`);
    const reason = error instanceof ModelCallError ? `${error.kind}: ${error.message}` : `${(error as Error).name}: ${(error as Error).message}`;
    await settle(services, at, { state: "failed", reviewer: reviewerId, detail: reason });
    return { kind: "failed", reason };
  }
  return postReview(services, octokit, at, { reviewerId, author, result, prompt });
}

/** The reviewer's call is charged to the reviewed task (so its budget covers it), as the reviewer's spend. */
function reviewerSpend(services: Services, at: PullAt, task: FoundTask, reviewerId: string): SpendSubject {
  return {
    installationId: at.installationId,
    repo: at.repo,
    requirementId: task.requirementId,
    taskId: Number(task.record.taskId),
    employeeId: reviewerId,
    day: utcDay(services.now()),
  };
}

/** Posts the review on the head commit and settles the row as posted. */
async function postReview(
  services: Services,
  octokit: InstallationOctokit,
  at: PullAt,
  review: { reviewerId: string; author: string; result: StructuredResult<AdvisoryReviewReply>; prompt: ReturnType<typeof buildAdvisoryMessages> },
): Promise<AdvisoryOutcome> {
  const { reviewerId, result, prompt } = review;
  const body = renderAdvisoryReview({
    headSha: at.headSha,
    reviewer: reviewerId,
    author: review.author,
    reply: result.value,
    costUsd: result.costUsd,
    shown: prompt.shown,
    omitted: prompt.omitted.length,
  });
  // COMMENT only, without inline comments: an advisory opinion must not look like the gate's findings. Created
  // once: a submitted review cannot be deleted, and a post GitHub answers 5xx may have been applied.
  const posted = await createOnce(
    async () => {
      const { data } = await octokit.request("POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews", {
        ...splitRepo(at.repo),
        pull_number: at.pullNumber,
        commit_id: at.headSha,
        event: "COMMENT",
        body,
        ...NO_BLIND_RETRY,
      });
      return { id: Number(data.id), url: data.html_url };
    },
    () => findAdvisoryReview(octokit, at, services.config.botLogin),
  );
  await settle(services, at, {
    state: "posted",
    reviewer: reviewerId,
    detail: `${result.value.findings.length} findings`,
    findings: result.value.findings.length,
    costUsd: result.costUsd,
    review: posted,
  });
  return { kind: "posted", reviewId: posted.id, findings: result.value.findings.length, costUsd: result.costUsd };
}
