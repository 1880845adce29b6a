// A 2D collision world on Rapier: the world's obstacles as fixed colliders, asked whether a
// robot-sized box at a pose, or driven along a straight line, touches any of them.
import RAPIER from '@dimforge/rapier2d-deterministic-compat';
import type { Obstacle } from './sdf.ts';

export interface Footprint {
  /** Along the robot's heading, metres. */
  length: number;
  width: number;
}

export interface Point2 {
  x: number;
  y: number;
}

export interface CollisionWorldOptions {
  /** Obstacles whose underside is at or above this height (metres) are driven under. Default 1.8. */
  robotHeight?: number;
}

export interface CollisionWorld {
  /** The obstacles that count for driving (low enough to be hit, above the floor). */
  readonly obstacles: readonly Obstacle[];
  /** Model names of the obstacles a footprint (grown by `margin` on every side) at this pose overlaps. */
  footprintHits(x: number, y: number, yaw: number, footprint: Footprint, margin?: number): string[];
  /**
   * Model names of the obstacles the footprint touches while driven straight from `from` to
   * `to`, heading along the segment (both end poses included). A zero-length segment is the
   * footprint at `from`, heading 0.
   */
  sweepHits(from: Point2, to: Point2, footprint: Footprint, margin?: number): string[];
  /** Model names of the obstacles a disc of this radius overlaps (a robot turning in place). */
  circleHits(x: number, y: number, radius: number): string[];
  /** Releases the WASM memory; the world cannot be used afterwards. */
  free(): void;
}

export const DEFAULT_ROBOT_HEIGHT = 1.8;

/** The walls a policy shield reads, in the inference worker (robots/policy/runtime.ts `WorkerShields.walls`). */
export function createWalls(obstacles: readonly Obstacle[]): Promise<CollisionWorld> {
  return createCollisionWorld(obstacles);
}

let ready: Promise<void> | undefined;

/** Rapier's WASM module is instantiated once per process. */
function initRapier(): Promise<void> {
  ready ??= RAPIER.init();
  return ready;
}

export async function createCollisionWorld(obstacles: readonly Obstacle[], opts: CollisionWorldOptions = {}): Promise<CollisionWorld> {
  await initRapier();
  const robotHeight = opts.robotHeight ?? DEFAULT_ROBOT_HEIGHT;
  // Under the robot's top and above the floor: a ground slab whose top is at z = 0 is not a wall.
  const counted = obstacles.filter((o) => o.zMin < robotHeight && o.zMax > 0);
  const world = new RAPIER.World({ x: 0, y: 0 });
  const names = new Map<number, string>();
  for (const o of counted) {
    const desc = o.shape.kind === 'box' ? RAPIER.ColliderDesc.cuboid(o.shape.hx, o.shape.hy) : RAPIER.ColliderDesc.ball(o.shape.r);
    desc
      .setTranslation(o.x, o.y)
      .setRotation(o.yaw)
      // Fixed colliders only meet other fixed or kinematic ones (robots driven by the simulator)
      // in contact events when every pair type is active.
      .setActiveCollisionTypes(RAPIER.ActiveCollisionTypes.ALL);
    names.set(world.createCollider(desc).handle, o.model);
  }
  // One step puts the new colliders into the broad phase that scene queries read.
  world.step();
  let freed = false;

  const hits = (x: number, y: number, yaw: number, shape: RAPIER.Shape): string[] => {
    if (freed) throw new Error('collision world already freed');
    const found = new Set<string>();
    world.intersectionsWithShape({ x, y }, yaw, shape, (collider) => {
      found.add(names.get(collider.handle)!);
      return true;
    });
    return [...found].sort();
  };

  const footprintHits = (x: number, y: number, yaw: number, footprint: Footprint, margin = 0): string[] =>
    hits(x, y, yaw, new RAPIER.Cuboid(footprint.length / 2 + margin, footprint.width / 2 + margin));

  const sweepHits = (from: Point2, to: Point2, footprint: Footprint, margin = 0): string[] => {
    const dx = to.x - from.x;
    const dy = to.y - from.y;
    const lengthM = Math.hypot(dx, dy);
    if (lengthM <= 1e-9) return footprintHits(from.x, from.y, 0, footprint, margin);
    const heading = Math.atan2(dy, dx);
    // The area a box sweeps under pure translation is exactly the convex hull of the box at
    // both ends; heading along the segment, that hull is a longer box. So one exact query finds
    // every obstacle on the way: a shape cast would stop at the first, sampling poses costs
    // one query per sample.
    const hull = new RAPIER.Cuboid((lengthM + footprint.length) / 2 + margin, footprint.width / 2 + margin);
    return hits(from.x + dx / 2, from.y + dy / 2, heading, hull);
  };

  return {
    obstacles: counted,
    footprintHits,
    circleHits: (x, y, radius) => hits(x, y, 0, new RAPIER.Ball(radius)),
    sweepHits,
    free() {
      if (freed) return;
      freed = true;
      world.free();
    },
  };
}
