// End to end with a policy-driven AMR: the gateway with its virtual fleet over its broker, on a
// copy of the demo site where the README plan's courier says `policy:` with the shipped model and
// its certificate. The README's plan runs to succeeded; a STOP while the courier drives makes it
// report paused, the shield commands zero from the first control tick on, and it stands within the
// ticks its braking takes. A policy without a passing certificate for the floor withholds its AMR;
// a certified one's drives are checked at its certified timing.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { fleetGateway } from './fleet-gateway.ts';
import type { Gateway } from '../../gateway/main.ts';
import { canonicalPlan, policySite } from './harness.ts';
import { until } from '../helpers/wait.ts';
import { callApi } from '../helpers/http.ts';
import { writeTracker } from '../sim/policy-tracker.ts';
import { checkTimeScale, readCertificate } from '../../robots/policy/certificate.ts';
import type { Amr } from '../../planners/site.ts';

const ADMIN = 'test-admin-token-0123456789';
/** The AMR the planner makes the README plan's courier on the demo site. */
const COURIER = 'amr-3';
function gateway(t: Test, speed: number, site = policySite(t, { [COURIER]: '{ model: amr-track.onnx }' }), fleet = true): Promise<Gateway> {
  return fleetGateway(t, { speed, adminToken: ADMIN, env: { PHYGATE_SITE: site, PHYGATE_VIRTUAL_FLEET: fleet ? 'true' : 'false' } });
}

interface MissionView {
  id: string;
  status: string;
  planHash: string;
  steps: { id: string; status: string }[];
  report?: { assignments: Record<string, string> };
}

const api = <T = MissionView>(g: Gateway, method: string, path: string, body?: unknown) => callApi<T>(g.url, ADMIN, method, path, body);

async function submitAndApprove(g: Gateway, plan: unknown): Promise<MissionView> {
  const sub = await api(g, 'POST', '/v1/missions', { plan });
  if (sub.status !== 201) throw new Error(`submit: ${sub.status} ${JSON.stringify(sub.json)}`);
  const ok = await api(g, 'POST', `/v1/missions/${sub.json.id}/approve`, { planHash: sub.json.planHash });
  if (ok.status !== 200) throw new Error(`approve: ${ok.status} ${JSON.stringify(ok.json)}`);
  return ok.json;
}

const missionIs = (g: Gateway, id: string, status: string) => async () => {
  const m = (await api(g, 'GET', `/v1/missions/${id}`)).json;
  return m.status === status ? m : undefined;
};

t.test("the README's plan runs to succeeded with its courier driven by a policy; STOP pauses it within a control tick", async (t) => {
  const g = await gateway(t, 20);
  const courier = g.virtualFleet!.amrs.get(COURIER)!;
  t.match(courier.policy(), { name: 'amr-track-mlp' }, `${COURIER} is driven by the shipped policy`);
  const approved = await submitAndApprove(g, canonicalPlan());
  t.equal(approved.status, 'running', 'approval starts it');
  const view = (await api(g, 'GET', `/v1/missions/${approved.id}`)).json;
  t.equal(view.report?.assignments.courier, COURIER, `the courier is ${COURIER}`);

  // STOP while it drives to cnc-1 (the fetch step).
  await until('the courier drives', () => Math.abs(courier.policy()!.speed.v) > 0.6, 60_000);
  const states: string[] = [];
  g.fleet.onChange((d) => d.id === COURIER && states[states.length - 1] !== d.state && states.push(d.state));
  const stop = await api<{ id: string }>(g, 'POST', '/v1/stop', { scope: 'all', reason: 'person in aisle' });
  t.equal(stop.status, 200);
  await until('the mission paused', missionIs(g, approved.id, 'paused'), 30_000);
  await until('the courier reports paused', () => g.fleet.get(COURIER)?.state === 'paused', 30_000);
  const pause = await until('the courier stands', () => courier.policy()!.pause?.stoodAtTick !== undefined && courier.policy()!.pause, 30_000);
  t.ok(pause.commanded > 0, `the shield answered ${pause.commanded} control ticks from the pause on`);
  t.equal(pause.firstCommandedAtTick, pause.atTick + 1, 'the shield answered the very control tick after the pause came');
  t.equal(pause.maxCommand, 0, 'the shield commanded zero on every control tick from the pause on, without the policy: within one tick');
  const amr = g.site.index.device(COURIER) as Amr;
  const tickS = 1 / 20;
  const brakingTicks = Math.ceil(pause.speed / (amr.limits.maxDecel * tickS)) + 1;
  const took = pause.stoodAtTick! - pause.atTick;
  // It drove faster than 0.6 m/s when the STOP was posted; on a busy machine the pause can reach it
  // at 20× fleet speed only as it slows for a node, so only "still moving" is certain.
  t.ok(pause.speed > 0, `it was driving at ${pause.speed.toFixed(2)} m/s when paused`);
  t.ok(took <= brakingTicks, `it stood ${took} control ticks after the pause: no more than braking at maxDecel takes (${brakingTicks})`);
  const braking = states.indexOf('braking');
  t.ok(braking >= 0 && states.indexOf('paused', braking) > braking, `the fleet saw it 'braking' while it slowed, then 'paused' (${states.join(' → ')})`);
  const held = courier.position();
  const ticksThen = courier.policy()!.ticks;
  // Paused on its route it is ticked on (zero each time); with no route left it rests untouched.
  await until('ten more control ticks, or resting', () => courier.policy()!.ticks >= ticksThen + 10 || courier.policy()!.resting);
  t.same(courier.position(), held, 'and stays where it stood');

  t.equal((await api(g, 'POST', '/v1/stop/release', { ack: true })).status, 200);
  t.equal((await api(g, 'POST', `/v1/missions/${approved.id}/resume`, {})).status, 200);
  const done = await until('succeeded', missionIs(g, approved.id, 'succeeded'), 240_000);
  t.same(done.steps.map((s) => s.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded'], 'every step succeeded');
  await until('the courier at shelf-2, empty', () => g.fleet.get(COURIER)?.at === 'shelf-2' && g.fleet.get(COURIER)?.cargo === 0);
  t.pass(`${COURIER} dropped the brackets at shelf-2`);
  const policy = courier.policy()!;
  t.ok(policy.interventions.stop! > 0, `the stop is counted among the interventions (${policy.interventions.stop})`);
  t.ok(Object.values(policy.interventions).reduce((a, b) => a + b, 0) > 0, `interventions: ${JSON.stringify(policy.interventions)}`);
  // The gateway shows it: GET /v1/robots/{id} from the vehicle's state.
  const robot = await until('the policy on GET /v1/robots/amr-3', async () => {
    const r = (await api<{ policy?: { name: string; version: string; sha256: string; interventions: number; byReason: Record<string, number> } }>(g, 'GET', `/v1/robots/${COURIER}`)).json;
    return r.policy && r.policy.interventions > 0 ? r : undefined;
  });
  t.match(robot.policy, { name: 'amr-track-mlp', version: '1.0.0', sha256: policy.sha256 }, 'GET /v1/robots/{id} names the policy by name, version and SHA-256');
  t.ok(robot.policy!.byReason.stop! > 0, `and counts the interventions by reason: ${JSON.stringify(robot.policy!.byReason)}`);
  const plain = (await api<{ policy?: unknown }>(g, 'GET', '/v1/robots/amr-1')).json;
  t.equal(plain.policy, undefined, 'an AMR on the analytic motion model has none');
});

interface CheckView {
  verdict: string;
  steps: { id: string; startS: number; endS: number }[];
  issues: { code: string; device?: string; message: string }[];
  assignments: Record<string, string>;
}

const drive = (device: string) => ({ schema: 'phygate.plan/v1', name: 'one-drive', steps: [{ id: 'go', action: 'navigate', device, params: { to: 'shelf-2' } }] });

t.test('a policy without a passing certificate for this floor withholds its AMR; a certified one is checked at its certified timing', async (t) => {
  // amr-2: the shipped policy, certified for this floor. amr-3: a model with no certificate.
  const site = policySite(t, { 'amr-2': '{ model: amr-track.onnx }', [COURIER]: '{ model: tracker.onnx }' });
  writeTracker(site);
  const g = await gateway(t, 20, site, false);
  const robot = (await api<{ online: boolean; unavailable?: string }>(g, 'GET', `/v1/robots/${COURIER}`)).json;
  t.equal(robot.online, false);
  t.match(robot.unavailable, /its policy test-tracker 1\.0\.0 has no usable certificate: .*tracker\.onnx\.cert\.json: no certificate \(run phygate policy verify\)/, 'GET /v1/robots/{id} says why it is not available');
  t.equal((await api<{ unavailable?: string }>(g, 'GET', '/v1/robots/amr-2')).json.unavailable, undefined, 'the certified one is available');

  // Even assumed online, the withheld AMR fails the check, saying why.
  const refused = (await api<CheckView>(g, 'POST', '/v1/plans/check', { plan: drive(COURIER), assume: { [COURIER]: { online: true, at: 'dock-a' } } })).json;
  t.equal(refused.verdict, 'fail');
  t.match(refused.issues, [{ code: 'DEVICE_OFFLINE', device: COURIER, message: /'amr-3' is not available: its policy test-tracker/ }]);

  // The same drive from the same place: the certified AMR takes its certificate's time scale longer than the analytic one.
  const timeOf = async (device: string) => {
    const r = (await api<CheckView>(g, 'POST', '/v1/plans/check', { plan: drive(device), assume: { [device]: { online: true, at: 'dock-a' } } })).json;
    t.equal(r.verdict, 'pass', `${device}: ${JSON.stringify(r.issues)}`);
    return r.steps[0]!.endS - r.steps[0]!.startS;
  };
  const analytic = await timeOf('amr-1');
  const certified = await timeOf('amr-2');
  const scale = checkTimeScale(await readCertificate(join(site, 'amr-track.onnx.cert.json')));
  t.ok(scale > 1, `the shipped certificate's time scale is ${scale}`);
  // The report gives times to 0.1 s: each duration is within 0.1 s of the exact one.
  t.ok(Math.abs(certified - analytic * scale) <= 0.2, `dock-a → shelf-2: ${certified.toFixed(2)} s with the policy, ${analytic.toFixed(2)} s analytic × ${scale} = ${(analytic * scale).toFixed(2)} s`);
});

t.test('a certificate for another floor, or one made for a quick look, withholds the AMR', async (t) => {
  // The shelf moved: the floor the certificate was made on is not this one.
  const moved = policySite(t, { 'amr-2': '{ model: amr-track.onnx }' }, (y) => y.replace('{ id: shelf-2, x: 17, y: 5.3 }', '{ id: shelf-2, x: 17.2, y: 5.3 }'));
  const g = await gateway(t, 20, moved, false);
  t.match((await api<{ unavailable?: string }>(g, 'GET', '/v1/robots/amr-2')).json.unavailable, /is not certified for this floor: the certificate is for another floor or robot/);

  // A certificate of a few edges only (--edges) does not let the policy drive.
  const quick = policySite(t, { 'amr-2': '{ model: amr-track.onnx, certificate: quick.cert.json }' });
  const cert = await readCertificate(join(quick, 'amr-track.onnx.cert.json'));
  writeFileSync(join(quick, 'quick.cert.json'), JSON.stringify({ ...cert, settings: { ...cert.settings, edges: 4 } }));
  const g2 = await gateway(t, 20, quick, false);
  t.match((await api<{ unavailable?: string }>(g2, 'GET', '/v1/robots/amr-2')).json.unavailable, /the certificate covers 4 of 72 edges and 156 of 156 routes between stations: verify without --edges or --routes/);
});
