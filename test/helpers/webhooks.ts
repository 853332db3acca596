// Real webhook payload shapes from @octokit/webhooks-examples, and signed deliveries posted to a running app.
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { createRequire } from "node:module";

type Example = { name: string; examples: Record<string, unknown>[] };
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples/api.github.com/index.json") as Example[];

/** A deep copy of the first example of `event` (with `action` when given), to adjust per test. */
export function examplePayload(event: string, action?: string): Record<string, unknown> {
  const group = examples.find((e) => e.name === event);
  const found = group?.examples.find((e) => action === undefined || e.action === action);
  if (!found) throw new Error(`no @octokit/webhooks-examples payload for ${event}${action ? `.${action}` : ""}`);
  return structuredClone(found);
}

export const testPrivateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({
  type: "pkcs1",
  format: "pem",
}) as string;

export const testSecret = "test-webhook-secret";

export function sign(body: string, secret = testSecret): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** Posts a delivery as GitHub would; returns the HTTP status. */
export async function deliver(
  port: number,
  event: string,
  payload: unknown,
  options: { id?: string; secret?: string; rawBody?: string } = {},
): Promise<{ status: number; id: string; text: string }> {
  const id = options.id ?? randomUUID();
  const body = options.rawBody ?? JSON.stringify(payload);
  const response = await fetch(`http://127.0.0.1:${port}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": id,
      "x-hub-signature-256": sign(body, options.secret),
    },
    body,
  });
  return { status: response.status, id, text: await response.text() };
}
