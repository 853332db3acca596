// The soak's GitHub: one product GitHub edge (src/local/github-edge.ts) per repository, served together on a
// loopback port at a GitHub Enterprise Server's paths, with the faults GitHub has: a share of API requests is
// answered 502 (before the edge does anything, as a load balancer in front of GitHub does) and a share with a
// secondary rate limit (403, retry-after, GitHub's message); optionally a share of writes is answered 502 AFTER
// the edge applied them, as GitHub sometimes does (a retry then repeats a write that happened). Webhooks go out as GitHub sends them behind a load
// balancer: to one app process after another in turn, the next one tried when a process does not answer; a
// delivery no process took is listed as failed at GET /app/hook/deliveries and sent again when the app asks
// (POST /app/hook/deliveries/{id}/attempts), which is how GitHub redelivers.
import { createHmac, randomUUID } from "node:crypto";
import type { Delivery } from "../../src/local/deliveries.js";
import { serveGitHubApi } from "../../src/local/edge-server.js";
import { createGitHubEdge, type GitHubEdge, type GitHubEdgeOptions } from "../../src/local/github-edge.js";

export type Faults = {
  share502: number;
  shareSecondary: number;
  seed: number;
  /** Share of writes the edge applies and then answers 502 (0 unless given). */
  share502AfterApply?: number;
};

/** What the app asked of the API: reads, content-creating writes, and the requests answered with a fault. */
export type ApiCounts = { reads: number; writes: number; faulted502: number; faultedSecondary: number; faulted502AfterApply: number };

type HookDelivery = { id: number; guid: string; event: string; body: string; status_code: number; redelivery: boolean; delivered_at: string };

export type SoakGitHub = {
  host: string;
  edges: Map<string, GitHubEdge>;
  counts: ApiCounts;
  hooks: { delivered: number; failedEverywhere: number; redelivered: number; triedNext: number };
  addRepository: (options: GitHubEdgeOptions) => GitHubEdge;
  /** Calls `listener` after every write the edge answered 2xx: a push has no REST request, a PR update has one. */
  onWrite: (listener: (repo: string, method: string, path: string) => void) => void;
  /** Sends a webhook as GitHub does (its own guid), to the app processes in turn. */
  send: (delivery: Delivery) => Promise<void>;
  close: () => Promise<void>;
};

/** A small seeded generator, so a run's faults fall the same way for the same seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const SECONDARY = {
  message:
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
  documentation_url: "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits",
};

export async function startSoakGitHub(input: { secret: string; appPorts: () => number[]; faults: Faults }): Promise<SoakGitHub> {
  const edges = new Map<string, GitHubEdge>();
  const counts: ApiCounts = { reads: 0, writes: 0, faulted502: 0, faultedSecondary: 0, faulted502AfterApply: 0 };
  const hooks = { delivered: 0, failedEverywhere: 0, redelivered: 0, triedNext: 0 };
  const log: HookDelivery[] = [];
  const random = seeded(input.faults.seed);
  const writeListeners: ((repo: string, method: string, path: string) => void)[] = [];
  let turn = 0;

  /** One attempt at a delivery: each process once, starting with the next in turn; recorded as GitHub lists it. */
  async function attempt(guid: string, event: string, body: string, redelivery: boolean): Promise<void> {
    const ports = input.appPorts();
    const signature = `sha256=${createHmac("sha256", input.secret).update(body).digest("hex")}`;
    const first = turn++;
    let status = 0;
    for (let i = 0; i < ports.length && !(status >= 200 && status < 300); i++) {
      if (i > 0) hooks.triedNext++;
      const port = ports[(first + i) % ports.length] as number;
      status = await fetch(`http://127.0.0.1:${port}/api/github/webhooks`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": event, "x-github-delivery": guid, "x-hub-signature-256": signature },
        body,
        signal: AbortSignal.timeout(10_000),
      }).then(
        async (response) => (await response.arrayBuffer(), response.status),
        () => 0,
      );
    }
    const ok = status >= 200 && status < 300;
    if (ok) hooks.delivered++;
    else hooks.failedEverywhere++;
    log.unshift({ id: 90_000_000 + log.length, guid, event, body, status_code: ok ? status : 502, redelivery, delivered_at: new Date().toISOString() });
  }

  /** The app-level hook endpoints the leader's redelivery uses (never faulted: they are not what is measured). */
  function hookRoute(method: string, pathname: string, query: URLSearchParams): [number, unknown, Record<string, string>?] | undefined {
    if (method === "GET" && pathname === "/app/hook/deliveries") {
      const from = Number(query.get("cursor") ?? 0);
      const size = Number(query.get("per_page") ?? 30);
      const page = log
        .slice(from, from + size)
        .map(({ id, guid, event, status_code, redelivery, delivered_at }) => ({ id, guid, event, status_code, redelivery, delivered_at }));
      const next = from + size < log.length ? { link: `<http://${host}/api/v3/app/hook/deliveries?cursor=${from + size}>; rel="next"` } : undefined;
      return [200, page, next];
    }
    const redeliver = /^\/app\/hook\/deliveries\/(\d+)\/attempts$/.exec(pathname);
    if (method === "POST" && redeliver) {
      const original = log.find((entry) => entry.id === Number(redeliver[1]));
      if (!original) return [404, { message: "Not Found" }];
      hooks.redelivered++;
      void attempt(original.guid, original.event, original.body, true);
      return [202, {}];
    }
    return undefined;
  }

  /** A repository request or GraphQL: the fault, if one falls, else the edge that holds it. */
  function apiRoute(method: string, pathname: string, url: URL, body: Record<string, unknown> | undefined): [number, unknown, Record<string, string>?] {
    const graphql = pathname === "/graphql";
    const edge = graphql
      ? edgeOfNode(String((body?.variables as { id?: unknown } | undefined)?.id ?? ""))
      : edges.get(/^\/repos\/[^/]+\/([^/]+)/.exec(pathname)?.[1] ?? "");
    const write = graphql
      ? String(body?.query ?? "")
          .trimStart()
          .startsWith("mutation")
      : method !== "GET";
    if (write) counts.writes++;
    else counts.reads++;
    const roll = random();
    if (roll < input.faults.share502) {
      counts.faulted502++;
      return [502, { message: "Server Error" }];
    }
    if (roll < input.faults.share502 + input.faults.shareSecondary) {
      counts.faultedSecondary++;
      return [403, SECONDARY, { "retry-after": "1" }];
    }
    if (!edge) return [404, { message: "Not Found" }];
    const answer = edge.respond(method, new URL(`${pathname}${url.search}`, "http://127.0.0.1"), body);
    const repo = /^\/repos\/[^/]+\/([^/]+)/.exec(pathname)?.[1];
    if (write && repo && answer.status < 300) for (const listener of writeListeners) listener(repo, method, pathname);
    // Rolled only when the mode is on, so the other faults fall as before for a seed.
    const afterApply = input.faults.share502AfterApply ?? 0;
    if (afterApply > 0 && write && answer.status < 300 && random() < afterApply) {
      counts.faulted502AfterApply++;
      return [502, { message: "Server Error" }];
    }
    return [answer.status, answer.json];
  }

  /** The pull request node ids the edges write (`PR_kwDOfake{n}`) are unique across the soak's repositories. */
  function edgeOfNode(id: string): GitHubEdge | undefined {
    const number = Number(/PR_kwDOfake(\d+)/.exec(id)?.[1]);
    return [...edges.values()].find((edge) => edge.pulls.has(number));
  }

  let host = "";
  const server = await serveGitHubApi((method, pathname, url, body) => {
    const [status, json, headers] = hookRoute(method, pathname, url.searchParams) ?? apiRoute(method, pathname, url, body);
    return { status, json, headers };
  });
  host = server.host;
  return {
    host,
    edges,
    counts,
    hooks,
    addRepository: (options) => {
      const edge = createGitHubEdge(options);
      edges.set(options.name, edge);
      return edge;
    },
    onWrite: (listener) => void writeListeners.push(listener),
    send: (delivery) => attempt(randomUUID(), delivery.event, JSON.stringify(delivery.payload), false),
    close: server.close,
  };
}
