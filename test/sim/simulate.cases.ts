// The plan run in simulated time: traffic between robots, deadlocks, the energy model and
// timing sanity, each on a small site built to make it happen.
import t from 'tap';
import type { CheckReport, Issue } from '../../planners/report.ts';
import { checkSmall, CORRIDOR, CORRIDOR_WITH_BYPASS, CROSSROADS, LINE, type SmallSite } from './fixtures/small-site.ts';

const codes = (r: CheckReport) => r.issues.map((i) => i.code);
const stepOf = (r: CheckReport, id: string) => r.steps.find((s) => s.id === id)!;
const deviceOf = (r: CheckReport, id: string) => r.devices.find((d) => d.id === id)!;

t.test('a robot alone: 20 m at 1 m/s takes at least 20 s, plus speeding up, braking and no turns', async (t) => {
  const r = checkSmall(CROSSROADS, [{ id: 'b', action: 'navigate', device: 'amr-b', params: { to: 'n' } }]);
  t.equal(r.verdict, 'pass');
  const b = stepOf(r, 'b');
  t.same(b.route, ['s', 's1', 'c', 'n1', 'n']);
  // Trapezoid: 2 s to 1 m/s (1 m), 1.43 s to stop (0.71 m), 18.29 m cruising: 21.7 s. Parked
  // facing east (the station's heading), it turns a quarter to the north first and a quarter
  // back at the end, at 1 rad/s: +2 × 1.57 s.
  t.equal(b.endS, Math.round((2 + 1 / 0.7 + (20 - 1 - 0.5 / 0.7) / 1 + Math.PI) * 10) / 10);
  t.equal(deviceOf(r, 'amr-b').distanceM, 20);
});

t.test('ROBOT_CONFLICT: two robots reaching a crossroads together; one waits, and the report says who, where and how long', async (t) => {
  const steps = [
    { id: 'a', action: 'navigate' as const, device: 'amr-a', params: { to: 'e' } },
    { id: 'b', action: 'navigate' as const, device: 'amr-b', params: { to: 'n' } },
  ];
  const r = checkSmall(CROSSROADS, steps);
  t.equal(r.verdict, 'warn', 'a conflict resolved by waiting is a warning');
  t.same(codes(r), ['ROBOT_CONFLICT']);
  const c = r.issues[0]!;
  t.match(c, { severity: 'warning', step: 'b', device: 'amr-b', with: 'amr-a', at: 's1' });
  t.ok(c.waitS! > 1 && c.waitS! < 20, `a wait of a few seconds (${c.waitS} s)`);
  t.match(c.message, /amr-b waits [\d.]+ s at 's1'.*amr-a/);
  t.ok(c.hint.length > 10);
  const alone = checkSmall(CROSSROADS, [steps[1]!]);
  t.ok(stepOf(r, 'b').endS > stepOf(alone, 'b').endS + c.waitS! - 0.2, 'the wait makes amr-b later by at least the wait');
  t.equal(stepOf(r, 'a').endS, stepOf(checkSmall(CROSSROADS, [steps[0]!]), 'a').endS, 'amr-a, which goes first, is not delayed');
  t.equal(deviceOf(r, 'amr-b').waitS, c.waitS, 'the device summary adds up the waits');
});

t.test('the tie between two robots is broken the same way every time, whatever the plan order', async (t) => {
  const a = { id: 'a', action: 'navigate' as const, device: 'amr-a', params: { to: 'e' } };
  const b = { id: 'b', action: 'navigate' as const, device: 'amr-b', params: { to: 'n' } };
  const once = JSON.stringify(checkSmall(CROSSROADS, [a, b]));
  t.equal(JSON.stringify(checkSmall(CROSSROADS, [a, b])), once, 'byte-identical report');
  const swapped = checkSmall(CROSSROADS, [b, a]);
  t.equal(swapped.issues.length, 1);
  t.equal(swapped.issues[0]!.code, 'ROBOT_CONFLICT');
});

t.test('robots that do not meet do not wait: one after the other through the crossroads', async (t) => {
  const r = checkSmall(CROSSROADS, [
    { id: 'a', action: 'navigate', device: 'amr-a', params: { to: 'e' } },
    { id: 'b', action: 'navigate', device: 'amr-b', params: { to: 'n' }, after: ['a'] },
  ]);
  t.equal(r.verdict, 'pass');
  t.same(r.issues, []);
});

t.test('DEADLOCK: head-on in a one-lane corridor; both robots are named, and the steps never finish', async (t) => {
  const r = checkSmall(CORRIDOR, [
    { id: 'a', action: 'navigate', device: 'amr-a', params: { to: 'e' } },
    { id: 'b', action: 'navigate', device: 'amr-b', params: { to: 'w' } },
  ]);
  t.equal(r.verdict, 'fail');
  t.same(codes(r), ['DEADLOCK', 'DEADLOCK']);
  const byDevice = Object.fromEntries(r.issues.map((i) => [i.device, i]));
  t.match(byDevice['amr-a'], { severity: 'error', step: 'a', with: 'amr-b' });
  t.match(byDevice['amr-b'], { severity: 'error', step: 'b', with: 'amr-a' });
  t.match(byDevice['amr-a']!.message, /amr-b is itself waiting for amr-a/);
  t.match(byDevice['amr-a']!.hint, /after/);
  t.ok(stepOf(r, 'a').blocked && stepOf(r, 'b').blocked, 'both steps are marked blocked');
});

t.test('the same head-on meeting with a bypass lane: one robot goes round (a warning, not a deadlock)', async (t) => {
  const r = checkSmall(CORRIDOR_WITH_BYPASS, [
    { id: 'a', action: 'navigate', device: 'amr-a', params: { to: 'e' } },
    { id: 'b', action: 'navigate', device: 'amr-b', params: { to: 'w' } },
  ]);
  t.equal(r.verdict, 'warn');
  t.notOk(codes(r).includes('DEADLOCK'));
  const detour = r.issues.find((i) => i.detour);
  t.ok(detour, 'one robot takes a detour');
  t.match(detour, { code: 'ROBOT_CONFLICT', severity: 'warning', message: /takes a detour/ });
  t.ok(r.steps.some((s) => s.route?.includes('b2')), 'its route in the report goes through the bypass');
  t.ok(r.steps.every((s) => !s.blocked));
});

t.test('DEADLOCK: a station taken by a robot that nothing moves away', async (t) => {
  const r = checkSmall(LINE, [{ id: 'go', action: 'navigate', device: 'amr-a', params: { to: 'b' } }]);
  t.equal(r.verdict, 'fail');
  t.same(codes(r), ['DEADLOCK']);
  t.match(r.issues[0], { step: 'go', device: 'amr-a', with: 'amr-b', at: 'a' });
  t.match(r.issues[0]!.message, /amr-b stands at 'b'/);
  t.match(r.issues[0]!.hint, /moves amr-b away/);
  t.equal(deviceOf(r, 'amr-a').distanceM, 0, 'it does not set off towards a taken station');
});

t.test('the same station freed by a later step: the robot waits at its start, then goes', async (t) => {
  const r = checkSmall(LINE, [
    { id: 'go', action: 'navigate', device: 'amr-a', params: { to: 'b' } },
    { id: 'hold', action: 'wait', device: 'amr-b', params: { seconds: 30 } },
    { id: 'away', action: 'navigate', device: 'amr-b', params: { to: 'spur' }, after: ['hold'] },
  ]);
  t.equal(r.verdict, 'warn');
  t.same(codes(r), ['ROBOT_CONFLICT']);
  const c = r.issues[0] as Issue;
  t.match(c, { device: 'amr-a', with: 'amr-b', at: 'a', atS: 0 });
  t.ok(c.waitS! >= 30, 'at least until amr-b leaves');
  t.ok(stepOf(r, 'go').startS === 0 && stepOf(r, 'go').endS > stepOf(r, 'away').startS, 'amr-a arrives after amr-b has left');
});

t.test('DEADLOCK: a robot parked in the middle of the only corridor another must use', async (t) => {
  const r = checkSmall(CORRIDOR, [
    { id: 'a', action: 'navigate', device: 'amr-a', params: { to: 'k3' } },
    { id: 'b', action: 'navigate', device: 'amr-b', params: { to: 'k1' }, after: ['a'] },
  ]);
  t.same(codes(r), ['DEADLOCK']);
  t.match(r.issues[0], { step: 'b', device: 'amr-b', with: 'amr-a' });
  t.match(r.issues[0]!.message, /amr-a stands at 'k3'/);
});

t.test('energy: the physical model charges mass, acceleration, rolling friction and idle time', async (t) => {
  // A tiny battery (1 Wh = 3600 J) so that single drives show in the report's three decimals.
  const small = (amr: SmallSite['amr'] = {}): SmallSite => ({ ...LINE, amrs: { 'amr-a': 'a' }, amr: { capacityWh: 1, idlePowerW: 0, ...amr } });
  const drive = [{ id: 'go', action: 'navigate' as const, device: 'amr-a', params: { to: 'b' } }];
  const joules = (r: CheckReport) => (deviceOf(r, 'amr-a').socStart! - deviceOf(r, 'amr-a').socEnd!) * 3600;
  // 20 m, 60 kg, μ 0.02, 80 % efficient: m g μ d / η = 294.3 J rolling, ½ m v² / η = 37.5 J to speed up.
  const base = joules(checkSmall(small(), drive));
  t.ok(Math.abs(base - (60 * 9.81 * 0.02 * 20 + 0.5 * 60 * 1) / 0.8) < 4, `20 m on the flat costs what physics says (${base.toFixed(1)} J)`);
  const heavy = joules(checkSmall(small({ massKg: 120 }), drive));
  t.ok(Math.abs(heavy / base - 2) < 0.05, `twice the mass, twice the energy (${(heavy / base).toFixed(3)}x)`);
  const fast = joules(checkSmall(small({ maxSpeed: 3, maxAccel: 2 }), drive));
  t.ok(fast - base > (0.5 * 60 * (9 - 1)) / 0.8 - 4, `speeding up to 3 m/s instead of 1 costs ½ m Δv² more (${(fast - base).toFixed(1)} J)`);
  const twoLegs = joules(
    checkSmall(small(), [
      { id: 'g1', action: 'navigate', device: 'amr-a', params: { to: 'm' } },
      { id: 'g2', action: 'navigate', device: 'amr-a', params: { to: 'b' }, after: ['g1'] },
    ]),
  );
  t.ok(twoLegs - base > 30, `stopping half way and setting off again costs another speed-up (${(twoLegs - base).toFixed(1)} J)`);
  const idle = joules(checkSmall(small({ idlePowerW: 30 }), [{ id: 'w', action: 'wait', device: 'amr-a', params: { seconds: 60 } }]));
  t.ok(Math.abs(idle - 1800) < 4, `a minute standing at 30 W is 1800 J (${idle.toFixed(1)} J)`);
});

t.test('BATTERY_LOW from the energy model on a long drive with a low battery', async (t) => {
  const lonely: SmallSite = { ...CORRIDOR, amrs: { 'amr-a': 'w' } };
  const laps = Array.from({ length: 6 }, (_, i) => ({
    id: `lap-${i}`,
    action: 'navigate' as const,
    device: 'amr-a',
    params: { to: i % 2 === 0 ? 'e' : 'w' },
    ...(i > 0 ? { after: [`lap-${i - 1}`] } : {}),
  }));
  const ok = checkSmall(lonely, laps);
  t.equal(ok.verdict, 'pass');
  const low = checkSmall(lonely, laps, { 'amr-a': { soc: 0.2002 } });
  t.same(codes(low), ['BATTERY_LOW']);
  t.equal(low.issues[0]!.step, 'lap-0', 'named at the first step that crosses the reserve');
});

t.test('a robot below the reserve may use it on its way to a charger, but not run flat', async (t) => {
  const site: SmallSite = { ...CORRIDOR, chargers: ['e'], amrs: { 'amr-a': 'w' } };
  const charge = [{ id: 'charge', action: 'charge' as const, device: 'amr-a', params: { at: 'e' } }];
  const low = checkSmall(site, charge, { 'amr-a': { soc: 0.15 } });
  t.same(codes(low), [], 'at 15 % (reserve 20 %) it drives 20 m to the charger and charges');
  const after = checkSmall(site, [...charge, { id: 'back', action: 'navigate' as const, device: 'amr-a', params: { to: 'w' }, after: ['charge'] }], { 'amr-a': { soc: 0.15 } });
  t.same(codes(after), [], 'charged, it drives back above the reserve');
  const lap = checkSmall(site, [{ id: 'lap', action: 'navigate' as const, device: 'amr-a', params: { to: 'e' } }], { 'amr-a': { soc: 0.15 } });
  t.same(codes(lap), ['BATTERY_LOW'], 'the same drive that is not to a charger is below the reserve');
  const flat = checkSmall(site, charge, { 'amr-a': { soc: 0.00001 } });
  t.same(codes(flat), ['BATTERY_LOW']);
  t.match(flat.issues[0]!.message, /run flat during step 'charge', before it reaches the charger/);
});

t.test('a charge step with no free charger is not predicted to charge where the robot stands', async (t) => {
  const site: SmallSite = { ...CORRIDOR, chargers: ['e'] };
  const charge = [{ id: 'charge', action: 'charge' as const, device: 'amr-a', params: {} }];
  const taken = checkSmall(site, charge, { 'amr-a': { soc: 0.5 }, 'amr-b': { soc: 0.5 } });
  t.same(codes(taken), ['UNREACHABLE'], 'amr-b stands on the only charger, itself below the charge target: it stays');
  t.match(taken.issues[0]!.message, /no charger is free for amr-a/);
  const free = checkSmall({ ...site, amrs: { 'amr-a': 'w' } }, charge, { 'amr-a': { soc: 0.5 } });
  t.same(codes(free), [], 'with the charger free it drives there and charges');
  t.equal(free.steps[0]!.route?.at(-1), 'e');
});
