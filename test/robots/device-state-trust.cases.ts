// Device state that cannot lie easily (issue #13, findings 2 and 3), at the masters: on a real
// Mosquitto, a test client plays a device (and someone forging its messages) against the VDA 5050
// master and the machine-protocol master, whose clock is injected. A VDA 5050 state goes in only
// in order (headerId) and of now (timestamp), with a heading in [-π, π]; a machine state only in
// order (seq), and an acknowledgement or job end only for a command the gateway sent to that
// device. Whatever is dropped is counted per device and reason, and logged at a bounded rate.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { MqttClient } from 'mqtt';
import type { DeviceState } from '../../planners/fleet.ts';
import { DropCounter, UNKNOWN_DEVICE } from '../../robots/drops.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { MachineMaster, type AckEvent, type JobEndEvent } from '../../robots/machine/master.ts';
import type { MachineState } from '../../robots/machine/schemas.ts';
import { machineTopic } from '../../robots/machine/topics.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { SequenceGuard } from '../../robots/sequence.ts';
import { Vda5050Master } from '../../robots/vda5050/master.ts';
import { Vda5050Port } from '../../robots/vda5050/port.ts';
import type { State } from '../../robots/vda5050/schemas.ts';
import { idleState } from '../helpers/vda5050-states.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { startMosquitto } from '../helpers/brokers.ts';
import { recordingLog, type LogLine } from '../helpers/log.ts';
import { until } from '../helpers/wait.ts';

const demo = loadSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
const SITE = demo.index.site.id;
/** The gateway's clock in these tests: it moves only when a test moves it. */
const T0 = Date.parse('2026-11-24T09:00:00Z');

interface Rig {
  fleet: FleetRegistry;
  drops: DropCounter;
  logs: LogLine[];
  vda: Vda5050Master;
  machines: MachineMaster;
  acks: AckEvent[];
  jobs: JobEndEvent[];
  /** The device's (and the forger's) own client. */
  device: MqttClient;
  clock: { ms: number };
  /** Every state the fleet took, per device. */
  seen: Map<string, DeviceState[]>;
  brokerUrl: string;
}

async function rig(t: Test): Promise<Rig> {
  const broker = await startMosquitto(t);
  const clock = { ms: T0 };
  const now = () => new Date(clock.ms);
  const logs: LogLine[] = [];
  const log = recordingLog(logs);
  const fleet = new FleetRegistry(demo.index);
  const seen = new Map<string, DeviceState[]>();
  fleet.onChange((s) => seen.set(s.id, [...(seen.get(s.id) ?? []), s]));
  const drops = new DropCounter({ log, now: () => clock.ms });
  const gateway = await connectMqtt({ url: broker.url, clientId: `gateway-${randomUUID().slice(0, 8)}` });
  const device = await connectMqtt({ url: broker.url, clientId: `device-${randomUUID().slice(0, 8)}` });
  const vda = new Vda5050Master({ client: gateway, site: demo.index, fleet, graph: demo.graph, now, log, drops });
  const machines = new MachineMaster({ client: gateway, site: demo.index, siteId: SITE, fleet, now, log, drops, silentAfterMs: 0 });
  const acks: AckEvent[] = [];
  const jobs: JobEndEvent[] = [];
  machines.onAck((a) => acks.push(a));
  machines.onJob((j) => jobs.push(j));
  await vda.start();
  await machines.start();
  t.teardown(async () => {
    await vda.stop();
    await machines.stop();
    await Promise.all([closeMqtt(gateway, true), closeMqtt(device, true)]);
  });
  return { fleet, drops, logs, vda, machines, acks, jobs, device, clock, seen, brokerUrl: broker.url };
}


const amrState = (headerId: number, at: number, pose: { x: number; y: number; theta: number }): State => idleState({ headerId, at, pose });

const AMR2_STATE = 'uagv/v2/phygate/amr-2/state';
const AMR2_CONNECTION = 'uagv/v2/phygate/amr-2/connection';
const DOCK_B = { x: 8, y: 1.5, theta: -1.5708 };
/** Inside the paint booth (a keep-out zone). */
const BOOTH = { x: 27.5, y: 4, theta: 0 };

const publishState = (r: Rig, s: unknown) => r.device.publishAsync(AMR2_STATE, JSON.stringify(s), { qos: 1 });
const poses = (r: Rig, id: string) => (r.seen.get(id) ?? []).map((s) => s.pose).filter((p) => p !== undefined);

t.test('VDA 5050: a headerId that goes backwards is dropped and counted, and the pose stays the real one', async (t) => {
  const r = await rig(t);
  await publishState(r, amrState(400, T0, DOCK_B));
  await until('amr-2 at dock-b', () => r.fleet.get('amr-2')?.pose?.x === DOCK_B.x);
  // A forger's state, numbered from 1, stamped now, with amr-2 in the paint booth.
  await publishState(r, amrState(1, T0, BOOTH));
  await until('the forged state counted', () => r.drops.of('amr-2')['headerId-backwards'] === 1);
  // The real vehicle goes on where it left off.
  await publishState(r, amrState(401, T0 + 1_000, { ...DOCK_B, x: 8.5 }));
  await until('its next state taken', () => r.fleet.get('amr-2')?.pose?.x === 8.5);
  t.notOk(poses(r, 'amr-2').some((p) => p.x === BOOTH.x), 'amr-2 was never shown in the booth');
  t.equal(r.vda.lastState('amr-2')?.headerId, 401);
  t.same(r.drops.of('amr-2'), { 'headerId-backwards': 1 });
  t.match(r.logs.find((l) => l.level === 'warn'), { msg: /amr-2: message dropped \(headerId-backwards\): a state with headerId 1 after 400/ }, 'and logged');

  // A headerId far ahead is not adopted either: the real vehicle's next one is still taken.
  await publishState(r, amrState(2 ** 53 - 1, T0 + 1_000, BOOTH));
  await until('the jump counted', () => r.drops.of('amr-2')['headerId-jump'] === 1);
  await publishState(r, amrState(402, T0 + 2_000, { ...DOCK_B, x: 9 }));
  await until('the next real state taken', () => r.fleet.get('amr-2')?.pose?.x === 9);
  t.notOk(poses(r, 'amr-2').some((p) => p.x === BOOTH.x), 'still never in the booth');
});

t.test('VDA 5050: after the vehicle reconnects (its connection message) it may count from the start again', async (t) => {
  const r = await rig(t);
  await publishState(r, amrState(400, T0, DOCK_B));
  await until('amr-2 at dock-b', () => r.fleet.get('amr-2')?.online === true);
  const connection = (state: string, headerId: number) => ({ headerId, timestamp: new Date(T0).toISOString(), version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-2', connectionState: state });
  await r.device.publishAsync(AMR2_CONNECTION, JSON.stringify(connection('ONLINE', 0)), { qos: 1 });
  await publishState(r, amrState(0, T0 + 500, { ...DOCK_B, x: 8.25 }));
  await until('the restarted vehicle taken', () => r.fleet.get('amr-2')?.pose?.x === 8.25);
  await publishState(r, amrState(1, T0 + 600, { ...DOCK_B, x: 8.5 }));
  await until('and its next one', () => r.fleet.get('amr-2')?.pose?.x === 8.5);
  t.same(r.drops.of('amr-2'), {}, 'nothing dropped');
});

t.test("VDA 5050: a state stamped far from the gateway's clock is dropped and counted", async (t) => {
  const r = await rig(t);
  await publishState(r, amrState(10, T0 + 29_000, DOCK_B));
  await until('29 s ahead is within the 30 s allowed', () => r.fleet.get('amr-2')?.online === true);
  await publishState(r, amrState(11, T0 - 31_000, BOOTH));
  await publishState(r, amrState(12, T0 + 31_000, BOOTH));
  await until('both counted', () => r.drops.of('amr-2')['clock-skew'] === 2);
  // Dropped for its time, a state does not move the headerId on: 11 is still taken once it is of now.
  r.clock.ms = T0 + 60_000;
  await publishState(r, amrState(11, T0 + 60_000, { ...DOCK_B, x: 8.5 }));
  await until('a state of now taken', () => r.fleet.get('amr-2')?.pose?.x === 8.5);
  t.notOk(poses(r, 'amr-2').some((p) => p.x === BOOTH.x), 'never in the booth');
  t.same(r.drops.of('amr-2'), { 'clock-skew': 2 });
});

t.test('VDA 5050: numbers out of range are refused by the schema and counted', async (t) => {
  const r = await rig(t);
  await publishState(r, amrState(1, T0, DOCK_B));
  await until('amr-2 online', () => r.fleet.get('amr-2')?.online === true);
  await publishState(r, amrState(2, T0, { ...DOCK_B, theta: 1e308 }));
  await publishState(r, amrState(3, T0, { ...DOCK_B, theta: -3.2 }));
  await publishState(r, { ...amrState(4, T0, DOCK_B), batteryState: { batteryCharge: 100.5, charging: false } });
  // JSON has no NaN or Infinity: 1e999 is how a message carries one (it parses as Infinity).
  await r.device.publishAsync(AMR2_STATE, JSON.stringify(amrState(5, T0, DOCK_B)).replace('"x":8', '"x":1e999'), { qos: 1 });
  await until('all four counted', () => r.drops.of('amr-2').schema === 4);
  await publishState(r, amrState(6, T0, { ...DOCK_B, theta: 3.1416 }));
  await until('a heading of π rounded is taken', () => r.fleet.get('amr-2')?.pose?.theta === 3.1416);
  t.ok(poses(r, 'amr-2').every((p) => Number.isFinite(p.x) && Math.abs(p.theta) <= 3.1416), 'no pose taken from the bad ones');
  t.same(r.drops.of('amr-2'), { schema: 4 });
});

t.test('VDA 5050: an orderId cannot be guessed from the mission and the step', async (t) => {
  const r = await rig(t);
  await publishState(r, amrState(1, T0, DOCK_B));
  await until('amr-2 online', () => r.fleet.get('amr-2')?.online === true);
  const port = new Vda5050Port(r.vda, r.fleet);
  t.teardown(() => port.close());
  const request = { missionId: 'm_1', step: { id: 'go', action: 'navigate' as const, device: 'amr-2', params: { to: 'sa-2' } }, stepIndex: 0, attempt: 0, device: 'amr-2', route: { nodes: ['dock-b', 'sa-2'] }, ttlMs: 10_000 };
  const a = port.prepare(request);
  const b = port.prepare(request);
  t.match(a.id, /^m_1\.go\.0\.[0-9a-f]{32}$/, 'readable, with 128 random bits');
  t.not(a.id, b.id, 'never the same twice');
  t.equal((a.message as { orderId: string }).orderId, a.id);
});

// ---- the machine protocol ----------------------------------------------------------------

const CNC_STATE = machineTopic(SITE, 'cnc-1', 'state');
const idle = (seq: number, acks: MachineState['acks'] = []): MachineState => ({ seq, timestamp: new Date(T0).toISOString(), state: 'idle', errors: [], acks });
const publishMachine = (r: Rig, s: unknown) => r.device.publishAsync(CNC_STATE, JSON.stringify(s), { qos: 1 });

t.test('machine: a seq far ahead is dropped, not adopted, so it cannot mute the real machine', async (t) => {
  const r = await rig(t);
  await publishMachine(r, idle(40));
  await until('cnc-1 online', () => r.fleet.get('cnc-1')?.online === true);
  await publishMachine(r, { ...idle(1_000_000), state: 'fault', errors: [{ code: 'FORGED', message: 'not really' }] });
  await until('the jump counted', () => r.drops.of('cnc-1').seq === 1);
  await publishMachine(r, { ...idle(41), state: 'fault', errors: [{ code: 'DOOR_OPEN', message: 'the door is open' }] });
  await until("the real machine's next state taken", () => r.fleet.get('cnc-1')?.state === 'fault');
  t.same(r.fleet.get('cnc-1')?.errors, ['DOOR_OPEN: the door is open']);
  // Redelivered or replayed: not above the last taken.
  await publishMachine(r, idle(41));
  await until('the replay counted', () => r.drops.of('cnc-1').seq === 2);
  t.equal(r.fleet.get('cnc-1')?.state, 'fault', 'and not taken');
  t.notOk((r.seen.get('cnc-1') ?? []).some((s) => s.errors?.some((e) => e.startsWith('FORGED'))), 'the forged fault was never shown');
});

t.test('machine: acknowledgements and job ends count only for commands the gateway sent to that device', async (t) => {
  const r = await rig(t);
  await publishMachine(r, idle(1));
  await until('cnc-1 online', () => r.fleet.get('cnc-1')?.online === true);
  const id = await r.machines.command('cnc-1', { action: 'run', program: 'bracket-v2', count: 1 });
  t.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a random commandId');
  const job = { commandId: id, action: 'run' as const, program: 'bracket-v2', count: 1, startedAt: new Date(T0).toISOString() };
  // cnc-1 acknowledges the real command; then someone forges the end of a job of another one, and
  // an acknowledgement of a command sent to another machine (printer-1's) arrives on cnc-1's topic.
  const printerCommand = r.machines.prepareCommand('printer-1', { action: 'stop' });
  await r.machines.publish('printer-1', printerCommand);
  await publishMachine(r, { ...idle(2, [{ commandId: id, result: 'accepted', seq: 2 }]), state: 'running', job, progress: 0, partsProduced: 0 });
  await until('the real acknowledgement reported', () => r.acks.some((a) => a.commandId === id && a.result === 'accepted'));
  const forgedJob = { ...job, commandId: 'm_forged-s0-0', endedAt: new Date(T0).toISOString() };
  await publishMachine(r, {
    ...idle(3, [
      { commandId: id, result: 'accepted', seq: 2 },
      { commandId: printerCommand.commandId, result: 'accepted', seq: 3 },
    ]),
    state: 'done',
    job: forgedJob,
    progress: 1,
    partsProduced: 1,
  });
  await until('both counted', () => r.drops.of('cnc-1')['unknown-command'] === 2);
  t.same(r.jobs, [], 'no job end reported');
  t.same(r.acks.map((a) => [a.deviceId, a.commandId, a.result]), [['cnc-1', id, 'accepted']], "printer-1's command is not cnc-1's");
  // Each is counted once, though the device repeats its acknowledgements in the next states.
  await publishMachine(r, { ...idle(4, [{ commandId: printerCommand.commandId, result: 'accepted', seq: 3 }]), state: 'done', job: forgedJob, progress: 1, partsProduced: 1 });
  await until('the state taken', () => (r.seen.get('cnc-1') ?? []).length >= 4);
  t.equal(r.drops.of('cnc-1')['unknown-command'], 2);
  // The real end is reported.
  await publishMachine(r, { ...idle(5), state: 'done', job: { ...job, endedAt: new Date(T0).toISOString() }, progress: 1, partsProduced: 1 });
  await until('the real job end', () => r.jobs.length === 1);
  t.match(r.jobs[0], { deviceId: 'cnc-1', commandId: id, outcome: 'done' });
  // A command sent before a restart (the outbox has it) is followed: its end counts.
  r.machines.expectCommand('cnc-1', 'sent-before-a-restart');
  await publishMachine(r, { ...idle(6), state: 'done', job: { ...job, commandId: 'sent-before-a-restart', endedAt: new Date(T0).toISOString() }, progress: 1, partsProduced: 1 });
  await until('the followed job end', () => r.jobs.length === 2);
  t.equal(r.jobs[1]!.commandId, 'sent-before-a-restart');
});

t.test('machine: after its connection message the device may count its seq from 1 again', async (t) => {
  const r = await rig(t);
  await publishMachine(r, idle(50));
  await until('cnc-1 online', () => r.fleet.get('cnc-1')?.online === true);
  await r.device.publishAsync(machineTopic(SITE, 'cnc-1', 'connection'), JSON.stringify({ timestamp: new Date(T0).toISOString(), connectionState: 'ONLINE' }), { qos: 1 });
  await publishMachine(r, { ...idle(1), state: 'fault', errors: [{ code: 'RESTARTED', message: 'came back' }] });
  await until('the restarted machine taken', () => r.fleet.get('cnc-1')?.state === 'fault');
  t.same(r.drops.of('cnc-1'), {});
});

t.test('machine: a retained CONNECTIONBROKEN keeps a machine offline only until it publishes a state', async (t) => {
  const r = await rig(t);
  await publishMachine(r, idle(1));
  await until('cnc-1 online', () => r.fleet.get('cnc-1')?.online === true);
  // Someone else's retained last will, as if cnc-1 had gone.
  const connection = machineTopic(SITE, 'cnc-1', 'connection');
  await r.device.publishAsync(connection, JSON.stringify({ timestamp: new Date(T0).toISOString(), connectionState: 'CONNECTIONBROKEN' }), { qos: 1, retain: true });
  await until('cnc-1 offline', () => r.fleet.get('cnc-1')?.online === false);
  t.equal(r.fleet.get('cnc-1')?.state, 'connection broken');
  // cnc-1 is there and publishes its next state: that is believed over the connection message.
  await publishMachine(r, idle(2));
  await until('cnc-1 online again', () => r.fleet.get('cnc-1')?.online === true);
  t.equal(r.fleet.get('cnc-1')?.state, 'idle');
  t.match(r.logs.find((l) => /publishes its state although its connection said CONNECTIONBROKEN/.test(l.msg)), { level: 'warn' }, 'and says so');

  // A gateway that starts now gets both retained messages: the state is not news, so cnc-1 stays offline.
  await r.device.publishAsync(CNC_STATE, JSON.stringify(idle(3)), { qos: 1, retain: true });
  const fleet = new FleetRegistry(demo.index);
  const later = await connectMqtt({ url: r.brokerUrl, clientId: `later-${randomUUID().slice(0, 8)}` });
  t.teardown(() => closeMqtt(later, true));
  const m = new MachineMaster({ client: later, site: demo.index, siteId: SITE, fleet, silentAfterMs: 0 });
  await m.start();
  t.teardown(() => m.stop());
  await until('the retained state read', () => fleet.get('cnc-1')?.state === 'idle');
  t.equal(fleet.get('cnc-1')?.online, false, 'a retained state after a retained CONNECTIONBROKEN is shown, offline');
});

t.test('messages from no device of the site are counted under one name, not under the name they give', async (t) => {
  const r = await rig(t);
  await r.device.publishAsync(machineTopic(SITE, 'ghost-1', 'state'), JSON.stringify(idle(1)), { qos: 1 });
  await r.device.publishAsync('uagv/v2/phygate/amr-99/state', JSON.stringify(amrState(1, T0, DOCK_B)), { qos: 1 });
  await until('both counted', () => r.drops.of(UNKNOWN_DEVICE)['unknown-device'] === 2);
  t.same(r.drops.list(), [{ device: UNKNOWN_DEVICE, reason: 'unknown-device', count: 2 }]);
});

t.test('drops are logged at most once per device and reason per 10 s, with the count since the last line', async (t) => {
  const clock = { ms: T0 };
  const lines: LogLine[] = [];
  const drops = new DropCounter({ log: recordingLog(lines), now: () => clock.ms });
  for (let i = 0; i < 5; i++) drops.drop('amr-1', 'schema', 'bad');
  drops.drop('amr-1', 'clock-skew', 'late');
  drops.drop('amr-2', 'schema', 'bad');
  t.equal(lines.length, 3, 'one line for each device and reason');
  clock.ms += 9_999;
  drops.drop('amr-1', 'schema', 'bad');
  t.equal(lines.length, 3, 'none within 10 s');
  clock.ms += 1;
  drops.drop('amr-1', 'schema', 'bad');
  t.equal(lines.length, 4);
  t.match(lines[3], { level: 'warn', msg: 'amr-1: message dropped (schema): bad (6 dropped for this since the last line)', data: { device: 'amr-1', reason: 'schema', dropped: 6, droppedTotal: 7 } });
  t.same(drops.of('amr-1'), { schema: 7, 'clock-skew': 1 });
  t.equal(drops.total(), 9);
});

t.test('the sequence rule: above the last taken and not far above it; anything after a reset', async (t) => {
  const g = new SequenceGuard(10);
  t.equal(g.take(5), 'taken', 'the first, whatever it is');
  t.equal(g.take(5), 'backwards', 'the same again');
  t.equal(g.take(4), 'backwards');
  t.equal(g.take(16), 'jump', 'more than 10 above');
  t.equal(g.take(15), 'taken', '10 above');
  t.equal(g.lastTaken, 15, 'a dropped number is not adopted');
  g.reset();
  t.equal(g.take(1), 'taken', 'after a reset');
});
