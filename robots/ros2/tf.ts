// A robot's map pose from TF: the latest transform of every frame to its parent, as tf2_msgs/msg/TFMessage
// brings them on `tf` and `tf_static`, and the pose of the robot's base frame in its map frame
// composed from them. On a Nav2 robot the chain is map → odom (the localizer, AMCL or another) →
// base_footprint / base_link (odometry) → …; any chain of parents works, up or down the tree.
//
// Only the latest transform of each frame is kept: the fleet wants where the robot is now, not at
// a moment in the past, so there is nothing to interpolate. Transforms are full 3D (a static one
// may tilt a frame); the pose is read off the result as x, y and the heading about z.
import type { Pose } from '../../planners/fleet.ts';
import { quaternionToYaw, type Quaternion } from './poses.ts';

export interface Vector3 {
  x: number;
  y: number;
  z: number;
}

/** A frame's pose in another: rotate by `rotation` (a unit quaternion), then move by `translation`. */
export interface Transform {
  translation: Vector3;
  rotation: Quaternion;
}

export const IDENTITY_TRANSFORM: Transform = { translation: { x: 0, y: 0, z: 0 }, rotation: { x: 0, y: 0, z: 0, w: 1 } };

/** The Hamilton product a·b: rotating by b, then by a. */
export function multiplyQuaternions(a: Quaternion, b: Quaternion): Quaternion {
  return {
    w: a.w * b.w - a.x * b.x - a.y * b.y - a.z * b.z,
    x: a.w * b.x + a.x * b.w + a.y * b.z - a.z * b.y,
    y: a.w * b.y - a.x * b.z + a.y * b.w + a.z * b.x,
    z: a.w * b.z + a.x * b.y - a.y * b.x + a.z * b.w,
  };
}

/** `v` rotated by the unit quaternion `q`. */
export function rotate(q: Quaternion, v: Vector3): Vector3 {
  // v + 2w(u×v) + 2u×(u×v), with u the vector part of q.
  const tx = 2 * (q.y * v.z - q.z * v.y);
  const ty = 2 * (q.z * v.x - q.x * v.z);
  const tz = 2 * (q.x * v.y - q.y * v.x);
  return {
    x: v.x + q.w * tx + (q.y * tz - q.z * ty),
    y: v.y + q.w * ty + (q.z * tx - q.x * tz),
    z: v.z + q.w * tz + (q.x * ty - q.y * tx),
  };
}

/** `a` after `b`: with b the pose of frame C in B and a that of B in A, the pose of C in A. */
export function compose(a: Transform, b: Transform): Transform {
  const moved = rotate(a.rotation, b.translation);
  return {
    translation: { x: a.translation.x + moved.x, y: a.translation.y + moved.y, z: a.translation.z + moved.z },
    rotation: multiplyQuaternions(a.rotation, b.rotation),
  };
}

/** The pose of A in B, from that of B in A. */
export function invert(t: Transform): Transform {
  const r = { x: -t.rotation.x, y: -t.rotation.y, z: -t.rotation.z, w: t.rotation.w };
  const p = rotate(r, t.translation);
  return { translation: { x: -p.x, y: -p.y, z: -p.z }, rotation: r };
}

/** The planar pose (x, y, heading about z) of a transform. */
export function planarPose(t: Transform): Pose {
  return { x: t.translation.x, y: t.translation.y, theta: quaternionToYaw(t.rotation) };
}

/** A frame id as tf2 compares them: without the leading slash ROS 1 allowed. */
export function frameId(name: string): string {
  return name.startsWith('/') ? name.slice(1) : name;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The transforms of a tf2_msgs/msg/TFMessage, each as the pose of `child` in `parent`, with the
 * rotation normalised. Malformed entries (no frames, a value that is not finite, a zero
 * quaternion) are left out.
 */
export function readTransforms(message: any): { parent: string; child: string; transform: Transform }[] {
  const list: unknown = message?.transforms;
  if (!Array.isArray(list)) return [];
  const out: { parent: string; child: string; transform: Transform }[] = [];
  for (const m of list as any[]) {
    const parent = m?.header?.frame_id;
    const child = m?.child_frame_id;
    const p = m?.transform?.translation;
    const q = m?.transform?.rotation;
    if (typeof parent !== 'string' || typeof child !== 'string' || parent === '' || child === '') continue;
    if (![p?.x, p?.y, p?.z, q?.x, q?.y, q?.z, q?.w].every(finite)) continue;
    const n = Math.hypot(q.x, q.y, q.z, q.w);
    if (!(n > 1e-9)) continue;
    out.push({
      parent: frameId(parent),
      child: frameId(child),
      transform: { translation: { x: p.x, y: p.y, z: p.z }, rotation: { x: q.x / n, y: q.y / n, z: q.z / n, w: q.w / n } },
    });
  }
  return out;
}

/** The latest transform of each frame to its parent, and lookups along the tree. */
export class TfTree {
  private readonly links = new Map<string, { parent: string; transform: Transform }>();

  /** Takes the transforms of one TFMessage; returns the child frames it set. */
  update(message: unknown): string[] {
    const read = readTransforms(message);
    for (const { parent, child, transform } of read) {
      // A frame naming itself as its parent would make the tree a loop: ignored.
      if (parent !== child) this.links.set(child, { parent, transform });
    }
    return read.map((r) => r.child);
  }

  /** The frames from `frame` up to its root, `frame` first. Stops at a loop. */
  private ancestry(frame: string): string[] {
    const chain = [frame];
    const seen = new Set(chain);
    for (let f = this.links.get(frame)?.parent; f !== undefined && !seen.has(f); f = this.links.get(f)?.parent) {
      chain.push(f);
      seen.add(f);
    }
    return chain;
  }

  /** The pose of `frame` in the frame `ancestor` above it (identity for itself). */
  private upTo(frame: string, ancestor: string): Transform {
    let t = IDENTITY_TRANSFORM;
    for (let f = frame; f !== ancestor; ) {
      const link = this.links.get(f)!;
      t = compose(link.transform, t);
      f = link.parent;
    }
    return t;
  }

  /** The pose of `source` in `target`, through their nearest common ancestor; undefined when they are not connected (yet). */
  lookup(target: string, source: string): Transform | undefined {
    const t = frameId(target);
    const s = frameId(source);
    const above = new Set(this.ancestry(t));
    const common = this.ancestry(s).find((f) => above.has(f));
    if (common === undefined) return undefined;
    return compose(invert(this.upTo(t, common)), this.upTo(s, common));
  }

  /** Whether `frame` lies on the way between `target` and `source` (a change to it moves the one in the other). */
  onPath(target: string, source: string, frame: string): boolean {
    const f = frameId(frame);
    return this.ancestry(frameId(target)).includes(f) || this.ancestry(frameId(source)).includes(f);
  }
}
