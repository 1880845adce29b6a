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
  private readonly nearEdge = new Map<string, NearEdge>();

  constructor(private readonly graph: NavGraph) {}

  add(robot: TrafficRobot): void {
    this.robots.set(robot.id, robot);
    this.ordered = [...this.robots.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const node of robot.occupied) this.index(robot, node);
    const reach = 2 * robot.radius + TRAFFIC_CLEARANCE;
    if (reach > this.maxReach) {
      this.maxReach = reach;
      this.nearEdge.clear();
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
    const key = `${from}\0${to}`;
    let edge = this.nearEdge.get(key);
    if (!edge) {
      const a = this.graph.points.get(from)!;
      const b = this.graph.points.get(to)!;
      const near: string[] = [];
      for (const [id, q] of this.graph.points) if (id === to || distToSegment(q, a, b) < this.maxReach) near.push(id);
      edge = { near, blocking: new Map() };
      this.nearEdge.set(key, edge);
    }
    return edge;
  }

  /** Nodes whose footprint would meet a robot of `radius` standing elsewhere: what a detour avoids. */
  nodesNear(robot: TrafficRobot): Set<string> {
    const out = new Set<string>();
    for (const other of this.robots.values()) {
      if (other.id === robot.id) continue;
      const reach = robot.radius + other.radius + TRAFFIC_CLEARANCE;
      for (const node of other.occupied) {
        const p = this.graph.points.get(node)!;
        for (const [id, q] of this.graph.points) if (dist(p, q) < reach) out.add(id);
      }
    }
    return out;
  }
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
