// The Auditor's pull request review: exactly one per head SHA (found again by a hidden marker before posting),
// event COMMENT only (the Director decides; Aura never approves or requests changes), with a table of the
// Auditor's own runs against the PR's claims, the flags, diff statistics, cost and snapshot, the governor's
// rule table, and inline comments on the offending lines (at most 50; the rest are listed in the body).
// When the verdict changes later (an override, new evidence) the body is edited in place.
import { createHash } from "node:crypto";
import { z } from "zod";
import type { InstallationOctokit } from "../github/octokit.js";
import type { Evaluation } from "../governor/gate.js";
import { createOnce, NO_BLIND_RETRY } from "../github/create-once.js";
import { splitRepo } from "../github/pull.js";
import type { AuditReport, RunSummary } from "./evidence-store.js";

export function reviewMarker(headSha: string): string {
  return `<!-- aura:audit sha=${headSha} -->`;
}

const Review = z.object({ id: z.number(), body: z.string().nullable().optional(), html_url: z.string(), user: z.object({ login: z.string() }).nullable() });

function fence(text: string): string {
  return ["```text", text.replace(/```/g, "ʼʼʼ"), "```"].join("\n");
}

function value(run: RunSummary | undefined, pick: (run: RunSummary) => string): string {
  return run ? pick(run) : "not run";
}

const sandboxMode = (run: RunSummary) => run.mode ?? run.sandbox ?? "—";
const exit = (run: RunSummary) => (run.timedOut ? "timed out" : run.exitCode === null ? "—" : String(run.exitCode));
const count = (key: "passed" | "failed" | "skipped" | "total") => (run: RunSummary) => (run.counts ? String(run.counts[key]) : "—");

function claimed(report: AuditReport, key: "exitCode" | "passed" | "failed" | "skipped" | "total"): string {
  const claim = report.claim.claim as Record<string, unknown> | undefined;
  const stated = claim?.[key];
  return stated === undefined || stated === null ? "—" : String(stated);
}

function money(usd: number | undefined): string {
  return usd === undefined ? "—" : `$${usd.toFixed(4)}`;
}

/**
 * What the head's run went without: the limits the operator accepted in AURA_SANDBOX_ACCEPT_MISSING, and any
 * others, which only AURA_ALLOW_UNSANDBOXED lets a run go without (reports stored before either was recorded
 * may not name them).
 */
function limitsWarnings(head: RunSummary): string[] {
  const accepted = head.limitsAccepted ? head.limitsAccepted.split("; ") : [];
  const others = (head.limitsMissing ? head.limitsMissing.split("; ") : []).filter((limit) => !accepted.includes(limit));
  const lines: string[] = [];
  if (accepted.length > 0) {
    lines.push(
      "",
      `⚠️ **Limits incomplete:** the operator accepted running without these in AURA_SANDBOX_ACCEPT_MISSING; the tests ran in bubblewrap without: ${accepted.join("; ")}.`,
    );
  }
  if (others.length > 0 || accepted.length === 0) {
    const missing = others.length > 0 ? `: ${others.join("; ")}` : " some of them";
    lines.push("", `⚠️ **Limits incomplete:** AURA_ALLOW_UNSANDBOXED=true and not every sandbox limit works here; the tests ran without${missing}.`);
  }
  return lines;
}

/** The review body: the Auditor's evidence, then the governor's verdict for the same head. */
export function renderReview(report: AuditReport, evaluation: Evaluation, passed: boolean): string {
  const head = report.head;
  const base = report.base;
  const commits = evaluation.ctx?.commits ?? [];
  const snapshot = commits[commits.length - 1]?.trailers["Aura-Snapshot"];
  const lines = [
    reviewMarker(report.headSha),
    `## Aura Auditor: ${passed ? "✅ tests pass" : "❌ tests do not pass"} on \`${report.headSha.slice(0, 7)}\``,
    "",
    "The Auditor re-ran the tests itself in a fresh sandbox on exactly this commit and on the base commit. This review never approves or requests changes: a director decides.",
    "",
    `| | Head \`${report.headSha.slice(0, 7)}\` | Base \`${report.baseSha.slice(0, 7)}\` | Employee's own run |`,
    "| --- | --- | --- | --- |",
    `| Exit status | ${value(head, exit)} | ${value(base, exit)} | ${claimed(report, "exitCode")} |`,
    `| Passed | ${value(head, count("passed"))} | ${value(base, count("passed"))} | ${claimed(report, "passed")} |`,
    `| Failed | ${value(head, count("failed"))} | ${value(base, count("failed"))} | ${claimed(report, "failed")} |`,
    `| Skipped | ${value(head, count("skipped"))} | ${value(base, count("skipped"))} | ${claimed(report, "skipped")} |`,
    `| Tests | ${value(head, count("total"))} | ${value(base, count("total"))} | ${claimed(report, "total")} |`,
    `| Sandbox | ${value(head, sandboxMode)} | ${value(base, sandboxMode)} | |`,
    "",
    `Command \`${head.command ?? "(none)"}\` · diff ${report.diff.files} files, +${report.diff.additions} −${report.diff.deletions} · cost ${money(evaluation.task?.costUsd)} · snapshot \`${snapshot ?? "—"}\` · log sha256 \`${head.logSha256?.slice(0, 16) ?? "—"}\``,
  ];
  if (head.sandbox === "none")
    lines.push("", "⚠️ **Unsandboxed:** AURA_ALLOW_UNSANDBOXED=true and bubblewrap does not work here; the tests ran as a plain process.");
  if (head.limitsHeld) lines.push("", `Sandbox limits that held: ${head.limitsHeld}.`);
  if (head.mode?.endsWith("(no resource limits)") || head.mode?.endsWith("(limits incomplete)")) lines.push(...limitsWarnings(head));
  for (const [label, run] of [
    ["Head", head],
    ["Base", base],
  ] as const) {
    if (run?.problem) lines.push("", `⚠️ **${label}:** ${run.problem}`);
  }
  lines.push("", "### Claims versus evidence", "");
  if (report.flags.length === 0) lines.push("No mismatch: the PR's claims agree with the Auditor's run.");
  else for (const flag of report.flags) lines.push(`- 🚩 ${flag}`);
  if (head.logTail !== "") lines.push("", "<details><summary>End of the Auditor's test log (head)</summary>", "", fence(head.logTail), "", "</details>");
  lines.push("", "---", "", evaluation.described?.summary ?? `### Aura HNSC verdict: ${evaluation.conclusion}\n\n${evaluation.description}`);
  return lines.join("\n");
}

export function reviewDigest(body: string): string {
  return createHash("sha256").update(body).digest("hex");
}

/** The app's review for this head SHA, if one exists (looked up before posting, so nothing is posted twice). */
export async function findReview(
  octokit: InstallationOctokit,
  at: { repo: string; pullNumber: number; headSha: string; botLogin: string },
): Promise<{ id: number; url: string } | undefined> {
  const items = await octokit.paginate("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", {
    ...splitRepo(at.repo),
    pull_number: at.pullNumber,
    per_page: 100,
  });
  const marker = reviewMarker(at.headSha);
  for (const item of z.array(Review).parse(items)) {
    if (item.user?.login === at.botLogin && item.body?.includes(marker)) return { id: item.id, url: item.html_url };
  }
  return undefined;
}

/**
 * Posts the COMMENT review with inline comments; if GitHub refuses a comment's position, the comments move into
 * the body. A submitted review cannot be deleted, so a post GitHub answers 5xx is not repeated blind: the review
 * is looked for first (src/github/create-once.ts).
 */
export async function postReview(
  octokit: InstallationOctokit,
  at: { repo: string; pullNumber: number; headSha: string; botLogin: string },
  body: string,
  comments: readonly { path: string; line: number; side: "RIGHT" | "LEFT"; body: string }[],
): Promise<{ id: number; url: string }> {
  return createOnce(
    () => postReviewOnce(octokit, at, body, comments),
    () => findReview(octokit, at),
  );
}

async function postReviewOnce(
  octokit: InstallationOctokit,
  at: { repo: string; pullNumber: number; headSha: string },
  body: string,
  comments: readonly { path: string; line: number; side: "RIGHT" | "LEFT"; body: string }[],
): Promise<{ id: number; url: string }> {
  const target = { ...splitRepo(at.repo), pull_number: at.pullNumber, commit_id: at.headSha, event: "COMMENT" as const, ...NO_BLIND_RETRY };
  try {
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews", {
      ...target,
      body,
      comments: comments.map((comment) => ({ path: comment.path, line: comment.line, side: comment.side, body: comment.body })),
    });
    return { id: Number(data.id), url: data.html_url };
  } catch (error) {
    if ((error as { status?: number }).status !== 422 || comments.length === 0) throw error;
    const listed = comments.map((comment) => `- \`${comment.path}:${comment.line}\`: ${comment.body}`);
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews", {
      ...target,
      body: `${body}\n\n#### Line comments (GitHub could not place them inline)\n\n${listed.join("\n")}`,
    });
    return { id: Number(data.id), url: data.html_url };
  }
}

export async function updateReview(octokit: InstallationOctokit, at: { repo: string; pullNumber: number }, reviewId: number, body: string): Promise<void> {
  await octokit.request("PUT /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}", {
    ...splitRepo(at.repo),
    pull_number: at.pullNumber,
    review_id: reviewId,
    body,
  });
}
