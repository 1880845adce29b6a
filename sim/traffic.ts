// Multi-robot traffic on the nav graph. Each AMR occupies the node it stands on, and while it
// drives an edge both of its ends. A robot may drive into the next node only if its footprint
// (the disc it sweeps turning in place) would meet no other robot's: not at that node, and not
// anywhere along the edge, measured against every node other robots occupy.
import type { Point } from '../planners/geometry.ts';
import type { NavGraph } from '../planners/route.ts';

/** Extra distance kept between two robots' footprints, metres. */
export const TRAFFIC_CLEARANCE = 0.1;

export interface TrafficRobot {
  id: string;
  /** Radius of the disc the footprint sweeps when turning in place. */
  radius: number;
  /** Nodes it occupies now: one when standing, two while driving an edge (changed through enter/leave). */
  occupied: Set<string>;
}

/** Per edge: the nodes within maxReach of it (the only ones whose robots can block it), and per reach those that do. */
interface NearEdge {
  near: string[];
  blocking: Map<number, ReadonlySet<string>>;
}

export class Traffic {
  private readonly robots = new Map<string, TrafficRobot>();
  /** The robots by id, for a fixed order of questions and answers. */
  private ordered: TrafficRobot[] = [];
  /** Which robots occupy each node. */
  private readonly occupants = new Map<string, Set<TrafficRobot>>();
  /** The farthest two robots' footprints reach: twice the largest radius, plus the clearance. */
  private maxReach = TRAFFIC_CLEARANCE;
  /** Per edge `from → to`: the nodes within maxReach of it, the only ones whose robots can block it. */
  private nearEdge: NearEdges;

  constructor(private readonly graph: NavGraph) {
    this.nearEdge = nearEdgesOf(graph, this.maxReach);
  }

  add(robot: TrafficRobot): void {
    this.robots.set(robot.id, robot);
    this.ordered = [...this.robots.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const node of robot.occupied) this.index(robot, node);
    const reach = 2 * robot.radius + TRAFFIC_CLEARANCE;
    if (reach > this.maxReach) {
      this.maxReach = reach;
      this.nearEdge = nearEdgesOf(this.graph, reach);
    }
  }

  /** The robot starts driving into `node`: it occupies it too. */
  enter(robot: TrafficRobot, node: string): void {
    robot.occupied.add(node);
    this.index(robot, node);
  }

  /** The robot has left `node`. */
  leave(robot: TrafficRobot, node: string): void {
    robot.occupied.delete(node);
    this.occupants.get(node)?.delete(robot);
  }

  private index(robot: TrafficRobot, node: string): void {
    let set = this.occupants.get(node);
    if (!set) this.occupants.set(node, (set = new Set()));
    set.add(robot);
  }

  /** Every node some robot other than `except` occupies. */
  occupiedNodes(except?: string): Set<string> {
    const out = new Set<string>();
    for (const r of this.robots.values()) if (r.id !== except) for (const n of r.occupied) out.add(n);
    return out;
  }

  /**
   * The robot (lowest id first) that keeps `robot` from driving `from → to`, or undefined if the
   * way is clear. Another robot blocks when its footprint would meet ours at `to`, or somewhere
   * along the edge closer than we are to it now (so a robot may always drive away from another).
   * Only robots on nodes near the edge are asked: every node that can block lies within maxReach
   * of the edge.
   */
  blocker(robot: TrafficRobot, from: string, to: string): string | undefined {
    const edge = this.edge(from, to);
    let found: TrafficRobot | undefined;
    for (const node of edge.near) {
      const here = this.occupants.get(node);
      if (!here) continue;
      for (const other of here) {
        if (other === robot || (found && other.id >= found.id)) continue;
        if (this.blocking(edge, from, to, robot.radius + other.radius + TRAFFIC_CLEARANCE).has(node)) found = other;
      }
    }
    return found?.id;
  }

  /**
   * The nodes from which a robot keeps another, `reach` away from it, from driving `from → to`:
   * `to` itself, nodes within reach of `to`, and nodes within reach of the edge that are closer to
   * it than `from` is (a robot may always drive away from another). Fixed for a graph: cached.
   */
  private blocking(edge: NearEdge, from: string, to: string, reach: number): ReadonlySet<string> {
    let nodes = edge.blocking.get(reach);
    if (!nodes) {
      const a = this.graph.points.get(from)!;
      const b = this.graph.points.get(to)!;
      const set = new Set<string>();
      for (const node of edge.near) {
        if (node === to) {
          set.add(node);
          continue;
        }
        const p = this.graph.points.get(node)!;
        const along = distToSegment(p, a, b);
        if (dist(p, b) < reach || (along < reach && along < dist(p, a) - 1e-9)) set.add(node);
      }
      edge.blocking.set(reach, set);
      nodes = set;
    }
    return nodes;
  }

  /** The nodes whose robots can keep a robot from driving `from → to` (`to` itself among them). */
  nodesNearEdge(from: string, to: string): readonly string[] {
    return this.edge(from, to).near;
  }

  private edge(from: string, to: string): NearEdge {
    let fromHere = this.nearEdge.get(from);
    if (!fromHere) this.nearEdge.set(from, (fromHere = new Map()));
    let edge = fromHere.get(to);
    if (!edge) {
      const a = this.graph.points.get(from)!;
      const b = this.graph.points.get(to)!;
      const grid = gridOf(this.graph);
      const near = grid
        .inGraphOrder(grid.within(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1]), this.maxReach))
        .filter((id) => id === to || distToSegment(this.graph.points.get(id)!, a, b) < this.maxReach);
      edge = { near, blocking: new Map() };
      fromHere.set(to, edge);
    }
    return edge;
  }

  /**
   * The robots occupying a node near `p` (lowest id first): every robot whose footprint, standing
   * on a node it occupies, could meet that of a robot of `radius` at `p` (and perhaps some more).
   */
  robotsNear(p: Point, radius: number): TrafficRobot[] {
    const out = new Set<TrafficRobot>();
    const reach = radius + this.maxReach / 2 + TRAFFIC_CLEARANCE / 2;
    for (const node of gridOf(this.graph).within(p[0], p[1], p[0], p[1], reach)) for (const r of this.occupants.get(node) ?? []) out.add(r);
    return [...out].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Nodes whose footprint would meet a robot of `radius` standing elsewhere: what a detour avoids. */
  nodesNear(robot: TrafficRobot): Set<string> {
    const out = new Set<string>();
    for (const other of this.robots.values()) {
      if (other.id === robot.id) continue;
      const reach = robot.radius + other.radius + TRAFFIC_CLEARANCE;
      for (const node of other.occupied) {
        const p = this.graph.points.get(node)!;
        for (const id of gridOf(this.graph).within(p[0], p[1], p[0], p[1], reach)) if (dist(p, this.graph.points.get(id)!) < reach) out.add(id);
      }
    }
    return out;
  }
}

/**
 * The graph's nodes in square cells, so the nodes near a point or an edge are found among the
 * few cells around it rather than by a scan of the whole graph (the cost of a check would grow
 * with the size of the hall). A graph does not change once built: one grid per graph.
 */
class NodeGrid {
  private static readonly CELL_M = 2;
  private readonly cells = new Map<string, string[]>();
  /** Each node's place in the graph's own order: answers come in that order, as a scan would give them. */
  private readonly rank = new Map<string, number>();

  constructor(points: ReadonlyMap<string, Point>) {
    for (const [id, p] of points) {
      this.rank.set(id, this.rank.size);
      const key = NodeGrid.key(NodeGrid.cell(p[0]), NodeGrid.cell(p[1]));
      const list = this.cells.get(key);
      if (list) list.push(id);
      else this.cells.set(key, [id]);
    }
  }

  private static cell(x: number): number {
    return Math.floor(x / NodeGrid.CELL_M);
  }

  private static key(i: number, j: number): string {
    return `${i},${j}`;
  }

  /** Every node in the box [x0, x1] × [y0, y1] grown by `margin` (and some just outside it), in no order. */
  within(x0: number, y0: number, x1: number, y1: number, margin: number): string[] {
    const out: string[] = [];
    const i1 = NodeGrid.cell(x1 + margin);
    const j1 = NodeGrid.cell(y1 + margin);
    for (let i = NodeGrid.cell(x0 - margin); i <= i1; i++) {
      for (let j = NodeGrid.cell(y0 - margin); j <= j1; j++) {
        const list = this.cells.get(NodeGrid.key(i, j));
        if (list) out.push(...list);
      }
    }
    return out;
  }

  /** `ids` in the graph's own order, as a scan of the graph would give them. */
  inGraphOrder(ids: string[]): string[] {
    return ids.sort((a, b) => this.rank.get(a)! - this.rank.get(b)!);
  }
}

/**
 * Per graph and reach, the edges' near nodes and blocking sets: geometry alone, the same for
 * every check of a site, so worked out once.
 */
type NearEdges = Map<string, Map<string, NearEdge>>;
const nearEdges = new WeakMap<NavGraph, Map<number, NearEdges>>();
function nearEdgesOf(graph: NavGraph, reach: number): NearEdges {
  let byReach = nearEdges.get(graph);
  if (!byReach) nearEdges.set(graph, (byReach = new Map()));
  let edges = byReach.get(reach);
  if (!edges) byReach.set(reach, (edges = new Map()));
  return edges;
}

const grids = new WeakMap<NavGraph, NodeGrid>();
function gridOf(graph: NavGraph): NodeGrid {
  let grid = grids.get(graph);
  if (!grid) grids.set(graph, (grid = new NodeGrid(graph.points)));
  return grid;
}

function dist(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

function distToSegment(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2));
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}
