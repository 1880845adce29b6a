// Every failure stops its own device, on the real gateway: the virtual fleet over MQTT in one
// process, as `npm start` runs it. A step that times out cancels its AMR's order and the AMR stops
// where it is; the mission says which step failed and why; the next mission for that AMR runs.
// And a STOP with nothing but a token stops everything.
import t, { type Test } from 'tap';
import { fleetGateway } from './fleet-gateway.ts';
import type { Gateway } from '../../gateway/main.ts';
import { until } from '../helpers/wait.ts';

const ADMIN = 'test-admin-token-failure-0123';

function gateway(t: Test, speed: number): Promise<Gateway> {
  return fleetGateway(t, { speed, adminToken: ADMIN });
}

interface View {
  id: string;
  status: string;
  planHash: string;
  reason: string | null;
  reasonStep: string | null;
  steps: { id: string; device: string; status: string; reason: string | null }[];
}

async function api<T = View>(g: Gateway, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${g.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as T };
}

async function run(g: Gateway, steps: unknown[], name: string): Promise<string> {
  const sub = await api(g, 'POST', '/v1/missions', { plan: { schema: 'phygate.plan/v1', name, steps } });
  if (sub.status !== 201) throw new Error(`submit: ${sub.status} ${JSON.stringify(sub.json)}`);
  const ok = await api(g, 'POST', `/v1/missions/${sub.json.id}/approve`, { planHash: sub.json.planHash });
  if (ok.status !== 200) throw new Error(`approve: ${ok.status} ${JSON.stringify(ok.json)}`);
  return sub.json.id;
}

const missionIs = (g: Gateway, id: string, status: string) => async () => {
  const m = (await api(g, 'GET', `/v1/missions/${id}`)).json;
  return m.status === status ? m : undefined;
};

t.test('a step that times out: the mission fails saying why, its AMR stops where it is, and the next mission for it runs', async (t) => {
  const g = await gateway(t, 10);
  // 26 s of driving, at speed 10 2.6 s: a 1 s budget runs out on the way.
  const id = await run(g, [{ id: 'go', action: 'navigate', device: 'amr-2', params: { to: 'shelf-2' }, timeoutS: 1 }], 'too-short');
  const failed = await until('failed', missionIs(g, id, 'failed'));
  t.match(failed, { reason: "step 'go' did not finish within 1 s", reasonStep: 'go', steps: [{ id: 'go', device: 'amr-2', status: 'failed', reason: "step 'go' did not finish within 1 s" }] });
  const order = g.store.outbox.ofStep(id, 'go')[0]!;
  await until("amr-2 dropped the order and stands", () => g.vda5050.lastState('amr-2')?.nodeStates.length === 0 && g.fleet.get('amr-2')?.state === 'idle');
  t.equal(g.vda5050.lastState('amr-2')?.orderId, order.id, 'the order it dropped is the failed step’s');
  t.not(g.fleet.get('amr-2')?.at, 'shelf-2', 'it did not drive on to the shelf');
  t.equal(g.fleet.get('amr-2')?.paused, false, 'and is not left paused');
  // It stands still: three more state reports, the same pose.
  const held = g.fleet.get('amr-2')!.pose!;
  const seen = g.fleet.get('amr-2')!.lastSeen;
  let reports = 0;
  const off = g.fleet.onChange((s) => s.id === 'amr-2' && s.lastSeen !== seen && reports++);
  t.teardown(off);
  await until('three more reports', () => reports >= 3);
  t.same(g.fleet.get('amr-2')!.pose, held, 'amr-2 stands where it stopped');

  const next = await run(g, [{ id: 'go', action: 'navigate', device: 'amr-2', params: { to: 'shelf-2' } }], 'again');
  await until('the next mission succeeded', missionIs(g, next, 'succeeded'), 60_000);
  t.equal(g.fleet.get('amr-2')?.at, 'shelf-2', 'the next mission for amr-2 ran to the shelf');
});

t.test('POST /v1/stop with nothing but a token stops everything', async (t) => {
  const g = await gateway(t, 10);
  const id = await run(g, [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-3' } }], 'drive');
  await until('amr-1 driving', () => g.fleet.get('amr-1')?.state === 'driving');
  const res = await fetch(`${g.url}/v1/stop`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
  t.equal(res.status, 200);
  t.match(await res.json(), { scope: 'all', reason: 'STOP' });
  await until('the mission paused', missionIs(g, id, 'paused'));
  for (const amr of ['amr-1', 'amr-2', 'amr-3']) await until(`${amr} paused`, () => g.fleet.get(amr)?.paused === true);
  t.equal((await api<{ active: boolean }>(g, 'GET', '/v1/stop')).json.active, true, 'latched');
});
