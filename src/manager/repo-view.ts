// The bounded view of a repository the planner sees: its file tree (git trees API, most relevant paths first),
// its README and its build manifests (contents API), read at the default branch and capped in size before they
// reach the prompt, which cuts them again to its token budget.
import { z } from "zod";
import type { InstallationOctokit } from "../github/octokit.js";

export type RepoView = {
  /** Repository-relative file paths, shallow and hand-written ones first. */
  fileTree: string[];
  readme: string | null;
  manifests: { path: string; content: string }[];
  /** GitHub cut the recursive tree short (very large repositories). */
  treeTruncated: boolean;
};

/** Build and dependency manifests worth showing the planner, in order of preference (root files only). */
export const MANIFEST_FILES = [
  "package.json",
  "pyproject.toml",
  "requirements.txt",
  "setup.py",
  "setup.cfg",
  "Cargo.toml",
  "go.mod",
  "Gemfile",
  "composer.json",
  "pom.xml",
  "build.gradle",
  "build.gradle.kts",
  "mix.exs",
  "Package.swift",
  "pubspec.yaml",
  "deno.json",
  "CMakeLists.txt",
  "Makefile",
] as const;

const MAX_MANIFESTS = 4;
/** Bytes read from any one file; the prompt cuts further to its token budget. */
const MAX_FILE_BYTES = 64 * 1024;
const MAX_TREE_PATHS = 5_000;

// Directories that are generated or vendored: listed last, because they say little about where work belongs.
const LOW_VALUE = /(^|\/)(node_modules|vendor|dist|build|out|target|coverage|\.venv|venv|__pycache__|\.next|third_party)(\/|$)/;

const GitTree = z.object({
  truncated: z.boolean().optional(),
  tree: z.array(z.object({ path: z.string(), type: z.string(), size: z.number().optional() })),
});

const FileContent = z.object({
  type: z.string().optional(),
  encoding: z.string().optional(),
  content: z.string().optional(),
  size: z.number().optional(),
});

function status(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "status" in error && typeof error.status === "number" ? error.status : undefined;
}

function decode(file: z.infer<typeof FileContent>): string | null {
  if (file.content === undefined || (file.size ?? 0) > MAX_FILE_BYTES) return null;
  const buffer = Buffer.from(file.content, file.encoding === "base64" || file.encoding === undefined ? "base64" : "utf8");
  return buffer.subarray(0, MAX_FILE_BYTES).toString("utf8");
}

/** Orders paths for the planner: hand-written before generated, shallow before deep, then by name. */
export function rankPaths(paths: readonly string[]): string[] {
  const depth = (file: string) => file.split("/").length;
  return [...paths].sort((a, b) => {
    const low = Number(LOW_VALUE.test(a)) - Number(LOW_VALUE.test(b));
    if (low !== 0) return low;
    const deeper = depth(a) - depth(b);
    if (deeper !== 0) return deeper;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/**
 * The planner's view of the repository at `ref`: its ranked file tree, README and manifests. The tree and the
 * README are read side by side, then the manifests the tree lists, side by side (each is a round trip on GitHub;
 * the throttling plugin bounds how many run at once). A 404 (or the 409 of an empty repository) is an absence.
 */
export async function readRepoView(octokit: InstallationOctokit, target: { owner: string; repo: string; ref: string }): Promise<RepoView> {
  const { owner, repo, ref } = target;
  const [{ blobs, treeTruncated }, readme] = await Promise.all([readTree(octokit, target), readReadme(octokit, target)]);
  const fileTree = rankPaths(blobs.map((blob) => blob.path)).slice(0, MAX_TREE_PATHS);
  const sizes = new Map(blobs.map((blob) => [blob.path, blob.size ?? 0]));
  const chosen = MANIFEST_FILES.filter((name) => sizes.has(name) && (sizes.get(name) ?? 0) <= MAX_FILE_BYTES).slice(0, MAX_MANIFESTS);
  const read = await Promise.all(
    chosen.map(async (path) => {
      try {
        const { data } = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", { owner, repo, path, ref });
        const content = decode(FileContent.parse(data));
        return content === null ? [] : [{ path, content }];
      } catch (error) {
        if (status(error) !== 404) throw error;
        return [];
      }
    }),
  );
  return { fileTree, readme, manifests: read.flat(), treeTruncated };
}

async function readTree(
  octokit: InstallationOctokit,
  { owner, repo, ref }: { owner: string; repo: string; ref: string },
): Promise<{ blobs: { path: string; size: number | undefined }[]; treeTruncated: boolean }> {
  try {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/git/trees/{tree_sha}", { owner, repo, tree_sha: ref, recursive: "1" });
    const tree = GitTree.parse(data);
    return {
      blobs: tree.tree.filter((entry) => entry.type === "blob").map((entry) => ({ path: entry.path, size: entry.size })),
      treeTruncated: tree.truncated ?? false,
    };
  } catch (error) {
    // 409: an empty repository has no tree yet; the plan then starts from nothing.
    if (status(error) !== 409 && status(error) !== 404) throw error;
    return { blobs: [], treeTruncated: false };
  }
}

async function readReadme(octokit: InstallationOctokit, { owner, repo, ref }: { owner: string; repo: string; ref: string }): Promise<string | null> {
  try {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/readme", { owner, repo, ref });
    return decode(FileContent.parse(data));
  } catch (error) {
    if (status(error) !== 404) throw error;
    return null;
  }
}
