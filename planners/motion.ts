// Motion timing for a differential-drive robot: it turns in place at corners and drives each
// straight run with a trapezoidal velocity profile, under the speed limit of each stretch.

export interface MotionLimits {
  maxSpeed: number;
  maxAccel: number;
  maxDecel: number;
  maxTurnRate: number;
  /**
   * How much longer every drive and turn takes than this profile (≥ 1; default 1): a robot driven
   * by a learned policy is timed by its certificate's (sim/policy-gate.ts).
   */
  timeScale?: number;
}

/** A straight stretch with one speed limit. Consecutive pieces of one run are collinear. */
export interface Piece {
  lengthM: number;
  maxSpeed: number;
}

/**
 * Time to drive `length` from speed v0 to speed v1 with cruise speed at most `vmax`,
 * accelerating at `a` and braking at `d`. Assumes v0, v1 ≤ vmax and that v1 is reachable
 * (the caller's forward/backward passes guarantee both).
 */
export function pieceTime(length: number, v0: number, v1: number, vmax: number, a: number, d: number): number {
  if (length <= 0) return 0;
  const accelDist = (vmax * vmax - v0 * v0) / (2 * a);
  const decelDist = (vmax * vmax - v1 * v1) / (2 * d);
  if (accelDist + decelDist <= length) {
    return (vmax - v0) / a + (vmax - v1) / d + (length - accelDist - decelDist) / vmax;
  }
  // No room to reach vmax: a triangular profile peaking at vp.
  const vp = Math.sqrt((2 * a * d * length + d * v0 * v0 + a * v1 * v1) / (a + d));
  return Math.max(0, (vp - v0) / a) + Math.max(0, (vp - v1) / d);
}

/** Time for a run that starts and ends at rest, through pieces with their own speed limits. */
export function runTime(pieces: readonly Piece[], limits: MotionLimits): number {
  const p = runProfile(pieces, limits);
  return p.boundaryS[p.boundaryS.length - 1]!;
}

export interface RunProfile {
  /** Time from the start of the run at each piece boundary: [0, end of piece 0, …, end of the run]. */
  boundaryS: number[];
  /** Σ ½(v_peak² − v_start²) over the pieces: the kinetic energy put in per kilogram (braking is not recovered). */
  speedUpJPerKg: number;
}

/** The run's trapezoidal profile: when each piece boundary is passed, and how much accelerating it takes. */
export function runProfile(pieces: readonly Piece[], limits: MotionLimits): RunProfile {
  const n = pieces.length;
  const boundaryS = [0];
  if (n === 0) return { boundaryS, speedUpJPerKg: 0 };
  const caps = pieces.map((p) => Math.min(p.maxSpeed, limits.maxSpeed));
  // Speed at each boundary: at most the lower limit of the two pieces it joins, zero at both ends.
  const v = new Array<number>(n + 1).fill(0);
  for (let i = 1; i < n; i++) v[i] = Math.min(caps[i - 1]!, caps[i]!);
  for (let i = 0; i < n; i++) v[i + 1] = Math.min(v[i + 1]!, Math.sqrt(v[i]! ** 2 + 2 * limits.maxAccel * pieces[i]!.lengthM));
  for (let i = n - 1; i >= 0; i--) v[i] = Math.min(v[i]!, Math.sqrt(v[i + 1]! ** 2 + 2 * limits.maxDecel * pieces[i]!.lengthM));
  let t = 0;
  let speedUp = 0;
  for (let i = 0; i < n; i++) {
    const { lengthM } = pieces[i]!;
    const [v0, v1, vmax, a, d] = [v[i]!, v[i + 1]!, caps[i]!, limits.maxAccel, limits.maxDecel];
    t += pieceTime(lengthM, v0, v1, vmax, a, d);
    boundaryS.push(t);
    speedUp += 0.5 * (peakSpeed(lengthM, v0, v1, vmax, a, d) ** 2 - v0 * v0);
  }
  return { boundaryS, speedUpJPerKg: speedUp };
}

/** The highest speed reached on a piece (vmax, or the top of a triangular profile). */
function peakSpeed(length: number, v0: number, v1: number, vmax: number, a: number, d: number): number {
  if (length <= 0) return Math.max(v0, v1);
  const accelDist = (vmax * vmax - v0 * v0) / (2 * a);
  const decelDist = (vmax * vmax - v1 * v1) / (2 * d);
  if (accelDist + decelDist <= length) return vmax;
  return Math.min(vmax, Math.sqrt((2 * a * d * length + d * v0 * v0 + a * v1 * v1) / (a + d)));
}

/** Smallest angle between two headings, in [0, π]. */
export function turnAngle(from: number, to: number): number {
  const d = Math.abs(((to - from) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
  return d > Math.PI ? 2 * Math.PI - d : d;
}

export function turnTime(from: number, to: number, limits: MotionLimits): number {
  return turnAngle(from, to) / limits.maxTurnRate;
}
