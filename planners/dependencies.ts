// The step DAG: duplicate ids, dangling `after` links and cycles, and an order to run it in.
import { MinHeap } from './heap.ts';
import type { Step } from './plan.ts';
import { issue, type Issue } from './report.ts';
import { hints, type Hints } from './suggest.ts';

export interface StepGraph {
  /** Steps that can run, in a dependency-respecting order (plan order breaks ties). */
  order: Step[];
  /** Known dependencies of each step id (dangling ones dropped). */
  after: Map<string, string[]>;
  issues: Issue[];
}

/** `hintFor` builds the UNKNOWN_DEPENDENCY hints (a check passes its own, so one budget bounds all its hints). */
export function analyseDependencies(steps: readonly Step[], hintFor: Hints = hints()): StepGraph {
  const issues: Issue[] = [];
  const byId = new Map<string, Step>();
  for (const s of steps) {
    if (byId.has(s.id)) {
      issues.push(issue('DUPLICATE_STEP', { step: s.id, message: `step id '${s.id}' is used more than once`, hint: 'give every step a unique id' }));
      continue;
    }
    byId.set(s.id, s);
  }
  const ids = [...byId.keys()];
  const after = new Map<string, string[]>();
  for (const s of byId.values()) {
    const deps: string[] = [];
    for (const d of new Set(s.after ?? [])) {
      if (byId.has(d) && d !== s.id) deps.push(d);
      else if (d === s.id) issues.push(issue('DEPENDENCY_CYCLE', { step: s.id, message: `step '${s.id}' waits for itself`, hint: `remove '${s.id}' from its own after list` }));
      else issues.push(issue('UNKNOWN_DEPENDENCY', { step: s.id, message: `step '${s.id}' waits for step '${d}', which the plan does not have`, hint: hintFor(d, ids, 'steps') }));
    }
    after.set(s.id, deps);
  }

  // Kahn's algorithm, always taking the earliest ready step in plan order so the order is stable.
  const indegree = new Map(ids.map((i) => [i, after.get(i)!.length]));
  const dependents = new Map<string, string[]>(ids.map((i) => [i, []]));
  for (const [i, deps] of after) for (const d of deps) dependents.get(d)!.push(i);
  const position = new Map(ids.map((i, n) => [i, n]));
  const ready = new MinHeap<string>((a, b) => position.get(a)! < position.get(b)!);
  for (const i of ids) if (indegree.get(i) === 0) ready.push(i);
  const order: Step[] = [];
  for (let next = ready.pop(); next !== undefined; next = ready.pop()) {
    order.push(byId.get(next)!);
    for (const d of dependents.get(next)!) {
      const left = indegree.get(d)! - 1;
      indegree.set(d, left);
      if (left === 0) ready.push(d);
    }
  }
  if (order.length < ids.length) {
    const placed = new Set(order.map((s) => s.id));
    for (const cycle of findCycles(ids.filter((i) => !placed.has(i)), after)) {
      issues.push(
        issue('DEPENDENCY_CYCLE', {
          step: cycle[0],
          message: `steps wait for each other in a circle: ${[...cycle, cycle[0]].join(' → ')}`,
          hint: `remove one of these after links: ${cycle.map((s, k) => `${cycle[(k + 1) % cycle.length]} after ${s}`).join(', ')}`,
        }),
      );
    }
  }
  return { order, after, issues };
}

/** Each distinct cycle among the unplaced steps, reported once, starting at its first step in plan order. */
function findCycles(unplaced: string[], after: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const inScope = new Set(unplaced);
  for (const start of unplaced) {
    if (seen.has(start)) continue;
    const path: string[] = [];
    const onPath = new Map<string, number>();
    let node: string | undefined = start;
    while (node !== undefined && !onPath.has(node) && !seen.has(node)) {
      onPath.set(node, path.length);
      path.push(node);
      node = after.get(node)!.find((d) => inScope.has(d));
    }
    if (node !== undefined && onPath.has(node)) {
      const cycle = path.slice(onPath.get(node)!).reverse();
      const first = unplaced.find((s) => cycle.includes(s))!;
      const k = cycle.indexOf(first);
      cycles.push([...cycle.slice(k), ...cycle.slice(0, k)]);
    }
    for (const p of path) seen.add(p);
  }
  return cycles;
}
