// Decides where a repository is cloned from. The URL is built from the configured GitHub host and the
// repository's full name, never taken from a webhook payload; a local path or file:// source (tests, offline
// development) is honoured only when AURA_ALLOW_LOCAL_CLONE is set.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { CloneSourceNotAllowedError } from "./errors.js";

export type CloneSource = {
  /** What git is given: an https URL, or a file:// URL for an allowed local source. */
  url: string;
  kind: "remote" | "local";
  /** Protocols the git commands for this source may use (everything else is denied). */
  protocols: readonly ("https" | "http" | "file")[];
};

export type CloneSourceInput = {
  /** `owner/name` of the repository. */
  fullName: string;
  /** Configured web base URL, e.g. https://github.com or https://ghe.example.com. */
  githubWebUrl: string;
  /** The payload's clone_url, or a local path; only a local one is ever used, and only with the flag. */
  cloneUrl?: string | undefined;
  allowLocalClone: boolean;
};

const FULL_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;

function isLocal(source: string): boolean {
  return source.startsWith("file://") || source.startsWith("/") || source.startsWith("./") || source.startsWith("../");
}

export function resolveCloneSource(input: CloneSourceInput): CloneSource {
  if (input.cloneUrl !== undefined && isLocal(input.cloneUrl)) {
    if (!input.allowLocalClone) {
      throw new CloneSourceNotAllowedError(
        input.cloneUrl,
        "a local path or file:// clone source is only honoured when AURA_ALLOW_LOCAL_CLONE=true (tests and development)",
      );
    }
    const url = input.cloneUrl.startsWith("file://") ? input.cloneUrl : pathToFileURL(path.resolve(input.cloneUrl)).href;
    return { url, kind: "local", protocols: ["file"] };
  }
  if (!FULL_NAME.test(input.fullName) || input.fullName.split("/")[1]?.startsWith(".")) {
    throw new CloneSourceNotAllowedError(input.fullName, `${JSON.stringify(input.fullName)} is not a repository full name (owner/name)`);
  }
  const base = new URL(input.githubWebUrl);
  if (base.protocol !== "https:" && base.protocol !== "http:") {
    throw new CloneSourceNotAllowedError(input.githubWebUrl, "the GitHub web URL must be http(s)");
  }
  const protocol = base.protocol === "https:" ? "https" : "http";
  const prefix = base.pathname.replace(/\/+$/, "");
  return { url: `${base.origin}${prefix}/${input.fullName}.git`, kind: "remote", protocols: [protocol] };
}
