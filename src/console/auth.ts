// Sign in with GitHub through the App's own OAuth client (GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET, which
// Probot's setup page writes): the authorize URL with a state bound to the browser, the code exchange, and the
// signed-in user. Plain fetch against the web host (GHE_HOST when set) and the REST API; the user's token is used
// only to read who they are and is not kept.
import { z } from "zod";
import type { AppConfig } from "../config/env.js";

export type OAuthClient = { clientId: string; clientSecret: string; webUrl: string; apiUrl: string; redirectUri: string | undefined };

/** The OAuth client when both halves are configured; otherwise null (the console then says what to set). */
export function oauthClient(config: AppConfig): OAuthClient | null {
  if (!config.GITHUB_CLIENT_ID || !config.GITHUB_CLIENT_SECRET) return null;
  return {
    clientId: config.GITHUB_CLIENT_ID,
    clientSecret: config.GITHUB_CLIENT_SECRET,
    webUrl: config.githubWebUrl,
    apiUrl: config.githubApiUrl,
    redirectUri: config.AURA_CONSOLE_URL ? `${config.AURA_CONSOLE_URL}/callback` : undefined,
  };
}

export function authorizeUrl(client: OAuthClient, state: string): string {
  const url = new URL("/login/oauth/authorize", client.webUrl);
  url.searchParams.set("client_id", client.clientId);
  url.searchParams.set("state", state);
  url.searchParams.set("allow_signup", "false");
  if (client.redirectUri) url.searchParams.set("redirect_uri", client.redirectUri);
  return url.href;
}

/** A sign-in GitHub did not complete; the message is shown to the person. */
export class SignInFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SignInFailed";
  }
}

const TokenReply = z.union([z.object({ access_token: z.string().min(1) }), z.object({ error: z.string(), error_description: z.string().optional() })]);
const GitHubUser = z.object({ login: z.string().min(1).max(100), id: z.number().int().positive() });
export type GitHubUser = z.infer<typeof GitHubUser>;

/** Exchanges the code GitHub returned for a user token and reads the user it belongs to. */
export async function signInWithCode(client: OAuthClient, code: string): Promise<GitHubUser> {
  const exchange = await fetch(new URL("/login/oauth/access_token", client.webUrl), {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      code,
      ...(client.redirectUri ? { redirect_uri: client.redirectUri } : {}),
    }),
  });
  const reply = TokenReply.safeParse(await exchange.json().catch(() => null));
  if (!exchange.ok || !reply.success) throw new SignInFailed(`GitHub did not accept the sign-in (HTTP ${exchange.status}). Sign in again.`);
  if ("error" in reply.data) throw new SignInFailed(`GitHub refused the sign-in: ${reply.data.error_description ?? reply.data.error}. Sign in again.`);
  const user = await fetch(new URL(`${client.apiUrl}/user`), {
    headers: { accept: "application/vnd.github+json", authorization: `Bearer ${reply.data.access_token}`, "user-agent": "aura-orchestra-console" },
  });
  const parsed = GitHubUser.safeParse(await user.json().catch(() => null));
  if (!user.ok || !parsed.success) throw new SignInFailed(`GitHub did not say who signed in (HTTP ${user.status}). Sign in again.`);
  return parsed.data;
}
