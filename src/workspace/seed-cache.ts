// A new bare cache of a local clone source (AURA_ALLOW_LOCAL_CLONE: local mode, `aura eval run`, tests) starts as
// a local clone of it instead of an empty repository: git hard-links the source's object files (copies them on
// another file system, and keeps the source's own alternates), so the first fetch finds every object already
// there and moves no pack. Every ref the clone copied is dropped (its `origin` the caller points at the source's
// URL at once), so the cache then holds only what the caller's own fetches write, as after `git init --bare`.
// Object files are immutable and a hard link survives the source's repacking or pruning, so the cache never
// depends on the source's files staying; none of these paths is ever bound into the sandbox. A remote (https)
// source is never seeded.
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CloneSource } from "./clone-source.js";
import { git, type GitTarget } from "./git.js";

/** `${gitDir}\0${url}` of the caches whose origin this process has pointed at a URL. */
const originsSet = new Set<string>();

/**
 * Makes `target.gitDir` a bare repository: seeded from a local source, else (or when seeding fails) empty.
 * Does nothing when it already is one.
 */
export async function createCache(target: GitTarget, source: CloneSource): Promise<void> {
  if (existsSync(path.join(target.gitDir, "HEAD"))) return;
  // A new cache has no origin yet, whatever this process set on an earlier one at the same path.
  for (const key of originsSet) if (key.startsWith(`${target.gitDir}\u0000`)) originsSet.delete(key);
  // A directory without HEAD is what an interrupted creation leaves; nothing in it is kept.
  await rm(target.gitDir, { recursive: true, force: true });
  if (source.kind === "local" && (await seeded(target, source))) return;
  await rm(target.gitDir, { recursive: true, force: true });
  await git(target, ["init", "--quiet", "--bare", target.gitDir], { cwd: path.dirname(target.gitDir) });
}

async function seeded(target: GitTarget, source: CloneSource): Promise<boolean> {
  const from = fileURLToPath(source.url);
  const cloned = await git(target, ["clone", "--quiet", "--bare", "--no-tags", from, target.gitDir], { cwd: path.dirname(target.gitDir), okExitCodes: [128] });
  if (cloned.exitCode !== 0) return false;
  // The refs the clone copied go as files (the clone wrote them in the files format; one git process per ref
  // would cost more than the fetch saved), then git is asked whether any is left: if one is, the cache starts empty.
  await rm(path.join(target.gitDir, "packed-refs"), { force: true });
  for (const dir of ["refs/heads", "refs/tags", "refs/remotes"]) {
    await rm(path.join(target.gitDir, dir), { recursive: true, force: true });
    await mkdir(path.join(target.gitDir, dir), { recursive: true });
  }
  // The clone's `origin` (a bare clone's is its URL alone) is left: every caller points it at the source's URL next.
  // HEAD as `git symbolic-ref HEAD refs/heads/main` writes it (the clone wrote the files backend), one process less.
  await writeFile(path.join(target.gitDir, "HEAD"), "ref: refs/heads/main\n");
  // A clone in the reftable format (git 2.45+ when configured so) keeps its refs elsewhere: git is asked then.
  if (!existsSync(path.join(target.gitDir, "reftable"))) return true;
  const left = (await git(target, ["for-each-ref", "--format=%(refname)"])).stdout.trim();
  return left === "";
}

/**
 * Points the cache's `origin` at the source's URL (which carries no credentials). Written once per process and
 * cache: a cache's directory name holds a digest of its URL, so the URL of a cache changes only when an older
 * release wrote another one, which the first use in each process overwrites.
 */
export async function setOrigin(target: GitTarget, url: string): Promise<void> {
  const key = `${target.gitDir}\u0000${url}`;
  if (originsSet.has(key)) return;
  await git(target, ["config", "remote.origin.url", url]);
  originsSet.add(key);
}
