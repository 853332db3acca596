// A small client for the few Kubernetes API calls the Job sandbox makes (kubernetes-sandbox.ts), over node:https
// with the pod's service account: the API server's address from KUBERNETES_SERVICE_HOST/PORT (or
// AURA_SANDBOX_K8S_API_URL), the token, ca.crt and namespace from the service account directory. The token is
// read on every request because Kubernetes rotates projected tokens.
//
// Each call names the RBAC permission it needs, so a 403 says exactly which verb on which resource the app's
// Role lacks. An unreachable server, a refused token and a failing server become SandboxStartError: an
// infrastructure failure the job retries, never a test result.
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import type { Readable } from "node:stream";
import { SandboxStartError } from "./errors.js";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** A permission as the Role grants it: a verb on a resource (`pods/log` is a subresource). */
export type Permission = { verb: "create" | "get" | "list" | "delete"; resource: "jobs" | "pods" | "pods/log" };

/** Every permission the Job sandbox uses; deploy/kubernetes/job-sandbox/rbac.yaml grants exactly these. */
export const REQUIRED_PERMISSIONS: readonly Permission[] = [
  { verb: "create", resource: "jobs" },
  { verb: "get", resource: "jobs" },
  { verb: "delete", resource: "jobs" },
  { verb: "list", resource: "pods" },
  { verb: "get", resource: "pods/log" },
];

export type KubernetesConnection = {
  /** https://host:port of the API server (http:// only for a local test server). */
  apiUrl: string;
  /** Holds `token`, `ca.crt` and `namespace`, as Kubernetes mounts them in a pod. */
  serviceAccountDir: string;
  /** Each request's own limit; defaults to 30 s. */
  requestTimeoutMs?: number;
};

export type ApiResponse = { status: number; body: unknown };

const ROLE_FILE = "deploy/kubernetes/job-sandbox/rbac.yaml";

function readAccountFile(connection: KubernetesConnection, name: string): string {
  const file = path.join(connection.serviceAccountDir, name);
  try {
    return readFileSync(file, "utf8").trim();
  } catch (error) {
    throw new SandboxStartError(
      `could not start the Kubernetes sandbox: cannot read the service account's ${name} at ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}); ` +
        "give the app's pod a service account token (automountServiceAccountToken: true, see deploy/kubernetes/job-sandbox/) or point AURA_SANDBOX_K8S_SERVICE_ACCOUNT_DIR at a directory holding token, ca.crt and namespace",
    );
  }
}

/** The namespace the app's own pod runs in, from the service account directory. */
export function podNamespace(connection: KubernetesConnection): string {
  return readAccountFile(connection, "namespace");
}

function statusMessage(body: unknown): string {
  if (typeof body === "object" && body !== null && "message" in body && typeof body.message === "string") return body.message;
  return typeof body === "string" ? body.slice(0, 300) : "";
}

/** The failure of one call in words an operator can act on. */
export function explainApiFailure(action: string, permission: Permission, namespace: string, status: number, body: unknown): SandboxStartError {
  const said = statusMessage(body);
  const detail = said ? `: ${said}` : "";
  if (status === 401)
    return new SandboxStartError(
      `could not ${action}: the Kubernetes API server refused the service account token (401${detail}); check that the app's pod mounts a current token (automountServiceAccountToken: true) and that its service account exists`,
    );
  if (status === 403)
    return new SandboxStartError(
      `could not ${action}: the app's service account may not ${permission.verb} ${permission.resource} in namespace ${namespace} (403${detail}); ` +
        `grant it in the Role bound to the app's service account (${ROLE_FILE} grants every permission the Kubernetes sandbox needs)`,
    );
  if (status >= 500)
    return new SandboxStartError(
      `could not ${action}: the Kubernetes API server failed (${status}${detail}); the job is retried, and if this persists check the control plane's health`,
    );
  return new SandboxStartError(`could not ${action}: the Kubernetes API server answered ${status}${detail}`);
}

type Send = { method: "GET" | "POST" | "DELETE"; path: string; body?: unknown };

function open(connection: KubernetesConnection, send: Send): Promise<http.IncomingMessage> {
  const url = new URL(send.path, connection.apiUrl);
  const secure = url.protocol === "https:";
  const token = readAccountFile(connection, "token");
  const payload = send.body === undefined ? undefined : JSON.stringify(send.body);
  const options: https.RequestOptions = {
    method: send.method,
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: "application/json",
      ...(payload === undefined ? {} : { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) }),
    },
    ...(secure ? { ca: readAccountFile(connection, "ca.crt") } : {}),
  };
  return new Promise((resolve, reject) => {
    const request = (secure ? https : http).request(url, options, resolve);
    request.setTimeout(connection.requestTimeoutMs ?? 30_000, () => request.destroy(new Error(`no answer in ${connection.requestTimeoutMs ?? 30_000} ms`)));
    request.on("error", (error: NodeJS.ErrnoException) =>
      reject(
        new SandboxStartError(
          `could not reach the Kubernetes API server at ${connection.apiUrl} (${error.code ?? error.message}); ` +
            "check KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT (or AURA_SANDBOX_K8S_API_URL) and that no NetworkPolicy blocks the app's pod from the API server",
        ),
      ),
    );
    request.end(payload);
  });
}

async function readBody(response: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** One JSON call. Statuses in `expected` are returned; any other fails with a message naming `action` and `permission`. */
export async function callApi(
  connection: KubernetesConnection,
  send: Send & { action: string; permission: Permission; namespace: string; expected: readonly number[] },
): Promise<ApiResponse> {
  const response = await open(connection, send);
  const text = await readBody(response);
  let body: unknown = text;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page): kept as text for the message.
  }
  const status = response.statusCode ?? 0;
  if (send.expected.includes(status)) return { status, body };
  throw explainApiFailure(send.action, send.permission, send.namespace, status, body);
}

/** A streamed body (a pod's log) when the status is 200; any other status fails like callApi. */
export async function streamApi(
  connection: KubernetesConnection,
  send: Send & { action: string; permission: Permission; namespace: string },
): Promise<http.IncomingMessage> {
  const response = await open(connection, send);
  if (response.statusCode === 200) return response;
  const text = await readBody(response);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // kept as text
  }
  throw explainApiFailure(send.action, send.permission, send.namespace, response.statusCode ?? 0, body);
}
