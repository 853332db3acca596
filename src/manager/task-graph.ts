// The dependency graph of a plan's tasks: which tasks depend on each other in a cycle, each cycle named as a
// path a person can follow. Finding the cycles is graphlib's (Tarjan's strongly connected components); naming
// one path through each, from the first task in plan order, is done here because no graph library walks it in
// the plan's own order, and that order is what the refusal message and the planner's re-ask show.
import { Graph, alg } from "@dagrejs/graphlib";

/** What the cycle finder reads of a task: its id and the ids it depends on. */
export type TaskNode = { readonly id: string; readonly dependsOn: readonly string[] };

/**
 * Every dependency cycle, one per group of tasks that depend on each other, as a path that starts and ends at the
 * group's first task in plan order (`[a, b, c, a]`; a task depending on itself is `[a, a]`), following each task's
 * dependencies in the order it lists them. Cycles come in plan order of their first task. Dependencies on ids not
 * in the plan are ignored (they are another rule's problem), and a repeated id counts once, at its first task.
 */
export function dependencyCycles(tasks: readonly TaskNode[]): string[][] {
  const ids = tasks.map((task) => task.id);
  const edges = dependencyEdges(tasks);
  const graph = new Graph({ directed: true });
  for (const [id, dependencies] of edges) {
    graph.setNode(id);
    for (const dependency of dependencies) graph.setEdge(id, dependency);
  }
  return alg
    .findCycles(graph)
    .map((component) => {
      const members = new Set(component);
      const start = ids.find((id) => members.has(id)) ?? "";
      return [...pathBackTo(start, members, edges), start];
    })
    .sort((a, b) => ids.indexOf(a[0] ?? "") - ids.indexOf(b[0] ?? ""));
}

/** Each distinct id's dependencies that are tasks in the plan, in plan order; the first task of an id wins. */
function dependencyEdges(tasks: readonly TaskNode[]): Map<string, string[]> {
  const known = new Set(tasks.map((task) => task.id));
  const edges = new Map<string, string[]>();
  for (const task of tasks) {
    if (!edges.has(task.id))
      edges.set(
        task.id,
        task.dependsOn.filter((dependency) => known.has(dependency)),
      );
  }
  return edges;
}

/** A path from `start` that stays inside `members` and has an edge back to `start` (depth first, listed order). */
function pathBackTo(start: string, members: ReadonlySet<string>, edges: ReadonlyMap<string, readonly string[]>): string[] {
  const path: string[] = [start];
  const seen = new Set<string>([start]);
  const walk = (node: string): boolean => {
    for (const next of edges.get(node) ?? []) {
      if (next === start) return true;
      if (!members.has(next) || seen.has(next)) continue;
      seen.add(next);
      path.push(next);
      if (walk(next)) return true;
      path.pop();
    }
    return false;
  };
  walk(start);
  return path;
}
