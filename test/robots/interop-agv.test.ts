// Interoperability run: a VDA 5050 vehicle that is not phygate's — vda-5050-lib's own
// AgvController with its VirtualAgvAdapter, unmodified, in a process of its own
// (test/helpers/interop-agv.mjs) — plays amr-1 of the demo site against a real gateway over a
// real Mosquitto broker. Through the gateway's HTTP API it runs missions (navigate, then pick and
// drop) to `succeeded`, obeys STOP (pauses and drops its order: read from its own state on the
// broker), runs a resumed mission to the end after the release, and is shown offline once its
// process is killed.
//
// What the library's vehicle needs to take phygate's orders, found by running it:
// - `vda5050.instantActionsKey: instantActions` in site.yaml: vda-5050-lib 1.4 reads instant
//   actions under the 1.1 key; sent under the 2.0 key `actions` it drops them all, STOP included.
// - An initial position on the site's map (`mapId` of site.yaml) at the node the vehicle stands
//   on, with `lastNodeId` that node: its default is map `local` at (0, 0), and it rejects any order
//   whose first node is not within the node's allowed deviation of where it stands.
// - Every node of an order with a `nodePosition` (phygate always sends one), and
//   `vda5050.allowedDeviationKey: allowedDeviationXy`: it reads a node's allowed deviation under
//   the 1.1 name, not 2.0's `allowedDeviationXY`, and without it uses its own 0.5 m. Stopped 1.6 m
//   past a node, it then refused the order the resumed mission sent from where it stood ("first
//   node of new order not within deviation range"), and the mission failed.
// - For `pick` and `drop`, `stationType` starting with `floor` and `loadType: EPAL`, optional in
//   the specification: site.yaml's `vda5050.actionParameters` adds them to its orders.
// Every message on the wire is captured and checked against the specification's JSON schemas.
// Also noted, not asserted: the library publishes `connection` and its last will at QoS 0, where
// the specification asks for QoS 1.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { Gateway } from '../../gateway/main.ts';
import { startMosquitto } from '../helpers/brokers.ts';
import { childEnv, spawnNode } from '../helpers/child-env.ts';
import { captureVdaWire, checkVdaWire } from '../helpers/vda5050-wire.ts';
import { until } from '../helpers/wait.ts';
import { call, gatewayOnBroker } from '../gateway/gateway-process.ts';
import { demoSiteCopy, REPO_ROOT, tempDirFor } from '../gateway/harness.ts';

const TOKEN = 'test-admin-token-0123456789';
const VEHICLE = fileURLToPath(new URL('../helpers/interop-agv.mjs', import.meta.url));
const MANUFACTURER = 'coaty-lib';
const SERIAL = 'agv-001';

interface Vehicle {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The library's vehicle in its own process, standing on dock-a of the demo hall; killed when `t` ends. */
async function startVehicle(t: Test, brokerUrl: string): Promise<Vehicle> {
  const options = {
    brokerUrl,
    manufacturer: MANUFACTURER,
    serialNumber: SERIAL,
    initialPosition: { mapId: 'demo-hall', x: 4, y: 1.5, theta: -1.5708, lastNodeId: 'dock-a' },
    // 2 m/s (less on the site's slow edges) at twice real time: a mission takes seconds, and the
    // vehicle is still seen between two nodes, 0.1 s apart, before it passes the next.
    vehicleSpeed: 2,
    timeLapse: 2,
  };
  const child = spawnNode([VEHICLE, JSON.stringify(options)], { cwd: REPO_ROOT, env: childEnv({}) });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  await new Promise<void>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.on('line', (line) => line === 'ready' && resolve());
    void exited.then((e) => reject(new Error(`the vehicle exited (${JSON.stringify(e)}): ${err}`)));
  });
  return { child, exited };
}

interface VdaState {
  orderId: string;
  lastNodeId: string;
  driving: boolean;
  paused?: boolean;
  nodeStates: unknown[];
  edgeStates: unknown[];
  agvPosition?: { x: number; y: number; mapId: string; positionInitialized: boolean };
  headerId: number;
  actionStates: { actionType?: string; actionId: string; actionStatus: string }[];
  errors: { errorType: string; errorDescription?: string }[];
}

t.test('vda-5050-lib vehicle as amr-1: a mission succeeds, STOP pauses it and drops its order, a resumed mission ends, killed it is offline', async (t) => {
  const broker = await startMosquitto(t);
  const wire = await captureVdaWire(t, broker.url);
  const siteDir = demoSiteCopy(t, (y) =>
    y.replace(
      'vda5050: { manufacturer: phygate, serialNumber: amr-1 }',
      `vda5050: { manufacturer: ${MANUFACTURER}, serialNumber: ${SERIAL}, instantActionsKey: instantActions, allowedDeviationKey: allowedDeviationXy, actionParameters: { pick: { stationType: floor, loadType: EPAL }, drop: { stationType: floor, loadType: EPAL } } }`,
    ),
  );
  const g: Gateway = await gatewayOnBroker(t, broker.url, TOKEN, tempDirFor(t), { PHYGATE_SITE: siteDir });
  const api = async (method: 'GET' | 'POST', path: string, body?: unknown) => call(g.url, TOKEN, method, path, body);
  const mission = async (id: string) => (await api('GET', `/v1/missions/${id}`)).json as { status: string; reason: string | null; steps: { status: string; reason: string | null }[] };
  const ended = (id: string, what: string) =>
    until(what, async () => {
      const m = await mission(id);
      return m.status === 'succeeded' || m.status === 'failed' || m.status === 'cancelled' ? m : undefined;
    });
  const submitAndApprove = async (name: string, steps: unknown[]) => {
    const sub = await api('POST', '/v1/missions', { plan: { schema: 'phygate.plan/v1', name, steps } });
    t.equal(sub.status, 201, `${name}: submitted${sub.status === 201 ? '' : `: ${JSON.stringify(sub.json).slice(0, 300)}`}`);
    t.equal(sub.json.report?.verdict, 'pass', `${name}: its check passes`);
    const approved = await api('POST', `/v1/missions/${sub.json.id}/approve`, { planHash: sub.json.planHash });
    t.equal(approved.json.status, 'running', `${name}: approved and running`);
    return sub.json.id as string;
  };
  // The vehicle's own word: its states as Mosquitto delivered them.
  const ownTopic = `uagv/v2/${MANUFACTURER}/${SERIAL}/`;
  const states = () => wire.filter((c) => c.topic === `${ownTopic}state`).map((c) => JSON.parse(c.text) as VdaState);
  const lastState = () => states().at(-1);
  const lastPosition = () => {
    const v = wire.filter((c) => c.topic === `${ownTopic}visualization`).at(-1);
    return v && (JSON.parse(v.text) as { agvPosition?: { x: number; y: number } }).agvPosition;
  };

  const vehicle = await startVehicle(t, broker.url);
  await until('amr-1 online', async () => (await api('GET', '/v1/robots/amr-1')).json.online === true);
  t.match((await api('GET', '/v1/robots/amr-1')).json, { online: true, at: 'dock-a', state: 'idle' }, 'the gateway sees the vehicle at dock-a, idle');

  // 1. A navigate mission, run to the end.
  const first = await submitAndApprove('interop-navigate', [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-2' } }]);
  const firstEnd = await ended(first, 'the first mission over');
  t.equal(firstEnd.status, 'succeeded', 'the mission succeeded');
  t.match(lastState(), { lastNodeId: 'shelf-2', driving: false, errors: [] }, 'the vehicle says it stands at shelf-2');
  t.match((await api('GET', '/v1/robots/amr-1')).json, { at: 'shelf-2' }, 'and so does the gateway');

  // A pick at shelf-2 and a drop back at dock-a. The library's vehicle refuses both unless they say
  // `stationType: floor…` and `loadType: EPAL`: site.yaml's `vda5050.actionParameters` adds them.
  const cargo = await submitAndApprove('interop-pick-drop', [
    { id: 'load', action: 'pick', device: 'amr-1', params: { at: 'shelf-2' } },
    { id: 'unload', action: 'drop', device: 'amr-1', params: { at: 'dock-a' }, after: ['load'] },
  ]);
  const cargoEnd = await ended(cargo, 'the pick and drop over');
  t.equal(cargoEnd.status, 'succeeded', `the pick and drop succeeded${cargoEnd.reason ? `: ${cargoEnd.reason}` : ''}`);
  const picked = states().find((s) => s.actionStates.some((a) => a.actionType === 'pick' && a.actionStatus === 'FINISHED'));
  t.match(picked, { lastNodeId: 'shelf-2' }, 'the vehicle finished its pick at shelf-2');
  t.match(lastState(), { lastNodeId: 'dock-a', driving: false, actionStates: [{ actionType: 'drop', actionStatus: 'FINISHED' }] }, 'and its drop at dock-a');
  t.same((lastState() as { loads?: unknown[] }).loads ?? [], [], 'it carries nothing after the drop');

  // 2. A longer mission, stopped while the vehicle drives.
  const second = await submitAndApprove('interop-stopped', [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-2' } }]);
  // Just past sa-2 (8, 4) on the way to sa-3 (13, 4), as its visualization says: the STOP should
  // leave it further from any node than the library's own tolerance (0.5 m).
  const between = (p: { x: number; y: number } | undefined) => p !== undefined && Math.abs(p.y - 4) < 0.01 && p.x > 8.6 && p.x < 10.5;
  const offNodes = (p: { x: number; y: number } | undefined) => p !== undefined && g.site.index.site.nodes.every((n) => Math.hypot(n.x - p.x, n.y - p.y) > 0.5);
  const seenAt = await until('the vehicle between sa-2 and sa-3', () => {
    const p = lastPosition();
    return between(p) ? p : undefined;
  });
  const stop = await api('POST', '/v1/stop', { scope: 'all', reason: 'interoperability run' });
  t.equal(stop.status, 200, 'STOP answered');
  t.match(stop.json.told.find((d: { device: string }) => d.device === 'amr-1'), { result: 'sent' }, "STOP's answer says the message to amr-1 was sent");
  const stopped = await until('the vehicle paused, its order dropped, standing', () => {
    const s = lastState();
    return s?.paused === true && s.driving === false && s.nodeStates.length === 0 && s.edgeStates.length === 0 ? s : undefined;
  });
  t.ok(stopped.actionStates.some((a) => a.actionType === 'cancelOrder' && a.actionStatus === 'FINISHED'), 'its cancelOrder is FINISHED');
  t.ok(stopped.actionStates.some((a) => a.actionType === 'startPause' && a.actionStatus === 'FINISHED'), 'and its startPause');
  t.ok(offNodes(stopped.agvPosition), `it stopped between two nodes, more than 0.5 m from any: at x ${stopped.agvPosition?.x.toFixed(2)} (x ${seenAt!.x.toFixed(2)} when the STOP was pressed)`);
  t.equal((await mission(second)).status, 'paused', 'the mission is paused by the STOP');

  // 3. Release, then resume the mission: it drives on to the end.
  const release = await api('POST', '/v1/stop/release', { ack: true });
  t.equal(release.status, 200, 'released');
  await until('the vehicle unpaused', () => lastState()?.paused === false);
  const since = states().filter((s) => s.headerId >= stopped.headerId);
  t.ok(
    since.every((s) => !s.driving && s.agvPosition?.x === stopped.agvPosition!.x && s.agvPosition.y === stopped.agvPosition!.y),
    `from the STOP to the release (${since.length} states) it stood where it stopped`,
  );
  const resumed = await api('POST', `/v1/missions/${second}/resume`, {});
  t.equal(resumed.status, 200, 'resumed');
  const secondEnd = await ended(second, 'the resumed mission over');
  t.equal(secondEnd.status, 'succeeded', `the resumed mission succeeded${secondEnd.reason ? `: ${secondEnd.reason}` : ''}`);
  t.match(lastState(), { lastNodeId: 'shelf-2', driving: false }, 'the vehicle says it stands at shelf-2');

  // 4. Killed: the broker publishes its last will and the gateway shows it offline.
  vehicle.child.kill('SIGKILL');
  t.same(await vehicle.exited, { code: null, signal: 'SIGKILL' }, 'the vehicle process is killed');
  await until('amr-1 offline', async () => (await api('GET', '/v1/robots/amr-1')).json.online === false);
  t.pass('GET /v1/robots/amr-1 says offline');
  const connections = wire.filter((c) => c.topic === `${ownTopic}connection`);
  t.same(connections.map((c) => (JSON.parse(c.text) as { connectionState: string }).connectionState), ['ONLINE', 'CONNECTIONBROKEN'], 'its connection: ONLINE, then its last will');
  // The specification asks for QoS 1 on connection; vda-5050-lib 1.4 publishes it, and its last
  // will, at QoS 0. Noted, not asserted: it is the library's to fix.
  t.comment(`the vehicle's connection messages arrived at QoS ${connections.map((c) => c.qos).join(', ')}`);
  t.ok(states().every((s) => s.errors.length === 0), 'the vehicle reported no error all along (no order refused, no instant action refused)');

  const orders = wire.filter((c) => c.topic === `${ownTopic}order`).map((c) => JSON.parse(c.text) as { nodes: { nodePosition?: Record<string, unknown> }[] });
  t.ok(
    orders.length > 0 && orders.every((o) => o.nodes.every((n) => n.nodePosition && 'allowedDeviationXy' in n.nodePosition && !('allowedDeviationXY' in n.nodePosition))),
    `the ${orders.length} orders to it give each node's allowed deviation under the 1.1 key allowedDeviationXy`,
  );

  // Every message on the wire, the gateway's and the vehicle's, against the 2.0.0 and 2.1.0
  // schemas. The instant actions to this vehicle carry their list under the 1.1 key, as its
  // site.yaml asks: each is shown to, and then checked as the specification names the key.
  const compat = wire.filter((c) => c.topic === `${ownTopic}instantActions`);
  t.ok(compat.length > 0, `${compat.length} instantActions messages to the vehicle`);
  t.ok(
    compat.every((c) => {
      const m = JSON.parse(c.text) as Record<string, unknown>;
      return Array.isArray(m.instantActions) && !('actions' in m);
    }),
    'each with its list under `instantActions`, none under `actions`',
  );
  const renamed = compat.map((c) => {
    const { instantActions, ...rest } = JSON.parse(c.text) as Record<string, unknown>;
    return { ...c, text: JSON.stringify({ ...rest, actions: instantActions }) };
  });
  checkVdaWire(t, [...wire.filter((c) => !compat.includes(c)), ...renamed]);
});
