// The Kubernetes Job back end beyond the shared contract (sandbox-contract.test.ts), against the fake API server
// edge: the Job it sends (locked down, no token, the label the deny-all NetworkPolicy selects, the limits, only
// the work tree mounted), the Job deleted after success, timeout and error, a Job left by a crashed attempt
// replaced, and each failure of the API server or the cluster told in words an operator can act on.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stoppedBy } from "../../src/observability/observe.js";
import { SandboxStartError } from "../../src/workspace/errors.js";
import { REQUIRED_PERMISSIONS } from "../../src/workspace/kubernetes-api.js";
import { jobName, SANDBOX_POD_LABEL, type KubernetesSandboxConfig } from "../../src/workspace/kubernetes-sandbox.js";
import { runInSandbox, sandboxStatus, type SandboxOptions } from "../../src/workspace/sandbox.js";
import { SandboxLimitsUnavailableError } from "../../src/workspace/sandbox-limits.js";
import { startFakeKubernetes, type FakeKubernetes } from "./fake-kubernetes.js";
import { makeTempDir } from "./git-fixture.js";

let temp: ReturnType<typeof makeTempDir>;
let volume: string;
let fake: FakeKubernetes;
let tree: string;

beforeAll(async () => {
  temp = makeTempDir("aura-k8s-");
  volume = realpathSync(temp.dir);
  fake = await startFakeKubernetes({ volume });
});

afterAll(async () => {
  await fake.close();
  temp.cleanup();
});

beforeEach(() => {
  fake.fail(undefined);
  fake.requests.length = 0;
  fake.created.length = 0;
  tree = path.join(volume, "workspaces", `task-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(tree, { recursive: true });
  writeFileSync(path.join(tree, ".git"), "gitdir: /data/cache/repo.git/worktrees/task\n");
});

afterEach(() => {
  expect(fake.jobs(), "every Job is deleted, whatever happened").toEqual([]);
});

function config(overrides: Partial<KubernetesSandboxConfig> = {}): KubernetesSandboxConfig {
  return {
    apiUrl: fake.url,
    serviceAccountDir: fake.serviceAccountDir,
    image: "ghcr.io/example/aura-sandbox:1",
    pvc: "aura-workspaces",
    mountPath: volume,
    runAsUser: 10001,
    cpu: "2",
    startTimeoutMs: 10_000,
    pollIntervalMs: 20,
    ...overrides,
  };
}

const options = (overrides: Partial<KubernetesSandboxConfig> = {}): SandboxOptions => ({
  allowUnsandboxed: false,
  acceptMissing: ["workspace"],
  kubernetes: config(overrides),
});

const deletes = () => fake.requests.filter((request) => request.method === "DELETE");

async function failure(run: Promise<unknown>): Promise<SandboxStartError> {
  const error: unknown = await run.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SandboxStartError);
  return error as SandboxStartError;
}

describe("the Job it sends", () => {
  it("is locked down: no retries, a deadline, no token, no service links, non-root, no capabilities, RuntimeDefault seccomp, read-only root", async () => {
    await runInSandbox(options(), { command: "true", cwd: tree, phase: "test", timeoutMs: 90_500 });
    const job = fake.created[0];
    const pod = job.spec.template.spec;
    const container = pod.containers[0];

    expect(fake.created).toHaveLength(1);
    expect(job.metadata.namespace).toBe("aura-test");
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.activeDeadlineSeconds).toBe(91);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(pod.restartPolicy).toBe("Never");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.enableServiceLinks).toBe(false);
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: "RuntimeDefault" } });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container.image).toBe("ghcr.io/example/aura-sandbox:1");
    expect(container.command).toEqual(["/bin/sh", "-c", "true"]);
  });

  it("carries the label the deny-all NetworkPolicy selects, on the pod", async () => {
    const policy = parse(readFileSync(path.resolve(import.meta.dirname, "../../deploy/kubernetes/job-sandbox/network-policy.yaml"), "utf8"));

    await runInSandbox(options(), { command: "true", cwd: tree, phase: "test" });
    const labels = fake.created[0].spec.template.metadata.labels;

    expect(labels[SANDBOX_POD_LABEL.key]).toBe(SANDBOX_POD_LABEL.value);
    expect(labels).toMatchObject(policy.spec.podSelector.matchLabels);
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.ingress ?? []).toEqual([]);
    expect(policy.spec.egress ?? []).toEqual([]);
  });

  it("sets the run's memory and cpu limits, sized scratch space, and the scrubbed environment without the app's PATH", async () => {
    await runInSandbox(options(), { command: "true", cwd: tree, phase: "test", memoryMb: 1536, tmpfsMb: 64 });
    const pod = fake.created[0].spec.template.spec;
    const container = pod.containers[0];

    expect(container.resources).toEqual({ requests: { cpu: "2", memory: "1536Mi" }, limits: { cpu: "2", memory: "1536Mi" } });
    expect(pod.volumes).toContainEqual({ name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } });
    expect(pod.volumes).toContainEqual({ name: "home", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } });
    expect(container.env.map((entry: { name: string }) => entry.name).sort()).toEqual(["CI", "HOME", "LANG"]);
  });

  it("mounts only the task's own tree from the shared volume, at the same path, and its .git read-only", async () => {
    await runInSandbox(options(), { command: "true", cwd: tree, phase: "test" });
    const pod = fake.created[0].spec.template.spec;
    const relative = path.relative(volume, tree);

    expect(pod.volumes).toContainEqual({ name: "workspaces", persistentVolumeClaim: { claimName: "aura-workspaces" } });
    expect(pod.containers[0].workingDir).toBe(tree);
    expect(pod.containers[0].volumeMounts.filter((mount: { name: string }) => mount.name === "workspaces")).toEqual([
      { name: "workspaces", mountPath: tree, subPath: relative },
      { name: "workspaces", mountPath: `${tree}/.git`, subPath: `${relative}/.git`, readOnly: true },
    ]);
  });

  it("refuses a work tree outside the shared volume before creating anything", async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), "aura-outside-"));

    try {
      const error = await failure(runInSandbox(options(), { command: "true", cwd: outside, phase: "test" }));

      expect(error.message).toContain(`is not below AURA_SANDBOX_K8S_MOUNT_PATH (${volume})`);
      expect(fake.requests).toEqual([]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe("cleanup", () => {
  it("deletes the Job in the background once a run's result is read", async () => {
    const result = await runInSandbox(options(), { command: "echo done", cwd: tree, phase: "test" });

    expect(result.exitCode).toBe(0);
    expect(deletes()).toEqual([
      expect.objectContaining({
        path: `/apis/batch/v1/namespaces/aura-test/jobs/${jobName({ cwd: tree, phase: "test", command: "echo done" })}`,
        body: expect.objectContaining({ propagationPolicy: "Background" }),
      }),
    ]);
  });

  it("deletes the Job after a timeout", async () => {
    const result = await runInSandbox(options(), { command: "sleep 60", cwd: tree, phase: "test", timeoutMs: 1000 });

    expect(result.timedOut).toBe(true);
    expect(deletes()).toHaveLength(1);
  });

  it("deletes the Job when its pod never starts", async () => {
    fake.fail({ kind: "image-pull" });

    const error = await failure(runInSandbox(options(), { command: "true", cwd: tree, phase: "test" }));

    expect(error.message).toContain('ErrImagePull (failed to pull image "ghcr.io/example/aura-sandbox:1": not found)');
    expect(error.message).toContain("AURA_SANDBOX_K8S_IMAGE=ghcr.io/example/aura-sandbox:1");
    expect(deletes()).toHaveLength(1);
  });

  it("replaces the Job a crashed attempt left (409), stopping its pod first", async () => {
    const input = { command: "echo second attempt", cwd: tree, phase: "test" } as const;
    await runInSandbox(options(), input);
    const leftover = structuredClone(fake.created[0]);
    leftover.spec.template.spec.containers[0].command = ["/bin/sh", "-c", "sleep 60"];
    const alive = fake.leaveJob(leftover);
    fake.requests.length = 0;

    const result = await runInSandbox(options(), input);

    expect(result.log).toBe("second attempt\n");
    expect(alive()).toBe(false);
    expect(fake.requests.map((request) => `${request.method} ${request.status} ${request.body?.propagationPolicy ?? ""}`.trim()).slice(0, 4)).toEqual([
      "POST 409",
      "DELETE 200 Foreground",
      "GET 404",
      "POST 201",
    ]);
  });
});

describe("limits the cluster reports", () => {
  it("reports a container killed for memory as the memory limit", async () => {
    fake.fail({ kind: "oom" });

    const result = await runInSandbox(options(), { command: "echo filling", cwd: tree, phase: "test" });

    expect(result.memoryExceeded).toBe(true);
    expect(stoppedBy(result)).toBe("memory");
    expect(result.exitCode).toBe(137);
  });
});

describe("failures, in words an operator can act on", () => {
  it("an API server nobody answers at", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));

    const error = await failure(runInSandbox(options({ apiUrl: `https://127.0.0.1:${port}` }), { command: "true", cwd: tree, phase: "test" }));

    expect(error.message).toBe(
      `could not reach the Kubernetes API server at https://127.0.0.1:${port} (ECONNREFUSED); check KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT (or AURA_SANDBOX_K8S_API_URL) and that no NetworkPolicy blocks the app's pod from the API server`,
    );
  });

  it("a token the API server refuses (401)", async () => {
    const accountDir = mkdtempSync(path.join(os.tmpdir(), "aura-sa-"));
    cpSync(fake.serviceAccountDir, accountDir, { recursive: true });
    writeFileSync(path.join(accountDir, "token"), "expired-token");

    try {
      const error = await failure(runInSandbox(options({ serviceAccountDir: accountDir }), { command: "true", cwd: tree, phase: "test" }));

      expect(error.message).toMatch(
        /^could not create the sandbox Job aura-test-[0-9a-f]{20}: the Kubernetes API server refused the service account token \(401: Unauthorized\)/,
      );
    } finally {
      rmSync(accountDir, { recursive: true, force: true });
    }
  });

  it.each(REQUIRED_PERMISSIONS)("a Role without $verb $resource (403) names that permission", async (permission) => {
    fake.fail({ kind: "forbid", permission });

    const error = await failure(runInSandbox(options(), { command: "true", cwd: tree, phase: "test" }));

    expect(error.message).toContain(`the app's service account may not ${permission.verb} ${permission.resource} in namespace aura-test (403: `);
    expect(error.message).toContain("deploy/kubernetes/job-sandbox/rbac.yaml");
    expect(error.failure).toBe(permission.verb === "delete" ? "teardown" : "setup");
    // Without the right to delete, the Job stays until ttlSecondsAfterFinished: the fake's cleanup removes it here.
    if (permission.verb === "delete") fake.fail(undefined);
    if (permission.verb === "delete") await runInSandbox(options(), { command: "true", cwd: tree, phase: "test" });
  });

  it("an API server that fails (5xx)", async () => {
    fake.fail({ kind: "status", status: 503 });

    const error = await failure(runInSandbox(options(), { command: "true", cwd: tree, phase: "test" }));

    expect(error.message).toMatch(/the Kubernetes API server failed \(503: etcdserver: request timed out\); the job is retried/);
  });

  it("a pod that cannot be scheduled, after the bounded wait, with the scheduler's reason", async () => {
    fake.fail({ kind: "unschedulable" });

    const error = await failure(runInSandbox(options({ startTimeoutMs: 200 }), { command: "true", cwd: tree, phase: "test" }));

    expect(error.message).toMatch(
      /^could not start the Kubernetes sandbox: the pod did not start within 0 s: pod aura-test-[0-9a-f]{20}-x7k2p cannot be scheduled: Unschedulable \(0\/3 nodes are available: 3 Insufficient memory\.\)/,
    );
    expect(deletes()).toHaveLength(1);
  });
});

describe("standing, for /ready and the work loop", () => {
  it("is refused, naming the missing workspace limit, unless the operator accepts it", async () => {
    const strict: SandboxOptions = { allowUnsandboxed: false, kubernetes: config() };

    expect(sandboxStatus(strict)).toMatchObject({ mode: "unavailable", fix: expect.stringContaining("AURA_SANDBOX_ACCEPT_MISSING=workspace") });
    expect(sandboxStatus(options())).toMatchObject({ mode: "kubernetes (limits incomplete)", fix: "", missing: "" });
    await expect(runInSandbox(strict, { command: "true", cwd: tree, phase: "test" })).rejects.toThrow(SandboxLimitsUnavailableError);
    expect(fake.requests).toEqual([]);
  });

  it("is unavailable without the service account's token", () => {
    const status = sandboxStatus(options({ serviceAccountDir: path.join(volume, "no-such-dir") }));

    expect(status.mode).toBe("unavailable");
    expect(status.bwrap).toContain("the service account's token, ca.crt, namespace are missing from");
    expect(status.fix).toContain("automountServiceAccountToken: true");
  });
});
