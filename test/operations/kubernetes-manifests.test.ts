// deploy/kubernetes/ checked without a cluster: every object against the Kubernetes OpenAPI schemas (the
// validators kubernetes-models generates from them with ajv), and the parts that must agree with each other
// and with the Docker deployment: probes on /ready and /health, the Service and the PodDisruptionBudget
// selecting the pods, the Secret holding what the app reads, and the sandbox's security settings those of
// docker-compose.yml. Nothing here applies the manifests or starts the sandbox under Kubernetes.
import { readdirSync, readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { parse, parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";

const dir = path.resolve(import.meta.dirname, "../../deploy/kubernetes");
const MODELS = { "apps/v1/Deployment": Deployment, "policy/v1/PodDisruptionBudget": PodDisruptionBudget, "v1/Service": Service, "v1/Secret": Secret } as const;
type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec?: Record<string, unknown> } & Record<string, unknown>;

const manifests: Manifest[] = readdirSync(dir)
  .filter((file) => file.endsWith(".yaml"))
  .flatMap((file) => parseAllDocuments(readFileSync(path.join(dir, file), "utf8")).map((doc) => doc.toJS() as Manifest));

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
