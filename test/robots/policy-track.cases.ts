// The amr.track observation (POLICY.md) for known poses along an L-shaped path.
import t, { type Test } from 'tap';
import { trackObservation, type PathPose } from '../../robots/policy/amr-track.ts';
import { stepAmr, wrapAngle, reachableSpeed } from '../../robots/policy/kinematics.ts';

const L: PathPose[] = [
  { x: 0, y: 0, theta: 0 },
  { x: 4, y: 0, theta: 0 },
  { x: 4, y: 3, theta: Math.PI / 2 },
];
const close = (t: Test, got: ArrayLike<number>, want: number[]) => t.ok(want.every((w, i) => Math.abs(got[i]! - w) < 1e-9), `[${Array.from(got).map((x) => x.toFixed(3))}] is [${want}]`);

t.test('on the first leg, left of it, heading along it', async (t) => {
  const o = trackObservation(L, { x: 1, y: 0.2, theta: 0, v: 0.5, omega: 0.1 }, 0.8);
  t.equal(o.segment, 0);
  // crossTrack, headingError, target (4, 0) seen from (1, 0.2) heading east, distance 3 + 3, v, ω, limit
  close(t, o.obs, [0.2, 0, 3, -0.2, 6, 0.5, 0.1, 0.8]);
});

t.test('on the second leg, right of it, turned 90° away from it', async (t) => {
  const o = trackObservation(L, { x: 4.5, y: 1, theta: 0, v: 0, omega: 0 }, 1.2);
  t.equal(o.segment, 1);
  // The leg heads north; the robot heads east, 0.5 m to its right.
  close(t, o.obs, [-0.5, Math.PI / 2, -0.5, 2, 2, 0, 0, 1.2]);
});

t.test('the segment never goes back to an earlier one', async (t) => {
  // Near the first leg, but already on the second.
  t.equal(trackObservation(L, { x: 3.5, y: 0.1, theta: 0, v: 0, omega: 0 }, 1, 1).segment, 1);
  t.equal(trackObservation(L, { x: 3.5, y: 0.1, theta: 0, v: 0, omega: 0 }, 1, 0).segment, 0);
  t.throws(() => trackObservation([L[0]!], { x: 0, y: 0, theta: 0, v: 0, omega: 0 }, 1), { message: 'a path to track has two poses at least' });
});

t.test('the motion model: limited speed changes, turn rate at once, angles wrapped', async (t) => {
  const limits = { maxSpeed: 1, maxAccel: 0.5, maxDecel: 2, maxTurnRate: 1 };
  t.equal(reachableSpeed(0, 1, limits, 0.1), 0.05);
  t.equal(reachableSpeed(1, 0, limits, 0.1), 0.8);
  t.equal(reachableSpeed(-0.5, -1, limits, 0.1), -0.55);
  const s = stepAmr({ x: 0, y: 0, theta: 0, v: 1, omega: 0 }, { v: 5, omega: -3 }, limits, 0.1);
  t.equal(s.v, 1);
  t.equal(s.omega, -1);
  t.ok(Math.abs(s.theta + 0.1) < 1e-12 && s.y < 0, 'turned right and went right');
  t.equal(wrapAngle(Math.PI), Math.PI);
  t.equal(wrapAngle(-Math.PI), Math.PI);
  t.ok(Math.abs(wrapAngle(3 * Math.PI / 2) + Math.PI / 2) < 1e-12);
});
