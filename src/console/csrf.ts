// CSRF protection for every console action: each session carries a random token (session.ts); a form sends it
// back in the `csrf` field (or a script in the `x-csrf-token` header), compared in constant time. A cross-site
// page cannot read the token, and SameSite cookies are a second line, not the only one.
import type { IncomingMessage } from "node:http";
import { sameText, type Session } from "./session.js";

/** Whether the request carries the session's CSRF token. */
export function hasValidCsrf(session: Session, req: Pick<IncomingMessage, "headers">, form: URLSearchParams): boolean {
  const header = req.headers["x-csrf-token"];
  const submitted = form.get("csrf") ?? (typeof header === "string" ? header : null);
  return submitted !== null && sameText(submitted, session.csrf);
}
