// What the GitHub edge keeps in memory: the requests it was asked, and the issue, comments, reactions, pull
// requests, statuses and reviews it holds, with the counters that number them and the listeners told of each
// change. One plain object, so every route reads and writes the same state and the edge hands its lists out as
// they are.

export type RecordedRequest = { method: string; path: string; query: URLSearchParams; body: Record<string, unknown> | undefined };

export type User = { login: string; id: number; type: "User" | "Bot" };
export type Comment = { id: number; issue: number; body: string; user: User; created_at: string; updated_at: string };
export type Review = { id: number; pull: number; commit_id: string; event: string; state: string; body: string; user: User; comments: unknown[] };
export type Status = { sha: string; state: string; description: string; context: string; target_url: string | null; created_at: string };
export type Pull = {
  number: number;
  title: string;
  body: string;
  draft: boolean;
  state: "open" | "closed";
  head: string;
  base: string;
  user: User;
  created_at: string;
  closed_at: string | null;
  merged: boolean;
  merged_by: User | null;
};

/** What changed on the edge, for whoever plays GitHub's webhooks (local mode) or watches progress. */
export type GitHubEdgeEvent =
  | { kind: "pull.created"; number: number }
  | { kind: "comment.created" | "comment.updated"; issue: number; id: number }
  | { kind: "status.created"; sha: string; state: string; context: string; description: string }
  | { kind: "review.created"; pull: number; id: number };

export type EdgeStore = {
  requests: RecordedRequest[];
  unhandled: string[];
  comments: Comment[];
  reactions: { commentId: number; content: string }[];
  statuses: Status[];
  reviews: Review[];
  pulls: Map<number, Pull>;
  graphql: { query: string; variables: Record<string, unknown> }[];
  issueState: "open" | "closed";
  /** The next id or number each kind of thing gets (GitHub-sized, so they read like real ones). */
  next: { comment: number; review: number; pull: number };
  userIds: Map<string, number>;
  listeners: ((event: GitHubEdgeEvent) => void)[];
};

/** An empty store; pull requests are numbered from `firstPull` on (after the issue, as GitHub shares the sequence). */
export function createEdgeStore(firstPull: number): EdgeStore {
  return {
    requests: [],
    unhandled: [],
    comments: [],
    reactions: [],
    statuses: [],
    reviews: [],
    pulls: new Map(),
    graphql: [],
    issueState: "open",
    next: { comment: 1_200_000_001, review: 2_100_000_001, pull: firstPull },
    userIds: new Map(),
    listeners: [],
  };
}

/** The account of `login`, with an id that stays the same for the store's life (ids in order of first mention). */
export function userOf(store: EdgeStore, login: string): User {
  if (!store.userIds.has(login)) store.userIds.set(login, 5_000_000 + store.userIds.size);
  return { login, id: store.userIds.get(login) as number, type: login.endsWith("[bot]") ? "Bot" : "User" };
}

export function emit(store: EdgeStore, event: GitHubEdgeEvent): void {
  for (const listener of store.listeners) listener(event);
}

export function now(): string {
  return new Date().toISOString();
}

/** A new comment on `issue` by `user` (the app through the API, or a person through the edge's own hand). */
export function addComment(store: EdgeStore, issue: number, body: string, user: User): Comment {
  const at = now();
  const comment: Comment = { id: store.next.comment++, issue, body, user, created_at: at, updated_at: at };
  store.comments.push(comment);
  emit(store, { kind: "comment.created", issue, id: comment.id });
  return comment;
}
