// AURA_SANDBOX chooses the back end that runs setup and test commands; kubernetes needs its settings, and a
// mount path that holds the workspace root, or the app does not start and says what to set.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/env.js";
import { sandboxOptions } from "../../src/server/start.js";

const kubernetes = {
  AURA_SANDBOX: "kubernetes",
  AURA_DATA_DIR: "/data",
  AURA_SANDBOX_K8S_IMAGE: "ghcr.io/example/aura-sandbox:1",
  AURA_SANDBOX_K8S_PVC: "aura-workspaces",
  AURA_SANDBOX_K8S_MOUNT_PATH: "/data/workspaces",
  KUBERNETES_SERVICE_HOST: "10.96.0.1",
  KUBERNETES_SERVICE_PORT: "443",
};

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return "";
}

describe("AURA_SANDBOX", () => {
  it("is bubblewrap unless set, with no Kubernetes settings in the sandbox options", () => {
    const config = loadConfig({});

    expect(config.AURA_SANDBOX).toBe("bwrap");
    expect(sandboxOptions(config, pino({ enabled: false })).kubernetes).toBeUndefined();
  });

  it("kubernetes: the Jobs' settings reach the sandbox options, the API server from KUBERNETES_SERVICE_HOST/PORT", () => {
    const options = sandboxOptions(loadConfig(kubernetes), pino({ enabled: false }));

    expect(options.kubernetes).toEqual({
      apiUrl: "https://10.96.0.1:443",
      serviceAccountDir: "/var/run/secrets/kubernetes.io/serviceaccount",
      image: "ghcr.io/example/aura-sandbox:1",
      pvc: "aura-workspaces",
      mountPath: "/data/workspaces",
      runAsUser: 10001,
      cpu: "2",
      startTimeoutMs: 120_000,
    });
  });

  it("kubernetes without its image, claim, mount path or API server names each one to set", () => {
    const message = problems({ AURA_SANDBOX: "kubernetes" });

    expect(message).toContain("AURA_SANDBOX_K8S_IMAGE is required when AURA_SANDBOX=kubernetes: set AURA_SANDBOX_K8S_IMAGE to the image");
    expect(message).toContain("AURA_SANDBOX_K8S_PVC is required when AURA_SANDBOX=kubernetes");
    expect(message).toContain("AURA_SANDBOX_K8S_MOUNT_PATH is required when AURA_SANDBOX=kubernetes");
    expect(message).toContain("AURA_SANDBOX_K8S_API_URL is required when AURA_SANDBOX=kubernetes outside a cluster (no KUBERNETES_SERVICE_HOST)");
  });

  it("refuses a mount path that does not hold the workspace root", () => {
    const message = problems({ ...kubernetes, AURA_SANDBOX_K8S_MOUNT_PATH: "/mnt/shared" });

    expect(message).toContain(
      "AURA_SANDBOX_K8S_MOUNT_PATH does not hold the workspace root /data/workspaces (AURA_DATA_DIR/workspaces), so the Jobs could not see the work trees",
    );
  });

  it("refuses an unknown back end and a CPU that is not a quantity", () => {
    const message = problems({ ...kubernetes, AURA_SANDBOX: "docker", AURA_SANDBOX_K8S_CPU: "two" });

    expect(message).toContain("AURA_SANDBOX is invalid: set AURA_SANDBOX to bwrap");
    expect(message).toContain("AURA_SANDBOX_K8S_CPU is not a CPU quantity");
  });
});
