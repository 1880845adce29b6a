// The motion model a policy-driven AMR is simulated with and the shield predicts with: a
// unicycle whose speed moves toward the command within its acceleration and deceleration and
// whose turn rate follows the command at once, integrated per tick. The shield's look-ahead is
// only as good as this model is to the robot, which is why it keeps a margin around the footprint.

export interface AmrLimits {
  /** m/s */
  maxSpeed: number;
  /** m/s² */
  maxAccel: number;
  maxDecel: number;
  /** rad/s */
  maxTurnRate: number;
}

/** Pose in the site's frame (metres, radians) and the current speed and turn rate. */
export interface AmrState {
  x: number;
  y: number;
  theta: number;
  /** m/s, negative when reversing. */
  v: number;
  /** rad/s, positive turning left. */
  omega: number;
}

export interface MotionCommand {
  v: number;
  omega: number;
}

export const ZERO_COMMAND: Readonly<MotionCommand> = Object.freeze({ v: 0, omega: 0 });

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** The speed a robot at `v` reaches toward `target` in one tick: faster at most by maxAccel, slower at most by maxDecel. */
export function reachableSpeed(v: number, target: number, limits: AmrLimits, dt: number): number {
  const speedingUp = Math.abs(target) > Math.abs(v) && (v === 0 || Math.sign(target) === Math.sign(v));
  const rate = (speedingUp ? limits.maxAccel : limits.maxDecel) * dt;
  return clamp(target, v - rate, v + rate);
}

/** The state one tick of `dt` seconds on, under `command`. */
export function stepAmr(s: AmrState, command: MotionCommand, limits: AmrLimits, dt: number): AmrState {
  const v = reachableSpeed(s.v, clamp(command.v, -limits.maxSpeed, limits.maxSpeed), limits, dt);
  const omega = clamp(command.omega, -limits.maxTurnRate, limits.maxTurnRate);
  const mid = s.theta + (omega * dt) / 2;
  return { x: s.x + v * Math.cos(mid) * dt, y: s.y + v * Math.sin(mid) * dt, theta: wrapAngle(s.theta + omega * dt), v, omega };
}

/** An angle in (-π, π]. */
export function wrapAngle(a: number): number {
  const w = a - 2 * Math.PI * Math.floor((a + Math.PI) / (2 * Math.PI));
  return w === -Math.PI ? Math.PI : w;
}
