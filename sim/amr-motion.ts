// Where an AMR is at any moment of a run along nav-graph nodes, timed by the planners' motion
// profile (turns in place at corners, trapezoidal speed on straight runs). Within an edge the
// position is interpolated linearly between the profile's node times: the same arrival times as
// the plan check, without re-deriving the speed curve.
import type { MotionLimits } from '../planners/motion.ts';
import { profileAlong, type NavGraph, type Route } from '../planners/route.ts';

export interface RunPose {
  x: number;
  y: number;
  theta: number;
  /** m/s along the heading. */
  speed: number;
  /** rad/s, turning in place. */
  omega: number;
}

export interface MotionRun {
  nodes: readonly string[];
  route: Route;
  points: readonly (readonly [number, number])[];
  /** Heading of each edge (node k to k+1). */
  edgeHeadings: readonly number[];
  startTheta: number;
  endTheta: number | undefined;
}

/** The shortest signed turn from `from` to `to`. */
export function angleDiff(from: number, to: number): number {
  return Math.atan2(Math.sin(to - from), Math.cos(to - from));
}

export function planRun(graph: NavGraph, nodes: readonly string[], limits: MotionLimits, startTheta: number, endTheta?: number): MotionRun | undefined {
  const route = profileAlong(graph, nodes, limits, { start: startTheta, ...(endTheta === undefined ? {} : { end: endTheta }) });
  if (!route) return undefined;
  const points = nodes.map((n) => graph.points.get(n)!);
  const edgeHeadings = points.slice(1).map((b, k) => Math.atan2(b[1] - points[k]![1], b[0] - points[k]![0]));
  return { nodes, route, points, edgeHeadings, startTheta, endTheta };
}

/** Seconds from the start of the run until node k is reached (the last one: after its final turn). */
export function reachedS(run: MotionRun, k: number): number {
  const last = run.nodes.length - 1;
  const times = run.route.times[Math.min(k, last)]!;
  return k >= last ? times.departS : times.arriveS;
}

/** Seconds after the start until the AMR leaves node k (after any turn in place there). */
export function departsS(run: MotionRun, k: number): number {
  return run.route.times[k]!.departS;
}

export function poseAt(run: MotionRun, tS: number): RunPose {
  const { times } = run.route;
  const last = run.nodes.length - 1;
  const t = Math.max(0, Math.min(tS, reachedS(run, last)));
  for (let k = 0; k <= last; k++) {
    const { arriveS, departS } = times[k]!;
    if (t > departS && k < last) continue;
    const [x, y] = run.points[k]!;
    if (t >= arriveS || k === 0) {
      // Standing on node k, turning from the heading it came with to the one it leaves with.
      const from = k === 0 ? run.startTheta : run.edgeHeadings[k - 1]!;
      const to = k === last ? (run.endTheta ?? from) : run.edgeHeadings[k]!;
      const span = departS - arriveS;
      const turn = angleDiff(from, to);
      const f = span > 1e-9 ? Math.min(1, Math.max(0, (t - arriveS) / span)) : 1;
      return { x, y, theta: from + turn * f, speed: 0, omega: span > 1e-9 && f < 1 ? turn / span : 0 };
    }
    // On the edge from node k-1 to node k.
    const [x0, y0] = run.points[k - 1]!;
    const leftS = times[k - 1]!.departS;
    const span = arriveS - leftS;
    const f = span > 1e-9 ? (t - leftS) / span : 1;
    return {
      x: x0 + (x - x0) * f,
      y: y0 + (y - y0) * f,
      theta: run.edgeHeadings[k - 1]!,
      speed: span > 1e-9 ? Math.hypot(x - x0, y - y0) / span : 0,
      omega: 0,
    };
  }
  const [x, y] = run.points[last]!;
  return { x, y, theta: run.endTheta ?? run.edgeHeadings[last - 1] ?? run.startTheta, speed: 0, omega: 0 };
}

/**
 * Where on its run an AMR standing at `pose` is, when that is on the run's first edge short of its
 * end: the run's time at that point (the edge is timed as a whole, the position interpolated
 * linearly, as `poseAt` does). 0 when it stands on the first node (within `toleranceM`) or off the
 * edge. A run resumed after a STOP between two nodes starts at the edge's first node (the order
 * says so, with a deviation that covers the AMR): started at 0 it would jump back there.
 */
export function startOnFirstEdgeS(run: MotionRun, pose: { x: number; y: number }, toleranceM: number): number {
  if (run.nodes.length < 2) return 0;
  const [x0, y0] = run.points[0]!;
  const [x1, y1] = run.points[1]!;
  const dx = x1 - x0;
  const dy = y1 - y0;
  const length = Math.hypot(dx, dy);
  if (length <= toleranceM || Math.hypot(pose.x - x0, pose.y - y0) <= toleranceM) return 0;
  const along = ((pose.x - x0) * dx + (pose.y - y0) * dy) / length;
  const across = Math.abs((pose.x - x0) * dy - (pose.y - y0) * dx) / length;
  if (across > toleranceM || along <= 0 || along >= length) return 0;
  const leftS = departsS(run, 0);
  return leftS + (along / length) * (reachedS(run, 1) - leftS);
}
