// Motion timing: trapezoidal profiles on straight runs, turning in place at corners.
import t from 'tap';
import { pieceTime, runTime, turnAngle, turnTime, type MotionLimits } from '../planners/motion.ts';

const amr: MotionLimits = { maxSpeed: 1, maxAccel: 0.5, maxDecel: 0.5, maxTurnRate: 1 };

t.test('a long straight at 1 m/s: cruise time plus what accelerating and braking cost', async (t) => {
  // 2 s to reach 1 m/s over 1 m, 2 s to stop over 1 m, 18 m at cruise: 22 s.
  t.equal(runTime([{ lengthM: 20, maxSpeed: 1 }], amr), 22);
  t.ok(runTime([{ lengthM: 20, maxSpeed: 5 }], amr) >= 20, 'never faster than the robot allows');
});

t.test('a short hop never reaches cruise speed: a triangular profile', async (t) => {
  // 1 m with a = d = 0.5: peak sqrt(0.5) m/s after 0.5 m; 2·sqrt(0.5)/0.5 s.
  t.equal(round(runTime([{ lengthM: 1, maxSpeed: 1 }], amr)), round((2 * Math.sqrt(0.5)) / 0.5));
});

t.test('a slow stretch in the middle of a run slows only that stretch, with braking before it', async (t) => {
  const fast = runTime([{ lengthM: 30, maxSpeed: 1 }], amr);
  const withSlow = runTime(
    [
      { lengthM: 10, maxSpeed: 1 },
      { lengthM: 10, maxSpeed: 0.5 },
      { lengthM: 10, maxSpeed: 1 },
    ],
    amr,
  );
  // 10 m at 0.5 m/s instead of 1 m/s: +10 s; braking 1 → 0.5 m/s before it and speeding up
  // after it each take 1 s over 0.75 m instead of 0.75 s: +0.25 s twice.
  t.equal(round(withSlow - fast), 10.5);
});

t.test('pieceTime keeps its end speeds', async (t) => {
  t.equal(pieceTime(10, 1, 1, 1, 0.5, 0.5), 10, 'already cruising: distance over speed');
  t.equal(pieceTime(0, 0, 0, 1, 0.5, 0.5), 0);
});

t.test('turning in place takes the smaller way round', async (t) => {
  t.equal(round(turnAngle(0, Math.PI / 2)), round(Math.PI / 2));
  t.equal(round(turnAngle(-3, 3)), round(2 * Math.PI - 6), 'across ±π');
  t.equal(round(turnTime(0, Math.PI, amr)), round(Math.PI));
  t.equal(turnAngle(1, 1), 0);
});

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
