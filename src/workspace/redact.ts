// Removes credentials from any text before it reaches an error, a log or a comment. Known secrets are
// replaced in every form git might echo them (raw, base64 Basic credentials, URL userinfo), and anything that
// looks like a GitHub token is replaced even when nobody told us about it.

const GITHUB_TOKEN = /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/g;
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*(?::[^\s/@]*)?@/gi;
const AUTH_HEADER = /(authorization:\s*(?:basic|bearer|token)\s+)[^\s'"]+/gi;

export const REDACTED = "[REDACTED]";

/** The forms in which a token can appear in git's output or configuration. */
export function secretForms(token: string): string[] {
  if (token === "") return [];
  return [token, Buffer.from(`x-access-token:${token}`).toString("base64"), encodeURIComponent(token)];
}

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets.flatMap(secretForms).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  return out.replace(AUTH_HEADER, `$1${REDACTED}`).replace(URL_USERINFO, `$1${REDACTED}@`).replace(GITHUB_TOKEN, REDACTED);
}
