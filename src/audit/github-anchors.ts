// Reads the chain-head anchors that the app left in its status comments on GitHub, outside the database,
// so `aura audit verify --github` can check that the chain GitHub saw is still the chain stored here.
import type pg from "pg";
import type { InstallationClients } from "../github/standalone.js";
import type { Anchor } from "./verify.js";

const MARKER = /<!-- aura:anchor seq=(\d+) hash=([0-9a-f]{64}) -->/g;

export function anchorsInText(text: string, location: string): Anchor[] {
  return [...text.matchAll(MARKER)].map((match) => ({ seq: Number(match[1]), hash: match[2] as string, location }));
}

export async function collectGitHubAnchors(pool: pg.Pool, github: InstallationClients): Promise<{ anchors: Anchor[]; unreadable: string[] }> {
  const { rows } = await pool.query<{ installation_id: number; repo: string; issue_number: number; status_comment_id: number }>(
    "SELECT installation_id, repo, issue_number, status_comment_id FROM requirements WHERE status_comment_id IS NOT NULL ORDER BY id",
  );
  const anchors: Anchor[] = [];
  const unreadable: string[] = [];
  for (const row of rows) {
    const [owner, repo] = row.repo.split("/") as [string, string];
    const location = `github:${row.repo}#${row.issue_number}`;
    try {
      const { data } = await github(Number(row.installation_id)).rest.issues.getComment({ owner, repo, comment_id: Number(row.status_comment_id) });
      anchors.push(...anchorsInText(data.body ?? "", location));
    } catch (error) {
      unreadable.push(`${location}: ${(error as Error).message}`);
    }
  }
  return { anchors, unreadable };
}
