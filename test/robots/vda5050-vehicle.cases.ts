// A vehicle as the gateway sees it on a real broker: the factsheet it publishes compared with the
// site (problems on GET /v1/robots/{id}, an alert, and the check's DEVICE_UNSUPPORTED_ACTION and
// DEVICE_LIMITS, through the check worker), and a map other than the site's (DEVICE_WRONG_MAP:
// online but not usable, never bound to a role, usable again on the right map). The vehicle is a
// plain MQTT client publishing what a vehicle would, so every field is the test's to choose.
import t, { type Test } from 'tap';
import type { MqttClient } from 'mqtt';
import type { DeviceFactsheet } from '../../planners/fleet.ts';
import type { PlanInput } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { Amr } from '../../planners/site.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { Vda5050Master, type VehicleAlert } from '../../robots/vda5050/master.ts';
import type { Factsheet, State } from '../../robots/vda5050/schemas.ts';
import { factsheetOf } from '../../robots/vda5050/vehicle-checks.ts';
import { appFor, type TestApp } from '../gateway/harness.ts';
import { startMosquitto } from '../helpers/brokers.ts';
import { recordingLog, type LogLine } from '../helpers/log.ts';
import { idleState } from '../helpers/vda5050-states.ts';
import { until } from '../helpers/wait.ts';

async function setUp(t: Test) {
  const h = await appFor(t);
  const broker = await startMosquitto(t);
  const client = await connectMqtt({ url: broker.url, clientId: `vehicle-master-${process.pid}-${Math.random().toString(36).slice(2)}` });
  t.teardown(() => closeMqtt(client, true));
  const logs: LogLine[] = [];
  const master = new Vda5050Master({ client, site: h.site.index, fleet: h.fleet, graph: h.site.graph, log: recordingLog(logs) });
  await master.start();
  t.teardown(() => master.stop());
  const alerts: VehicleAlert[] = [];
  master.onAlert((a) => alerts.push(a));
  const vehicle = await connectMqtt({ url: broker.url, clientId: `vehicle-amr-1-${process.pid}` });
  t.teardown(() => closeMqtt(vehicle, true));
  return { h, master, alerts, logs, vehicle };
}

let headerId = 100;
async function publish(vehicle: MqttClient, topic: 'state' | 'factsheet' | 'connection', message: object): Promise<void> {
  await vehicle.publishAsync(`uagv/v2/phygate/amr-1/${topic}`, JSON.stringify(message), { qos: topic === 'connection' ? 1 : 0 });
}

/** amr-1 standing at dock-a, localised on `mapId`. */
function stateOn(mapId: string): State {
  const s = idleState({ serialNumber: 'amr-1', headerId: headerId++, pose: { x: 2, y: 1.5, theta: 1.5708 } });
  return { ...s, lastNodeId: 'dock-a', agvPosition: { ...s.agvPosition!, mapId } };
}

const robot = async (h: TestApp) => (await h.app.inject({ method: 'GET', url: '/v1/robots/amr-1', headers: h.auth('viewer') })).json() as { state: string; online: boolean; mapId?: string; factsheet?: DeviceFactsheet };
const checkPlan = async (h: TestApp, plan: PlanInput) => {
  const res = await h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: h.auth('agent'), payload: { plan } });
  if (res.statusCode !== 200) throw new Error(`check: ${res.statusCode} ${res.body}`);
  return res.json() as CheckReport;
};
const pickOnAmr1: PlanInput = { schema: 'phygate.plan/v1', steps: [{ id: 'fetch', action: 'pick', device: 'amr-1', params: { at: 'shelf-1' } }] };

t.test('a factsheet short of the site: problems on /v1/robots/{id}, one alert and log line, and the check fails with the codes', async (t) => {
  const { h, alerts, logs, vehicle } = await setUp(t);
  const amr = h.site.index.device('amr-1') as Amr;
  await publish(vehicle, 'state', stateOn('demo-hall'));
  const before = await robot(h);
  t.equal(before.factsheet, undefined, 'no factsheet yet');
  const none = await checkPlan(h, pickOnAmr1);
  t.same(none.issues.map((i) => i.code), [], 'no factsheet yet: no factsheet issue');

  // A 2.1 factsheet (no headerId or timestamp: 2.1 does not require them), without pick and slower than the site says.
  const base = factsheetOf(amr) as unknown as Factsheet;
  const factsheet = {
    ...base,
    version: '2.1.0',
    manufacturer: 'phygate',
    serialNumber: 'amr-1',
    physicalParameters: { ...base.physicalParameters!, speedMax: 0.7 },
    protocolFeatures: { ...base.protocolFeatures!, agvActions: base.protocolFeatures!.agvActions.filter((a) => a.actionType !== 'pick') },
    vehicleConfig: { versions: [{ key: 'firmware', value: '1.2' }] },
  };
  await publish(vehicle, 'factsheet', factsheet);
  const shown = await until('the factsheet is shown', async () => (await robot(h)).factsheet);
  t.equal(shown.version, '2.1.0');
  t.same(shown.problems.map((p) => p.kind), ['action', 'speed'], 'pick missing, speed above the vehicle');
  t.equal(shown.speedMax, 0.7);
  t.same(alerts.map((a) => [a.code, a.deviceId, a.problems?.length]), [['FACTSHEET_MISMATCH', 'amr-1', 2]], 'one alert');
  t.equal(logs.filter((l) => /factsheet falls short/.test(l.msg)).length, 1, 'logged once');

  const r = await checkPlan(h, pickOnAmr1);
  t.equal(r.verdict, 'fail');
  t.same(r.issues.map((i) => i.code).sort(), ['DEVICE_LIMITS', 'DEVICE_UNSUPPORTED_ACTION']);
  t.match(r.issues.find((i) => i.code === 'DEVICE_UNSUPPORTED_ACTION')!.hint, /amr-2, amr-3/);
  t.match(r.issues.find((i) => i.code === 'DEVICE_LIMITS')!.message, /speedMax 0\.7/);
});

t.test('a vehicle on another map: flagged at once, not usable, not bound; usable again on the right map', async (t) => {
  const { h, master, alerts, logs, vehicle } = await setUp(t);
  // A 2.1 state: it lists its maps (the site's is there, disabled) and explains its error.
  const first: State = {
    ...stateOn('local'),
    version: '2.1.0',
    maps: [
      { mapId: 'local', mapVersion: '3', mapStatus: 'ENABLED' },
      { mapId: 'demo-hall', mapVersion: '1', mapStatus: 'DISABLED' },
    ],
    errors: [{ errorType: 'noRoute', errorLevel: 'WARNING', errorHint: 'enable the right map' }],
  };
  await publish(vehicle, 'state', first);
  const wrong = await until('amr-1 is flagged', async () => {
    const r = await robot(h);
    return r.state === 'wrong map' ? r : undefined;
  });
  t.match(wrong, { online: true, mapId: 'local' }, 'online, but on map local');
  t.same(alerts.map((a) => [a.code, a.mapId]), [['DEVICE_WRONG_MAP', 'local']]);
  t.match(alerts[0]!.message, /it has 'demo-hall', DISABLED/, "the alert says the vehicle has the site's map, disabled");
  t.same(master.lastState('amr-1')?.maps, first.maps, "2.1's maps are kept as they came");
  t.equal(master.lastState('amr-1')?.errors[0]?.errorHint, 'enable the right map', "2.1's errorHint is kept");
  t.equal(logs.filter((l) => l.level === 'warn' && /reports map 'local'/.test(l.msg)).length, 1);

  // Another state on the same wrong map, with a map status 2.1 does not have: refused; then a valid one: no second alert.
  await publish(vehicle, 'state', { ...stateOn('local'), maps: [{ mapId: 'local', mapVersion: '3', mapStatus: 'ACTIVE' }] });
  const second = stateOn('local');
  await publish(vehicle, 'state', second);
  await until('the valid second state is taken', () => master.lastState('amr-1')?.headerId === second.headerId);
  t.equal(master.stats().invalid, 1, 'the state with mapStatus ACTIVE was refused');
  t.equal(alerts.length, 1, 'no second alert for the same wrong map');

  const direct = await checkPlan(h, { schema: 'phygate.plan/v1', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }] });
  t.equal(direct.verdict, 'fail');
  const issue = direct.issues.find((i) => i.code === 'DEVICE_WRONG_MAP')!;
  t.match(issue, { step: 'go', device: 'amr-1' });
  t.match(issue.hint, /reports map 'local'; set its map to 'demo-hall'/);
  // Nothing is sent to it meanwhile: an order is refused before it is built.
  t.throws(() => master.prepareOrder('amr-1', { route: ['dock-a', 'sa-1'] }), { code: 'DEVICE_WRONG_MAP', message: /reports map 'local'/ });
  // dock-a is where amr-1 stands: the nearest AMR to a step there, yet another is bound.
  const rolePlan: PlanInput = { schema: 'phygate.plan/v1', roles: { courier: { kind: 'amr' } }, steps: [{ id: 'go', action: 'navigate', device: '$courier', params: { to: 'sa-1' } }] };
  const role = await checkPlan(h, rolePlan);
  t.not(role.assignments.courier, 'amr-1', `bound to ${role.assignments.courier}, not amr-1`);

  await publish(vehicle, 'state', stateOn('demo-hall'));
  const back = await until('amr-1 is usable again', async () => {
    const r = await robot(h);
    return r.state !== 'wrong map' ? r : undefined;
  });
  t.match(back, { online: true, mapId: 'demo-hall', state: 'idle' });
  t.same(alerts.map((a) => a.code), ['DEVICE_WRONG_MAP', 'DEVICE_MAP_OK']);
  t.equal(master.prepareOrder('amr-1', { route: ['dock-a', 'sa-1'] }).nodes.length, 2, 'an order may go to it again');
  const again = await checkPlan(h, { schema: 'phygate.plan/v1', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }] });
  t.same(again.issues.map((i) => i.code), [], 'no DEVICE_WRONG_MAP any more');
  t.equal((await checkPlan(h, rolePlan)).assignments.courier, 'amr-1', 'the nearest AMR is bound again');
});
