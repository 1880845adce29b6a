// Issue #13, findings 2 and 3, against the whole gateway: Mosquitto, the gateway on it, a virtual
// cnc-1 (the machine protocol's real device side) and amr-2 played by a test client, and someone
// else on the broker forging what they say. A forged `done` with the old predictable commandId
// does not end a running `machine.run` step; a forged high `seq` does not mute the real machine; a
// VDA 5050 state numbered backwards, or with a heading of 1e308, does not move amr-2, so a STOP
// scoped to a zone goes by where amr-2 really is; a forged retained CONNECTIONBROKEN keeps cnc-1
// offline only until its next state. Every message dropped is counted, in GET /v1/robots/{id} and
// GET /v1/metrics.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { MqttClient } from 'mqtt';
import type { Gateway } from '../../gateway/main.ts';
import type { DeviceState } from '../../planners/fleet.ts';
import type { MachineState } from '../../robots/machine/schemas.ts';
import { machineTopic } from '../../robots/machine/topics.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import type { State } from '../../robots/vda5050/schemas.ts';
import { idleState } from '../helpers/vda5050-states.ts';
import { startVirtualMachine } from '../../sim/virtual-machine.ts';
import { startMosquitto } from '../helpers/brokers.ts';
import { callApi } from '../helpers/http.ts';
import { until } from '../helpers/wait.ts';
import { gatewayOnBroker } from './gateway-process.ts';
import { tempDirFor } from './harness.ts';

const ADMIN = 'test-admin-token-0123456789';
const api = <T>(g: Gateway, method: string, path: string, body?: unknown) => callApi<T>(g.url, ADMIN, method, path, body);
/** cnc-1's time scale: bracket-v2 (90 s) takes 4.5 s. */
const SPEED = 20;
const DOCK_B = { x: 8, y: 1.5, theta: -1.5708 };
/** Inside the paint booth. */
const BOOTH = { x: 27.5, y: 4, theta: 0 };

interface Floor {
  g: Gateway;
  /** amr-2's own client (its real state), and the forger's. */
  amr2: MqttClient;
  forger: MqttClient;
  /** The seq of cnc-1's latest state on the broker. */
  cncSeq(): number;
  /** Every state the fleet took, per device. */
  seen: Map<string, DeviceState[]>;
}

const floor = (async (): Promise<Floor> => {
  const broker = await startMosquitto(t);
  const g = await gatewayOnBroker(t, broker.url, ADMIN, tempDirFor(t));
  const seen = new Map<string, DeviceState[]>();
  g.fleet.onChange((s) => seen.set(s.id, [...(seen.get(s.id) ?? []), s]));
  const cnc = await startVirtualMachine({ brokerUrl: broker.url, site: g.site.index, siteId: g.site.index.site.id, deviceId: 'cnc-1', speed: SPEED });
  t.teardown(() => cnc.close());
  const amr2 = await connectMqtt({ url: broker.url, clientId: `amr-2-${randomUUID().slice(0, 8)}` });
  const forger = await connectMqtt({ url: broker.url, clientId: `forger-${randomUUID().slice(0, 8)}` });
  t.teardown(() => Promise.all([closeMqtt(amr2, true), closeMqtt(forger, true)]));
  let cncSeq = 0;
  forger.on('message', (_topic, payload) => (cncSeq = Math.max(cncSeq, (JSON.parse(payload.toString()) as MachineState).seq)));
  await forger.subscribeAsync(machineTopic(g.site.index.site.id, 'cnc-1', 'state'), { qos: 1 });
  await until('cnc-1 online', () => g.fleet.get('cnc-1')?.online && cncSeq > 0);
  return { g, amr2, forger, cncSeq: () => cncSeq, seen };
})();


const amrState = (headerId: number, pose: { x: number; y: number; theta: number }): State => idleState({ headerId, pose });

const AMR2_STATE = 'uagv/v2/phygate/amr-2/state';
type Robot = DeviceState & { dropped: Record<string, number> };
const robot = async (g: Gateway, id: string) => (await api<Robot>(g, 'GET', `/v1/robots/${id}`)).json;

t.test("a forged `done` with the old predictable commandId does not end cnc-1's machine.run step", async (t) => {
  const { g, forger, cncSeq, seen } = await floor;
  const plan = { schema: 'phygate.plan/v1', name: 'one-bracket', goal: 'one bracket', steps: [{ id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2', count: 1 } }] };
  const sub = await api<{ id: string; planHash: string }>(g, 'POST', '/v1/missions', { plan });
  t.equal(sub.status, 201);
  t.equal((await api(g, 'POST', `/v1/missions/${sub.json.id}/approve`, { planHash: sub.json.planHash })).status, 200);
  await until('the mill running', () => g.store.missions.get(sub.json.id)!.steps[0]!.status === 'running');
  const sent = g.store.outbox.ofStep(sub.json.id, 'mill');
  t.equal(sent.length, 1);
  t.not(sent[0]!.id, `${sub.json.id}-s0-0`, 'the commandId is not made of the mission and the step');
  t.match(sent[0], { missionId: sub.json.id, stepId: 'mill', device: 'cnc-1' }, 'the outbox traces it to them');

  // What the attacker of the issue sent: cnc-1 done with the job of `<missionId>-s0-0`, numbered
  // just ahead of the real machine so that it is taken.
  const now = new Date().toISOString();
  const forgedId = `${sub.json.id}-s0-0`;
  const forged: MachineState = {
    seq: cncSeq() + 3,
    timestamp: now,
    state: 'done',
    job: { commandId: forgedId, action: 'run', program: 'bracket-v2', count: 1, startedAt: now, endedAt: now },
    progress: 1,
    partsProduced: 1,
    errors: [],
    acks: [{ commandId: forgedId, result: 'accepted', seq: cncSeq() + 3 }],
  };
  await forger.publishAsync(machineTopic(g.site.index.site.id, 'cnc-1', 'state'), JSON.stringify(forged), { qos: 1 });
  // The real machine's states say `running` (and, before this change, named the same commandId).
  await until('the forged state read', () => (seen.get('cnc-1') ?? []).some((s) => s.state === 'done' && s.job?.commandId === forgedId));
  t.equal(g.store.missions.get(sub.json.id)!.steps[0]!.status, 'running', 'the step did not end');
  // (The real machine's states numbered below the forged one may be dropped too, as `seq`, until it catches up: how many depends on timing.)
  const dropped = (await robot(g, 'cnc-1')).dropped;
  t.equal(dropped['unknown-command'], 2, 'its acknowledgement and its job end, counted');
  t.same(Object.keys(dropped).filter((k) => k !== 'unknown-command' && k !== 'seq'), [], 'and nothing else');
  const done = await until('the real job done', () => {
    const m = g.store.missions.get(sub.json.id)!;
    return m.status === 'succeeded' || m.status === 'failed' ? m : undefined;
  });
  t.equal(done.status, 'succeeded', 'the real machine ends the step');
});

t.test('a forged high seq does not mute the real machine', async (t) => {
  const { g, forger, seen } = await floor;
  const before = (await robot(g, 'cnc-1')).dropped?.seq ?? 0;
  const forgedTaken = () => (seen.get('cnc-1') ?? []).some((s) => s.errors?.some((e) => e.startsWith('FORGED')));
  const forged: MachineState = { seq: 2 ** 31, timestamp: new Date().toISOString(), state: 'fault', errors: [{ code: 'FORGED', message: 'not really' }], acks: [] };
  await forger.publishAsync(machineTopic(g.site.index.site.id, 'cnc-1', 'state'), JSON.stringify(forged), { qos: 1 });
  await until('the forged state counted, or taken', async () => ((await robot(g, 'cnc-1')).dropped?.seq ?? 0) > before || forgedTaken());
  // The real machine's next state is taken: it answers a reset with idle.
  const taken = (seen.get('cnc-1') ?? []).length;
  await g.machines.command('cnc-1', { action: 'reset' });
  await until('cnc-1 idle after the reset', () => (seen.get('cnc-1') ?? []).slice(taken).some((s) => s.state === 'idle'), 15_000);
  t.match(await robot(g, 'cnc-1'), { online: true, state: 'idle' });
  t.notOk(forgedTaken(), 'the forged fault was never taken');
});

t.test('amr-2: a state numbered backwards is dropped, so a STOP for the paint booth goes by where amr-2 is', async (t) => {
  const { g, amr2, forger, seen } = await floor;
  await amr2.publishAsync(AMR2_STATE, JSON.stringify(amrState(400, DOCK_B)), { qos: 0 });
  await until('amr-2 online at dock-b', () => g.fleet.get('amr-2')?.online && g.fleet.get('amr-2')?.pose?.x === DOCK_B.x);
  await forger.publishAsync(AMR2_STATE, JSON.stringify(amrState(1, BOOTH)), { qos: 0 });
  await until('the forged state counted, or taken', async () => (await robot(g, 'amr-2')).dropped?.['headerId-backwards'] === 1 || g.fleet.get('amr-2')?.pose?.x === BOOTH.x);
  t.match(g.fleet.get('amr-2')?.pose, DOCK_B, 'the pose is the real one');
  const stop = await api<{ told: { device: string }[] }>(g, 'POST', '/v1/stop', { scope: 'zone:paint-booth', reason: 'test' });
  t.equal(stop.status, 200);
  t.notOk(stop.json.told.some((d) => d.device === 'amr-2'), 'amr-2 is not in the booth, and was not told');
  t.equal((await api(g, 'POST', '/v1/stop/release', { ack: true })).status, 200);

  // A heading of 1e308 is no heading.
  await forger.publishAsync(AMR2_STATE, JSON.stringify(amrState(401, { ...DOCK_B, theta: 1e308 })), { qos: 0 });
  await until('the bad heading counted, or taken', async () => (await robot(g, 'amr-2')).dropped?.schema === 1 || g.fleet.get('amr-2')?.pose?.theta === 1e308);
  // amr-2 goes on with its own numbering.
  await amr2.publishAsync(AMR2_STATE, JSON.stringify(amrState(401, { ...DOCK_B, x: 8.5 })), { qos: 0 });
  await until("amr-2's next state taken", () => g.fleet.get('amr-2')?.pose?.x === 8.5);
  const poses = (seen.get('amr-2') ?? []).map((s) => s.pose).filter((p) => p !== undefined);
  t.ok(poses.every((p) => p.x !== BOOTH.x && Math.abs(p.theta) <= Math.PI + 1e-3), 'amr-2 was never in the booth, nor facing 1e308');
  t.same((await robot(g, 'amr-2')).dropped, { 'headerId-backwards': 1, schema: 1 });
});

t.test('a forged retained CONNECTIONBROKEN keeps cnc-1 offline only until cnc-1 publishes its next state', async (t) => {
  const { g, forger } = await floor;
  await forger.publishAsync(machineTopic(g.site.index.site.id, 'cnc-1', 'connection'), JSON.stringify({ timestamp: new Date().toISOString(), connectionState: 'CONNECTIONBROKEN' }), { qos: 1, retain: true });
  await until('cnc-1 offline', () => g.fleet.get('cnc-1')?.online === false);
  // cnc-1 answers a reset (sent to offline machines too) with its state: it is there.
  await g.machines.command('cnc-1', { action: 'reset' });
  await until('cnc-1 online again', () => g.fleet.get('cnc-1')?.online === true, 15_000);
  t.match(await robot(g, 'cnc-1'), { online: true, state: 'idle' });
});

t.test('the counts are in GET /v1/robots and GET /v1/metrics (Prometheus text, for viewers)', async (t) => {
  const { g } = await floor;
  const viewer = g.store.tokens.create('viewer', 'metrics-reader').token;
  const res = await fetch(`${g.url}/v1/metrics`, { headers: { authorization: `Bearer ${viewer}` } });
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  t.match(text, /^# HELP phygate_mqtt_messages_dropped_total .*\n# TYPE phygate_mqtt_messages_dropped_total counter\n/);
  const series = new Map([...text.matchAll(/^phygate_mqtt_messages_dropped_total\{device="([^"]+)",reason="([^"]+)"\} (\d+)$/gm)].map((m) => [`${m[1]} ${m[2]}`, Number(m[3])]));
  t.equal(series.get('amr-2 headerId-backwards'), 1);
  t.equal(series.get('amr-2 schema'), 1);
  t.equal(series.get('cnc-1 unknown-command'), 2);
  t.ok(series.get('cnc-1 seq')! >= 1);
  t.equal(series.get('amr-1 clock-skew'), 0, 'every device has every reason, zero until something is dropped');
  t.equal(series.get('(unknown) unknown-device'), 0);
  const { robots } = (await api<{ robots: Robot[] }>(g, 'GET', '/v1/robots')).json;
  t.same(robots.find((r) => r.id === 'amr-2')?.dropped, { 'headerId-backwards': 1, schema: 1 });
  const doc = (await (await fetch(`${g.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  t.ok(doc.paths['/v1/metrics'], 'described in the OpenAPI document');
  t.equal((await fetch(`${g.url}/v1/metrics`)).status, 401, 'a token is needed');
});

t.test("a paused AMR that still drives (a policy-driven one braking after a STOP) is 'braking', then 'paused' once it stands", async (t) => {
  const { g, amr2 } = await floor;
  const at = { ...DOCK_B, x: 8.6 };
  await amr2.publishAsync(AMR2_STATE, JSON.stringify({ ...amrState(600, at), paused: true, driving: true }), { qos: 0 });
  await until('the braking state taken', () => g.fleet.get('amr-2')?.state === 'braking');
  t.match(g.fleet.get('amr-2'), { paused: true, state: 'braking' }, 'paused, and still moving');
  await amr2.publishAsync(AMR2_STATE, JSON.stringify({ ...amrState(601, at), paused: true, driving: false }), { qos: 0 });
  await until('the standing state taken', () => g.fleet.get('amr-2')?.state === 'paused');
  t.match(g.fleet.get('amr-2'), { paused: true, state: 'paused' });
});
