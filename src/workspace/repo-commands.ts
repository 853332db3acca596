// The setup and test commands for a repository when `.github/aura.yml` names none: npm projects get a
// lock-file install with install scripts off, and `npm test`.
import { safeReadFile } from "./safe-path.js";

export type RepoCommands = { setup: string | undefined; test: string | undefined };

async function exists(root: string, file: string): Promise<boolean> {
  try {
    await safeReadFile(root, file, { maxBytes: 64 * 1024 * 1024 });
    return true;
  } catch {
    return false;
  }
}

/** Defaults for the work tree; `allowInstallScripts` (off unless the repo config says so) keeps lifecycle scripts. */
export async function defaultRepoCommands(treePath: string, options: { allowInstallScripts?: boolean } = {}): Promise<RepoCommands> {
  if (!(await exists(treePath, "package.json"))) return { setup: undefined, test: undefined };
  const scripts = options.allowInstallScripts === true ? "" : " --ignore-scripts";
  const locked = (await exists(treePath, "package-lock.json")) || (await exists(treePath, "npm-shrinkwrap.json"));
  return { setup: `${locked ? "npm ci" : "npm install"}${scripts}`, test: "npm test" };
}
