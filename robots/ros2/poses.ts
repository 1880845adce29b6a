// Site coordinates ↔ ROS poses. The site's x and y are metres and its headings radians, in the
// frame the ROS 2 block names (`map` by default): what Nav2 takes, without any transform.
import type { Pose } from '../../planners/fleet.ts';
import type { SiteIndex } from '../../planners/site.ts';
import { UnknownLocationError } from './errors.ts';

export interface Quaternion {
  x: number;
  y: number;
  z: number;
  w: number;
}

/** A rotation of `theta` about z. */
export function yawToQuaternion(theta: number): Quaternion {
  return { x: 0, y: 0, z: Math.sin(theta / 2), w: Math.cos(theta / 2) };
}

/** The heading (rotation about z, in (-π, π]) of any rotation, normalised or not. */
export function quaternionToYaw(q: Quaternion): number {
  return Math.atan2(2 * (q.w * q.z + q.x * q.y), q.w * q.w + q.x * q.x - q.y * q.y - q.z * q.z);
}

/**
 * Where a robot stands at a station (its node, with the station's heading) or on a node (heading
 * 0: a bare node has none). Throws UnknownLocationError for anything else.
 */
export function poseOf(site: SiteIndex, location: string): Pose {
  const node = site.locate(location);
  if (!node) throw new UnknownLocationError(location);
  return { x: node.x, y: node.y, theta: site.station(location)?.theta ?? 0 };
}

/**
 * The waypoints for driving a nav-graph route (node or station ids, starting where the robot is):
 * one pose per node after the first, each facing the way it was reached, the last one turned to
 * `finalTheta` when given (a station's heading, say). Sent as NavigateThroughPoses, Nav2 keeps to
 * the route the check planned.
 */
export function routePoses(site: SiteIndex, route: readonly string[], finalTheta?: number): Pose[] {
  const points = route.map((id) => {
    const n = site.locate(id);
    if (!n) throw new UnknownLocationError(id);
    return n;
  });
  const poses: Pose[] = [];
  for (let i = 1; i < points.length; i++) {
    const from = points[i - 1]!;
    const to = points[i]!;
    // A zero-length hop (a station on the node before it) keeps the heading it had.
    const theta = to.x === from.x && to.y === from.y ? (poses[poses.length - 1]?.theta ?? 0) : Math.atan2(to.y - from.y, to.x - from.x);
    poses.push({ x: to.x, y: to.y, theta });
  }
  if (finalTheta !== undefined && poses.length > 0) poses[poses.length - 1]!.theta = finalTheta;
  return poses;
}
