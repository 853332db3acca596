// One contract, every sandbox back end: bubblewrap on this host, and Kubernetes Jobs against the fake API server
// edge (fake-kubernetes.ts, whose kubelet runs the pod's command here). A caller must not be able to tell them
// apart by what a run returns: the exit code, stdout and stderr in one log, the log cut head and tail the same
// way, a timeout reported as the timeout limit, files the command writes in the work tree there afterwards,
// and the same scrubbed environment (nothing of the app's).
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stoppedBy } from "../../src/observability/observe.js";
import { LIMIT_NAMES } from "../../src/workspace/limit-names.js";
import { runInSandbox, sandboxMode, type SandboxOptions } from "../../src/workspace/sandbox.js";
import { startFakeKubernetes, type FakeKubernetes } from "./fake-kubernetes.js";
import { makeTempDir } from "./git-fixture.js";

type Backend = { name: string; expectedSandbox: string; setUp: (volume: string) => Promise<SandboxOptions>; tearDown: () => Promise<void> };

let fake: FakeKubernetes | undefined;

const bwrapOptions: SandboxOptions = { allowUnsandboxed: false, acceptMissing: [...LIMIT_NAMES] };
const bwrapWorks = sandboxMode(bwrapOptions) !== "unavailable";

const backends: Backend[] = [
  {
    name: `bubblewrap${bwrapWorks ? "" : " (skipped: bubblewrap does not start here)"}`,
    expectedSandbox: "bwrap",
    setUp: () => Promise.resolve(bwrapOptions),
    tearDown: () => Promise.resolve(),
  },
  {
    name: "kubernetes Job (fake API server)",
    expectedSandbox: "kubernetes",
    setUp: async (volume) => {
      fake = await startFakeKubernetes({ volume });
      return {
        allowUnsandboxed: false,
        acceptMissing: ["workspace"],
        kubernetes: {
          apiUrl: fake.url,
          serviceAccountDir: fake.serviceAccountDir,
          image: "aura-sandbox:test",
          pvc: "aura-workspaces",
          mountPath: volume,
          runAsUser: 10001,
          cpu: "1",
          startTimeoutMs: 10_000,
          pollIntervalMs: 20,
        },
      };
    },
    tearDown: async () => {
      await fake?.close();
      fake = undefined;
    },
  },
];

describe.each(backends)("sandbox contract: $name", (backend) => {
  const skip = backend.expectedSandbox === "bwrap" && !bwrapWorks;
  let temp: ReturnType<typeof makeTempDir>;
  let tree: string;
  let options: SandboxOptions;

  beforeAll(async () => {
    temp = makeTempDir("aura-contract-");
    // The shared volume: the workspace root below it, at the same path for the app and the run.
    const volume = realpathSync(temp.dir);
    options = await backend.setUp(volume);
  });

  afterAll(async () => {
    await backend.tearDown();
    temp.cleanup();
  });

  beforeEach(() => {
    tree = path.join(realpathSync(temp.dir), `tree-${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(tree, { mode: 0o755 });
    writeFileSync(path.join(tree, "input.txt"), "from the app\n");
  });

  afterEach(() => {
    if (fake) expect(fake.jobs(), "every Job is deleted once its result is read").toEqual([]);
  });

  it.skipIf(skip)("returns the command's exit code and its stdout and stderr in one log", async () => {
    const result = await runInSandbox(options, { command: "cat input.txt; echo to-stderr >&2; exit 3", cwd: tree, phase: "test" });

    expect(result.sandbox).toBe(backend.expectedSandbox);
    expect(result.exitCode).toBe(3);
    expect(result.timedOut).toBe(false);
    expect(result.memoryExceeded).toBe(false);
    expect(stoppedBy(result)).toBe("exit");
    expect(result.log).toContain("from the app\n");
    expect(result.log).toContain("to-stderr\n");
    expect(result.network).toBe(false);
    expect(result.egress).toEqual({ kind: "none" });
  });

  it.skipIf(skip)("keeps the head and the tail of a long log, counts every byte and hashes the whole of it", async () => {
    const command = "printf 'HEAD-'; head -c 5000 /dev/zero | tr '\\0' a; printf -- '-TAIL\\n'";
    const full = `HEAD-${"a".repeat(5000)}-TAIL\n`;

    const result = await runInSandbox(options, { command, cwd: tree, phase: "test", maxOutputBytes: 200 });

    expect(result.exitCode).toBe(0);
    expect(result.logTruncated).toBe(true);
    expect(result.logBytes).toBe(full.length);
    expect(result.logSha256).toBe(createHash("sha256").update(full).digest("hex"));
    expect(result.log.startsWith(`HEAD-${"a".repeat(95)}\n… [`)).toBe(true);
    expect(result.log).toContain(`[${full.length - 200} bytes omitted]`);
    expect(result.log.endsWith(`${"a".repeat(94)}-TAIL\n`)).toBe(true);
  });

  it.skipIf(skip)("stops a command at its time limit and reports the timeout as what stopped it, with what it printed", async () => {
    const result = await runInSandbox(options, { command: "echo started; sleep 60; echo never", cwd: tree, phase: "test", timeoutMs: 1000 });

    expect(result.timedOut).toBe(true);
    expect(stoppedBy(result)).toBe("timeout");
    expect(result.exitCode).toBeNull();
    expect(result.log).toContain("started");
    expect(result.log).not.toContain("never");
  });

  it.skipIf(skip)("leaves the files the command writes in the work tree for the app to read afterwards", async () => {
    const result = await runInSandbox(options, { command: "mkdir -p out && echo built > out/made.txt", cwd: tree, phase: "setup" });

    expect(result.exitCode).toBe(0);
    expect(readFileSync(path.join(tree, "out", "made.txt"), "utf8")).toBe("built\n");
  });

  it.skipIf(skip)("passes the scrubbed environment, with setup's additions, and nothing of the app's", async () => {
    process.env.AURA_CONTRACT_SECRET = "app-secret";
    const command = 'echo "HOME=$HOME CI=$CI LANG=$LANG secret=${AURA_CONTRACT_SECRET:-unset} scripts=${npm_config_ignore_scripts:-unset}"';

    try {
      const setup = await runInSandbox(options, { command, cwd: tree, phase: "setup" });
      const test = await runInSandbox(options, { command, cwd: tree, phase: "test" });

      expect(setup.log).toBe("HOME=/home/aura CI=true LANG=C.UTF-8 secret=unset scripts=true\n");
      expect(test.log).toBe("HOME=/home/aura CI=true LANG=C.UTF-8 secret=unset scripts=unset\n");
    } finally {
      delete process.env.AURA_CONTRACT_SECRET;
    }
  });
});
