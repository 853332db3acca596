// The console's signed cookies: a session (who signed in, until when, and the session's CSRF token) and the
// short-lived OAuth state that binds a sign-in to the browser that started it. A cookie is its JSON payload and
// an HMAC-SHA256 over it, both base64url; the key is derived (HKDF) from AURA_CONSOLE_SECRET or, unset, from
// the App's private key, so no table is needed. Never from WEBHOOK_SECRET: anyone may get a signed state cookie
// from /console/login, which would let them test guesses at a weak webhook secret offline and then forge webhooks. Anything that does not verify, does not parse or has expired reads as
// "signed out"; it never raises.
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { z } from "zod";

export const SESSION_COOKIE = "aura_console_session";
export const STATE_COOKIE = "aura_console_oauth";
/** A session lasts a working day; signing in again starts a new one. */
export const SESSION_SECONDS = 8 * 3_600;
/** The sign-in round trip to GitHub must finish within ten minutes. */
export const STATE_SECONDS = 600;

export const Session = z.object({
  kind: z.literal("session"),
  login: z.string().min(1).max(100),
  userId: z.number().int().positive(),
  csrf: z.string().min(32).max(100),
  exp: z.number().int(),
});
export type Session = z.infer<typeof Session>;

export const OAuthState = z.object({ kind: z.literal("oauth"), state: z.string().min(32).max(100), exp: z.number().int() });
export type OAuthState = z.infer<typeof OAuthState>;

export type CookieKey = Buffer;

/** The HMAC key: HKDF over the operator's secret, so the secret itself never signs a cookie. */
export function deriveCookieKey(secret: string): CookieKey {
  return Buffer.from(hkdfSync("sha256", secret, "aura-orchestra", "console cookies v1", 32));
}

/**
 * The console's cookie key: from AURA_CONSOLE_SECRET, else from the App's private key (always present once the
 * App is registered, and never guessable); null when neither is set.
 */
export function consoleCookieKey(config: { AURA_CONSOLE_SECRET?: string | undefined; privateKey?: string | undefined }): CookieKey | null {
  const secret = config.AURA_CONSOLE_SECRET ?? config.privateKey;
  return secret ? deriveCookieKey(secret) : null;
}

export function randomToken(): string {
  return randomBytes(32).toString("base64url");
}

function mac(key: CookieKey, body: string): string {
  return createHmac("sha256", key).update(body).digest("base64url");
}

export function sign(key: CookieKey, payload: Session | OAuthState): string {
  const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `${body}.${mac(key, body)}`;
}

/** The payload when the cookie is ours, unaltered and not expired at `now`; otherwise null. */
export function verify<T extends { exp: number }>(key: CookieKey, value: string | undefined, schema: z.ZodType<T>, now: Date): T | null {
  if (!value) return null;
  const [body, signature, extra] = value.split(".");
  if (!body || !signature || extra !== undefined) return null;
  if (!sameText(signature, mac(key, body))) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    return null;
  }
  const result = schema.safeParse(parsed);
  if (!result.success || result.data.exp * 1000 <= now.getTime()) return null;
  return result.data;
}

/** Constant-time comparison of two strings (different lengths compare unequal without a timing hint on content). */
export function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export function newSession(user: { login: string; userId: number }, now: Date): Session {
  return { kind: "session", login: user.login, userId: user.userId, csrf: randomToken(), exp: Math.floor(now.getTime() / 1000) + SESSION_SECONDS };
}

export function newOAuthState(now: Date): OAuthState {
  return { kind: "oauth", state: randomToken(), exp: Math.floor(now.getTime() / 1000) + STATE_SECONDS };
}

export function readCookie(req: Pick<IncomingMessage, "headers">, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** A Set-Cookie value: HttpOnly, SameSite=Lax (the OAuth redirect back from GitHub is a top-level GET), path /console. */
export function cookieHeader(name: string, value: string, options: { maxAgeSeconds: number; secure: boolean }): string {
  return [`${name}=${value}`, "Path=/console", "HttpOnly", "SameSite=Lax", `Max-Age=${options.maxAgeSeconds}`, ...(options.secure ? ["Secure"] : [])].join(
    "; ",
  );
}
