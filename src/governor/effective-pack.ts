// The policy pack a pull request is judged by: the app's policies/policy-pack.yml (read once per process), whose
// protected-paths rule takes its globs from the shared policies/protected-paths.yml list, with the repository's
// `rules:` from .github/aura.yml on the BASE branch merged in (tighten only, unless a director approved the exact
// rules). Either failing is a typed error the gate turns into status `error`, never a pass.
import { readFileSync } from "node:fs";
import path from "node:path";
import { defaultPoliciesDir, type ProtectedPaths } from "../config/policy-files.js";
import type { RepoConfig } from "../config/repo-config.js";
import { loadPolicyPack, PolicyParseError, type PolicyPack } from "./policy-pack.js";
import { mergeRepoRules, type DirectorOverride, type PolicyRelaxationRefused, type Relaxation } from "./repo-rules.js";

let cached: { file: string; protectedPaths: ProtectedPaths; pack: PolicyPack } | undefined;

/**
 * The app's default pack with the shared protected-path list filled in; throws PolicyParseError when the file is
 * missing or invalid. Cached per file and list, so a list loaded once at start is used for the process's life.
 */
export function loadDefaultPack(protectedPaths: ProtectedPaths, dir = defaultPoliciesDir()): PolicyPack {
  const file = path.join(dir, "policy-pack.yml");
  if (cached?.file === file && cached.protectedPaths === protectedPaths) return cached.pack;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new PolicyParseError(file, [{ ruleId: undefined, field: "(file)", message: `cannot be read (${(error as Error).message})` }]);
  }
  const pack = loadPolicyPack(text, file, { protectedPaths });
  cached = { file, protectedPaths, pack };
  return pack;
}

export type EffectivePackOptions = {
  /** The shared list (services.policies.protectedPaths): the same one the Manager's plan rules use. */
  protectedPaths: ProtectedPaths;
  /** A director's approval of exactly these repo rules (`/aura override repo-rules`), which lets them relax. */
  approval?: DirectorOverride | undefined;
  /** The app's policies directory (tests). */
  dir?: string;
};

export type EffectivePack =
  | { ok: true; pack: PolicyPack; relaxations: Relaxation[]; approvedBy: DirectorOverride | undefined }
  | { ok: false; error: PolicyParseError | PolicyRelaxationRefused };

/** The default pack with the repository's rules merged in. */
export function effectivePack(config: RepoConfig, options: EffectivePackOptions): EffectivePack {
  let pack: PolicyPack;
  try {
    pack = loadDefaultPack(options.protectedPaths, options.dir);
  } catch (error) {
    if (error instanceof PolicyParseError) return { ok: false, error };
    throw error;
  }
  if (config.rules.length === 0) return { ok: true, pack, relaxations: [], approvedBy: undefined };
  const merged = mergeRepoRules(pack, config.rules, options.approval);
  return merged.ok ? merged : { ok: false, error: merged.error };
}
