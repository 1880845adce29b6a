// Routes on the nav graph: the fastest path for a device, honouring edge speed limits,
// slow zones and keep-out zones.
import { distance, intervalsInside, pointInPolygon, segmentsIntersect, type Point } from './geometry.ts';
import { MinHeap } from './heap.ts';
import { runProfile, turnAngle, turnTime, type MotionLimits, type Piece } from './motion.ts';
import type { Site, Zone } from './site.ts';

interface Arc {
  to: string;
  lengthM: number;
  edgeMaxSpeed: number;
  /** Metres of this arc inside each slow zone it crosses. */
  slow: { zone: string; maxSpeed: number; lengthM: number }[];
  /** The arc from start to end as stretches of one speed limit each (edge and zone limits). */
  pieces: Piece[];
  /** Keep-out zones this arc enters. */
  keepOut: string[];
}

/** How close (m) an AMR must pass a node for it to count as reached (VDA 5050's allowedDeviationXY). */
export const NODE_TOLERANCE_M = 0.1;

export interface NavGraph {
  points: ReadonlyMap<string, Point>;
  arcs: ReadonlyMap<string, Arc[]>;
  keepOutZones: Extract<Zone, { kind: 'keep-out' }>[];
}

export interface Route {
  nodes: string[];
  distanceM: number;
  /** Driving time: turning in place at corners, trapezoidal speed profiles on straight runs. */
  timeS: number;
  /** Heading (radians) on arrival: of the last stretch, or the requested end heading. */
  endHeading: number;
  /** Slow zones the route crosses, with metres driven inside each. */
  slowZones: { zone: string; lengthM: number }[];
  /** Per node of `nodes`: when the robot gets there and when it leaves (after any turn in place), s from the start. */
  times: { arriveS: number; departS: number }[];
  /** Kinetic energy put in by accelerating, per kilogram of moving mass (J/kg); braking recovers none. */
  speedUpJPerKg: number;
  /** Total angle turned in place, radians. */
  turnRad: number;
}

export type RouteResult =
  | { ok: true; route: Route }
  | { ok: false; reason: 'unknown-node' | 'no-path' }
  | { ok: false; reason: 'target-in-keep-out' | 'crosses-keep-out'; zone: string };

export function buildNavGraph(site: Site): NavGraph {
  const points = new Map<string, Point>(site.nodes.map((n) => [n.id, [n.x, n.y] as const]));
  const arcs = new Map<string, Arc[]>(site.nodes.map((n) => [n.id, []]));
  const keepOutZones = site.zones.filter((z): z is Extract<Zone, { kind: 'keep-out' }> => z.kind === 'keep-out');
  const slowZones = site.zones.filter((z): z is Extract<Zone, { kind: 'slow' }> => z.kind === 'slow');
  for (const e of site.edges) {
    const a = points.get(e.from);
    const b = points.get(e.to);
    if (!a || !b) continue;
    const lengthM = distance(a, b);
    const edgeMaxSpeed = e.maxSpeed ?? Infinity;
    const zones = slowZones.map((z) => ({ zone: z, intervals: intervalsInside(a, b, z.polygon) })).filter((z) => z.intervals.length > 0);
    const pieces = splitBySpeed(lengthM, edgeMaxSpeed, zones.flatMap((z) => z.intervals.map(([t0, t1]) => ({ t0, t1, maxSpeed: z.zone.maxSpeed }))));
    const arc = (to: string, forward: boolean): Arc => ({
      to,
      lengthM,
      edgeMaxSpeed,
      slow: zones
        .map((z) => ({ zone: z.zone.id, maxSpeed: z.zone.maxSpeed, lengthM: z.intervals.reduce((sum, [t0, t1]) => sum + (t1 - t0), 0) * lengthM }))
        .filter((s) => s.lengthM > 1e-6),
      pieces: forward ? pieces : [...pieces].reverse(),
      keepOut: keepOutZones.filter((z) => segmentCrossesPolygon(a, b, z.polygon)).map((z) => z.id),
    });
    arcs.get(e.from)!.push(arc(e.to, true));
    if (!e.oneWay) arcs.get(e.to)!.push(arc(e.from, false));
  }
  return { points, arcs, keepOutZones };
}

/** Cut an edge where slow zones begin and end; each stretch gets the lowest limit covering it. */
function splitBySpeed(lengthM: number, edgeMaxSpeed: number, slow: { t0: number; t1: number; maxSpeed: number }[]): Piece[] {
  const cuts = [...new Set([0, 1, ...slow.flatMap((s) => [s.t0, s.t1])])].sort((x, y) => x - y);
  const pieces: Piece[] = [];
  for (let k = 0; k + 1 < cuts.length; k++) {
    const t0 = cuts[k]!;
    const t1 = cuts[k + 1]!;
    if (t1 - t0 < 1e-9) continue;
    const mid = (t0 + t1) / 2;
    const maxSpeed = Math.min(edgeMaxSpeed, ...slow.filter((s) => s.t0 <= mid && mid <= s.t1).map((s) => s.maxSpeed));
    const last = pieces[pieces.length - 1];
    if (last && last.maxSpeed === maxSpeed) last.lengthM += (t1 - t0) * lengthM;
    else pieces.push({ lengthM: (t1 - t0) * lengthM, maxSpeed });
  }
  return pieces;
}

function segmentCrossesPolygon(a: Point, b: Point, polygon: readonly Point[]): boolean {
  if (pointInPolygon(a, polygon) || pointInPolygon(b, polygon)) return true;
  return polygon.some((p, i) => segmentsIntersect(a, b, p, polygon[(i + 1) % polygon.length]!));
}

/** The keep-out zone a node lies in, if any. */
export function keepOutAt(graph: NavGraph, node: string): string | undefined {
  const p = graph.points.get(node);
  return p ? graph.keepOutZones.find((z) => pointInPolygon(p, z.polygon))?.id : undefined;
}

function arcTime(arc: Arc, maxSpeed: number): number {
  const cruise = Math.min(maxSpeed, arc.edgeMaxSpeed);
  let slowLength = 0;
  let t = 0;
  for (const s of arc.slow) {
    slowLength += s.lengthM;
    t += s.lengthM / Math.min(cruise, s.maxSpeed);
  }
  return t + Math.max(0, arc.lengthM - slowLength) / cruise;
}

export interface RouteOptions {
  /** Nodes the route must not pass through (other robots standing there); the target is never avoided. */
  avoid?: ReadonlySet<string>;
}

export interface Headings {
  /** Where the robot faces before it sets off; no initial turn when unknown. */
  start?: number;
  /** Heading to take on arrival (a station's), if any. */
  end?: number;
}

/**
 * Fastest route from `from` to `to` for a device with these limits. The path is chosen by
 * cruise time; its `timeS` is then the full motion profile, turns included.
 */
export function findRoute(graph: NavGraph, from: string, to: string, limits: MotionLimits, headings: Headings = {}, options: RouteOptions = {}): RouteResult {
  if (!graph.points.has(from) || !graph.points.has(to)) return { ok: false, reason: 'unknown-node' };
  const targetZone = keepOutAt(graph, to);
  if (targetZone) return { ok: false, reason: 'target-in-keep-out', zone: targetZone };
  const maxSpeed = limits.maxSpeed;
  const avoid = options.avoid;
  const clear = dijkstra(graph, from, to, maxSpeed, false, avoid);
  if (clear) return { ok: true, route: withMotion(graph, clear, limits, headings) };
  if (avoid && avoid.size > 0) return { ok: false, reason: 'no-path' };
  const through = dijkstra(graph, from, to, maxSpeed, true);
  if (through) {
    const zone = routeKeepOut(graph, through.nodes);
    return { ok: false, reason: 'crosses-keep-out', zone: zone ?? graph.keepOutZones[0]!.id };
  }
  return { ok: false, reason: 'no-path' };
}

interface Path {
  nodes: string[];
  arcs: Arc[];
  distanceM: number;
  slowZones: { zone: string; lengthM: number }[];
}

/** Drive time along a path: straight runs at rest-to-rest trapezoids, turns in place between them. */
function withMotion(graph: NavGraph, path: Path, limits: MotionLimits, headings: Headings): Route {
  const times = path.nodes.map(() => ({ arriveS: 0, departS: 0 }));
  let clock = 0;
  let heading = headings.start;
  let speedUpJPerKg = 0;
  let turnRad = 0;
  // The run being built: its pieces, and for each node it passes the index of the piece boundary there.
  let run: Piece[] = [];
  let runNodes: { node: number; boundary: number }[] = [];
  const scale = limits.timeScale ?? 1;
  const closeRun = () => {
    const profile = runProfile(run, limits);
    for (const { node, boundary } of runNodes) times[node]!.arriveS = times[node]!.departS = clock + profile.boundaryS[boundary]! * scale;
    clock += profile.boundaryS[profile.boundaryS.length - 1]! * scale;
    speedUpJPerKg += profile.speedUpJPerKg;
    run = [];
    runNodes = [];
  };
  const turn = (node: number, to: number) => {
    const angle = heading === undefined ? 0 : turnAngle(heading, to);
    if (angle <= 1e-3) return false;
    closeRun();
    times[node]!.arriveS = clock;
    clock += turnTime(heading!, to, limits) * scale;
    times[node]!.departS = clock;
    turnRad += angle;
    return true;
  };
  for (let i = 0; i < path.arcs.length; i++) {
    const a = graph.points.get(path.nodes[i]!)!;
    const b = graph.points.get(path.nodes[i + 1]!)!;
    const h = Math.atan2(b[1] - a[1], b[0] - a[0]);
    turn(i, h);
    heading = h;
    run.push(...path.arcs[i]!.pieces);
    runNodes.push({ node: i + 1, boundary: run.length });
  }
  closeRun();
  const last = path.nodes.length - 1;
  if (headings.end !== undefined && heading !== undefined) turn(last, headings.end);
  return {
    nodes: path.nodes,
    distanceM: path.distanceM,
    timeS: clock,
    endHeading: headings.end ?? heading ?? 0,
    slowZones: path.slowZones,
    times,
    speedUpJPerKg,
    turnRad,
  };
}

/**
 * The motion profile along a given node sequence (each consecutive pair joined by an edge),
 * from rest: what the simulator uses when a robot sets off again after waiting mid-route.
 * Returns undefined if two consecutive nodes are not joined by an arc.
 */
export function profileAlong(graph: NavGraph, nodes: readonly string[], limits: MotionLimits, headings: Headings = {}): Route | undefined {
  const arcs: Arc[] = [];
  const slow = new Map<string, number>();
  let distanceM = 0;
  for (let i = 0; i + 1 < nodes.length; i++) {
    const arc = graph.arcs.get(nodes[i]!)?.find((a) => a.to === nodes[i + 1]);
    if (!arc) return undefined;
    arcs.push(arc);
    distanceM += arc.lengthM;
    for (const s of arc.slow) slow.set(s.zone, (slow.get(s.zone) ?? 0) + s.lengthM);
  }
  const slowZones = [...slow].sort(([a], [b]) => a.localeCompare(b)).map(([zone, lengthM]) => ({ zone, lengthM }));
  return withMotion(graph, { nodes: [...nodes], arcs, distanceM, slowZones }, limits, headings);
}

function routeKeepOut(graph: NavGraph, nodes: string[]): string | undefined {
  for (let i = 0; i + 1 < nodes.length; i++) {
    const arc = graph.arcs.get(nodes[i]!)!.find((a) => a.to === nodes[i + 1]);
    if (arc?.keepOut.length) return arc.keepOut[0];
  }
  return undefined;
}

/**
 * The graph with its nodes numbered, for route search: arrays instead of maps keyed by id. A
 * graph does not change once built, so it is numbered once. `rank` orders the nodes by id, the
 * order ties are broken in.
 */
interface Numbered {
  ids: string[];
  index: Map<string, number>;
  rank: Int32Array;
  out: { to: number; arc: Arc }[][];
}

const numbered = new WeakMap<NavGraph, Numbered>();
function numberedOf(graph: NavGraph): Numbered {
  let n = numbered.get(graph);
  if (n) return n;
  const ids = [...graph.points.keys()];
  const index = new Map(ids.map((id, i) => [id, i]));
  const rank = new Int32Array(ids.length);
  [...ids.keys()].sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0)).forEach((i, r) => (rank[i] = r));
  const out = ids.map((id) => (graph.arcs.get(id) ?? []).flatMap((arc) => (index.has(arc.to) ? [{ to: index.get(arc.to)!, arc }] : [])));
  numbered.set(graph, (n = { ids, index, rank, out }));
  return n;
}

function dijkstra(graph: NavGraph, fromId: string, toId: string, maxSpeed: number, allowKeepOut: boolean, avoid?: ReadonlySet<string>): Path | undefined {
  const { ids, index, rank, out } = numberedOf(graph);
  const from = index.get(fromId)!;
  const to = index.get(toId)!;
  const best = new Float64Array(ids.length).fill(Infinity);
  const prev: ({ node: number; arc: Arc } | undefined)[] = new Array(ids.length);
  const done = new Uint8Array(ids.length);
  best[from] = 0;
  // A binary heap on (time, node id): nodes are taken in the order a scan for the minimum would
  // take them (ties by id), so routes do not depend on it; an entry out of date is skipped.
  const open = new MinHeap<{ t: number; node: number }>((a, b) => a.t < b.t || (a.t === b.t && rank[a.node]! < rank[b.node]!));
  open.push({ t: 0, node: from });
  for (let top = open.pop(); top; top = open.pop()) {
    const { t: currentTime, node: current } = top;
    if (done[current] || currentTime > best[current]!) continue;
    if (current === to) break;
    done[current] = 1;
    for (const { to: next, arc } of out[current]!) {
      if (done[next] || (!allowKeepOut && arc.keepOut.length > 0)) continue;
      if (next !== to && avoid?.has(ids[next]!)) continue;
      const t = currentTime + arcTime(arc, maxSpeed);
      if (t < best[next]!) {
        best[next] = t;
        prev[next] = { node: current, arc };
        open.push({ t, node: next });
      }
    }
  }
  if (best[to] === Infinity) return undefined;
  const nodes = [toId];
  const arcs: Arc[] = [];
  const slow = new Map<string, number>();
  let distanceM = 0;
  for (let n = to; n !== from; ) {
    const p = prev[n]!;
    distanceM += p.arc.lengthM;
    for (const s of p.arc.slow) slow.set(s.zone, (slow.get(s.zone) ?? 0) + s.lengthM);
    nodes.unshift(ids[p.node]!);
    arcs.unshift(p.arc);
    n = p.node;
  }
  return {
    nodes,
    arcs,
    distanceM,
    slowZones: [...slow].sort(([a], [b]) => a.localeCompare(b)).map(([zone, lengthM]) => ({ zone, lengthM })),
  };
}
