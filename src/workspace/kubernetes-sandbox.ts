// The second sandbox back end (AURA_SANDBOX=kubernetes): a setup or test command runs as a batch/v1 Job, with
// the same contract as the bubblewrap runner (sandbox.ts): the command in the task's work tree, a scrubbed
// environment, a time limit (activeDeadlineSeconds), a memory and CPU limit, no network (a deny-all
// NetworkPolicy selects the Job's pods by label), and the same result: exit code, the log cut head and tail,
// which limit stopped it.
//
// The work tree lives on a shared ReadWriteMany volume mounted at the same path in the app's pod and in the
// Job's pod; the Job mounts only the tree itself (a subPath), and its .git read-only over itself, so the run
// can reach neither other tasks' trees nor the git metadata the app runs git on.
//
// A Job's name is derived from the run (work tree, phase, command), so a retry after a crash finds its Job:
// the leftover is deleted (and waited for, so its pod no longer writes in the tree) and the Job created anew.
// The Job is deleted once its result is read, on a timeout or an error too; ttlSecondsAfterFinished removes
// it should the app die first. A pod that does not start (image pull, unschedulable) is an infrastructure
// failure (SandboxStartError) naming the reason from the pod's status, after a bounded wait.
import { createHash } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import { constants } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { SandboxStartError } from "./errors.js";
import { callApi, podNamespace, streamApi, type KubernetesConnection } from "./kubernetes-api.js";
import type { LimitName } from "./limit-names.js";
import { OutputCapture } from "./output-capture.js";
import type { MissingLimit } from "./sandbox-limits.js";

/** The label the deny-all NetworkPolicy (deploy/kubernetes/job-sandbox/network-policy.yaml) selects. */
export const SANDBOX_POD_LABEL = { key: "aura.dev/sandbox", value: "job" } as const;
const CONTAINER = "run";
const SANDBOX_HOME = "/home/aura";

export type KubernetesSandboxConfig = KubernetesConnection & {
  /** Where the Jobs are created; defaults to the app's own namespace (the service account's namespace file). */
  namespace?: string;
  /** The image the commands run in: it must hold the toolchains the repositories need (node, npm, git…). */
  image: string;
  /** The ReadWriteMany PersistentVolumeClaim holding the workspace root. */
  pvc: string;
  /** Where that claim is mounted in the app's pod; the work trees are below it. */
  mountPath: string;
  /** The uid (and gid) the command runs as; the app's own, so both can write the tree. */
  runAsUser: number;
  /** The CPU limit of a run, in Kubernetes quantity form ("2", "500m"). */
  cpu: string;
  /** How long a pod may take to start (scheduling, image pull) before the run fails as an infrastructure error. */
  startTimeoutMs: number;
  /** How often the Job and its pod are read; defaults to 1 s. */
  pollIntervalMs?: number;
  /** How long a finished Job stays if the app could not delete it; defaults to 600 s. */
  ttlSecondsAfterFinished?: number;
};

export type KubernetesRunInput = {
  command: string;
  cwd: string;
  phase: "setup" | "test";
  timeoutMs: number;
  maxOutputBytes: number;
  memoryMb: number;
  tmpfsMb: number;
  env: Record<string, string>;
};

export type KubernetesOutcome = {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  memoryExceeded: boolean;
  durationMs: number;
  output: ReturnType<OutputCapture["finish"]>;
};

/** What the Job back end cannot bound per run; refused unless accepted by name, like bubblewrap's missing limits. */
export const KUBERNETES_MISSING: readonly (MissingLimit & { name: LimitName })[] = [
  {
    name: "workspace",
    text: "workspace disk limit (the work tree is on the shared volume, which has no per-run limit: bound the volume's size)",
  },
];

/** What holds in every Job run, in words for /ready, the PR and the review. */
export function kubernetesHeld(config: Pick<KubernetesSandboxConfig, "cpu" | "runAsUser">, sizes: { memoryMb: number; tmpfsMb: number }): string[] {
  return [
    `Kubernetes Job memory ${sizes.memoryMb} MiB + cpu ${config.cpu}`,
    `tmpfs ${sizes.tmpfsMb} MiB (in the memory limit)`,
    `uid ${config.runAsUser}`,
    "seccomp RuntimeDefault",
    "no capabilities, no privilege escalation, read-only root filesystem",
    "no network (deny-all NetworkPolicy)",
    "processes: the node's podPidsLimit",
  ];
}

/** The Job's name: the same for the same run, so a retry after a crash finds the Job it left. */
export function jobName(input: Pick<KubernetesRunInput, "cwd" | "phase" | "command">): string {
  const digest = createHash("sha256").update(`${input.cwd}\0${input.phase}\0${input.command}`).digest("hex");
  return `aura-${input.phase}-${digest.slice(0, 20)}`;
}

/** The work tree below the shared volume's mount path, as the subPath the Job mounts. */
function treeSubPath(config: KubernetesSandboxConfig, tree: string): string {
  const relative = path.relative(config.mountPath, tree);
  if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative))
    throw new SandboxStartError(
      `could not start the Kubernetes sandbox: the work tree ${tree} is not below AURA_SANDBOX_K8S_MOUNT_PATH (${config.mountPath}); ` +
        "mount the shared volume so that it holds the workspace root (AURA_DATA_DIR/workspaces)",
    );
  return relative;
}

/** The batch/v1 Job for one run, locked down: see docs/operations.md, "Kubernetes sandbox back end". */
export function jobSpec(config: KubernetesSandboxConfig, namespace: string, input: KubernetesRunInput, tree: string): Record<string, unknown> {
  const subPath = treeSubPath(config, tree);
  const labels = {
    "app.kubernetes.io/name": "aura-sandbox",
    "app.kubernetes.io/managed-by": "aura-orchestra",
    [SANDBOX_POD_LABEL.key]: SANDBOX_POD_LABEL.value,
  };
  const memory = `${input.memoryMb}Mi`;
  const mounts: Record<string, unknown>[] = [
    { name: "workspaces", mountPath: tree, subPath },
    { name: "tmp", mountPath: "/tmp" },
    { name: "home", mountPath: SANDBOX_HOME },
  ];
  // The app runs git on this tree: the run must not rewrite its .git (a gitdir file could point anywhere).
  if (existsSync(path.join(tree, ".git"))) mounts.push({ name: "workspaces", mountPath: `${tree}/.git`, subPath: `${subPath}/.git`, readOnly: true });
  const scratch = { medium: "Memory", sizeLimit: `${input.tmpfsMb}Mi` };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: jobName(input), namespace, labels: { ...labels, "aura.dev/phase": input.phase } },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: Math.max(1, Math.ceil(input.timeoutMs / 1000)),
      ttlSecondsAfterFinished: config.ttlSecondsAfterFinished ?? 600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 1,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: config.runAsUser,
            runAsGroup: config.runAsUser,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: CONTAINER,
              image: config.image,
              imagePullPolicy: "IfNotPresent",
              command: ["/bin/sh", "-c", input.command],
              workingDir: tree,
              env: Object.entries(input.env).map(([name, value]) => ({ name, value })),
              securityContext: {
                allowPrivilegeEscalation: false,
                privileged: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
              resources: { requests: { cpu: config.cpu, memory }, limits: { cpu: config.cpu, memory } },
              volumeMounts: mounts,
            },
          ],
          volumes: [
            { name: "workspaces", persistentVolumeClaim: { claimName: config.pvc } },
            { name: "tmp", emptyDir: scratch },
            { name: "home", emptyDir: scratch },
          ],
        },
      },
    },
  };
}

const Condition = z.object({ type: z.string(), status: z.string(), reason: z.string().optional(), message: z.string().optional() });
const Job = z.object({ status: z.object({ conditions: z.array(Condition).optional() }).optional() });
const Terminated = z.object({ exitCode: z.number(), signal: z.number().optional(), reason: z.string().optional(), message: z.string().optional() });
const ContainerStatus = z.object({
  name: z.string(),
  state: z
    .object({
      waiting: z.object({ reason: z.string().optional(), message: z.string().optional() }).optional(),
      running: z.object({}).passthrough().optional(),
      terminated: Terminated.optional(),
    })
    .optional(),
});
const Pod = z.object({
  metadata: z.object({ name: z.string() }),
  status: z
    .object({
      phase: z.string().optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      conditions: z.array(Condition).optional(),
      containerStatuses: z.array(ContainerStatus).optional(),
    })
    .optional(),
});
const PodList = z.object({ items: z.array(Pod) });
type Pod = z.infer<typeof Pod>;

/** Waiting reasons after which the pod will not start by itself. */
const STUCK = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CreateContainerConfigError",
  "CreateContainerError",
  "RunContainerError",
]);

type Api = { connection: KubernetesSandboxConfig; namespace: string; name: string };

const jobsPath = (api: Api) => `/apis/batch/v1/namespaces/${encodeURIComponent(api.namespace)}/jobs`;

async function createJob(api: Api, spec: Record<string, unknown>): Promise<number> {
  const { status } = await callApi(api.connection, {
    method: "POST",
    path: jobsPath(api),
    body: spec,
    action: `create the sandbox Job ${api.name}`,
    permission: { verb: "create", resource: "jobs" },
    namespace: api.namespace,
    expected: [201, 409],
  });
  return status;
}

async function deleteJob(api: Api, propagationPolicy: "Background" | "Foreground"): Promise<void> {
  await callApi(api.connection, {
    method: "DELETE",
    path: `${jobsPath(api)}/${api.name}`,
    body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy },
    action: `delete the sandbox Job ${api.name}`,
    permission: { verb: "delete", resource: "jobs" },
    namespace: api.namespace,
    expected: [200, 202, 404],
  });
}

async function readJob(api: Api): Promise<z.infer<typeof Job> | undefined> {
  const { status, body } = await callApi(api.connection, {
    method: "GET",
    path: `${jobsPath(api)}/${api.name}`,
    action: `read the sandbox Job ${api.name}`,
    permission: { verb: "get", resource: "jobs" },
    namespace: api.namespace,
    expected: [200, 404],
  });
  return status === 404 ? undefined : Job.parse(body);
}

async function readPod(api: Api): Promise<Pod | undefined> {
  const selector = encodeURIComponent(`job-name=${api.name}`);
  const { body } = await callApi(api.connection, {
    method: "GET",
    path: `/api/v1/namespaces/${encodeURIComponent(api.namespace)}/pods?labelSelector=${selector}`,
    action: `list the pods of the sandbox Job ${api.name}`,
    permission: { verb: "list", resource: "pods" },
    namespace: api.namespace,
    expected: [200],
  });
  return PodList.parse(body).items[0];
}

/** A Job left by an earlier attempt (the app crashed mid-run) is deleted, and gone, before this run's is created. */
async function createFresh(api: Api, spec: Record<string, unknown>, poll: number, waitMs: number): Promise<void> {
  if ((await createJob(api, spec)) === 201) return;
  await deleteJob(api, "Foreground");
  for (let waited = 0; (await readJob(api)) !== undefined; waited += poll) {
    if (waited >= waitMs)
      throw new SandboxStartError(
        `could not start the Kubernetes sandbox: the Job ${api.name} left by an earlier attempt was deleted but is still there after ${Math.round(waitMs / 1000)} s; the job is retried`,
      );
    await sleep(poll);
  }
  if ((await createJob(api, spec)) === 409)
    throw new SandboxStartError(`could not start the Kubernetes sandbox: the Job ${api.name} was created again by someone else while this run replaced it`);
}

function containerOf(pod: Pod | undefined) {
  return pod?.status?.containerStatuses?.find((status) => status.name === CONTAINER)?.state;
}

/** Why the pod has not started, from its status: the waiting reason, the scheduler's verdict, or its phase. */
function whyNotStarted(api: Api, pod: Pod | undefined): string {
  if (!pod)
    return `no pod was created for the Job (kubectl describe job ${api.name} -n ${api.namespace} shows why; a PodSecurity or ResourceQuota refusal is the usual cause)`;
  const waiting = containerOf(pod)?.waiting;
  if (waiting?.reason) return `pod ${pod.metadata.name}: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ""}`;
  const unscheduled = pod.status?.conditions?.find((condition) => condition.type === "PodScheduled" && condition.status === "False");
  if (unscheduled)
    return `pod ${pod.metadata.name} cannot be scheduled: ${unscheduled.reason ?? "Unschedulable"}${unscheduled.message ? ` (${unscheduled.message})` : ""}`;
  return `pod ${pod.metadata.name} is ${pod.status?.phase ?? "Pending"}${pod.status?.reason ? ` (${pod.status.reason}${pod.status.message ? `: ${pod.status.message}` : ""})` : ""}`;
}

function startFailure(api: Api, config: KubernetesSandboxConfig, reason: string): SandboxStartError {
  return new SandboxStartError(
    `could not start the Kubernetes sandbox: ${reason}; check the image (AURA_SANDBOX_K8S_IMAGE=${config.image}), the PersistentVolumeClaim (AURA_SANDBOX_K8S_PVC=${config.pvc}) and the nodes' capacity`,
  );
}

function signalName(signal: number | undefined): NodeJS.Signals | null {
  if (!signal) return null;
  const found = Object.entries(constants.signals).find(([, number]) => number === signal);
  return (found?.[0] as NodeJS.Signals | undefined) ?? null;
}

type LogStream = { done: Promise<void>; stop: () => void };

/** Follows the container's log into `capture` from its start, so a run killed at its deadline keeps what it printed. */
async function followLog(api: Api, podName: string, capture: OutputCapture): Promise<LogStream> {
  const response = await streamApi(api.connection, {
    method: "GET",
    path: `/api/v1/namespaces/${encodeURIComponent(api.namespace)}/pods/${encodeURIComponent(podName)}/log?container=${CONTAINER}&follow=true`,
    action: `read the log of the sandbox pod ${podName}`,
    permission: { verb: "get", resource: "pods/log" },
    namespace: api.namespace,
  });
  const done = new Promise<void>((resolve) => {
    response.on("data", (chunk: Buffer) => capture.write(chunk));
    response.on("end", resolve);
    response.on("close", resolve);
    response.on("error", () => resolve());
  });
  return { done, stop: () => response.destroy() };
}

type Watch = { exitCode: number | null; signal: NodeJS.Signals | null; timedOut: boolean; memoryExceeded: boolean };

/**
 * Reads the Job and its pod until the command has ended: its container terminated, or the Job failed at its
 * deadline. A pod that does not start within the start timeout, or is stuck (image pull), fails the run.
 */
async function watch(api: Api, config: KubernetesSandboxConfig, input: KubernetesRunInput, capture: OutputCapture): Promise<Watch> {
  const poll = config.pollIntervalMs ?? 1000;
  const began = Date.now();
  let log: LogStream | undefined;
  try {
    for (;;) {
      const job = await readJob(api);
      if (!job) throw new SandboxStartError(`the sandbox Job ${api.name} disappeared while it ran (deleted by someone else?); the job is retried`);
      const pod = await readPod(api);
      const state = containerOf(pod);
      const failed = job.status?.conditions?.find((condition) => condition.type === "Failed" && condition.status === "True");
      if (pod && !log && (state?.running || state?.terminated)) log = await followLog(api, pod.metadata.name, capture);
      if (state?.terminated) {
        await log?.done;
        const { exitCode, signal, reason } = state.terminated;
        const timedOut = failed?.reason === "DeadlineExceeded";
        const killed = signalName(signal);
        return { exitCode: killed ? null : exitCode, signal: killed, timedOut, memoryExceeded: reason === "OOMKilled" };
      }
      if (failed?.reason === "DeadlineExceeded") {
        // The Job controller deletes the pod at its deadline: what it printed until then was followed.
        if (!log && !state) throw startFailure(api, config, `the Job reached its deadline before its pod started (${whyNotStarted(api, pod)})`);
        await log?.done;
        return { exitCode: null, signal: "SIGKILL", timedOut: true, memoryExceeded: false };
      }
      const waiting = state?.waiting?.reason;
      if (!log && waiting && STUCK.has(waiting)) throw startFailure(api, config, whyNotStarted(api, pod));
      if (failed)
        throw startFailure(api, config, `the Job failed before its command ran (${failed.reason ?? "Failed"}${failed.message ? `: ${failed.message}` : ""})`);
      if (!log && Date.now() - began >= config.startTimeoutMs)
        throw startFailure(api, config, `the pod did not start within ${Math.round(config.startTimeoutMs / 1000)} s: ${whyNotStarted(api, pod)}`);
      // Past the deadline and the start allowance the Job should have failed already: stop it here regardless.
      if (Date.now() - began >= input.timeoutMs + config.startTimeoutMs + 30_000) {
        return { exitCode: null, signal: "SIGKILL", timedOut: true, memoryExceeded: false };
      }
      await sleep(poll);
    }
  } finally {
    log?.stop();
  }
}

/** Runs one command as a Job and reads how it ended; the Job is deleted whatever happened. */
export async function runKubernetesJob(config: KubernetesSandboxConfig, input: KubernetesRunInput): Promise<KubernetesOutcome> {
  const tree = realpathSync(input.cwd);
  const namespace = config.namespace ?? podNamespace(config);
  const api: Api = { connection: config, namespace, name: jobName(input) };
  const spec = jobSpec(config, namespace, input, tree);
  const capture = new OutputCapture(input.maxOutputBytes);
  const started = performance.now();
  await createFresh(api, spec, config.pollIntervalMs ?? 1000, config.startTimeoutMs);
  let watched: Watch;
  try {
    watched = await watch(api, config, input, capture);
  } catch (error) {
    await deleteJob(api, "Background").catch(() => undefined);
    throw error;
  }
  try {
    await deleteJob(api, "Background");
  } catch (error) {
    throw new SandboxStartError(
      `the sandbox could not be torn down cleanly: ${error instanceof Error ? error.message : String(error)} (ttlSecondsAfterFinished removes it later)`,
      "teardown",
    );
  }
  return { ...watched, durationMs: Math.round(performance.now() - started), output: capture.finish() };
}
