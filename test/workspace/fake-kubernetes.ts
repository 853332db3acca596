// A fake Kubernetes API server edge for the Job sandbox (src/workspace/kubernetes-sandbox.ts): an HTTPS server
// on loopback with its own CA and a service account directory (token, ca.crt, namespace), implementing exactly
// the calls the back end makes (jobs: create, get, delete; pods: list; pods/log: get, followed or not). It
// validates each Job against the Kubernetes schema (kubernetes-models) and acts as the kubelet: the pod's
// command runs as a local child process in its working directory, with the image's PATH and the container's
// env, and is killed at activeDeadlineSeconds (the Job then fails with DeadlineExceeded and its pod is
// deleted, as the Job controller does). The shared volume is a local directory: a subPath mount must land at
// the same path it has here, or the pod does not start. It can be told to fail in each way the API and the
// cluster fail: a status for every request, a permission refused, an image that does not pull, a pod that
// cannot be scheduled, a container killed for memory.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Job as JobModel } from "kubernetes-models/batch/v1/Job";
import type { Permission } from "../../src/workspace/kubernetes-api.js";

export type FakeFailure =
  { kind: "status"; status: number } | { kind: "forbid"; permission: Permission } | { kind: "image-pull" } | { kind: "unschedulable" } | { kind: "oom" };

/* eslint-disable @typescript-eslint/no-explicit-any -- the fake keeps the objects it was sent as plain JSON */
type Container = { state: Record<string, any> };
type FakePod = {
  name: string;
  job: string;
  phase: string;
  conditions: any[];
  container?: Container;
  log: Buffer[];
  ended: boolean;
  listeners: Set<(chunk?: Buffer) => void>;
};
type FakeJob = { name: string; spec: any; conditions: any[]; process?: ChildProcess; deadline?: NodeJS.Timeout };

export type Recorded = { method: string; path: string; body: any; status: number };

export type FakeKubernetes = {
  url: string;
  serviceAccountDir: string;
  namespace: string;
  /** The directory standing in for the ReadWriteMany volume (mounted at the same path in the app and the Job). */
  volume: string;
  requests: Recorded[];
  /** Jobs that exist now, by name. */
  jobs: () => string[];
  /** Every Job created, as sent. */
  created: any[];
  fail: (failure: FakeFailure | undefined) => void;
  /** A Job left behind by an earlier attempt, created directly; says whether its pod's process is still alive. */
  leaveJob: (spec: any) => () => boolean;
  close: () => Promise<void>;
};

const NAMESPACE = "aura-test";
const TOKEN = "fake-service-account-token";

function certificate(dir: string): { key: string; cert: string } {
  const key = path.join(dir, "key.pem");
  const cert = path.join(dir, "cert.pem");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
    "-days", "2", "-subj", "/CN=kubernetes", "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" }); // prettier-ignore
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

/** The permission a request needs, as the API server's authorizer sees it. */
function permissionOf(method: string, url: URL): Permission {
  if (url.pathname.endsWith("/log")) return { verb: "get", resource: "pods/log" };
  if (url.pathname.endsWith("/pods")) return { verb: "list", resource: "pods" };
  if (method === "POST") return { verb: "create", resource: "jobs" };
  return { verb: method === "DELETE" ? "delete" : "get", resource: "jobs" };
}

const status = (code: number, reason: string, message: string) => ({ kind: "Status", apiVersion: "v1", status: "Failure", reason, message, code });

export async function startFakeKubernetes(options: { volume: string; imageEnv?: Record<string, string> }): Promise<FakeKubernetes> {
  const serviceAccountDir = mkdtempSync(path.join(os.tmpdir(), "aura-fake-sa-"));
  const tls = certificate(serviceAccountDir);
  writeFileSync(path.join(serviceAccountDir, "ca.crt"), tls.cert);
  writeFileSync(path.join(serviceAccountDir, "token"), `${TOKEN}\n`);
  writeFileSync(path.join(serviceAccountDir, "namespace"), NAMESPACE);
  const jobs = new Map<string, FakeJob>();
  const pods = new Map<string, FakePod>();
  const requests: Recorded[] = [];
  const created: any[] = [];
  let failure: FakeFailure | undefined;
  const imageEnv = options.imageEnv ?? { PATH: process.env.PATH ?? "/usr/bin:/bin" };

  const podOf = (job: string) => [...pods.values()].find((pod) => pod.job === job);
  const emit = (pod: FakePod, chunk?: Buffer) => {
    if (chunk) pod.log.push(chunk);
    else pod.ended = true;
    for (const listener of pod.listeners) listener(chunk);
  };

  function removeJob(name: string): void {
    const job = jobs.get(name);
    if (!job) return;
    clearTimeout(job.deadline);
    kill(job);
    jobs.delete(name);
    const pod = podOf(name);
    if (pod) pods.delete(pod.name);
  }

  function kill(job: FakeJob): void {
    if (job.process?.pid !== undefined && job.process.exitCode === null && job.process.signalCode === null) {
      try {
        process.kill(-job.process.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  /** The kubelet's part: start the container, or leave the pod stuck as told. */
  function schedule(job: FakeJob): void {
    const pod: FakePod = { name: `${job.name}-x7k2p`, job: job.name, phase: "Pending", conditions: [], log: [], ended: false, listeners: new Set() };
    pods.set(pod.name, pod);
    const podSpec = job.spec.spec.template.spec;
    const container = podSpec.containers[0];
    if (failure?.kind === "unschedulable") {
      pod.conditions = [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available: 3 Insufficient memory." }];
      return;
    }
    if (failure?.kind === "image-pull") {
      pod.container = { state: { waiting: { reason: "ErrImagePull", message: `failed to pull image "${container.image}": not found` } } };
      return;
    }
    const claim = podSpec.volumes.find((volume: any) => volume.persistentVolumeClaim)?.name;
    for (const mount of container.volumeMounts.filter((m: any) => m.name === claim)) {
      if (path.join(options.volume, mount.subPath ?? "") !== mount.mountPath) {
        pod.container = {
          state: { waiting: { reason: "CreateContainerError", message: `subPath ${mount.subPath} is not at ${mount.mountPath} on this node` } },
        };
        return;
      }
    }
    const env = Object.fromEntries(container.env.map((entry: { name: string; value: string }) => [entry.name, entry.value]));
    const child = spawn(container.command[0], container.command.slice(1), {
      cwd: container.workingDir,
      env: { ...imageEnv, ...env },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    job.process = child;
    pod.phase = "Running";
    pod.container = { state: { running: { startedAt: new Date(0).toISOString() } } };
    let open = 2;
    for (const stream of [child.stdout, child.stderr]) {
      stream.on("data", (chunk: Buffer) => emit(pod, chunk));
      stream.on("close", () => {
        if (--open === 0) emit(pod);
      });
    }
    child.on("exit", (code, signal) => {
      clearTimeout(job.deadline);
      const signalNumber = signal ? os.constants.signals[signal] : undefined;
      const exitCode = code ?? 128 + (signalNumber ?? 0);
      const oom = failure?.kind === "oom";
      const reason = oom ? "OOMKilled" : exitCode === 0 ? "Completed" : "Error";
      pod.phase = exitCode === 0 && !oom ? "Succeeded" : "Failed";
      pod.container = { state: { terminated: { exitCode: oom ? 137 : exitCode, reason, ...(signalNumber ? { signal: signalNumber } : {}) } } };
      if (job.conditions.length === 0)
        job.conditions = [
          pod.phase === "Succeeded" ? { type: "Complete", status: "True" } : { type: "Failed", status: "True", reason: "BackoffLimitExceeded" },
        ];
    });
    // The Job controller at activeDeadlineSeconds: the Job fails and its running pod is deleted.
    job.deadline = setTimeout(() => {
      job.conditions = [{ type: "Failed", status: "True", reason: "DeadlineExceeded", message: "Job was active longer than specified deadline" }];
      pods.delete(pod.name);
      kill(job);
    }, job.spec.spec.activeDeadlineSeconds * 1000);
  }

  function createJob(spec: any): FakeJob {
    const job: FakeJob = { name: spec.metadata.name, spec, conditions: [] };
    jobs.set(job.name, job);
    schedule(job);
    return job;
  }

  function podJson(pod: FakePod) {
    return {
      metadata: { name: pod.name, labels: { "job-name": pod.job } },
      status: { phase: pod.phase, conditions: pod.conditions, ...(pod.container ? { containerStatuses: [{ name: "run", state: pod.container.state }] } : {}) },
    };
  }

  async function handle(method: string, url: URL, body: any): Promise<{ code: number; json?: unknown; stream?: FakePod }> {
    const prefix = `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`;
    const podsPrefix = `/api/v1/namespaces/${NAMESPACE}/pods`;
    if (method === "POST" && url.pathname === prefix) {
      try {
        new JobModel(body).validate();
      } catch (error) {
        return { code: 422, json: status(422, "Invalid", String(error)) };
      }
      if (jobs.has(body.metadata.name)) return { code: 409, json: status(409, "AlreadyExists", `jobs.batch "${body.metadata.name}" already exists`) };
      created.push(body);
      createJob(body);
      return { code: 201, json: body };
    }
    if (url.pathname.startsWith(`${prefix}/`)) {
      const name = url.pathname.slice(prefix.length + 1);
      const job = jobs.get(name);
      if (!job) return { code: 404, json: status(404, "NotFound", `jobs.batch "${name}" not found`) };
      if (method === "GET") return { code: 200, json: { metadata: { name }, spec: job.spec.spec, status: { conditions: job.conditions } } };
      if (method === "DELETE") {
        removeJob(name);
        return { code: 200, json: status(200, "", "") };
      }
    }
    if (method === "GET" && url.pathname === podsPrefix) {
      const selector = url.searchParams.get("labelSelector") ?? "";
      const job = selector.replace(/^job-name=/, "");
      const pod = podOf(job);
      return { code: 200, json: { kind: "PodList", items: pod ? [podJson(pod)] : [] } };
    }
    const log = new RegExp(`^${podsPrefix}/([^/]+)/log$`).exec(url.pathname);
    if (method === "GET" && log) {
      const pod = pods.get(decodeURIComponent(log[1] as string));
      if (!pod) return { code: 404, json: status(404, "NotFound", "pod not found") };
      return { code: 200, stream: pod };
    }
    return { code: 404, json: status(404, "NotFound", `no route for ${method} ${url.pathname} in the fake`) };
  }

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      void (async () => {
        const url = new URL(req.url ?? "/", "https://127.0.0.1");
        const text = Buffer.concat(chunks).toString("utf8");
        const body = text ? JSON.parse(text) : undefined;
        const answer = (code: number, json: unknown) => {
          requests.push({ method: req.method ?? "", path: `${url.pathname}${url.search}`, body, status: code });
          res.writeHead(code, { "Content-Type": "application/json" }).end(JSON.stringify(json));
        };
        if (req.headers.authorization !== `Bearer ${TOKEN}`) return answer(401, status(401, "Unauthorized", "Unauthorized"));
        const permission = permissionOf(req.method ?? "", url);
        if (failure?.kind === "status") return answer(failure.status, status(failure.status, "InternalError", "etcdserver: request timed out"));
        if (failure?.kind === "forbid" && failure.permission.verb === permission.verb && failure.permission.resource === permission.resource) {
          const [resource] = permission.resource.split("/");
          return answer(
            403,
            status(
              403,
              "Forbidden",
              `${resource}${resource === "jobs" ? ".batch" : ""} is forbidden: User "system:serviceaccount:${NAMESPACE}:aura-orchestra" cannot ${permission.verb} resource "${permission.resource}" in API group "${resource === "jobs" ? "batch" : ""}" in the namespace "${NAMESPACE}"`,
            ),
          );
        }
        const result = await handle(req.method ?? "", url, body);
        if (!result.stream) return answer(result.code, result.json);
        requests.push({ method: req.method ?? "", path: `${url.pathname}${url.search}`, body, status: 200 });
        const pod = result.stream;
        res.writeHead(200, { "Content-Type": "text/plain" });
        for (const chunk of pod.log) res.write(chunk);
        if (pod.ended || url.searchParams.get("follow") !== "true") return res.end();
        const listener = (chunk?: Buffer) => (chunk ? res.write(chunk) : res.end());
        pod.listeners.add(listener);
        res.on("close", () => pod.listeners.delete(listener));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `https://127.0.0.1:${port}`,
    serviceAccountDir,
    namespace: NAMESPACE,
    volume: options.volume,
    requests,
    created,
    jobs: () => [...jobs.keys()],
    fail: (next) => {
      failure = next;
    },
    leaveJob: (spec) => {
      const job = createJob(spec);
      return () => job.process !== undefined && job.process.exitCode === null && job.process.signalCode === null;
    },
    close: async () => {
      for (const name of [...jobs.keys()]) removeJob(name);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(serviceAccountDir, { recursive: true, force: true });
    },
  };
}
