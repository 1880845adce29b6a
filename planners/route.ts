// Routes on the nav graph: the fastest path for a device, honouring edge speed limits,
// slow zones and keep-out zones.
import { distance, lengthInside, pointInPolygon, segmentsIntersect, type Point } from './geometry.ts';
import type { Site, Zone } from './site.ts';

interface Arc {
  to: string;
  lengthM: number;
  edgeMaxSpeed: number;
  /** Metres of this arc inside each slow zone it crosses. */
  slow: { zone: string; maxSpeed: number; lengthM: number }[];
  /** Keep-out zones this arc enters. */
  keepOut: string[];
}

export interface NavGraph {
  points: ReadonlyMap<string, Point>;
  arcs: ReadonlyMap<string, Arc[]>;
  keepOutZones: Extract<Zone, { kind: 'keep-out' }>[];
}

export interface Route {
  nodes: string[];
  distanceM: number;
  /** Cruise time at the speeds allowed on each stretch (no acceleration). */
  timeS: number;
  /** Slow zones the route crosses, with metres driven inside each. */
  slowZones: { zone: string; lengthM: number }[];
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
    const arc = (to: string): Arc => ({
      to,
      lengthM: distance(a, b),
      edgeMaxSpeed: e.maxSpeed ?? Infinity,
      slow: slowZones
        .map((z) => ({ zone: z.id, maxSpeed: z.maxSpeed, lengthM: lengthInside(a, b, z.polygon) }))
        .filter((s) => s.lengthM > 1e-6),
      keepOut: keepOutZones.filter((z) => segmentCrossesPolygon(a, b, z.polygon)).map((z) => z.id),
    });
    arcs.get(e.from)!.push(arc(e.to));
    if (!e.oneWay) arcs.get(e.to)!.push(arc(e.from));
  }
  return { points, arcs, keepOutZones };
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

/** Fastest route from `from` to `to` for a device whose top speed is `maxSpeed` (m/s). */
export function findRoute(graph: NavGraph, from: string, to: string, maxSpeed: number): RouteResult {
  if (!graph.points.has(from) || !graph.points.has(to)) return { ok: false, reason: 'unknown-node' };
  const targetZone = keepOutAt(graph, to);
  if (targetZone) return { ok: false, reason: 'target-in-keep-out', zone: targetZone };
  const clear = dijkstra(graph, from, to, maxSpeed, false);
  if (clear) return { ok: true, route: clear };
  const through = dijkstra(graph, from, to, maxSpeed, true);
  if (through) {
    const zone = routeKeepOut(graph, through.nodes);
    return { ok: false, reason: 'crosses-keep-out', zone: zone ?? graph.keepOutZones[0]!.id };
  }
  return { ok: false, reason: 'no-path' };
}

function routeKeepOut(graph: NavGraph, nodes: string[]): string | undefined {
  for (let i = 0; i + 1 < nodes.length; i++) {
    const arc = graph.arcs.get(nodes[i]!)!.find((a) => a.to === nodes[i + 1]);
    if (arc?.keepOut.length) return arc.keepOut[0];
  }
  return undefined;
}

function dijkstra(graph: NavGraph, from: string, to: string, maxSpeed: number, allowKeepOut: boolean): Route | undefined {
  const best = new Map<string, number>([[from, 0]]);
  const prev = new Map<string, { node: string; arc: Arc }>();
  const done = new Set<string>();
  // The graphs are small (tens to hundreds of nodes): a linear scan for the minimum is fast enough.
  const open = new Set<string>([from]);
  while (open.size > 0) {
    let current = '';
    let currentTime = Infinity;
    for (const n of open) {
      const t = best.get(n)!;
      if (t < currentTime || (t === currentTime && n < current)) {
        current = n;
        currentTime = t;
      }
    }
    open.delete(current);
    if (current === to) break;
    done.add(current);
    for (const arc of graph.arcs.get(current) ?? []) {
      if (done.has(arc.to) || (!allowKeepOut && arc.keepOut.length > 0)) continue;
      const t = currentTime + arcTime(arc, maxSpeed);
      if (t < (best.get(arc.to) ?? Infinity)) {
        best.set(arc.to, t);
        prev.set(arc.to, { node: current, arc });
        open.add(arc.to);
      }
    }
  }
  if (!best.has(to)) return undefined;
  const nodes = [to];
  const slow = new Map<string, number>();
  let distanceM = 0;
  for (let n = to; n !== from; ) {
    const p = prev.get(n)!;
    distanceM += p.arc.lengthM;
    for (const s of p.arc.slow) slow.set(s.zone, (slow.get(s.zone) ?? 0) + s.lengthM);
    nodes.unshift(p.node);
    n = p.node;
  }
  return {
    nodes,
    distanceM,
    timeS: best.get(to)!,
    slowZones: [...slow].sort(([a], [b]) => a.localeCompare(b)).map(([zone, lengthM]) => ({ zone, lengthM })),
  };
}
