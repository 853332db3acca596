// Audit events as the application hands them over: validated, with the payload in RFC 8785 (JSON
// Canonicalization Scheme) form made by the canonicalize library.
import { createRequire } from "node:module";
import { z } from "zod";

// The package is CommonJS whose typings claim an ES default export; require gives the function itself.
const canonicalize = createRequire(import.meta.url)("canonicalize") as (input: unknown) => string | undefined;

export const AuditEvent = z.object({
  /** Who acted: a GitHub login, an employee id, or a component such as `aura/manager`. */
  actor: z.string().min(1),
  /** What happened, dotted and past tense: `requirement.planned`, `webhook.duplicate`. */
  action: z.string().min(1),
  /** What it happened to: `owner/repo#12`, `employee:gpt-4.1`. */
  subject: z.string(),
  payload: z.record(z.string(), z.unknown()).default({}),
});
export type AuditEvent = z.input<typeof AuditEvent>;

export class AuditEventInvalid extends Error {
  override name = "AuditEventInvalid";
}

export type PreparedEvent = { actor: string; action: string; subject: string; payload: string };

/**
 * Validates an event and canonicalises its payload (RFC 8785); the database assembles the rest of the
 * canonical text. Throws on values JSON cannot represent.
 */
export function prepareEvent(event: AuditEvent): PreparedEvent {
  const parsed = AuditEvent.safeParse(event);
  if (!parsed.success) {
    throw new AuditEventInvalid(`audit event is invalid: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  }
  const { actor, action, subject, payload } = parsed.data;
  let text: string | undefined;
  try {
    text = canonicalize(payload);
  } catch (error) {
    throw new AuditEventInvalid(`audit event payload is not JSON: ${(error as Error).message}`);
  }
  if (text === undefined) throw new AuditEventInvalid("audit event payload is not JSON");
  return { actor, action, subject, payload: text };
}

export { canonicalize };

export const GENESIS_HASH = Buffer.alloc(32);
