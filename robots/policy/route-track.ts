// How a policy-driven AMR follows a route of nav-graph nodes: one edge at a time, each edge a path
// of two poses for `amr.track`; an intermediate node counts as reached within a tolerance of it
// (the robot goes on to the next edge without stopping there), the last one once the robot also
// faces the route's end heading (a turn in place, as a path of zero length). The virtual fleet's
// policy-driven AMR and `phygate policy verify`'s route roll-outs follow routes by this rule, so
// the timing a certificate states is the timing of the same driving.
import type { PathPose } from './amr-track.ts';
import { wrapAngle, type AmrState } from './kinematics.ts';

/** How close (rad) a policy-driven AMR must turn to a route's end heading. */
export const POLICY_HEADING_TOLERANCE_RAD = 0.05;

/** What a step of the robot did to the route: still on the way, an intermediate node passed, or the end reached. */
export type RouteProgress = 'driving' | 'node' | 'end';

export class RouteTrack {
  /** The path the policy is given now: the edge ahead, or the turn in place at the end. */
  path: PathPose[];
  /** The segment of `path` the robot is on (pass to trackObservation and keep what it returns). */
  segment = 0;
  /** Edge being driven: node `index` is behind, `index + 1` ahead. */
  index = 0;
  /** Turning in place on the last node to the end heading. */
  turning = false;

  constructor(
    private readonly points: readonly (readonly [number, number])[],
    /** The heading the route must end with; undefined: any. */
    private readonly endTheta: number | undefined,
    /** How near (m) a node's point counts as reached. */
    private readonly toleranceM: number,
    /** The robot's heading now: a first edge of zero length keeps it. */
    theta: number,
  ) {
    if (points.length < 2) throw new Error('a route to follow has two nodes at least');
    this.path = this.edgePath(theta);
  }

  /** Where the robot is after a step: moves to the next edge when it reached the node ahead. */
  advance(s: AmrState): RouteProgress {
    if (this.turning) return Math.abs(wrapAngle(this.path[1]!.theta - s.theta)) <= POLICY_HEADING_TOLERANCE_RAD ? 'end' : 'driving';
    const [x, y] = this.points[this.index + 1]!;
    if (Math.hypot(x - s.x, y - s.y) > this.toleranceM) return 'driving';
    if (this.index + 1 < this.points.length - 1) {
      this.index++;
      this.path = this.edgePath(s.theta);
      this.segment = 0;
      return 'node';
    }
    if (this.endTheta === undefined || Math.abs(wrapAngle(this.endTheta - s.theta)) <= POLICY_HEADING_TOLERANCE_RAD) return 'end';
    this.path = [
      { x, y, theta: this.endTheta },
      { x, y, theta: this.endTheta },
    ];
    this.segment = 0;
    this.turning = true;
    return 'driving';
  }

  /** The edge from node `index` to `index + 1`; one of zero length is a turn to where the robot faces. */
  private edgePath(theta: number): PathPose[] {
    const [ax, ay] = this.points[this.index]!;
    const [bx, by] = this.points[this.index + 1]!;
    const length = Math.hypot(bx - ax, by - ay);
    const heading = length > 1e-9 ? Math.atan2(by - ay, bx - ax) : theta;
    return [
      { x: ax, y: ay, theta: heading },
      { x: bx, y: by, theta: heading },
    ];
  }
}
