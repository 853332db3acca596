// The policy pack a pull request is judged by: the app's policies/policy-pack.yml (read once per process) with
// the repository's `rules:` from .github/aura.yml on the BASE branch merged in (tighten only). Either failing
// is a typed error the gate turns into status `error`, never a pass.
import { readFileSync } from "node:fs";
import path from "node:path";
import { defaultPoliciesDir } from "../config/policy-files.js";
import type { RepoConfig } from "../config/repo-config.js";
import { loadPolicyPack, PolicyParseError, type PolicyPack } from "./policy-pack.js";
import { mergeRepoRules, type PolicyRelaxationRefused } from "./repo-rules.js";

let cached: { file: string; pack: PolicyPack } | undefined;

/** The app's default pack; throws PolicyParseError when the file is missing or invalid. */
export function loadDefaultPack(dir = defaultPoliciesDir()): PolicyPack {
  const file = path.join(dir, "policy-pack.yml");
  if (cached?.file === file) return cached.pack;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new PolicyParseError(file, [{ ruleId: undefined, field: "(file)", message: `cannot be read (${(error as Error).message})` }]);
  }
  const pack = loadPolicyPack(text, file);
  cached = { file, pack };
  return pack;
}

export type EffectivePack = { ok: true; pack: PolicyPack } | { ok: false; error: PolicyParseError | PolicyRelaxationRefused };

/** The default pack with the repository's rules merged in. */
export function effectivePack(config: RepoConfig, dir?: string): EffectivePack {
  let pack: PolicyPack;
  try {
    pack = loadDefaultPack(dir);
  } catch (error) {
    if (error instanceof PolicyParseError) return { ok: false, error };
    throw error;
  }
  if (config.rules.length === 0) return { ok: true, pack };
  const merged = mergeRepoRules(pack, config.rules);
  return merged.ok ? { ok: true, pack: merged.pack } : { ok: false, error: merged.error };
}
