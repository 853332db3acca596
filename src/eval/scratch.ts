// Scratch work trees for mining: a bare repository in a temp dir that borrows the mined repository's objects
// (objects/info/alternates, read only), with one detached work tree per candidate. The mined repository's
// refs, index, work tree and uncommitted work are never touched; everything is removed afterwards.
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { git, removeWorkTree, type GitTarget } from "../workspace/index.js";

export type Scratch = {
  /** A fresh detached work tree of `sha`; `dispose` removes it. */
  checkout: (sha: string) => Promise<ScratchTree>;
  close: () => Promise<void>;
};

export type ScratchTree = {
  path: string;
  /**
   * Applies a unified diff to the tree's files; false when it does not apply. `threeWay`: when the context does not
   * match (another change already touched the file), merge the diff's blobs in three ways (`git apply --3way`, the
   * index too); false on a conflict.
   */
  apply: (patch: string, options?: { threeWay?: boolean }) => Promise<boolean>;
  dispose: () => Promise<void>;
};

const objectDirs = new Map<string, string>();

/**
 * The absolute path of `source`'s object directory (git's answer, which follows a linked work tree to its common
 * dir), asked once per git dir in this process: every eval attempt makes two repositories that borrow objects.
 */
export async function objectsDirOf(source: GitTarget): Promise<string> {
  const kept = objectDirs.get(source.gitDir);
  if (kept !== undefined) return kept;
  // A git dir of its own (no `commondir`, as a linked work tree's has) keeps its objects in `objects`: git's own
  // rule, read without a process (the runner never sets GIT_OBJECT_DIRECTORY).
  const own = path.resolve(source.gitDir, "objects");
  if (!existsSync(path.join(source.gitDir, "commondir")) && existsSync(own)) {
    objectDirs.set(source.gitDir, own);
    return own;
  }
  const objects = (await git(source, ["rev-parse", "--path-format=absolute", "--git-path", "objects"])).stdout.trim();
  objectDirs.set(source.gitDir, objects);
  return objects;
}

/** A scratch repository borrowing `source`'s objects, in a new folder under `parent` (default: the system's temp folder). */
export async function openScratch(source: GitTarget, parent: string = os.tmpdir()): Promise<Scratch> {
  const dir = await mkdtemp(path.join(parent, "aura-eval-"));
  // The sandbox user must be able to traverse to the trees.
  await chmod(dir, 0o711);
  const target: GitTarget = { gitDir: path.join(dir, "scratch.git"), protocols: [] };
  try {
    const objects = await objectsDirOf(source);
    await git(target, ["init", "--quiet", "--bare", target.gitDir], { cwd: dir });
    await writeFile(path.join(target.gitDir, "objects", "info", "alternates"), `${objects}\n`);
    await mkdir(path.join(dir, "trees"), { mode: 0o711 });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  let count = 0;
  return {
    checkout: async (sha) => {
      const tree = path.join(dir, "trees", `${sha.slice(0, 12)}-${++count}`);
      await git(target, ["worktree", "add", "--quiet", "--detach", tree, sha], { cwd: target.gitDir });
      // The work tree's own git dir (its index and HEAD; objects and refs come from the shared one).
      const inTree: GitTarget = { ...target, gitDir: path.join(target.gitDir, "worktrees", path.basename(tree)), workTree: tree };
      return {
        path: tree,
        apply: async (patch, options = {}) => {
          if (patch === "") return true;
          const file = path.join(dir, `patch-${count}.diff`);
          await writeFile(file, patch);
          const result = await git(inTree, ["apply", "--whitespace=nowarn", ...(options.threeWay ? ["--3way"] : []), file], { okExitCodes: [1, 128] });
          await rm(file, { force: true });
          return result.exitCode === 0;
        },
        dispose: () => removeWorkTree(target, tree, { cwd: target.gitDir }),
      };
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
