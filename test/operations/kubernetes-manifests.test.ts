// deploy/kubernetes/ checked without a cluster: every object against the Kubernetes OpenAPI schemas (the
// validators kubernetes-models generates from them with ajv), and the parts that must agree with each other
// and with the Docker deployment: probes on /ready and /health, the Service and the PodDisruptionBudget
// selecting the pods, the Secret holding what the app reads, and the sandbox's security settings those of
// docker-compose.yml. job-sandbox/ (AURA_SANDBOX=kubernetes) is checked the same way: its NetworkPolicy selects
// the label every sandbox Job's pod carries and allows nothing, its Role grants exactly the calls the back end
// makes, and its patch turns the Deployment into a valid one with the shared claim at the workspace root.
// Nothing here applies the manifests or starts the sandbox under Kubernetes.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { parse, parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/env.js";
import { REQUIRED_PERMISSIONS } from "../../src/workspace/kubernetes-api.js";
import { SANDBOX_POD_LABEL } from "../../src/workspace/kubernetes-sandbox.js";

const dir = path.resolve(import.meta.dirname, "../../deploy/kubernetes");
const MODELS = {
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "v1/Service": Service,
  "v1/Secret": Secret,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "v1/ServiceAccount": ServiceAccount,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
} as const;
type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec?: Record<string, unknown> } & Record<string, unknown>;

const read = (from: string, except: string[] = []): Manifest[] =>
  readdirSync(from)
    .filter((file) => file.endsWith(".yaml") && !except.includes(file))
    .flatMap((file) => parseAllDocuments(readFileSync(path.join(from, file), "utf8")).map((doc) => doc.toJS() as Manifest));
const manifests = read(dir);
const jobSandboxDir = path.join(dir, "job-sandbox");
const jobSandbox = read(jobSandboxDir, ["deployment-patch.yaml"]);

function validate(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}` as keyof typeof MODELS];
  if (!Model) throw new Error(`no schema here for ${manifest.apiVersion} ${manifest.kind}`);
  new Model(manifest as never).validate();
}

const one = (kind: string) => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found).toHaveLength(1);
  return found[0] as Manifest;
};

/* eslint-disable @typescript-eslint/no-explicit-any -- the manifests are checked by the schema test above */
const deployment = () => one("Deployment") as any;
const container = () => deployment().spec.template.spec.containers[0];

describe("deploy/kubernetes", () => {
  it("has a Deployment, Service, PodDisruptionBudget and Secret that the Kubernetes schemas accept", () => {
    expect(manifests.map((m) => m.kind).sort()).toEqual(["Deployment", "PodDisruptionBudget", "Secret", "Service"]);

    for (const manifest of manifests) expect(() => validate(manifest), `${manifest.kind} ${manifest.metadata.name}`).not.toThrow();
  });

  it("is checked for real: a manifest the schemas reject fails", () => {
    const noPort = structuredClone(deployment());
    delete noPort.spec.template.spec.containers[0].readinessProbe.httpGet.port;
    const badSeccomp = structuredClone(deployment());
    badSeccomp.spec.template.spec.securityContext.seccompProfile.type = "Custom";

    expect(() => validate(noPort)).toThrow("containers/0/readinessProbe/httpGet must have required property port");
    expect(() => validate(badSeccomp)).toThrow("securityContext/seccompProfile/type must be equal to one of the allowed values");
  });

  it("runs several replicas, ready on /ready and alive on /health, on the port the Service targets", () => {
    const c = container();
    const service = one("Service") as any;

    expect(deployment().spec.replicas).toBeGreaterThan(1);
    expect(c.readinessProbe.httpGet).toEqual({ path: "/ready", port: "http" });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/health", port: "http" });
    expect(c.ports).toEqual([{ name: "http", containerPort: 3000, protocol: "TCP" }]);
    expect(c.env).toContainEqual({ name: "PORT", value: "3000" });
    expect(service.spec.ports[0].targetPort).toBe("http");
  });

  it("selects the Deployment's pods from the Service and the PodDisruptionBudget, which keeps all but one", () => {
    const labels = deployment().spec.template.metadata.labels;
    const pdb = one("PodDisruptionBudget") as any;

    expect(deployment().spec.selector.matchLabels).toEqual(labels);
    expect((one("Service") as any).spec.selector).toEqual(labels);
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it("stops within the grace period: preStop and graphile-worker's 5 s abort fit, and a killed job is unlocked after 10 s", () => {
    const spec = deployment().spec.template.spec;
    const preStop = container().lifecycle.preStop.exec.command;

    expect(preStop).toEqual(["sleep", "5"]);
    expect(spec.terminationGracePeriodSeconds).toBe(60);
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(Number(preStop[1]) + 5);
    expect(readFileSync(path.resolve(import.meta.dirname, "../../src/server/start.ts"), "utf8")).toContain("unlockDeadWorkers(services.pool, 10_000)");
  });

  it("gives the sandbox what docker-compose.yml gives it, and nothing more", () => {
    const compose = parse(readFileSync(path.resolve(import.meta.dirname, "../../docker-compose.yml"), "utf8")) as {
      services: { app: { security_opt: string[]; environment: Record<string, string>; mem_limit: string } };
    };
    const pod = deployment().spec.template.spec;
    const c = container();

    expect(compose.services.app.security_opt).toEqual(["seccomp=./docker/seccomp-aura.json", "apparmor=unconfined", "systempaths=unconfined"]);
    expect(pod.securityContext.seccompProfile).toEqual({ type: "Localhost", localhostProfile: "aura/seccomp-aura.json" });
    expect(existsSync(path.resolve(import.meta.dirname, "../../docker", path.basename(pod.securityContext.seccompProfile.localhostProfile)))).toBe(true);
    expect(c.securityContext.appArmorProfile).toEqual({ type: "Unconfined" });
    expect(c.securityContext.procMount).toBe("Unmasked");
    expect(pod.hostUsers).toBe(false);
    expect(c.securityContext.privileged).toBe(false);
    expect(c.securityContext.capabilities).toEqual({ drop: ["ALL"] });
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsUser: 10001, runAsNonRoot: true });
    expect(readFileSync(path.resolve(import.meta.dirname, "../../Dockerfile"), "utf8")).toContain("--uid 10001 aura");
    expect(c.env).toContainEqual({ name: "AURA_SANDBOX_ACCEPT_MISSING", value: compose.services.app.environment.AURA_SANDBOX_ACCEPT_MISSING });
    expect(c.resources.limits.memory).toBe(compose.services.app.mem_limit.replace("g", "Gi"));
    expect(pod.automountServiceAccountToken).toBe(false);
  });

  it("reads the App's credentials and both database URLs from the Secret", () => {
    const secret = one("Secret") as any;

    expect(container().envFrom).toEqual([{ secretRef: { name: secret.metadata.name } }]);
    expect(Object.keys(secret.stringData).sort()).toEqual(["APP_ID", "DATABASE_URL", "MIGRATION_DATABASE_URL", "PRIVATE_KEY", "WEBHOOK_SECRET"]);
    expect(JSON.stringify(container().env)).not.toMatch(/PRIVATE_KEY|WEBHOOK_SECRET|DATABASE_URL/);
  });
});

/** A strategic merge patch as kubectl applies it to these fields: maps merged, lists of named items merged by name. */
function merge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch)) {
    const named = (item: unknown) => (typeof item === "object" && item !== null && "name" in item ? String(item.name) : undefined);
    if (!patch.every((item) => named(item) !== undefined)) return patch;
    const result = [...base];
    for (const item of patch) {
      const at = result.findIndex((existing) => named(existing) === named(item));
      if (at >= 0) result[at] = merge(result[at], item);
      else result.push(item);
    }
    return result;
  }
  if (typeof base === "object" && base !== null && typeof patch === "object" && patch !== null && !Array.isArray(patch)) {
    const result: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [key, value] of Object.entries(patch)) result[key] = key in result ? merge(result[key], value) : value;
    return result;
  }
  return patch;
}

describe("deploy/kubernetes/job-sandbox (AURA_SANDBOX=kubernetes)", () => {
  const found = (kind: string) => {
    const matches = jobSandbox.filter((m) => m.kind === kind);
    expect(matches).toHaveLength(1);
    return matches[0] as any;
  };
  const patched = () => merge(deployment(), parse(readFileSync(path.join(jobSandboxDir, "deployment-patch.yaml"), "utf8"))) as any;

  it("has a NetworkPolicy, ServiceAccount, Role, RoleBinding and claim that the Kubernetes schemas accept", () => {
    expect(jobSandbox.map((m) => m.kind).sort()).toEqual(["NetworkPolicy", "PersistentVolumeClaim", "Role", "RoleBinding", "ServiceAccount"]);

    for (const manifest of jobSandbox) expect(() => validate(manifest), `${manifest.kind} ${manifest.metadata.name}`).not.toThrow();
  });

  it("denies every connection to and from the pods of the sandbox Jobs, by the label they carry", () => {
    const policy = found("NetworkPolicy");

    expect(policy.spec.podSelector).toEqual({ matchLabels: { [SANDBOX_POD_LABEL.key]: SANDBOX_POD_LABEL.value } });
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.ingress).toBeUndefined();
    expect(policy.spec.egress).toBeUndefined();
  });

  it("grants the app's service account exactly the calls the Job back end makes, in its namespace", () => {
    const role = found("Role");
    const binding = found("RoleBinding");
    const granted = role.rules.flatMap((rule: { resources: string[]; verbs: string[] }) =>
      rule.resources.flatMap((resource) => rule.verbs.map((verb) => `${verb} ${resource}`)),
    );

    expect(granted.sort()).toEqual(REQUIRED_PERMISSIONS.map((p) => `${p.verb} ${p.resource}`).sort());
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: found("ServiceAccount").metadata.name }]);
  });

  it("patches the Deployment into a valid one: the service account with its token, the RWX claim at the workspace root, the back end chosen", () => {
    const result = patched();
    const pod = result.spec.template.spec;
    const env = Object.fromEntries(pod.containers[0].env.map((entry: { name: string; value: string }) => [entry.name, entry.value]));
    const claim = found("PersistentVolumeClaim");

    expect(() => validate(result)).not.toThrow();
    expect(pod.serviceAccountName).toBe(found("ServiceAccount").metadata.name);
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(claim.spec.accessModes).toEqual(["ReadWriteMany"]);
    expect(pod.volumes).toContainEqual({ name: "workspaces", persistentVolumeClaim: { claimName: claim.metadata.name } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: "workspaces", mountPath: env.AURA_SANDBOX_K8S_MOUNT_PATH });
    expect(env.AURA_SANDBOX_K8S_PVC).toBe(claim.metadata.name);
    expect(() => loadConfig({ ...env, KUBERNETES_SERVICE_HOST: "10.96.0.1" })).not.toThrow();
    expect(loadConfig({ ...env, KUBERNETES_SERVICE_HOST: "10.96.0.1" })).toMatchObject({
      AURA_SANDBOX: "kubernetes",
      AURA_SANDBOX_ACCEPT_MISSING: ["workspace"],
    });
  });
});
