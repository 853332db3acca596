// Probot's setup routes register a GitHub App and write its credentials to `.env`. Once the app has
// credentials they must not take new ones: whoever reached the page could otherwise swap in an app of their
// own (its webhook secret, its key). A configured app answers them with 403 and what to do instead; a
// setup-mode process closes them as soon as the page has written credentials, until it is restarted.
import type { IncomingMessage, ServerResponse } from "node:http";

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | void | Promise<boolean | void>;

const closedMessage =
  "This Aura Orchestra is already configured with a GitHub App (APP_ID, a private key and WEBHOOK_SECRET are set), " +
  "so the setup page is closed and accepts no new credentials. Restart the server to use the credentials in .env; " +
  "to register a different app, remove APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET from .env and the environment, then restart.\n";

/** `/`, `/probot` and every `/probot/…` route but the static assets and the success page. */
function isSetupRoute(url: string | undefined): boolean {
  const pathname = (url ?? "").split("?")[0] ?? "";
  if (pathname === "/probot/success" || pathname.startsWith("/probot/static/")) return false;
  return pathname === "/probot" || pathname.startsWith("/probot/");
}

function refuse(res: ServerResponse): true {
  res.writeHead(403, { "content-type": "text/plain; charset=utf-8" }).end(closedMessage);
  return true;
}

/** For a configured app: answers every setup route with 403. */
export function closedSetupRoutes(): Handler {
  return (req, res) => (isSetupRoute(req.url) ? refuse(res) : false);
}

/** For setup mode: Probot's setup handler until `configured()` says credentials were written, then 403. */
export function closeSetupOnceConfigured(setup: Handler, configured: () => boolean): Handler {
  return (req, res) => {
    if (configured() && (isSetupRoute(req.url) || (req.url ?? "").split("?")[0] === "/")) return refuse(res);
    return setup(req, res);
  };
}
