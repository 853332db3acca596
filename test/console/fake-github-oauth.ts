// GitHub's OAuth edge as the browser sees it, for the browser tests: nock intercepts only the app's own requests
// (the code exchange and GET /user), not Chromium's, so the browser's visit to github.com's authorize page is
// answered here. Like GitHub after the person clicks "Authorize", it sends the browser back to the console's
// callback with a one-time code and the state it was given; the app then exchanges the code (behind nock).
import type { BrowserContext } from "playwright-core";

export async function fakeGitHubAuthorize(context: BrowserContext, consoleBase: string, code: string): Promise<string[]> {
  const visits: string[] = [];
  // Nothing else on the internet is loaded by the console's pages (registered first: later routes win).
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort("blockedbyclient"));
  await context.route("https://github.com/login/oauth/authorize**", async (route) => {
    const asked = new URL(route.request().url());
    visits.push(asked.href);
    const back = new URL("/console/callback", consoleBase);
    back.searchParams.set("code", code);
    back.searchParams.set("state", asked.searchParams.get("state") ?? "");
    await route.fulfill({ status: 302, headers: { location: back.href } });
  });
  return visits;
}
