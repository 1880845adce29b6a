// The VDA 5050 master against a virtual AMR (vda-5050-lib's vehicle side with our adapter) on
// real brokers: the AMR comes online, takes an order built from a real route and finishes it,
// pauses and resumes, cancels, survives a broker restart, and goes offline through its last
// will when it dies. Junk on the wire is counted, never fatal.
import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import type { DeviceState } from '../../planners/fleet.ts';
import { findRoute } from '../../planners/route.ts';
import type { Amr } from '../../planners/site.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { DeviceOfflineError, OrderActiveError, RouteStartError, UnknownDeviceError } from '../../robots/vda5050/errors.ts';
import type { StepSignal, Work } from '../../robots/device-port.ts';
import { Vda5050Master, type OrderProgress } from '../../robots/vda5050/master.ts';
import { Vda5050Port } from '../../robots/vda5050/port.ts';
import type { State } from '../../robots/vda5050/schemas.ts';
import { idleState } from '../helpers/vda5050-states.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { startVirtualAmr, type VirtualAmr } from '../../sim/virtual-amr.ts';
import { BROKERS, type TestBroker } from '../helpers/brokers.ts';
import { recordingLog, type LogLine } from '../helpers/log.ts';

const demo = loadSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
const amr1 = demo.index.device('amr-1') as Amr;
/** Slow enough for a test to catch amr-1 between the dock and the shelf (0.75 s at 20x). */
const SPEED = 20;
/** For tests that only wait for an order to end and read no charge. */
const FAST = 100;

/** dock-a → shelf-1 as the planner routes it, from the dock's heading to the shelf's. */
function dockToShelf(): string[] {
  const found = findRoute(demo.graph, 'dock-a', 'shelf-1', amr1.limits, { start: demo.index.station('dock-a')!.theta, end: demo.index.station('shelf-1')!.theta });
  if (!found.ok) throw new Error(`no route dock-a → shelf-1: ${found.reason}`);
  return found.route.nodes;
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Floor {
  broker: TestBroker;
  fleet: FleetRegistry;
  master: Vda5050Master;
  client: MqttClient;
  amr: VirtualAmr;
  logs: LogLine[];
  progress: OrderProgress[];
  amr1(): DeviceState;
}

/** A broker, a fleet registry for the demo site, a master on its own connection, and amr-1 parked at dock-a. */
async function floor(t: Test, start: (t: Test) => Promise<TestBroker>, opts: { silenceMs?: number; startNode?: string; soc?: number; speed?: number } = {}): Promise<Floor> {
  const broker = await start(t);
  const fleet = new FleetRegistry(demo.index);
  const client = await connectMqtt({ url: broker.url, clientId: `master-${process.pid}-${Math.random().toString(36).slice(2)}` });
  t.teardown(() => closeMqtt(client, true));
  const logs: Floor['logs'] = [];
  const master = new Vda5050Master({ client, site: demo.index, fleet, graph: demo.graph, log: recordingLog(logs), ...(opts.silenceMs ? { silenceMs: opts.silenceMs } : {}) });
  await master.start();
  t.teardown(() => master.stop());
  const progress: OrderProgress[] = [];
  master.onOrderProgress((p) => progress.push(p));
  const amr = await startVirtualAmr({
    brokerUrl: broker.url,
    site: demo.index,
    graph: demo.graph,
    amrId: 'amr-1',
    startNode: opts.startNode ?? 'dock-a',
    speed: opts.speed ?? SPEED,
    visualizationIntervalMs: 100,
    ...(opts.soc === undefined ? {} : { soc: opts.soc }),
  });
  t.teardown(() => amr.close());
  await until('amr-1 is online with a pose', () => fleet.get('amr-1')!.online && fleet.get('amr-1')!.pose !== undefined);
  return { broker, fleet, master, client, amr, logs, progress, amr1: () => fleet.get('amr-1')! };
}

const last = (f: Floor) => f.progress[f.progress.length - 1];
const near = (p: { x: number; y: number } | undefined, node: string) => {
  const n = demo.index.node(node)!;
  return p !== undefined && Math.hypot(p.x - n.x, p.y - n.y) < 1e-6;
};

/** What a newcomer finds retained on amr-1's connection topic. */
async function retainedConnection(t: Test, broker: TestBroker, tag: string): Promise<{ retained: boolean; connectionState: string; version: string } | undefined> {
  const raw = await connectMqtt({ url: broker.url, clientId: `retained-${tag}-${process.pid}` });
  t.teardown(() => closeMqtt(raw, true));
  const got = new Promise<{ retained: boolean; connectionState: string; version: string } | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 2_000);
    raw.on('message', (_topic, payload, packet) => {
      clearTimeout(timer);
      resolve({ retained: packet.retain, ...JSON.parse(payload.toString()) });
    });
  });
  await raw.subscribeAsync('uagv/v2/phygate/amr-1/connection', { qos: 1 });
  return got;
}


for (const [name, start] of BROKERS) {
  t.test(`${name}: amr-1 comes online at dock-a, takes an order along a planned route and finishes it`, async (t) => {
    // At SPEED: at FAST the idle drain can take the charge below 0.9 before it is read.
    const f = await floor(t, start);
    t.match(f.amr1(), { online: true, at: 'dock-a', soc: 0.9, cargo: 0, paused: false, state: 'idle', errors: [] });
    t.ok(near(f.amr1().pose, 'dock-a'), 'its pose is the dock');
    t.ok(Math.abs(f.amr1().pose!.theta - -1.5708) < 1e-6, "facing the dock's way");

    const route = dockToShelf();
    t.same(route, ['dock-a', 'sa-1', 'sa-2', 'sa-3', 'shelf-1']);
    const order = await f.master.sendOrder('amr-1', { route, actionsAtEnd: ['pick'] });
    t.match(order, { orderUpdateId: 0, version: '2.0.0', serialNumber: 'amr-1' });
    const seen = new Set<string>();
    f.fleet.onChange((s) => s.id === 'amr-1' && s.at && seen.add(s.at));
    await until('the order is finished', () => last(f)?.finished === true, 15_000);
    t.match(last(f), { orderId: order.orderId, lastNodeId: 'shelf-1', remainingNodes: [], finished: true, cancelled: false, failed: undefined });
    t.match(last(f)!.actionStates, [{ actionType: 'pick', actionStatus: 'FINISHED' }]);
    t.ok(f.progress.some((p) => p.remainingNodes.length > 0 && !p.finished), 'progress was reported on the way');
    await until('the fleet shows the tote', () => f.amr1().cargo === 1);
    t.match(f.amr1(), { online: true, at: 'shelf-1', cargo: 1, state: 'idle' });
    t.ok(near(f.amr1().pose, 'shelf-1'), 'standing on the shelf node');
    t.ok(Math.abs(f.amr1().pose!.theta - 1.5708) < 1e-3, "turned to the shelf's heading");
    t.ok(f.amr1().soc! < 0.9, `the drive and the wait cost charge (${f.amr1().soc})`);
    for (const n of ['sa-1', 'sa-2', 'sa-3']) t.ok(seen.has(n), `passed ${n}`);

    await t.rejects(f.master.sendOrder('amr-1', { route: ['dock-a', 'sa-1'] }), RouteStartError, 'a route must start where the AMR is');
    await t.rejects(f.master.sendOrder('amr-9', { route: ['dock-a'] }), UnknownDeviceError);
    await t.rejects(f.master.sendOrder('amr-2', { route: ['dock-b'] }), DeviceOfflineError, 'amr-2 never connected');
  });

  t.test(`${name}: a base with a horizon stops where the base ends; the update releases the rest`, async (t) => {
    const f = await floor(t, start, { speed: FAST });
    const order = await f.master.sendOrder('amr-1', { route: dockToShelf(), actionsAtEnd: ['pick'], releasedNodes: 3 });
    await until('amr-1 waits at sa-2, the end of the base', () => last(f)?.lastNodeId === 'sa-2' && f.amr1().state === 'waiting', 10_000);
    t.match(last(f), { finished: false, remainingNodes: ['sa-3', 'shelf-1'] });
    await t.rejects(f.master.sendOrder('amr-1', { route: ['sa-2', 'sa-3'] }), OrderActiveError, 'no second order on top of the first');
    await t.rejects(f.master.updateOrder('amr-1', { route: ['sa-3', 'shelf-1'] }), RouteStartError, 'the update starts where the base ends');
    const update = await f.master.updateOrder('amr-1', { route: ['sa-2', 'sa-3', 'shelf-1'], actionsAtEnd: ['pick'] });
    t.match(update, { orderId: order.orderId, orderUpdateId: 1 });
    t.same(update.nodes.map((n) => n.sequenceId), [4, 6, 8]);
    await until('the order is finished', () => last(f)?.finished === true, 15_000);
    t.match(last(f), { orderUpdateId: 1, lastNodeId: 'shelf-1' });
    await until('the tote is on board', () => f.amr1().cargo === 1);
  });

  t.test(`${name}: startPause stops amr-1 mid-route, stopPause lets it finish`, async (t) => {
    const f = await floor(t, start);
    await f.master.sendOrder('amr-1', { route: dockToShelf(), actionsAtEnd: ['pick'] });
    await until('amr-1 has left the dock', () => (f.amr1().pose?.y ?? 0) > 2);
    await f.master.instantAction('amr-1', 'startPause');
    await until('amr-1 reports paused', () => f.amr1().paused === true);
    await sleep(300);
    const held = f.amr1().pose!;
    await sleep(700);
    t.same(f.amr1().pose, held, 'the position does not change while paused');
    t.match(f.amr1(), { paused: true, state: 'paused' });
    t.notOk(near(held, 'dock-a') || near(held, 'shelf-1'), `stopped on the way (${held.x.toFixed(2)}, ${held.y.toFixed(2)})`);
    t.equal(last(f)?.finished, false);
    await f.master.instantAction('amr-1', 'stopPause');
    await until('the order is finished', () => last(f)?.finished === true, 15_000);
    t.match(f.amr1(), { paused: false, at: 'shelf-1' });
    await until('the tote is on board', () => f.amr1().cargo === 1);
  });

  t.test(`${name}: cancelOrder stops amr-1 and the order does not finish`, async (t) => {
    const f = await floor(t, start);
    await f.master.sendOrder('amr-1', { route: dockToShelf(), actionsAtEnd: ['pick'] });
    await until('amr-1 is on its way', () => (f.amr1().pose?.y ?? 0) > 2);
    await f.master.instantAction('amr-1', 'cancelOrder');
    await until('the cancel is done', () => last(f)?.cancelled === true, 10_000);
    t.match(last(f), { finished: false, cancelled: true, failed: undefined, remainingNodes: [] });
    t.match(last(f)!.actionStates, [{ actionType: 'pick', actionStatus: 'FAILED' }], 'the pick never happened');
    await until('amr-1 stands still', () => f.amr1().state === 'idle');
    const stopped = f.amr1().pose!;
    await sleep(600);
    t.same(f.amr1().pose, stopped, 'and stays where it stopped');
    t.ok(demo.index.node(f.amr1().at!) !== undefined && near(stopped, f.amr1().at!), `on the node it reached (${f.amr1().at})`);
    t.equal(f.amr1().cargo, 0);
    t.notOk(f.progress.some((p) => p.finished), 'never reported finished');
  });

  t.test(`${name}: stopVehicle pauses amr-1 mid-route and cancels its order, in one QoS 1 message; stopPause then moves nothing`, async (t) => {
    const f = await floor(t, start);
    const watch = await connectMqtt({ url: f.broker.url, clientId: `watch-${name}-${process.pid}` });
    t.teardown(() => closeMqtt(watch, true));
    const seen: { qos: number; retain: boolean; body: { actions: { actionId: string; actionType: string; blockingType: string }[] } }[] = [];
    watch.on('message', (_topic, payload, packet) => seen.push({ qos: packet.qos, retain: packet.retain, body: JSON.parse(payload.toString()) }));
    await watch.subscribeAsync('uagv/v2/phygate/amr-1/instantActions', { qos: 1 });

    const order = await f.master.sendOrder('amr-1', { route: dockToShelf(), actionsAtEnd: ['pick'] });
    await until('amr-1 has left the dock', () => (f.amr1().pose?.y ?? 0) > 2);
    const pressed = performance.now();
    const ids = await f.master.stopVehicle('amr-1');
    t.equal(ids.length, 2, 'two actionIds');
    await until('amr-1 reports paused', () => f.amr1().paused === true);
    t.comment(`stopVehicle → paused reported: ${(performance.now() - pressed).toFixed(0)} ms`);
    await until('the order is cancelled', () => last(f)?.cancelled === true, 10_000);
    t.match(last(f), { orderId: order.orderId, finished: false, cancelled: true, failed: undefined });
    await until('the watcher saw the message', () => seen.length > 0);
    t.equal(seen.length, 1, 'one message');
    t.match(seen[0], { qos: 1, retain: false }, 'at QoS 1, not retained');
    t.same(
      seen[0]!.body.actions.map((a) => [a.actionId, a.actionType, a.blockingType]),
      [
        [ids[0], 'startPause', 'NONE'],
        [ids[1], 'cancelOrder', 'NONE'],
      ],
      'startPause, then cancelOrder',
    );
    const held = f.amr1().pose!;
    t.notOk(near(held, 'dock-a') || near(held, 'shelf-1'), `stopped on the way (${held.x.toFixed(2)}, ${held.y.toFixed(2)})`);
    await sleep(500);
    t.same(f.amr1().pose, held, 'it does not move while paused');
    t.match(f.amr1(), { paused: true, state: 'paused' });

    await f.master.instantAction('amr-1', 'stopPause');
    await until('amr-1 is no longer paused', () => f.amr1().paused === false);
    await sleep(500);
    t.same(f.amr1().pose, held, 'released, it still stands where it stopped: the order is gone');
    t.notOk(f.progress.some((p) => p.finished), 'the order never finished');

    // Offline as far as the master knows: the stop is published all the same.
    f.amr.kill();
    await until('amr-1 is offline', () => !f.amr1().online, 10_000);
    const before = seen.length;
    await f.master.stopVehicle('amr-1');
    await until('the watcher saw the second stop', () => seen.length > before);
    t.match(seen.at(-1)!.body.actions.map((a) => a.actionType), ['startPause', 'cancelOrder'], 'sent to an offline vehicle too');
    await t.rejects(f.master.stopVehicle('amr-9'), UnknownDeviceError);
  });

  t.test(`${name}: a vehicle that dies goes offline through its last will`, async (t) => {
    const f = await floor(t, start);
    t.match(await retainedConnection(t, f.broker, 'before'), { retained: true, connectionState: 'ONLINE', version: '2.0.0' }, 'ONLINE is retained on the broker');
    f.amr.kill();
    await until('amr-1 is offline', () => !f.amr1().online, 10_000);
    t.match(f.amr1(), { online: false, state: 'connection broken' });
    t.match(await retainedConnection(t, f.broker, 'after'), { retained: true, connectionState: 'CONNECTIONBROKEN' }, 'the last will replaced it, retained');
    await t.rejects(f.master.sendOrder('amr-1', { route: ['dock-a', 'sa-1'] }), DeviceOfflineError, 'no new work for it');
  });

  t.test(`${name}: junk on the wire is counted and dropped; silence marks a vehicle offline`, async (t) => {
    const f = await floor(t, start, { silenceMs: 1000 });
    const raw = await connectMqtt({ url: f.broker.url, clientId: `raw-${name}` });
    t.teardown(() => closeMqtt(raw, true));
    const before = f.master.stats();
    const poseBefore = f.amr1().pose;
    await raw.publishAsync('uagv/v2/phygate/amr-1/state', '{"headerId": 1, oops', { qos: 1 });
    const { batteryState: _b, ...noBattery } = idleState({ serialNumber: 'amr-1' });
    await raw.publishAsync('uagv/v2/phygate/amr-1/state', JSON.stringify(noBattery), { qos: 1 });
    await raw.publishAsync('uagv/v2/phygate/amr-1/state', JSON.stringify(idleState({ serialNumber: 'amr-2' })), { qos: 1 });
    await raw.publishAsync('uagv/v2/phygate/amr-99/state', JSON.stringify(idleState({ serialNumber: 'amr-99' })), { qos: 1 });
    // amr-1 itself keeps reporting, so `received` alone does not tell when the four have arrived.
    await until('the four messages are counted', () => {
      const s = f.master.stats();
      return s.invalid >= before.invalid + 3 && s.unknownDevice >= before.unknownDevice + 1;
    });
    const after = f.master.stats();
    t.equal(after.invalid - before.invalid, 3, 'not JSON, no batteryState, and a state naming another vehicle than its topic');
    t.equal(after.unknownDevice - before.unknownDevice, 1, 'amr-99 is no AMR of the site');
    t.same(f.amr1().pose, poseBefore, 'none of it touched amr-1');
    // Logged at a bounded rate (robots/drops.ts): the first of amr-1's, and the unknown vehicle's.
    t.ok(f.logs.some((l) => l.level === 'warn' && /^amr-1: message dropped \(schema\): a message on uagv\/v2\/phygate\/amr-1\/state is not JSON/.test(l.msg)), 'and it was logged');
    t.ok(f.logs.some((l) => l.level === 'warn' && /^\(unknown\): message dropped \(unknown-device\)/.test(l.msg)), 'the unknown vehicle too');

    // A vehicle that reports and then says nothing more is marked offline.
    await raw.publishAsync('uagv/v2/phygate/amr-2/state', JSON.stringify(idleState({ serialNumber: 'amr-2' })), { qos: 1 });
    await until('amr-2 is online', () => f.fleet.get('amr-2')!.online);
    t.match(f.fleet.get('amr-2'), { at: 'dock-b', soc: 0.64, pose: { x: 8, y: 1.5 } });
    await until('amr-2 is marked offline after its silence', () => !f.fleet.get('amr-2')!.online, 5_000);
    t.equal(f.fleet.get('amr-2')!.state, 'silent');
    t.ok(f.amr1().online, 'amr-1, which keeps talking, stays online');

    // Still working after all that.
    await f.master.sendOrder('amr-1', { route: ['dock-a', 'sa-1'] });
    await until('the next order finishes', () => last(f)?.finished === true, 10_000);
  });

  t.test(`${name}: a broker restart mid-order is survived; the order completes`, async (t) => {
    const f = await floor(t, start);
    await f.master.sendOrder('amr-1', { route: dockToShelf(), actionsAtEnd: ['pick'] });
    await until('amr-1 is on its way', () => (f.amr1().pose?.y ?? 0) > 2);
    let reconnects = 0;
    f.client.on('connect', () => reconnects++);
    t.notOk(last(f)?.finished, 'the order is under way when the broker goes down');
    await f.broker.restart();
    await until('the order is finished', () => last(f)?.finished === true, 30_000);
    t.ok(reconnects >= 1, 'the master reconnected');
    await until('amr-1 is online at the shelf with the tote', () => f.amr1().online && f.amr1().at === 'shelf-1' && f.amr1().cargo === 1, 10_000);
    t.pass('master and vehicle reconnected by themselves');
    t.match(await retainedConnection(t, f.broker, `restart-${name}`), { retained: true, connectionState: 'ONLINE' }, 'the vehicle said ONLINE again after reconnecting');
    // And the link works both ways again.
    await f.master.sendOrder('amr-1', { route: ['shelf-1', 'sa-3'] });
    await until('an order after the restart finishes', () => last(f)?.finished === true && last(f)?.lastNodeId === 'sa-3', 10_000);
  });
}

t.test('aedes: charging at a charger, refusals while charging, work that cannot be done', async (t) => {
  const f = await floor(t, BROKERS[1][1], { startNode: 'charger-1', soc: 0.3 });
  t.match(f.amr1(), { at: 'charger-1', soc: 0.3 });
  await f.master.sendOrder('amr-1', { route: ['charger-1'], actionsAtEnd: ['startCharging'] });
  await until('the charging order is finished', () => last(f)?.finished === true);
  await until('the fleet shows amr-1 charging', () => f.amr1().state === 'charging');
  await until('the charge rises', () => f.amr1().soc! > 0.3 + 0.003, 10_000);

  const refused = await f.master.sendOrder('amr-1', { route: ['charger-1', 'ma-1'] });
  await until('the order is refused', () => last(f)?.orderId === refused.orderId && last(f)?.failed !== undefined);
  t.match(last(f), { finished: false, failed: /not executable while charging/ }, 'a vehicle takes no order while it charges');

  await f.master.instantAction('amr-1', 'stopCharging');
  await until('charging stops', () => f.amr1().state === 'idle');
  const drop = await f.master.sendOrder('amr-1', { route: ['charger-1', 'ma-1'], actionsAtEnd: ['drop'] });
  await until('the drop fails', () => last(f)?.orderId === drop.orderId && last(f)?.failed !== undefined, 10_000);
  t.match(last(f), { finished: false, lastNodeId: 'ma-1', failed: /drop .* failed: the AMR carries nothing to drop/ });

  // Cancelled before it leaves the node: it stays on it.
  await f.master.sendOrder('amr-1', { route: ['ma-1', 'ma-2', 'sa-2', 'dock-b'] });
  await f.master.instantAction('amr-1', 'cancelOrder');
  await until('the cancel is done', () => last(f)?.cancelled === true, 10_000);
  await until('amr-1 stands still', () => f.amr1().state === 'idle');
  t.ok(near(f.amr1().pose, f.amr1().at!), `on a node (${f.amr1().at})`);

  t.equal(f.master.factsheet('amr-1'), undefined, 'no factsheet unless asked for');
  // Instant actions go at QoS 0, as the spec has them: a request can be lost (once in CI, with four
  // test files at a time on two cores, the factsheet never came), so the test asks again, as a
  // master would, up to five times.
  for (let i = 0; i < 5 && f.master.factsheet('amr-1') === undefined; i++) {
    await f.master.instantAction('amr-1', 'factsheetRequest');
    await until('the factsheet arrives', () => f.master.factsheet('amr-1') !== undefined, 2_000).catch(() => {});
  }
  t.match(f.master.factsheet('amr-1'), { serialNumber: 'amr-1', typeSpecification: { agvKinematic: 'DIFF', maxLoadMass: 30 } });
  await t.rejects(f.master.updateOrder('amr-2', { route: ['dock-b'] }), DeviceOfflineError);
});

t.test('aedes: a restarted gateway follows an order amr-1 finished meanwhile: accepted first, then done', async (t) => {
  const f = await floor(t, BROKERS[1][1]);
  const port = new Vda5050Port(f.master, f.fleet);
  const work = port.prepare({
    missionId: 'm-1',
    step: { id: 'fetch', action: 'pick', device: 'amr-1', params: { at: 'shelf-1' } },
    stepIndex: 0,
    attempt: 0,
    device: 'amr-1',
    route: { nodes: dockToShelf() },
    ttlMs: 60_000,
  });
  await port.send(work);
  await until('the order is finished', () => last(f)?.finished === true, 15_000);
  port.close();
  await f.master.stop();

  // The new gateway has heard the vehicle before it takes the work over from its outbox.
  const client = await connectMqtt({ url: f.broker.url, clientId: `master-restarted-${process.pid}` });
  t.teardown(() => closeMqtt(client, true));
  const fleet = new FleetRegistry(demo.index);
  const master = new Vda5050Master({ client, site: demo.index, fleet, graph: demo.graph });
  const restarted = new Vda5050Port(master, fleet);
  t.teardown(() => restarted.close());
  await master.start();
  t.teardown(() => master.stop());
  await until('amr-1 reported to the new master', () => fleet.get('amr-1')!.at === 'shelf-1');
  const signals: StepSignal[] = [];
  restarted.onSignal((s) => signals.push(s));
  restarted.follow(JSON.parse(JSON.stringify(work)) as Work);
  t.same(
    signals.map((s) => [s.type, s.workId]),
    [
      ['accepted', work.id],
      ['done', work.id],
    ],
  );
});

t.test('aedes: an order the vehicle never took is dropped without a stopPause; a paused one goes on with one', async (t) => {
  const f = await floor(t, BROKERS[1][1], { speed: FAST });
  const port = new Vda5050Port(f.master, f.fleet);
  t.teardown(() => port.close());
  const told: string[] = [];
  const watch = await connectMqtt({ url: f.broker.url, clientId: `instant-watch-${process.pid}` });
  t.teardown(() => closeMqtt(watch, true));
  watch.on('message', (_topic, payload) => told.push(...(JSON.parse(payload.toString()) as { actions: { actionType: string }[] }).actions.map((a) => a.actionType)));
  await watch.subscribeAsync('uagv/v2/phygate/amr-1/instantActions', { qos: 1 });
  const signals: StepSignal[] = [];
  port.onSignal((s) => signals.push(s));
  const request = (attempt: number) => ({
    missionId: 'm-drop',
    step: { id: 'fetch', action: 'navigate' as const, device: 'amr-1', params: { to: 'shelf-1' } },
    stepIndex: 0,
    attempt,
    device: 'amr-1',
    route: { nodes: dockToShelf() },
    ttlMs: 60_000,
  });

  // Never sent (as an order a vehicle refuses): cancelOrder, confirmed at the second call, then
  // the executor lets the vehicle go on. It was never paused: a stopPause would only earn an
  // instantActionError from it.
  const unsent = port.prepare(request(0));
  port.abort(unsent);
  port.abort(unsent);
  await until('the abort confirmed', () => signals.some((s) => s.type === 'aborted' && s.workId === unsent.id));
  port.resume(unsent);
  await f.master.instantAction('amr-1', 'stateRequest');
  await until('the marker stateRequest on the broker', () => told.includes('stateRequest'));
  t.same(told, ['cancelOrder', 'stateRequest'], 'a cancelOrder, and no stopPause before the marker');

  // Sent, taken, paused: resume tells it to go on.
  const sent = port.prepare(request(1));
  await port.send(sent);
  await until('the vehicle runs the order', () => f.master.lastState('amr-1')?.orderId === sent.id);
  port.pause(sent);
  port.resume(sent);
  await until('startPause and stopPause on the broker', () => told.includes('stopPause'));
  t.same(told.slice(2), ['startPause', 'stopPause'], 'the paused vehicle is told stopPause');
});
