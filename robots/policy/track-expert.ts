// The teacher of the amr.track policy, and the perturbed episodes both training and verification
// roll out. The teacher is a plain tracking controller on the contract's observation (so what it
// does, the network can learn from the same numbers): steer toward the path with a heading term and
// a cross-track term, turn in place when the heading is far off, and drive a speed profile that
// brakes to a stand at the segment's end, under the speed limit.
import { wrapAngle, type AmrLimits, type AmrState } from './kinematics.ts';
import type { PathPose } from './amr-track.ts';

/** Deceleration the teacher's profile assumes, m/s²: below that of the slowest robot it is taught on. */
const PROFILE_DECEL = 0.4;
const HEADING_GAIN = 2;
const CROSS_TRACK_GAIN = 1.5;
/** Heading error (rad) from which the robot turns in place. */
const TURN_IN_PLACE = 0.6;
const REVERSE_SPEED = 0.2;

/** The teacher's [v, ω] for an amr.track observation (its 8 values, in physical units). */
export function expertAction(obs: ArrayLike<number>): [number, number] {
  const e = obs[0]!;
  const h = obs[1]!;
  const tx = obs[2]!;
  const d = obs[4]!;
  const limit = obs[7]!;
  // The cross-track term fades out on the last few centimetres and on a turn in place, where the
  // robot can only fix its heading.
  const fade = Math.min(1, Math.max(0, Math.abs(tx) / 0.3));
  const aim = wrapAngle(h - Math.atan(CROSS_TRACK_GAIN * e) * fade);
  const omega = Math.max(-1, Math.min(1, HEADING_GAIN * aim));
  const along = Math.max(0, 1 - Math.abs(aim) / TURN_IN_PLACE);
  let v: number;
  if (tx >= 0) v = Math.min(limit, Math.sqrt(2 * PROFILE_DECEL * Math.min(Math.max(d, 0), tx)));
  else v = Math.max(-REVERSE_SPEED, 1.5 * tx);
  return [v * along, omega];
}

/** A seeded uniform [0, 1) generator (mulberry32): the same seed gives the same episodes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box–Muller). */
export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** What makes a roll-out harder than the nominal one. */
export interface Perturbation {
  /** The start pose off the path's first pose: along it, to its left (m), and turned (rad). */
  startAlong: number;
  startLeft: number;
  startTurn: number;
  /** Standard deviation of the noise on each observation, in its unit. */
  noise: number;
  /** The command takes effect one tick late. */
  latency: boolean;
  /** The robot's limits are this fraction of the device's (a slower robot than described). */
  slower: number;
}

export const NOMINAL: Perturbation = { startAlong: 0, startLeft: 0, startTurn: 0, noise: 0, latency: false, slower: 1 };

/** Noise on the observation: the same σ on every value, in its own unit. */
export function noisy(obs: Float64Array, sigma: number, random: () => number): Float64Array {
  if (sigma === 0) return obs;
  return obs.map((x) => x + sigma * gaussian(random));
}

export function slowerLimits(limits: AmrLimits, factor: number): AmrLimits {
  return { maxSpeed: limits.maxSpeed * factor, maxAccel: limits.maxAccel * factor, maxDecel: limits.maxDecel * factor, maxTurnRate: limits.maxTurnRate * factor };
}

/** The robot at rest at the path's first pose, moved by the perturbation. */
export function startState(path: readonly PathPose[], p: Perturbation): AmrState {
  const a = path[0]!;
  const b = path[1]!;
  const len = Math.hypot(b.x - a.x, b.y - a.y);
  const heading = len > 1e-9 ? Math.atan2(b.y - a.y, b.x - a.x) : a.theta;
  const c = Math.cos(heading);
  const s = Math.sin(heading);
  return { x: a.x + c * p.startAlong - s * p.startLeft, y: a.y + s * p.startAlong + c * p.startLeft, theta: wrapAngle(heading + p.startTurn), v: 0, omega: 0 };
}

/** How far the robot is from the path's last pose: metres, and radians from its heading. */
export function poseError(path: readonly PathPose[], s: AmrState): { position: number; heading: number } {
  const end = path[path.length - 1]!;
  return { position: Math.hypot(s.x - end.x, s.y - end.y), heading: Math.abs(wrapAngle(end.theta - s.theta)) };
}

/** Arrived: within these of the last pose, and standing. */
export const ARRIVED = { position: 0.05, heading: 0.05, speed: 0.02 };

export function arrived(path: readonly PathPose[], s: AmrState): boolean {
  const err = poseError(path, s);
  return err.position <= ARRIVED.position && err.heading <= ARRIVED.heading && Math.abs(s.v) <= ARRIVED.speed;
}
