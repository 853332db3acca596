// The page frame every console view shares: the navigation, the sign-out form (with the CSRF token), the one
// stylesheet and the scripts served from /console/static (no inline script or style: the Content-Security-Policy
// forbids both).
import { html, type Html } from "./html.js";

export type Viewer = { login: string; csrf: string };

export type PageOptions = {
  title: string;
  /** Who is signed in; null on the sign-in and setup pages. */
  viewer: Viewer | null;
  /** Which navigation entry is current. */
  current?: "board" | "employees" | "audit" | "tokens";
  /** Attributes on <main> (stable hooks for the live script and browser tests). */
  mainId: string;
  scripts?: readonly string[];
};

const NAV = [
  ["board", "/console", "Board"],
  ["employees", "/console/employees", "Employees"],
  ["audit", "/console/audit", "Audit"],
  ["tokens", "/console/tokens", "Tokens"],
] as const;

export function page(options: PageOptions, body: Html): string {
  const nav = options.viewer
    ? html`<nav class="nav">
        ${NAV.map(([key, href, label]) => html`<a href="${href}" class="${key === options.current ? "current" : ""}" id="nav-${key}">${label}</a>`)}
        <span class="viewer" id="viewer">${options.viewer.login}</span>
        <form method="post" action="/console/logout" class="inline">
          <input type="hidden" name="csrf" value="${options.viewer.csrf}" /><button type="submit" id="sign-out">Sign out</button>
        </form>
      </nav>`
    : html``;
  const scripts = ["/console/static/console.js", ...(options.scripts ?? [])];
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${options.title} · Aura console</title>
        <link rel="stylesheet" href="/console/static/console.css" />
        ${scripts.map((src) => html`<script src="${src}" defer></script>`)}
      </head>
      <body>
        <header class="top"><a href="/console" class="brand">Aura console</a>${nav}</header>
        <main id="${options.mainId}">
          <h1>${options.title}</h1>
          ${body}
        </main>
      </body>
    </html> `.text;
}
