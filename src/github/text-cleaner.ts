// An Octokit request hook that removes invisible and bidirectional control characters (invisible-characters.ts)
// from the text of every write the app sends to GitHub: comment, issue, pull request and review bodies, titles,
// status descriptions, check run output, commit messages, at any depth (a review's inline comments, a check
// run's `output.summary`, GraphQL variables). Issue text and model output reach these fields in many places;
// cleaning them here, once, means no writer can forget. Reads, paths, refs and other identifiers are untouched.

import type { Logger } from "pino";
import { stripInvisibleCharacters } from "./invisible-characters.js";

type RequestOptions = { method?: string; url?: string; [key: string]: unknown };

const WRITE_METHODS = new Set(["POST", "PATCH", "PUT"]);

/** The fields that carry text people read. Identifiers (`path`, `ref`, `sha`, `owner`, label names…) are never rewritten. */
const TEXT_FIELDS = new Set(["body", "title", "description", "summary", "text", "message"]);

/** Top-level request options that are Octokit's own settings, not request parameters. */
const OCTOKIT_OPTIONS = new Set(["method", "url", "baseUrl", "headers", "request", "mediaType", "query"]);

/** A copy of `value` with its text fields cleaned at any depth (the caller's objects are not changed). */
function cleanNested(value: unknown, removeInvisible: (text: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => cleanNested(item, removeInvisible));
  if (value === null || typeof value !== "object") return value;
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    copy[key] = TEXT_FIELDS.has(key) && typeof field === "string" ? removeInvisible(field) : cleanNested(field, removeInvisible);
  }
  return copy;
}

/** Cleans the text fields of a write request in place; returns how many characters were removed. */
export function cleanWriteRequest(options: RequestOptions, strip: (text: string) => { text: string; removed: number }): number {
  const method = (options.method ?? "GET").toUpperCase();
  if (!WRITE_METHODS.has(method)) return 0;
  let removed = 0;
  const removeInvisible = (text: string) => {
    const result = strip(text);
    removed += result.removed;
    return result.text;
  };
  for (const [key, value] of Object.entries(options)) {
    if (OCTOKIT_OPTIONS.has(key)) continue;
    if (TEXT_FIELDS.has(key)) {
      if (typeof value === "string") options[key] = removeInvisible(value);
      continue;
    }
    // Nested parameters: review comments, check run output, GraphQL variables.
    if (value !== null && typeof value === "object") options[key] = cleanNested(value, removeInvisible);
  }
  return removed;
}

/** Installs the cleaner on an Octokit instance (anything with `hook.before("request", …)`). */
export function installTextCleaner(
  octokit: { hook: { before: (name: "request", fn: (options: RequestOptions) => void) => void } },
  log: Pick<Logger, "info">,
): void {
  octokit.hook.before("request", (options) => {
    const removed = cleanWriteRequest(options, stripInvisibleCharacters);
    if (removed > 0) log.info({ method: options.method, url: options.url, removed }, "invisible characters removed from text sent to GitHub");
  });
}
