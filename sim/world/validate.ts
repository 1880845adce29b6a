// The site's nav graph against its world: every place a robot stops or turns and every edge it
// drives must be clear of the world's obstacles for the largest AMR of the site.
import type { Site, SiteNode, Station } from '../../planners/site.ts';
import type { CollisionWorld, Footprint } from './collision.ts';
import type { Obstacle } from './sdf.ts';

export interface SiteWorldProblem {
  kind: 'node' | 'edge';
  /** Node id, or `from->to` for an edge. */
  id: string;
  /** Model names of the obstacles hit. */
  obstacles: string[];
  message: string;
}

export interface SiteWorldOptions {
  /** Clearance kept around the footprint, metres. Default 0.05. */
  margin?: number;
}

export const DEFAULT_CLEARANCE = 0.05;

/**
 * The footprint is the envelope of every AMR of the site (longest length × widest width).
 * At a station node the robot is checked parked at the station's heading, where docking puts it
 * close to things by design; at any other node it may turn in place, so the check uses the
 * disc the footprint sweeps doing so (its circumscribed circle). Edges are swept straight,
 * heading along the edge.
 */
export function checkSiteAgainstWorld(
  site: Site,
  obstacles: readonly Obstacle[],
  world: CollisionWorld,
  opts: SiteWorldOptions = {},
): SiteWorldProblem[] {
  const amrs = site.devices.flatMap((d) => (d.kind === 'amr' ? [d.footprint] : []));
  if (amrs.length === 0) return [];
  const footprint: Footprint = { length: Math.max(...amrs.map((f) => f.length)), width: Math.max(...amrs.map((f) => f.width)) };
  const margin = opts.margin ?? DEFAULT_CLEARANCE;
  const robot = `a ${m(footprint.length)} × ${m(footprint.width)} m robot (+${m(margin)} m)`;
  const describe = describer(obstacles);
  const problems: SiteWorldProblem[] = [];

  const stationsAt = new Map<string, Station[]>();
  for (const s of site.stations) stationsAt.set(s.node, [...(stationsAt.get(s.node) ?? []), s]);

  for (const node of site.nodes) {
    const stations = stationsAt.get(node.id) ?? [];
    const hits =
      stations.length > 0
        ? union(stations.map((s) => world.footprintHits(node.x, node.y, s.theta, footprint, margin)))
        : world.circleHits(node.x, node.y, Math.hypot(footprint.length / 2, footprint.width / 2) + margin);
    if (hits.length === 0) continue;
    const doing =
      stations.length > 0
        ? `parked at heading ${stations.map((s) => `${deg(s.theta)}°`).join(' / ')}`
        : 'turning in place';
    problems.push({
      kind: 'node',
      id: node.id,
      obstacles: hits,
      message: `node '${node.id}' at ${at(node)}: ${robot} ${doing} there overlaps ${describe(hits)}`,
    });
  }

  const nodes = new Map(site.nodes.map((n) => [n.id, n]));
  for (const e of site.edges) {
    const a = nodes.get(e.from);
    const b = nodes.get(e.to);
    if (!a || !b) continue;
    const hits = world.sweepHits(a, b, footprint, margin);
    if (hits.length === 0) continue;
    const id = `${e.from}->${e.to}`;
    problems.push({
      kind: 'edge',
      id,
      obstacles: hits,
      message: `edge ${id} from ${at(a)} to ${at(b)}: ${robot} driving it overlaps ${describe(hits)}`,
    });
  }
  return problems;
}

function describer(obstacles: readonly Obstacle[]): (models: string[]) => string {
  const byModel = new Map<string, Obstacle[]>();
  for (const o of obstacles) byModel.set(o.model, [...(byModel.get(o.model) ?? []), o]);
  const one = (model: string): string => {
    const parts = byModel.get(model) ?? [];
    const o = parts[0];
    if (parts.length !== 1 || o === undefined) return parts.length > 1 ? `${model} (${parts.length} shapes)` : model;
    const shape = o.shape.kind === 'box' ? `box ${m(2 * o.shape.hx)} × ${m(2 * o.shape.hy)} m` : `cylinder r ${m(o.shape.r)} m`;
    return `${model} (${shape} at ${at(o)}${o.static ? '' : ', not static'})`;
  };
  return (models) => models.map(one).join(', ');
}

function union(lists: string[][]): string[] {
  return [...new Set(lists.flat())].sort();
}

function at(p: Pick<SiteNode, 'x' | 'y'>): string {
  return `(${m(p.x)}, ${m(p.y)})`;
}

function m(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

function deg(rad: number): string {
  return String(Math.round((rad * 180) / Math.PI));
}
