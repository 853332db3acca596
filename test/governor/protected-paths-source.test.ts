// One protected-path list (issue 7): policies/protected-paths.yml feeds both the Manager's plan rules and the
// governor's `protected-paths` rule; the pack does not repeat the globs, and its revision covers the list.
import { appendFileSync, cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { defaultPoliciesDir, loadPolicySet, loadProtectedPaths } from "../../src/config/policy-files.js";
import { parseRepoConfig } from "../../src/config/repo-config.js";
import { effectivePack } from "../../src/governor/effective-pack.js";
import { evaluate } from "../../src/governor/evaluate.js";
import { loadPolicyPack, policyPackRevision, type PolicyPack, type RuleOfKind } from "../../src/governor/policy-pack.js";
import type { ChangedFile } from "../../src/governor/pull-context.js";
import { validatePlan } from "../../src/manager/validate-plan.js";
import { agentContext, defaultPackText, task } from "./pull-fixtures.js";

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the app's policies/ with extra lines appended to protected-paths.yml. */
function policiesWith(extra: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "aura-policies-"));
  dirs.push(dir);
  cpSync(defaultPoliciesDir(), dir, { recursive: true });
  appendFileSync(path.join(dir, "protected-paths.yml"), extra);
  return dir;
}

/** A rule of policies/policy-pack.yml as written, before the loader fills anything in. */
function rawRule(id: string): { params: Record<string, unknown> } {
  const raw = parse(defaultPackText()) as { rules: { id: string; params: Record<string, unknown> }[] };
  const rule = raw.rules.find((candidate) => candidate.id === id);
  if (!rule) throw new Error(`no rule ${id} in the pack`);
  return rule;
}

function packOf(dir: string): PolicyPack {
  const policies = loadPolicySet(dir);
  const result = effectivePack(parseRepoConfig(null), { protectedPaths: policies.protectedPaths, dir });
  if (!result.ok) throw result.error;
  return result.pack;
}

const file = (filename: string): ChangedFile => ({
  filename,
  status: "added",
  additions: 1,
  deletions: 0,
  patch: "@@ -0,0 +1 @@\n+value\n",
  previousFilename: undefined,
});

function planTouching(scope: string, protectedGlobs: ReturnType<typeof loadProtectedPaths>["protected"]) {
  return validatePlan(
    {
      summary: "s",
      tasks: [
        { id: "t", title: "t", instructions: "i", taskClass: "feature", scope: [scope], acceptance: ["a"], dependsOn: [], estimate: { tokens: 1, usd: 0 } },
      ],
    },
    { maxTasks: 5, protectedGlobs, budget: { perTask: { tokens: 10, usd: 1 }, perRequirement: { tokens: 10, usd: 1 } } },
  );
}

describe("the protected-path list", () => {
  it("a path added to protected-paths.yml is refused by plan validation and by the governor", async () => {
    const dir = policiesWith('  - { glob: "deploy/**", reason: production deploy scripts }\n');
    const policies = loadPolicySet(dir);

    const plan = planTouching("deploy/**", policies.protectedPaths.protected);
    const verdict = await evaluate(packOf(dir), agentContext([file("deploy/run.sh")], { task: task({ scopeGlobs: ["deploy/**"] }) }));

    expect(plan.ok).toBe(false);
    expect(plan.ok ? [] : plan.problems.map((problem) => problem.kind)).toContain("scope-protected");
    const rule = verdict.rules.find((result) => result.ruleId === "protected-paths");
    expect(rule?.state).toBe("fail");
    expect(rule?.findings[0]?.message).toContain("`deploy/**`: production deploy scripts");
  });

  it("its allowTaskClasses become the governor rule's exceptions", async () => {
    const dir = policiesWith('  - { glob: "deploy/**", reason: production deploy scripts, allowTaskClasses: [feature] }\n');

    const verdict = await evaluate(packOf(dir), agentContext([file("deploy/run.sh")], { task: task({ scopeGlobs: ["deploy/**"] }) }));

    expect(verdict.rules.find((result) => result.ruleId === "protected-paths")?.state).toBe("pass");
  });

  it("is not repeated in the pack, which takes every glob of protected-paths.yml", () => {
    const shared = loadProtectedPaths();

    const pack = loadPolicyPack(defaultPackText(), "policy-pack.yml", { protectedPaths: shared });
    const rule = pack.rules.find((candidate) => candidate.id === "protected-paths") as RuleOfKind<"protected-paths">;

    expect(rawRule("protected-paths").params).not.toHaveProperty("paths");
    expect(rule.params.paths.map((entry) => entry.glob)).toEqual(shared.protected.map((entry) => entry.glob));
    expect(rule.params.paths.find((entry) => entry.glob === "**/yarn.lock")?.exceptTaskClasses).toEqual(["dependency"]);
  });

  it("changes the pack revision when the list changes", () => {
    const base = packOf(defaultPoliciesDir());

    const extended = packOf(policiesWith('  - { glob: "deploy/**", reason: production deploy scripts }\n'));

    expect(policyPackRevision(extended)).not.toBe(policyPackRevision(base));
  });

  it("can still be extended by a repository's rules", () => {
    const policies = loadPolicySet();
    const config = parseRepoConfig("rules:\n  - id: protected-paths\n    params:\n      paths: [{ glob: src/security/** }]\n");

    const result = effectivePack(config, { protectedPaths: policies.protectedPaths });
    const rule = result.ok ? (result.pack.rules.find((candidate) => candidate.id === "protected-paths") as RuleOfKind<"protected-paths">) : undefined;

    expect(result.ok && result.relaxations).toEqual([]);
    expect(rule?.params.paths.map((entry) => entry.glob)).toEqual([...policies.protectedPaths.protected.map((entry) => entry.glob), "src/security/**"]);
  });
});

// Issue 12 point 8: files that change how git, installs, builds and hooks behave are protected like workflows.
describe("files that change how tooling behaves", () => {
  const toolingFiles = [
    ".gitattributes",
    "vendor/lib/.gitattributes",
    ".gitmodules",
    ".lfsconfig",
    ".git-blame-ignore-revs",
    ".npmrc",
    "packages/web/.npmrc",
    ".yarnrc",
    ".yarnrc.yml",
    ".yarn/releases/yarn-4.5.0.cjs",
    ".yarn/plugins/@yarnpkg/plugin-evil.cjs",
    ".pnpmfile.cjs",
    "bunfig.toml",
    ".cargo/config.toml",
    ".mvn/extensions.xml",
    "gradle/wrapper/gradle-wrapper.properties",
    ".envrc",
    ".husky/pre-commit",
    ".githooks/pre-push",
    "lefthook.yml",
    ".lefthook-local.yaml",
    ".simple-git-hooks.json",
    ".pre-commit-config.yaml",
    ".devcontainer/devcontainer.json",
    ".devcontainer.json",
    ".vscode/tasks.json",
    ".github/dependabot.yml",
    "renovate.json",
  ];

  it.each(toolingFiles)("an agent PR that changes %s fails protected-paths, whatever its scope", async (changed) => {
    const pack = packOf(defaultPoliciesDir());

    const verdict = await evaluate(pack, agentContext([file(changed)], { task: task({ scopeGlobs: ["**"] }) }));

    expect(verdict.rules.find((result) => result.ruleId === "protected-paths")?.state).toBe("fail");
  });

  it.each([".nvmrc", ".node-version", ".tool-versions", "mise.toml", "pnpm-workspace.yaml", "gradle/wrapper/gradle-wrapper.properties"])(
    "%s may be changed by a dependency task only",
    async (changed) => {
      const pack = packOf(defaultPoliciesDir());

      const feature = await evaluate(pack, agentContext([file(changed)], { task: task({ scopeGlobs: ["**"] }) }));
      const dependency = await evaluate(pack, agentContext([file(changed)], { task: task({ scopeGlobs: ["**"], taskClass: "dependency" }) }));

      expect(feature.rules.find((result) => result.ruleId === "protected-paths")?.state).toBe("fail");
      expect(dependency.rules.find((result) => result.ruleId === "protected-paths")?.state).toBe("pass");
    },
  );

  it("are refused in a plan that names them, while ordinary scopes still plan", () => {
    const shared = loadProtectedPaths().protected;

    const named = [".npmrc", ".gitattributes", ".husky/pre-commit", "packages/web/.yarnrc.yml"].map((scope) => planTouching(scope, shared));
    const ordinary = ["src/**", "docs/**", "*.md", "packages/*/src/**", ".vscode/settings.json"].map((scope) => planTouching(scope, shared));

    expect(named.map((plan) => plan.ok)).toEqual([false, false, false, false]);
    expect(ordinary.map((plan) => plan.ok)).toEqual([true, true, true, true, true]);
  });
});
