// Conformance on the wire: every message of a session between the VDA 5050 master and a virtual
// AMR, captured from Mosquitto by a client subscribed to everything, is validated against the
// specification's own JSON schemas (releases 2.0.0 and 2.1.0, read from outside the repository,
// see test/helpers/vda5050-schemas.ts). The session: an order with a pick, one with a drop, one
// to the charger and stopCharging, pause and resume, cancel, STOP and release, stateRequest and
// factsheetRequest, and a crash (the last will). A failure names the topic, the schema path and
// the message. Also: a vehicle configured for the 1.1 key gets `instantActions`, and STOP under
// the 2.0 key `actions` stops the virtual AMR.
import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { Vda5050Master, type OrderProgress } from '../../robots/vda5050/master.ts';
import { findRoute } from '../../planners/route.ts';
import { indexSite, SiteSchema, type Amr, type SiteIndex } from '../../planners/site.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { startVirtualAmr } from '../../sim/virtual-amr.ts';
import { toLibraryInstantActions } from '../../robots/vda5050/vehicle-controller.ts';
import { startMosquitto, type TestBroker } from '../helpers/brokers.ts';
import { recordingLog, type LogLine } from '../helpers/log.ts';
import { SCHEMA_TOPICS, type SchemaVersion } from '../helpers/vda5050-schemas.ts';
import { captureVdaWire as capture, vda5050Schemas, wireProblems } from '../helpers/vda5050-wire.ts';

const demo = loadSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
const amr1 = demo.index.device('amr-1') as Amr;
const schemas = vda5050Schemas();
const skip = 'missing' in schemas ? schemas.missing : false;
if (skip) t.comment(`skipped: ${skip}`);

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The planner's route from a node (at the station's heading, or `theta`) to a station, ending at its heading. */
function route(from: string, to: string, theta?: number): string[] {
  const found = findRoute(demo.graph, from, to, amr1.limits, { start: theta ?? demo.index.station(from)!.theta, end: demo.index.station(to)!.theta });
  if (!found.ok) throw new Error(`no route ${from} → ${to}: ${found.reason}`);
  return found.route.nodes;
}

async function master(t: Test, broker: TestBroker, site: SiteIndex, logs: LogLine[] = []) {
  const fleet = new FleetRegistry(site);
  const client = await connectMqtt({ url: broker.url, clientId: `wire-master-${process.pid}-${Math.random().toString(36).slice(2)}` });
  t.teardown(() => closeMqtt(client, true));
  const m = new Vda5050Master({ client, site, fleet, graph: demo.graph, log: recordingLog(logs) });
  await m.start();
  t.teardown(() => m.stop());
  const progress: OrderProgress[] = [];
  m.onOrderProgress((p) => progress.push(p));
  return { fleet, master: m, progress, last: () => progress.at(-1) };
}

/** The demo site with amr-1 speaking VDA 5050 `version`. */
function speaking(version: '2.0.0' | '2.1.0'): SiteIndex {
  const site = structuredClone(demo.index.site);
  for (const d of site.devices) if (d.kind === 'amr' && d.id === 'amr-1') d.vda5050.version = version;
  return indexSite(SiteSchema.parse(site));
}

t.test('every message of a session is valid against the VDA 5050 2.0.0 and 2.1.0 schemas', { skip }, async (t) => {
  await session(t, demo.index, ['2.0.0', '2.1.0']);
});

t.test("a 2.1 vehicle's whole session is stamped 2.1.0 and valid against the 2.1.0 schemas", { skip }, async (t) => {
  const seen = await session(t, speaking('2.1.0'), ['2.1.0']);
  // The master asks every vehicle of the site for its state at start: amr-2 and amr-3 speak 2.0.
  const versions = (serial: string) => [...new Set(seen.filter((c) => c.topic.includes(`/${serial}/`)).map((c) => (JSON.parse(c.text) as { version: string }).version))];
  t.same(versions('amr-1'), ['2.1.0'], "every message to and from amr-1 (order, instantActions, state, connection, visualization, factsheet) says 2.1.0");
  t.same(versions('amr-2'), ['2.0.0'], 'the state request to amr-2, a 2.0 vehicle, says 2.0.0');
});

async function session(t: Test, site: SiteIndex, versions: readonly SchemaVersion[]) {
  if ('missing' in schemas) return [];
  const broker = await startMosquitto(t);
  const seen = await capture(t, broker.url);
  const { fleet, master: m, last } = await master(t, broker, site);
  const amr = await startVirtualAmr({ brokerUrl: broker.url, site, graph: demo.graph, amrId: 'amr-1', startNode: 'dock-a', speed: 20, visualizationIntervalMs: 100 });
  t.teardown(() => amr.close());
  const state = () => fleet.get('amr-1')!;
  await until('amr-1 is online with a pose', () => state().online && state().pose !== undefined);
  const done = async (orderId: string, what: string) => until(what, () => last()?.orderId === orderId && (last()!.finished || last()!.cancelled || last()!.failed !== undefined));

  // A pick, paused and resumed on the way.
  const pick = await m.sendOrder('amr-1', { route: route('dock-a', 'shelf-1'), actionsAtEnd: ['pick'] });
  await until('amr-1 has left the dock', () => state().pose !== undefined && state().at !== 'dock-a');
  await m.instantAction('amr-1', 'startPause');
  await until('amr-1 reports paused', () => state().paused === true);
  await m.instantAction('amr-1', 'stopPause');
  await done(pick.orderId, 'the pick order ends');
  t.match(last(), { finished: true }, 'the pick order finished');

  // A drop.
  const dropAt = 'shelf-2';
  const drop = await m.sendOrder('amr-1', { route: route('shelf-1', dropAt), actionsAtEnd: ['drop'] });
  await done(drop.orderId, 'the drop order ends');

  // Cancelled on the way; then STOP (startPause + cancelOrder) and its release.
  const cancelled = await m.sendOrder('amr-1', { route: route(dropAt, 'charger-1') });
  await m.instantAction('amr-1', 'cancelOrder');
  await done(cancelled.orderId, 'the cancel is done');
  t.match(last(), { cancelled: true }, 'cancelled');
  await until('amr-1 stands still', () => state().state === 'idle');
  const stopped = await m.sendOrder('amr-1', { route: route(state().at!, 'charger-1', state().pose!.theta) });
  await m.stopVehicle('amr-1');
  await until('amr-1 reports paused after STOP', () => state().paused === true);
  await done(stopped.orderId, 'the STOP cancels the order');
  t.match(last(), { cancelled: true }, 'STOP reached the virtual AMR under the key `actions`: its order is cancelled');
  await m.instantAction('amr-1', 'stopPause');
  await until('released', () => state().paused === false);

  // To the charger, charge, stop charging.
  await until('amr-1 is idle', () => state().state === 'idle');
  const charge = await m.sendOrder('amr-1', { route: route(state().at!, 'charger-1', state().pose!.theta), actionsAtEnd: ['startCharging'] });
  await done(charge.orderId, 'the charging order ends');
  await until('charging', () => state().state === 'charging');
  await m.instantAction('amr-1', 'stopCharging');
  await until('charging stops', () => state().state === 'idle');

  const before = seen.filter((c) => c.kind === 'factsheet').length;
  await m.instantAction('amr-1', 'stateRequest');
  await m.instantAction('amr-1', 'factsheetRequest');
  await until('a factsheet is published', () => seen.filter((c) => c.kind === 'factsheet').length > before);

  // A crash: the broker sends the last will.
  amr.kill();
  await until('the last will arrives', () => seen.some((c) => c.kind === 'connection' && c.text.includes('CONNECTIONBROKEN')));

  const counts = new Map<string, number>();
  for (const c of seen) counts.set(c.kind, (counts.get(c.kind) ?? 0) + 1);
  t.comment(`captured: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const kind of SCHEMA_TOPICS) t.ok((counts.get(kind) ?? 0) > 0, `at least one ${kind} message was captured`);
  const failures = wireProblems(schemas, seen, versions);
  t.same(failures, [], `every captured message is valid against the ${versions.join(' and ')} schemas`);

  // The vendored schemas' own defect, read leniently: trailing commas (not strict JSON).
  t.same(schemas.lenient, ['2.0.0/state.schema'], 'the only vendored 2.0.0/2.1.0 schema that is not strict JSON');

  // The spec asks QoS 1 for connection messages, the last will included.
  const connections = seen.filter((c) => c.kind === 'connection');
  t.same(
    connections.filter((c) => c.qos !== 1).map((c) => c.text),
    [],
    'every connection message (ONLINE, CONNECTIONBROKEN) arrives at QoS 1',
  );
  // The factsheet lists every action the session had the AMR execute, in the scope it was sent in.
  const factsheet = JSON.parse(seen.filter((c) => c.kind === 'factsheet').at(-1)!.text) as { protocolFeatures: { agvActions: { actionType: string; actionScopes: string[] }[] } };
  const listed = new Set(factsheet.protocolFeatures.agvActions.flatMap((a) => a.actionScopes.map((scope) => `${scope} ${a.actionType}`)));
  const used = new Set<string>();
  for (const c of seen) {
    const body = JSON.parse(c.text) as { actions?: { actionType: string }[]; nodes?: { actions: { actionType: string }[] }[] };
    if (c.kind === 'instantActions') for (const a of body.actions ?? []) used.add(`INSTANT ${a.actionType}`);
    if (c.kind === 'order') for (const n of body.nodes ?? []) for (const a of n.actions) used.add(`NODE ${a.actionType}`);
  }
  t.same([...used].filter((u) => !listed.has(u)), [], `the factsheet's agvActions list every action used (${[...used].join(', ')})`);

  const instant = seen.filter((c) => c.kind === 'instantActions').map((c) => JSON.parse(c.text) as Record<string, unknown>);
  t.ok(instant.length >= 7 && instant.every((i) => Array.isArray(i.actions) && !('instantActions' in i)), 'instant actions go under `actions`');
  const positions = seen.filter((c) => c.kind === 'order').flatMap((c) => (JSON.parse(c.text) as { nodes: { nodePosition: Record<string, unknown> }[] }).nodes.map((n) => n.nodePosition));
  t.ok(positions.length > 0 && positions.every((p) => typeof p.allowedDeviationXY === 'number' && !('allowedDeviationXy' in p)), "a node's allowed deviation goes under 2.0's `allowedDeviationXY`");
  return seen;
}

t.test('a vehicle configured with instantActionsKey: instantActions gets the 1.1 key; the others get `actions`', async (t) => {
  const site = structuredClone(demo.index.site);
  for (const d of site.devices) if (d.kind === 'amr' && d.id === 'amr-2') d.vda5050.instantActionsKey = 'instantActions';
  const index = indexSite(SiteSchema.parse(site));
  t.equal((demo.index.device('amr-1') as Amr).vda5050.instantActionsKey, 'actions', 'the default is the 2.0 key');
  const broker = await startMosquitto(t);
  const seen = await capture(t, broker.url);
  const { master: m } = await master(t, broker, index);
  // STOP is sent to offline vehicles too, so no vehicle is needed to see what goes out.
  const old = await m.stopVehicle('amr-2');
  const spec = await m.stopVehicle('amr-1');
  // The master also asks every vehicle for its state when it starts (stateRequest): those are not the STOPs.
  const stops = () => seen.filter((c) => c.kind === 'instantActions' && c.text.includes('startPause'));
  await until('both STOPs are seen', () => stops().length === 2);
  const body = (serial: string) => JSON.parse(stops().find((c) => c.topic.endsWith(`/${serial}/instantActions`))!.text) as Record<string, unknown>;
  const amr2 = body((index.device('amr-2') as Amr).vda5050.serialNumber);
  const amr1b = body(amr1.vda5050.serialNumber);
  t.notOk('actions' in amr2, 'amr-2 (configured for 1.1): no `actions`');
  t.same((amr2.instantActions as { actionId: string; actionType: string }[]).map((a) => [a.actionId, a.actionType]), [
    [old[0], 'startPause'],
    [old[1], 'cancelOrder'],
  ]);
  t.notOk('instantActions' in amr1b, 'amr-1: no `instantActions`');
  t.same((amr1b.actions as { actionId: string; actionType: string }[]).map((a) => [a.actionId, a.actionType]), [
    [spec[0], 'startPause'],
    [spec[1], 'cancelOrder'],
  ]);
  t.same(Object.keys(amr2).slice(0, 5), ['headerId', 'timestamp', 'version', 'manufacturer', 'serialNumber'], 'header first, as before');
});

t.test("the virtual AMR reads the spec's `actions` and still the 1.1 `instantActions`; anything else passes unchanged", async (t) => {
  const header = { headerId: 3, timestamp: '2026-01-01T00:00:00.000Z', version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-1' };
  const list = [{ actionId: 'a', actionType: 'startPause', blockingType: 'NONE' }];
  const renamed = JSON.parse(toLibraryInstantActions(Buffer.from(JSON.stringify({ ...header, actions: list }))).toString()) as Record<string, unknown>;
  t.same(renamed, { ...header, instantActions: list }, '`actions` becomes the key the library validates');
  for (const kept of [JSON.stringify({ ...header, instantActions: list }), JSON.stringify({ ...header, actions: list, instantActions: [] }), 'not json', '[1,2]', 'null', JSON.stringify(header)]) {
    t.equal(toLibraryInstantActions(Buffer.from(kept)).toString(), kept, `unchanged: ${kept.slice(0, 40)}`);
  }
});
