// Where an idle robot goes when it stands in another robot's way for good (it has nothing left to
// do): the site's `idle` policy. The check's simulation and the run time ask this one function, so
// the robot is sent where the check said. See plan-format.md, "How the check simulates a plan".
import type { Plan, Step } from './plan.ts';
import type { CheckReport } from './report.ts';
import { findRoute, type Headings, type NavGraph, type Route } from './route.ts';
import type { Amr, SiteIndex } from './site.ts';

export interface MakeWayQuestion {
  site: SiteIndex;
  graph: NavGraph;
  robot: Amr;
  /** The node it stands on, and where it faces (when known). */
  at: string;
  heading?: number;
  /** Nodes it must not stop on: the waiting robot's remaining route and what its footprint reaches from there. */
  avoid: ReadonlySet<string>;
  /** Nodes it must neither stop on nor drive through: other robots stand or go there. */
  occupied: ReadonlySet<string>;
}

export interface MakeWayTarget {
  /** A station id, or a bare node id. */
  to: string;
  route: Route;
}

/**
 * The place an idle robot makes way to, with its route, or undefined if it stays (policy `stay`,
 * or no place is free). `make-way`: the parking station it reaches fastest, else the bare node
 * (no station's) it reaches fastest; `return-home`: its home station, else as `make-way`. A place
 * is free when it is in neither `avoid` nor `occupied`; the route passes no `occupied` node. Ties
 * go to the lower id, so the answer is the same every time.
 */
export function makeWayTarget(q: MakeWayQuestion): MakeWayTarget | undefined {
  const { site } = q;
  const policy = site.site.policies.idle;
  if (policy === 'stay') return undefined;
  const stationAt = new Set(site.site.stations.map((s) => s.node));
  const home = site.station(q.robot.home);
  const tiers = [
    ...(policy === 'return-home' && home ? [[{ to: home.id, node: home.node, theta: home.theta }]] : []),
    site.site.stations.filter((s) => s.kind === 'parking').map((s) => ({ to: s.id, node: s.node, theta: s.theta as number | undefined })),
    site.site.nodes.filter((n) => !stationAt.has(n.id)).map((n) => ({ to: n.id, node: n.id, theta: undefined as number | undefined })),
  ];
  for (const tier of tiers) {
    let best: MakeWayTarget | undefined;
    for (const place of tier) {
      if (place.node === q.at || q.avoid.has(place.node) || q.occupied.has(place.node)) continue;
      const headings: Headings = { ...(q.heading !== undefined ? { start: q.heading } : {}), ...(place.theta !== undefined ? { end: place.theta } : {}) };
      const r = findRoute(q.graph, q.at, place.node, q.robot.limits, headings, { avoid: q.occupied });
      if (!r.ok) continue;
      if (!best || r.route.timeS < best.route.timeS || (r.route.timeS === best.route.timeS && place.to < best.to)) best = { to: place.to, route: r.route };
    }
    if (best) return best;
  }
  return undefined;
}

/**
 * A report's moves as the steps the run executes after the plan's (ids `make-way:1`, …, which no
 * plan step can have): each drives its robot to where the check sent it, after the plan's steps
 * that use that robot.
 */
export function movesAsSteps(plan: Plan, report: Pick<CheckReport, 'moves' | 'assignments'>): Step[] {
  const bind = (ref: string) => (ref.startsWith('$') ? report.assignments[ref.slice(1)] : ref);
  return (report.moves ?? []).map((m) => ({
    id: m.id,
    action: 'navigate',
    device: m.device,
    params: { to: m.to },
    after: plan.steps.filter((s) => bind(s.device) === m.device || (s.action === 'arm.transfer' && bind(s.params.to) === m.device)).map((s) => s.id),
  }));
}

/** Whether a step id is a move's (`make-way:1`). */
export const isMove = (stepId: string): boolean => stepId.startsWith('make-way:');

/** The steps a mission runs: its plan's, then its report's moves. */
export function stepsToRun(plan: Plan, report: Pick<CheckReport, 'moves' | 'assignments'> | null | undefined): Step[] {
  return report?.moves?.length ? [...plan.steps, ...movesAsSteps(plan, report)] : plan.steps;
}
