// VDA 5050 without a broker: orders built from nav-graph routes (sequence ids, base and
// horizon, positions, speed limits, actions), the schemas for what vehicles send, and topics.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { buildNavGraph, findRoute } from '../../planners/route.ts';
import { DeviceSchema, type Amr } from '../../planners/site.ts';
import { InvalidRouteError } from '../../robots/vda5050/errors.ts';
import { ANGLE_LIMIT, ConnectionSchema, InstantActionsSchema, OrderSchema, StateSchema, type Order, type State } from '../../robots/vda5050/schemas.ts';
import { buildOrder, wrapAngle, type BuildOrderInput } from '../../robots/vda5050/order.ts';
import { parseTopic, topicFilter, vehicleTopic } from '../../robots/vda5050/topics.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { midOrderState } from '../helpers/vda5050-states.ts';

const demo = loadSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
const site = demo.index;
const amr1 = site.device('amr-1') as Amr;
const TIMESTAMP = '2026-11-24T08:00:00.000Z';

function order(input: Partial<BuildOrderInput> & Pick<BuildOrderInput, 'route'>): Order {
  return buildOrder({ site, amr: amr1, graph: demo.graph, orderId: 'o-1', orderUpdateId: 0, actionsAtEnd: [], headerId: 7, timestamp: TIMESTAMP, ...input });
}

const DOCK_TO_SHELF = ['dock-a', 'sa-1', 'sa-2', 'sa-3', 'shelf-1'];

t.test('a route becomes nodes with even and edges with odd sequenceIds, all released by default', async (t) => {
  const o = order({ route: DOCK_TO_SHELF, actionsAtEnd: ['pick'] });
  t.match(o, { headerId: 7, timestamp: TIMESTAMP, version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-1', orderId: 'o-1', orderUpdateId: 0 });
  t.same(o.nodes.map((n) => [n.nodeId, n.sequenceId, n.released]), [
    ['dock-a', 0, true],
    ['sa-1', 2, true],
    ['sa-2', 4, true],
    ['sa-3', 6, true],
    ['shelf-1', 8, true],
  ]);
  t.same(o.edges.map((e) => [e.edgeId, e.sequenceId, e.startNodeId, e.endNodeId, e.released]), [
    ['dock-a->sa-1', 1, 'dock-a', 'sa-1', true],
    ['sa-1->sa-2', 3, 'sa-1', 'sa-2', true],
    ['sa-2->sa-3', 5, 'sa-2', 'sa-3', true],
    ['sa-3->shelf-1', 7, 'sa-3', 'shelf-1', true],
  ]);
  t.ok(OrderSchema.safeParse(o).success, 'it passes the checks a vehicle makes');
});

t.test('releasedNodes splits the order into the base and an unreleased horizon', async (t) => {
  const o = order({ route: DOCK_TO_SHELF, releasedNodes: 2 });
  t.same(o.nodes.map((n) => n.released), [true, true, false, false, false]);
  t.same(o.edges.map((e) => e.released), [true, false, false, false], 'an edge is released exactly when its end node is');
  t.ok(OrderSchema.safeParse(o).success);
  t.same(order({ route: DOCK_TO_SHELF, releasedNodes: 1 }).edges.map((e) => e.released), [false, false, false, false]);
  t.throws(() => order({ route: DOCK_TO_SHELF, releasedNodes: 0 }), InvalidRouteError);
  t.throws(() => order({ route: DOCK_TO_SHELF, releasedNodes: 6 }), { message: /from 1 to 5/ });
  t.throws(() => order({ route: DOCK_TO_SHELF, releasedNodes: 2.5 }), InvalidRouteError);
});

t.test('an update continues the sequence where the base it extends ends', async (t) => {
  const o = order({ route: ['sa-2', 'sa-3', 'shelf-1'], orderUpdateId: 1, firstSequenceId: 4, actionsAtEnd: ['pick'] });
  t.same(o.nodes.map((n) => n.sequenceId), [4, 6, 8]);
  t.same(o.edges.map((e) => e.sequenceId), [5, 7]);
  const first = order({ route: DOCK_TO_SHELF, actionsAtEnd: ['pick'], releasedNodes: 3 });
  t.equal(o.nodes[2]!.actions[0]!.actionId, first.nodes[4]!.actions[0]!.actionId, 'the pick at shelf-1 keeps its id from the horizon into the update');
  t.throws(() => order({ route: DOCK_TO_SHELF, firstSequenceId: 3 }), { message: /even/ });
});

t.test('node positions come from the site; the heading only where a station asks for one', async (t) => {
  const o = order({ route: DOCK_TO_SHELF });
  t.same(o.nodes[0]!.nodePosition, { x: 4, y: 1.5, allowedDeviationXY: 0.1, mapId: 'demo-hall' }, 'the start: position and map, no heading');
  t.same(o.nodes[4]!.nodePosition, { x: 13, y: 5.3, theta: 1.5708, allowedDeviationXY: 0.1, mapId: 'demo-hall' }, "the shelf's heading at the end");
  const toCharger = order({ route: ['ma-1', 'charger-1'], actionsAtEnd: ['startCharging'], allowedDeviationXY: 0.05 });
  const theta = toCharger.nodes[1]!.nodePosition!.theta!;
  t.ok(Math.abs(theta) <= ANGLE_LIMIT, `the charger's 3.1416 is brought into [-π, π] (${theta})`);
  t.ok(Math.abs(Math.abs(theta) - 3.1416) < 1e-3, 'and still faces the same way');
  t.equal(toCharger.nodes[1]!.nodePosition!.allowedDeviationXY, 0.05);
  t.ok(OrderSchema.safeParse(toCharger).success);
  t.ok(Math.abs(Math.abs(wrapAngle(3 * Math.PI)) - Math.PI) < 1e-12 && Math.abs(wrapAngle(3 * Math.PI)) <= ANGLE_LIMIT);
  t.equal(wrapAngle(-Math.PI / 2), -Math.PI / 2);
});

t.test('an AMR stopped between nodes: only the first node allows the deviation that covers where it stands', async (t) => {
  const o = order({ route: DOCK_TO_SHELF, startDeviationXY: 1.3 });
  t.equal(o.nodes[0]!.nodePosition!.allowedDeviationXY, 1.3, 'the start');
  t.same(o.nodes.slice(1).map((n) => n.nodePosition!.allowedDeviationXY), [0.1, 0.1, 0.1, 0.1], 'every other node as usual');
  t.equal(order({ route: DOCK_TO_SHELF, startDeviationXY: 0.02 }).nodes[0]!.nodePosition!.allowedDeviationXY, 0.1, 'never tighter than the usual');
  t.ok(OrderSchema.safeParse(o).success);
});

t.test("edges carry the site's speed limits: the edge's own, or a slow zone it crosses", async (t) => {
  const o = order({ route: DOCK_TO_SHELF });
  t.same(o.edges.map((e) => e.maxSpeed), [0.5, undefined, undefined, 0.5], 'docking spurs are slow, the aisle is not limited by the site');
  t.equal(o.edges[1]!.length, 4, 'with the length of each edge');
  const walkway = order({ route: ['na-1', 'na-2'] });
  t.equal(walkway.edges[0]!.maxSpeed, 0.5, 'the edge across the walkway (a slow zone) is slow as a whole');
});

t.test('actions at the end: HARD, ids unique within the order, the station named', async (t) => {
  const o = order({ route: DOCK_TO_SHELF, actionsAtEnd: ['drop', 'pick'] });
  const actions = o.nodes[4]!.actions;
  t.same(actions.map((a) => [a.actionType, a.blockingType]), [
    ['drop', 'HARD'],
    ['pick', 'HARD'],
  ]);
  t.equal(new Set(actions.map((a) => a.actionId)).size, 2);
  t.same(actions[0]!.actionParameters, [{ key: 'stationName', value: 'shelf-1' }]);
  t.ok(o.nodes.slice(0, 4).every((n) => n.actions.length === 0), 'nothing to do on the way');
  t.same(order({ route: ['sa-1', 'sa-2'], actionsAtEnd: ['pick'] }).nodes[1]!.actions[0]!.actionParameters, undefined, 'no station, no stationName');
});

t.test("a vehicle's own action parameters (site.yaml vda5050.actionParameters) go on its pick, drop and startCharging", async (t) => {
  const strict: Amr = { ...amr1, vda5050: { ...amr1.vda5050, actionParameters: { pick: { stationType: 'floor', loadType: 'EPAL', lhd: 1 }, drop: { stationName: 'rack-7' } } } };
  const at = (route: string[], type: 'pick' | 'drop' | 'startCharging') => buildOrder({ site, amr: strict, graph: demo.graph, orderId: 'o-2', orderUpdateId: 0, actionsAtEnd: [type], headerId: 1, timestamp: TIMESTAMP, route }).nodes.at(-1)!.actions[0]!.actionParameters;
  t.same(at(DOCK_TO_SHELF, 'pick'), [
    { key: 'stationName', value: 'shelf-1' },
    { key: 'stationType', value: 'floor' },
    { key: 'loadType', value: 'EPAL' },
    { key: 'lhd', value: 1 },
  ], 'after stationName, in the order site.yaml gives them');
  t.same(at(DOCK_TO_SHELF, 'drop'), [{ key: 'stationName', value: 'rack-7' }], 'the site may name the station for the vehicle');
  t.same(at(['ma-1', 'charger-1'], 'startCharging'), undefined, 'none asked for startCharging: none sent');
  t.same(order({ route: DOCK_TO_SHELF, actionsAtEnd: ['pick'] }).nodes[4]!.actions[0]!.actionParameters, [{ key: 'stationName', value: 'shelf-1' }], 'other vehicles: stationName only');

  const amrYaml = { id: 'amr-9', kind: 'amr', home: 'dock-a', footprint: amr1.footprint, massKg: 60, payloadKg: 30, limits: amr1.limits, battery: amr1.battery, transport: amr1.transport };
  const parsed = DeviceSchema.safeParse({ ...amrYaml, vda5050: { manufacturer: 'acme', serialNumber: '9', actionParameters: { pick: { loadType: 'EPAL' } } } });
  t.ok(parsed.success, 'site.yaml takes them');
  const wrong = DeviceSchema.safeParse({ ...amrYaml, vda5050: { manufacturer: 'acme', serialNumber: '9', actionParameters: { pick: { loadType: { a: 1 } }, navigate: {} } } });
  t.same(wrong.error?.issues.map((i) => i.path.join('.')).sort(), ['vda5050.actionParameters', 'vda5050.actionParameters.pick.loadType'], 'a value that is no string, number or boolean, and an action phygate does not send, are refused with their path');
});

t.test('a single node is an order without edges (work where the AMR stands)', async (t) => {
  const o = order({ route: ['charger-1'], actionsAtEnd: ['startCharging'] });
  t.equal(o.nodes.length, 1);
  t.same(o.edges, []);
  t.ok(OrderSchema.safeParse(o).success);
});

t.test('routes that are not paths on the nav graph are refused', async (t) => {
  t.throws(() => order({ route: [] }), InvalidRouteError);
  t.throws(() => order({ route: ['dock-a', 'nowhere'] }), { message: /'nowhere' is not a node/ });
  t.throws(() => order({ route: ['dock-a', 'sa-2'] }), { message: /no edge .* from 'dock-a' to 'sa-2'/ });
  t.throws(() => order({ route: ['sa-1', 'mezzanine'] }), { code: 'INVALID_ROUTE' });
});

t.test('a route from findRoute is a valid order as it is', async (t) => {
  const found = findRoute(buildNavGraph(site.site), 'dock-b', 'cnc-1', amr1.limits);
  if (!found.ok) throw new Error('no route');
  const o = buildOrder({ site, amr: amr1, route: found.route.nodes, orderId: 'x', orderUpdateId: 0, actionsAtEnd: ['drop'], headerId: 0, timestamp: TIMESTAMP });
  t.equal(o.nodes.length, found.route.nodes.length);
  t.ok(OrderSchema.safeParse(o).success);
});

t.test('the order schema finds what would make a vehicle reject the order, with the path', async (t) => {
  const good = order({ route: DOCK_TO_SHELF, actionsAtEnd: ['pick'] });
  const problem = (o: unknown) => {
    const r = OrderSchema.safeParse(o);
    return r.success ? undefined : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };
  t.equal(problem(good), undefined);
  const skipped = structuredClone(good);
  skipped.nodes[2]!.sequenceId = 6;
  t.match(problem(skipped), /nodes\.2\.sequenceId: expected sequenceId 4/);
  const wrongEdge = structuredClone(good);
  wrongEdge.edges[1]!.endNodeId = 'sa-3';
  t.match(problem(wrongEdge), /edges\.1: the edge must join 'sa-1' to 'sa-2'/);
  const horizonFirst = structuredClone(good);
  horizonFirst.nodes[1]!.released = false;
  t.match(problem(horizonFirst), /nodes\.2\.released: a released node after the horizon began/);
  const badAction = structuredClone(good) as unknown as { nodes: { actions: { blockingType: string }[] }[] };
  badAction.nodes[4]!.actions[0]!.blockingType = 'SOMETIMES';
  t.match(problem(badAction), /nodes\.4\.actions\.0\.blockingType/);
  t.match(problem({ ...good, version: '1.1.0' }), /version/);
  t.match(problem({ ...good, nodes: [], edges: [] }), /nodes: an order has at least one node/);
});

t.test('the state schema takes a real-shaped state and rejects broken ones with the path of the fault', async (t) => {
  const ok = StateSchema.safeParse(midOrderState());
  t.ok(ok.success, ok.success ? 'valid' : JSON.stringify(ok.error.issues));
  t.ok(StateSchema.safeParse({ ...midOrderState(), somethingFrom21: { x: 1 } }).success, 'fields of later versions are ignored');
  const paths = (s: unknown) => {
    const r = StateSchema.safeParse(s);
    return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
  };
  const { batteryState: _b, ...noBattery } = midOrderState();
  t.same(paths(noBattery), ['batteryState']);
  t.same(paths({ ...midOrderState(), batteryState: { batteryCharge: '87%', charging: false } }), ['batteryState.batteryCharge']);
  t.same(paths({ ...midOrderState(), batteryState: { batteryCharge: 180, charging: false } }), ['batteryState.batteryCharge'], 'percent, at most 100');
  t.same(paths({ ...midOrderState(), actionStates: [{ actionId: 'a', actionStatus: 'DONE' }] }), ['actionStates.0.actionStatus']);
  t.same(paths({ ...midOrderState(), operatingMode: 'AUTO' }), ['operatingMode']);
  t.same(paths({ ...midOrderState(), agvPosition: { x: 1, y: 2, theta: 0, mapId: 'm' } }), ['agvPosition.positionInitialized']);
  t.same(paths({ ...midOrderState(), timestamp: 'yesterday' }), ['timestamp']);
  t.same(paths({ ...midOrderState(), errors: [{ errorType: 'x', errorLevel: 'BAD' }] }), ['errors.0.errorLevel']);
  t.same(paths([]), ['']);
});

t.test('connection and instant action messages', async (t) => {
  const header = { headerId: 0, timestamp: TIMESTAMP, version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-1' };
  for (const state of ['ONLINE', 'OFFLINE', 'CONNECTIONBROKEN']) t.ok(ConnectionSchema.safeParse({ ...header, connectionState: state }).success, state);
  t.notOk(ConnectionSchema.safeParse({ ...header, connectionState: 'GONE' }).success);
  t.ok(InstantActionsSchema.safeParse({ ...header, actions: [{ actionId: 'a', actionType: 'startPause', blockingType: 'NONE' }] }).success);
  t.notOk(InstantActionsSchema.safeParse({ ...header, instantActions: [{ actionId: 'a', actionType: 'startPause', blockingType: 'NONE' }] }).success, "the list is called 'actions' (VDA 5050 2.0), not 'instantActions' (1.1)");
});

t.test('topics: built per vehicle, parsed back, wildcards for subscriptions', async (t) => {
  const vehicle = { manufacturer: 'phygate', serialNumber: 'amr-1' };
  t.equal(vehicleTopic('uagv', vehicle, 'order'), 'uagv/v2/phygate/amr-1/order');
  t.same(parseTopic('uagv/v2/phygate/amr-1/state'), { interfaceName: 'uagv', majorVersion: 'v2', manufacturer: 'phygate', serialNumber: 'amr-1', topic: 'state' });
  t.equal(parseTopic('uagv/v2/phygate/amr-1/telemetry'), undefined, 'not a VDA 5050 topic');
  t.equal(parseTopic('uagv/v2/phygate/state'), undefined);
  t.equal(parseTopic('uagv/two/phygate/amr-1/state'), undefined);
  t.equal(parseTopic('uagv/v2//amr-1/state'), undefined);
  t.equal(topicFilter('uagv', 'connection', 'phygate'), 'uagv/v2/phygate/+/connection');
  t.equal(topicFilter('uagv', 'state'), 'uagv/v2/+/+/state');
  t.throws(() => vehicleTopic('uagv', { manufacturer: 'a/b', serialNumber: '1' }, 'state'), { message: /cannot be an MQTT topic level/ });
  t.throws(() => vehicleTopic('uagv', { manufacturer: 'a', serialNumber: '+' }, 'state'));
  t.throws(() => topicFilter('', 'state'));
});
