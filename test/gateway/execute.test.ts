// Missions run on the virtual fleet over real MQTT, in one process as `npm start` runs them:
// the README's plan to succeeded, a failing step failing the mission with its reason, cancel,
// pause and resume. Every VDA 5050 message of the README plan's run, of cancel/pause/resume and of
// STOP/release/resume is checked against the specification's schemas (test/helpers/vda5050-wire.ts).
import t, { type Test } from 'tap';
import { fleetGateway } from './fleet-gateway.ts';
import type { Gateway } from '../../gateway/main.ts';
import { canonicalPlan } from './harness.ts';
import { until } from '../helpers/wait.ts';
import { callApi } from '../helpers/http.ts';
import { captureVdaWire, checkVdaWire } from '../helpers/vda5050-wire.ts';

const ADMIN = 'test-admin-token-0123456789';


function gateway(t: Test, speed = 50, env: Record<string, string> = {}): Promise<Gateway> {
  return fleetGateway(t, { speed, adminToken: ADMIN, env });
}

interface MissionView {
  id: string;
  status: string;
  planHash: string;
  steps: { id: string; status: string }[];
}

const api = <T = MissionView>(g: Gateway, method: string, path: string, body?: unknown) => callApi<T>(g.url, ADMIN, method, path, body);

async function submitAndApprove(g: Gateway, plan: unknown): Promise<MissionView> {
  const sub = await api(g, 'POST', '/v1/missions', { plan });
  if (sub.status !== 201) throw new Error(`submit: ${sub.status} ${JSON.stringify(sub.json)}`);
  const ok = await api(g, 'POST', `/v1/missions/${sub.json.id}/approve`, { planHash: sub.json.planHash });
  if (ok.status !== 200) throw new Error(`approve: ${ok.status} ${JSON.stringify(ok.json)}`);
  return ok.json;
}

/** How far the AMR stands from the node it reports as its last. */
function offNode(g: Gateway, id: string): number {
  const s = g.fleet.get(id);
  const node = s?.at ? g.site.index.node(s.at) : undefined;
  return s?.pose && node ? Math.hypot(s.pose.x - node.x, s.pose.y - node.y) : 0;
}

const missionIs = (g: Gateway, id: string, status: string) => async () => {
  const m = (await api(g, 'GET', `/v1/missions/${id}`)).json;
  return m.status === status ? m : undefined;
};

t.test("the README's plan runs to succeeded on the virtual fleet; every step succeeded, in order", async (t) => {
  // 430 s of floor time: 4.3 s at 100x.
  const g = await gateway(t, 100);
  const wire = await captureVdaWire(t, g.mqttUrl, g.mqttAccess?.gateway);
  const events: { type: string; data: { status?: string; step?: string } }[] = [];
  const off = g.hub.subscribe((e) => events.push(e as never));
  t.teardown(off);
  const approved = await submitAndApprove(g, canonicalPlan());
  t.equal(approved.status, 'running', 'approval starts it');
  const done = await until('succeeded', missionIs(g, approved.id, 'succeeded'), 60_000);
  t.same(done.steps.map((s) => s.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  const courier = (await api<{ assignments: Record<string, string> }>(g, 'GET', `/v1/missions/${approved.id}`)).json as unknown as { report: { assignments: Record<string, string> } };
  const amr = courier.report.assignments.courier!;
  await until('the courier at shelf-2, empty', () => g.fleet.get(amr)?.at === 'shelf-2' && g.fleet.get(amr)?.cargo === 0);
  t.pass(`${amr} dropped the brackets at shelf-2`);
  t.match(g.fleet.get('cnc-1'), { partsProduced: 4 }, 'cnc-1 made four brackets');
  const order = events.filter((e) => e.type === 'step' && e.data.status === 'succeeded').map((e) => e.data.step);
  t.equal(order.indexOf('carry'), 3, 'carry succeeded last');
  t.ok(order.indexOf('load') > order.indexOf('mill') && order.indexOf('load') > order.indexOf('fetch'), 'load after mill and fetch');
  t.ok(events.some((e) => e.type === 'mission' && e.data.status === 'succeeded'), 'the event stream says so');
  const history = g.store.missions.events(approved.id).map((e) => e.type);
  t.equal(history.filter((x) => x === 'step.dispatched').length, 4, 'each step dispatched exactly once');
  checkVdaWire(t, wire);
});

t.test('a step that fails fails the mission with a reason; steps not started are not started', async (t) => {
  const g = await gateway(t);
  const plan = {
    schema: 'phygate.plan/v1',
    name: 'housing-then-move',
    steps: [
      { id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'housing-a' } },
      { id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' }, after: ['mill'] },
    ],
  };
  const m = await submitAndApprove(g, plan);
  await until('cnc-1 running', () => g.fleet.get('cnc-1')?.state === 'running');
  g.virtualFleet!.machines.get('cnc-1')!.fault({ code: 'SPINDLE', message: 'spindle overload' });
  const failed = await until('failed', missionIs(g, m.id, 'failed'));
  t.same(failed.steps.map((s) => [s.id, s.status]), [['mill', 'failed'], ['go', 'cancelled']]);
  const ev = g.store.missions.events(m.id).find((e) => e.type === 'mission.failed')!;
  t.match(ev.data, { step: 'mill', reason: /cnc-1.*fault.*spindle overload/ }, 'the reason an operator can read');
  t.match(failed, { reason: /cnc-1.*fault.*spindle overload/, reasonStep: 'mill', endedAt: String }, 'and the API says it');
  t.match(failed.steps, [
    { device: 'cnc-1', reason: /spindle overload/, startedAt: String, endedAt: String },
    { device: 'amr-1', reason: "not started: step 'mill' failed", startedAt: null, endedAt: String },
  ]);
  t.equal(g.fleet.get('amr-1')?.at, 'dock-a', 'amr-1 never left');
});

t.test('cancel stops the AMR in flight; pause holds it and resume finishes', async (t) => {
  const g = await gateway(t, 10);
  const wire = await captureVdaWire(t, g.mqttUrl, g.mqttAccess?.gateway);
  const long = { schema: 'phygate.plan/v1', name: 'to-shelf-3', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-3' } }] };
  const a = await submitAndApprove(g, long);
  await until('amr-1 driving', () => g.fleet.get('amr-1')?.state === 'driving');
  const cancelled = await api(g, 'POST', `/v1/missions/${a.id}/cancel`, { reason: 'changed my mind' });
  t.equal(cancelled.status, 200);
  t.equal(cancelled.json.status, 'cancelled');
  t.same(cancelled.json.steps.map((s) => s.status), ['cancelled']);
  await until('amr-1 stopped', () => g.fleet.get('amr-1')?.state !== 'driving');
  t.not(g.fleet.get('amr-1')?.at, 'shelf-3', 'it did not arrive');

  const back = { schema: 'phygate.plan/v1', name: 'home', steps: [{ id: 'home', action: 'navigate', device: 'amr-2', params: { to: 'shelf-1' } }] };
  const b = await submitAndApprove(g, back);
  await until('amr-2 driving', () => g.fleet.get('amr-2')?.state === 'driving');
  const paused = await api(g, 'POST', `/v1/missions/${b.id}/pause`, {});
  t.equal(paused.json.status, 'paused');
  await until('amr-2 paused', () => g.fleet.get('amr-2')?.paused === true);
  const at = g.fleet.get('amr-2')!.pose!;
  await new Promise((r) => setTimeout(r, 600));
  t.same(g.fleet.get('amr-2')!.pose, at, 'it holds still while paused');
  const resumed = await api(g, 'POST', `/v1/missions/${b.id}/resume`, {});
  t.equal(resumed.json.status, 'running');
  await until('succeeded', missionIs(g, b.id, 'succeeded'));
  t.equal(g.fleet.get('amr-2')?.at, 'shelf-1');
  const again = await api<{ code: string }>(g, 'POST', `/v1/missions/${b.id}/pause`, {});
  t.equal(again.status, 409, 'a finished mission cannot be paused');
  t.equal(again.json.code, 'INVALID_TRANSITION');
  checkVdaWire(t, wire);
});

t.test('STOP between two nodes pauses the mission and holds it; resume is refused until release, then the AMR drives on from where it stopped', async (t) => {
  const g = await gateway(t, 5);
  const wire = await captureVdaWire(t, g.mqttUrl, g.mqttAccess?.gateway);
  const plan = { schema: 'phygate.plan/v1', name: 'to-shelf-3', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-3' } }] };
  const m = await submitAndApprove(g, plan);
  // Pressed while amr-1 is between two nodes: it stops there, off its last node. It is pressed
  // half a metre into the longest edge of the route, sa-2 → sa-3 (5 m), by where the simulated
  // vehicle is (the pose it reports lags up to 250 ms): at 5x the STOP then has more than half a
  // second to reach it before sa-3, even on a busy machine.
  const sa2 = g.site.index.node('sa-2')!;
  const amr1 = g.virtualFleet!.amrs.get('amr-1')!;
  await until('amr-1 half a metre past sa-2', () => g.fleet.get('amr-1')?.at === 'sa-2' && Math.hypot(amr1.position().x - sa2.x, amr1.position().y - sa2.y) > 0.5, 30_000);
  const stop = await api<{ id: string }>(g, 'POST', '/v1/stop', { scope: 'all', reason: 'person in aisle' });
  t.equal(stop.status, 200);
  const paused = await until('paused', missionIs(g, m.id, 'paused'));
  t.same(paused.steps.map((s) => s.status), ['blocked'], 'the interrupted step is blocked, not failed');
  await until('amr-1 not driving', () => g.fleet.get('amr-1')?.state !== 'driving');
  t.ok(offNode(g, 'amr-1') > 0.3, `amr-1 stopped between nodes, ${offNode(g, 'amr-1').toFixed(2)} m from '${g.fleet.get('amr-1')?.at}'`);
  const refused = await api<{ code: string }>(g, 'POST', `/v1/missions/${m.id}/resume`, {});
  t.equal(refused.status, 409);
  t.equal(refused.json.code, 'STOP_ACTIVE', 'no resume while the STOP is latched');
  const released = await api<unknown>(g, 'POST', '/v1/stop/release', { ack: true });
  t.equal(released.status, 200);
  await new Promise((r) => setTimeout(r, 500));
  t.equal((await api(g, 'GET', `/v1/missions/${m.id}`)).json.status, 'paused', 'a release alone moves nothing');
  const resumed = await api(g, 'POST', `/v1/missions/${m.id}/resume`, {});
  t.equal(resumed.status, 200);
  const done = await until('succeeded', missionIs(g, m.id, 'succeeded'), 60_000);
  t.same(done.steps.map((s) => s.status), ['succeeded']);
  t.equal(g.fleet.get('amr-1')?.at, 'shelf-3', 'it drove on from where it stopped');
  const dispatched = g.store.missions.events(m.id).filter((e) => e.type === 'step.dispatched').length;
  t.equal(dispatched, 2, 'dispatched once, and once more after the STOP, never in parallel');
  checkVdaWire(t, wire);
});

t.test('a machine job a STOP interrupted makes only the parts still missing when the mission resumes', async (t) => {
  const g = await gateway(t, 50);
  const plan = { schema: 'phygate.plan/v1', name: 'three-brackets', steps: [{ id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2', count: 3 } }] };
  const m = await submitAndApprove(g, plan);
  await until('one part made', () => (g.fleet.get('cnc-1')?.partsProduced ?? 0) >= 1 && g.fleet.get('cnc-1')?.state === 'running');
  await api(g, 'POST', '/v1/stop', { scope: 'device:cnc-1', reason: 'coolant leak' });
  await until('paused', missionIs(g, m.id, 'paused'));
  await until('cnc-1 stopped', () => g.fleet.get('cnc-1')?.state === 'stopped');
  const made = g.fleet.get('cnc-1')!.partsProduced!;
  t.ok(made >= 1 && made < 3, `${made} part(s) made before the STOP`);
  await api(g, 'POST', '/v1/stop/release', { ack: true });
  t.equal((await api(g, 'POST', `/v1/missions/${m.id}/resume`, {})).status, 200);
  await until('succeeded', missionIs(g, m.id, 'succeeded'));
  t.equal(g.fleet.get('cnc-1')!.job?.count, 3 - made, 'the second job makes only what was missing');
  t.equal(g.fleet.get('cnc-1')!.partsProduced, 3 - made);
});

t.test('a vehicle killed mid-step: the step is blocked with an alert, then fails the mission after the grace period', async (t) => {
  const g = await gateway(t, 10, { PHYGATE_OFFLINE_GRACE_S: '2' });
  const alerts: unknown[] = [];
  const off = g.hub.subscribe((e) => e.type === 'alert' && alerts.push(e.data));
  t.teardown(off);
  const plan = { schema: 'phygate.plan/v1', name: 'to-shelf-3', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-3' } }] };
  const m = await submitAndApprove(g, plan);
  await until('amr-1 driving', () => g.fleet.get('amr-1')?.state === 'driving');
  g.virtualFleet!.amrs.get('amr-1')!.kill();
  const blocked = await until('blocked', async () => {
    const v = (await api(g, 'GET', `/v1/missions/${m.id}`)).json;
    return v.steps[0]!.status === 'blocked' ? v : undefined;
  }, 10_000);
  t.equal(blocked.status, 'running', 'the mission waits for the device');
  t.match(alerts, [{ missionId: m.id, step: 'go', device: 'amr-1', message: /amr-1 went offline/ }], 'the operator is alerted');
  await until('failed', missionIs(g, m.id, 'failed'), 15_000);
  const ev = g.store.missions.events(m.id).find((e) => e.type === 'mission.failed')!;
  t.match(ev.data, { step: 'go', reason: /amr-1 stayed offline for 2 s/ });
});
