// The observation of `amr.track` (POLICY.md): where the robot is against the path it follows,
// in its own frame, and how it moves. The trainer, the virtual fleet and the edge build it here,
// so a policy sees the same numbers wherever it runs.
import { wrapAngle, type AmrState } from './kinematics.ts';

export interface PathPose {
  x: number;
  y: number;
  /** Heading wanted at this pose, radians: used on a segment of zero length (a turn in place). */
  theta: number;
}

export interface TrackObservation {
  /** The contract's 8 values, in order. */
  obs: Float64Array;
  /** The segment (index of its start pose) the robot is on: pass it back as `from` next tick. */
  segment: number;
}

/**
 * The observation of a robot following `path` (two poses at least). The robot is on the segment
 * nearest to it at or after `from`, so it never jumps back to an earlier part of a path that
 * passes near itself. `speedLimit` is the lowest of the device's, the edge's and the zone's.
 */
export function trackObservation(path: readonly PathPose[], s: AmrState, speedLimit: number, from = 0): TrackObservation {
  if (path.length < 2) throw new Error('a path to track has two poses at least');
  let best = Math.min(Math.max(0, from), path.length - 2);
  let bestD = Infinity;
  let bestT = 0;
  for (let i = best; i + 1 < path.length; i++) {
    const t = projection(path[i]!, path[i + 1]!, s);
    const px = path[i]!.x + (path[i + 1]!.x - path[i]!.x) * t;
    const py = path[i]!.y + (path[i + 1]!.y - path[i]!.y) * t;
    const d = Math.hypot(s.x - px, s.y - py);
    // Ties go to the later segment: at a corner the robot is already on the next one.
    if (d <= bestD + 1e-12) {
      best = i;
      bestD = d;
      bestT = t;
    }
  }
  const a = path[best]!;
  const b = path[best + 1]!;
  const len = Math.hypot(b.x - a.x, b.y - a.y);
  const heading = len > 1e-9 ? Math.atan2(b.y - a.y, b.x - a.x) : b.theta;
  const dirX = Math.cos(heading);
  const dirY = Math.sin(heading);
  const crossTrack = dirX * (s.y - a.y) - dirY * (s.x - a.x);
  const dx = b.x - s.x;
  const dy = b.y - s.y;
  const c = Math.cos(s.theta);
  const sn = Math.sin(s.theta);
  let remaining = len * (1 - bestT);
  for (let i = best + 1; i + 1 < path.length; i++) remaining += Math.hypot(path[i + 1]!.x - path[i]!.x, path[i + 1]!.y - path[i]!.y);
  const obs = Float64Array.of(crossTrack, wrapAngle(heading - s.theta), c * dx + sn * dy, -sn * dx + c * dy, remaining, s.v, s.omega, speedLimit);
  return { obs, segment: best };
}

/** Where along a→b (0..1) the point nearest to p is. */
function projection(a: PathPose, b: PathPose, p: { x: number; y: number }): number {
  const ex = b.x - a.x;
  const ey = b.y - a.y;
  const l2 = ex * ex + ey * ey;
  if (l2 < 1e-18) return 0;
  return Math.min(1, Math.max(0, ((p.x - a.x) * ex + (p.y - a.y) * ey) / l2));
}
