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
  /** Nodes it occupies now: one when standing, two while driving an edge. */
  occupied: Set<string>;
}

export class Traffic {
  private readonly robots = new Map<string, TrafficRobot>();
  /** The robots by id, for a fixed order of questions and answers. */
  private ordered: TrafficRobot[] = [];

  constructor(private readonly graph: NavGraph) {}

  add(robot: TrafficRobot): void {
    this.robots.set(robot.id, robot);
    this.ordered = [...this.robots.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
   */
  blocker(robot: TrafficRobot, from: string, to: string): string | undefined {
    const a = this.graph.points.get(from)!;
    const b = this.graph.points.get(to)!;
    for (const other of this.ordered) {
      const id = other.id;
      if (id === robot.id) continue;
      const reach = robot.radius + other.radius + TRAFFIC_CLEARANCE;
      for (const node of other.occupied) {
        if (node === to) return id;
        const p = this.graph.points.get(node)!;
        if (dist(p, b) < reach) return id;
        const along = distToSegment(p, a, b);
        if (along < reach && along < dist(p, a) - 1e-9) return id;
      }
    }
    return undefined;
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
