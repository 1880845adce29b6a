// What the tablet says, in the shop floor's words: durations, device states, the devices a plan uses,
// whom a waiting robot waits for and why, the policy that drives a robot with its shield's
// interventions, and a rehearsal's result.
import t from 'tap';
import type { Rehearsal } from '../../gateway/tablet/api.ts';
import { clock, dayClock, devicesUsed, deviceStateWords, deviceTone, duration, hhmm, interventionsByReason, percent, policyWords, rehearsalWords, timesWords, waitReason, waitWords } from '../../gateway/tablet/words.ts';

t.test('a robot waits for another that holds the node, is too close to it, or is scheduled there first', async (t) => {
  t.equal(waitWords({ device: 'amr-1', node: 'sa-2', why: 'held', missionId: 'm_01ABC' }), 'waits for amr-1 (mission m_01ABC): it holds sa-2');
  t.equal(waitWords({ device: 'amr-1', node: 'sa-2', why: 'near', missionId: 'm_01ABC' }), 'waits for amr-1 (mission m_01ABC): it is too close to sa-2');
  t.equal(waitWords({ device: 'amr-3', node: 'ma-3', why: 'schedule', missionId: 'm_01XYZ', pass: 4 }), 'waits for amr-3 (mission m_01XYZ): the checked schedule has it first at ma-3');
});

t.test('a robot with no mission is waited for all the same', async (t) => {
  t.equal(waitWords({ device: 'amr-1', node: 'dock-a', why: 'held' }), 'waits for amr-1: it holds dock-a');
  t.equal(waitReason({ device: 'amr-1', node: 'dock-a', why: 'near' }), 'it is too close to dock-a');
});

t.test('durations, shares and device states in the words the floor uses', async (t) => {
  t.equal(duration(42.4), '42 s');
  t.equal(duration(120), '2 min');
  t.equal(duration(125), '2 min 5 s');
  t.equal(duration(3 * 3600 + 7 * 60), '3 h 7 min');
  t.equal(duration(-3), '0 s');
  t.equal(percent(0.256), '26 %');
  t.match(clock(new Date(2026, 0, 2, 9, 5, 7)), /09.05.07/);
  t.match(hhmm(new Date(2026, 0, 2, 9, 5, 7)), /09.05/);
  t.equal(deviceTone({ id: 'amr-1', online: false, state: 'driving' }), 'offline');
  t.equal(deviceTone({ id: 'cnc-1', online: true, state: 'fault' }), 'fault');
  t.equal(deviceTone({ id: 'amr-1', online: true, state: 'driving', paused: true }), 'paused');
  t.equal(deviceTone({ id: 'amr-1', online: true, state: 'charging' }), 'charging');
  t.equal(deviceTone({ id: 'amr-1', online: true, state: 'driving' }), 'busy');
  t.equal(deviceTone({ id: 'amr-1', online: true, state: 'idle' }), 'idle');
  t.equal(deviceStateWords({ id: 'amr-1', online: false, state: 'driving' }), 'offline (driving)');
  t.equal(deviceStateWords({ id: 'amr-1', online: false, state: 'never connected' }), 'never connected');
  t.equal(deviceStateWords({ id: 'amr-1', online: true, state: 'driving', paused: true }), 'paused (driving)');
  t.equal(deviceStateWords({ id: 'amr-1', online: true, state: 'idle' }), 'idle');
});

t.test('the devices a plan uses, with their roles', async (t) => {
  const report = { verdict: 'pass', planHash: 'h', worldHash: 'w', makespanS: 1, devices: [], assignments: { courier: 'amr-2' }, issues: [], steps: [{ id: 'a', device: 'cnc-1', startS: 0, endS: 1 }, { id: 'b', device: 'amr-2', startS: 0, endS: 1 }, { id: 'c', startS: 0, endS: 1 }] } as const;
  t.same(devicesUsed({ ...report, steps: [...report.steps], devices: [], issues: [] }), ['amr-2 (courier)', 'cnc-1']);
});

t.test('a policy by name, version and the start of its SHA-256; its interventions by reason, most first', async (t) => {
  const policy = { name: 'track-mlp', version: '1.2.0', sha256: '7fcdb9b284186177255eeb1991955123a781016609f4ca0997101ffd5c46e029', interventions: 12, byReason: { stop: 2, acceleration: 9, 'look-ahead': 0, 'brand-new': 1 } };
  t.equal(policyWords(policy), 'track-mlp 1.2.0 · SHA-256 7fcdb9b28418');
  t.same(interventionsByReason(policy), ['acceleration (speed change too sharp): 9', 'stop (STOP or pause): 2', 'brand-new (other): 1'], 'reasons never counted are left out; one the tablet does not know is still shown');
  t.equal(timesWords(1), 'once');
  t.equal(timesWords(0), '0 times');
  t.equal(timesWords(219), '219 times');
});

t.test('a record of today by its time, one of another day with its day', async (t) => {
  const now = new Date();
  t.equal(dayClock(now.toISOString()), clock(now));
  const before = new Date(now.getTime() - 3 * 86_400_000);
  t.not(dayClock(before.toISOString()), clock(before));
  t.ok(dayClock(before.toISOString()).endsWith(clock(before)), 'the day, then the time');
});

t.test("a rehearsal's result reads beside the check: how it ended, its time against the check's, the closest robots", async (t) => {
  const base: Rehearsal = {
    id: 'rh_1',
    status: 'succeeded',
    planHash: 'h1',
    requestedBy: 'tablet-1',
    startedAt: '2026-11-24T08:00:00.000Z',
    endedAt: '2026-11-24T08:00:03.000Z',
    fleet: 'virtual',
    speed: 20,
    outcome: 'succeeded',
    reason: null,
    makespanS: 44.6,
    checkMakespanS: 28.7,
    minSeparation: { robots: ['amr-1', 'amr-2'], distanceM: 2.5, gapM: 1.5, at: { x: 8, y: 4 }, near: 'sa-2', tS: 12 },
    problems: [],
  };
  t.equal(rehearsalWords(undefined, 'h1'), 'Not rehearsed yet.');
  t.equal(rehearsalWords({ ...base, status: 'running', outcome: null }, 'h1'), 'Rehearsing on the simulated fleet…');
  t.equal(rehearsalWords(base, 'h1'), 'Rehearsal passed: took 45 s (the check: 29 s); closest robots amr-1 and amr-2, 2.5 m apart near sa-2.');
  t.equal(rehearsalWords({ ...base, status: 'failed', minSeparation: null }, 'h2'), 'Rehearsal failed (of an earlier plan): took 45 s (the check: 29 s).');
  t.equal(rehearsalWords({ ...base, status: 'failed', makespanS: null, reason: 'its approval was refused', minSeparation: null }, 'h1'), 'Rehearsal failed: its approval was refused.');
  t.equal(rehearsalWords({ ...base, fleet: 'gazebo', speed: 1 }, 'h1'), 'Rehearsal in Gazebo passed: took 45 s (the check: 29 s); closest robots amr-1 and amr-2, 2.5 m apart near sa-2.', 'on the Gazebo fleet it says so');
});
