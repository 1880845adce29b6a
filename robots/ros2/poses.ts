// Site coordinates ↔ ROS poses. The site's x and y are metres and its headings radians; a robot's
// map frame (`map` by default, what Nav2 takes) may be placed differently: its `mapTransform` says
// where the site's origin and x axis lie in that map, and every pose crosses it, both ways.
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
 * A rigid planar transform: where the site's origin (`x`, `y`, metres) and x axis (`theta`,
 * radians) lie in a robot's map frame. Scale is left out on purpose: both are metres.
 */
export interface MapTransform {
  x: number;
  y: number;
  theta: number;
}

export const IDENTITY: MapTransform = { x: 0, y: 0, theta: 0 };

/** A heading in (-π, π]. */
export function normalizeAngle(theta: number): number {
  const a = Math.atan2(Math.sin(theta), Math.cos(theta));
  return a === -Math.PI ? Math.PI : a;
}

/** `t` applied to a pose: the pose `p` (in the frame `t` maps from) in the frame `t` maps to. */
export function applyTransform(t: MapTransform, p: Pose): Pose {
  const c = Math.cos(t.theta);
  const s = Math.sin(t.theta);
  return { x: t.x + c * p.x - s * p.y, y: t.y + s * p.x + c * p.y, theta: normalizeAngle(t.theta + p.theta) };
}

/** The transform that undoes `t`. */
export function invertTransform(t: MapTransform): MapTransform {
  const c = Math.cos(t.theta);
  const s = Math.sin(t.theta);
  return { x: -(c * t.x + s * t.y), y: s * t.x - c * t.y, theta: normalizeAngle(-t.theta) };
}

/** `a` after `b`: applying the result is applying `b`, then `a`. */
export function composeTransforms(a: MapTransform, b: MapTransform): MapTransform {
  return applyTransform(a, b);
}

/** A pose in site coordinates, in the robot's map frame (what a Nav2 goal carries). */
export function siteToMap(t: MapTransform, p: Pose): Pose {
  return applyTransform(t, p);
}

/** A pose in the robot's map frame (what it reports), in site coordinates. */
export function mapToSite(t: MapTransform, p: Pose): Pose {
  return applyTransform(invertTransform(t), p);
}

/**
 * The map transform from one robot placement seen both ways: where it stands in site coordinates
 * (a station's node and heading, say) and the map pose it reports there.
 */
export function transformFromPair(site: Pose, map: Pose): MapTransform {
  return composeTransforms(map, invertTransform(site));
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
