// STOP on the whole gateway in one process: the embedded broker, both masters and the virtual
// fleet over real MQTT, the API over real HTTP. Pressed by the least role, it stops what moves
// at once, stays latched (GET /v1/stop, a device that connects later, a restart) and only an
// operator's release with ack ends it. Zone and device scopes reach only their devices.
import t, { type Test } from 'tap';
import { readConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import { findRoute } from '../../planners/route.ts';
import type { OrderProgress } from '../../robots/vda5050/master.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { startVirtualAmr } from '../../sim/virtual-amr.ts';
import { appFor, demoSiteCopy, tempDirFor } from './harness.ts';
import { until } from '../helpers/wait.ts';
import { TEST_GATEWAY_ENV } from '../helpers/child-env.ts';
import { withoutPolicies } from '../helpers/demo-site.ts';

const ADMIN_TOKEN = 'test-admin-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


async function gateway(t: Test, dataDir: string, env: Record<string, string> = {}): Promise<Gateway> {
  const g = await startGateway(
    readConfig({
      ...TEST_GATEWAY_ENV,
      PHYGATE_PORT: '0',
      PHYGATE_MQTT_PORT: '0',
      PHYGATE_DATA_DIR: dataDir,
      PHYGATE_LOG_LEVEL: 'silent',
      PHYGATE_FLEET_SPEED: '20',
      PHYGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      ...env,
    }),
  );
  t.teardown(() => g.close());
  return g;
}

interface Answer {
  status: number;
  json: any;
}

async function call(g: Gateway, token: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${g.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

function tokens(g: Gateway): { viewer: string; agent: string; operator: string; admin: string } {
  const make = (role: 'viewer' | 'agent' | 'operator') => g.store.tokens.create(role, `${role}-test`).token;
  return { viewer: make('viewer'), agent: make('agent'), operator: make('operator'), admin: ADMIN_TOKEN };
}

const amrIds = ['amr-1', 'amr-2', 'amr-3'];

t.test('STOP all by a viewer: the driving AMR stops and loses its order, the CNC stops; latched through a reconnect and a restart; an operator releases it', async (t) => {
  const dataDir = tempDirFor(t);
  const g = await gateway(t, dataDir);
  const tok = tokens(g);
  await until('every device online', () => g.fleet.list().every((d) => d.online));

  // amr-1 drives dock-a → shelf-1; cnc-1 runs 4 brackets (18 s at speed 20).
  const amr1 = g.site.index.device('amr-1');
  if (amr1?.kind !== 'amr') throw new Error('amr-1 is an AMR');
  const route = findRoute(g.site.graph, 'dock-a', 'shelf-1', amr1.limits);
  if (!route.ok) throw new Error('no route dock-a → shelf-1');
  const progress: OrderProgress[] = [];
  g.vda5050.onOrderProgress((p) => p.deviceId === 'amr-1' && progress.push(p));
  const order = await g.vda5050.sendOrder('amr-1', { route: route.route.nodes, actionsAtEnd: ['pick'] });
  await g.machines.command('cnc-1', { action: 'run', program: 'bracket-v2', count: 4 });
  await until('amr-1 driving away from the dock', () => g.fleet.get('amr-1')!.state === 'driving' && g.fleet.get('amr-1')!.pose!.y > 2);
  await until('cnc-1 running', () => g.fleet.get('cnc-1')!.state === 'running');

  let pausedAt: number | undefined;
  g.fleet.onChange((s) => s.id === 'amr-1' && s.paused === true && pausedAt === undefined && (pausedAt = performance.now()));
  // What goes to amr-1 and what it answers, read off the broker from before the press on.
  const watch = await connectMqtt({ url: g.mqttUrl, clientId: `stop-test-watch-${process.pid}`, ...g.mqttAccess!.gateway });
  t.teardown(() => closeMqtt(watch, true));
  const toAmr1: { actionId: string; actionType: string }[][] = [];
  const fromAmr1: { paused?: boolean; actionStates: { actionId: string; actionStatus: string }[] }[] = [];
  watch.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString()) as { actions?: { actionId: string; actionType: string }[] };
    if (topic === 'uagv/v2/phygate/amr-1/instantActions') toAmr1.push(body.actions!);
    else if (topic === 'uagv/v2/phygate/amr-1/state') fromAmr1.push(body as (typeof fromAmr1)[number]);
  });
  await watch.subscribeAsync(['uagv/v2/phygate/amr-1/instantActions', 'uagv/v2/phygate/amr-1/state'], { qos: 1 });
  const heard: string[] = [];
  g.stops.onStop((s) => heard.push(s.id));
  // A tablet on the live stream sees the stop as an event of its own.
  const sse = new AbortController();
  t.teardown(() => sse.abort());
  const stream = await fetch(`${g.url}/v1/events`, { headers: { authorization: `Bearer ${tok.viewer}` }, signal: sse.signal });
  const reader = stream.body!.getReader();
  const stopEvent = (async () => {
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      text += Buffer.from(value).toString('utf8');
      const m = /event: stop\ndata: (.*)\n/.exec(text);
      if (m) return JSON.parse(m[1]!) as { id: string; scope: string };
    }
  })().catch(() => undefined);

  const sentBefore = toAmr1.length;
  const pressed = performance.now();
  const res = await call(g, tok.viewer, 'POST', '/v1/stop', { scope: 'all', reason: 'someone walked into the aisle' });
  const answered = performance.now();
  t.equal(res.status, 200, 'a viewer may press STOP');
  t.match(res.json, { id: /^stop_/, scope: 'all', reason: 'someone walked into the aisle', createdBy: 'viewer-test', releasedAt: null });
  t.same(res.json.devices, g.site.index.site.devices.map((d) => d.id), 'every device is in scope');
  t.same(
    res.json.told.map((d: { device: string; via: string; result: string }) => [d.device, d.via, d.result]),
    g.site.index.site.devices.map((d) => [d.id, d.kind === 'amr' ? 'vda5050' : 'machine', 'sent']),
    'each device was told and the broker confirmed it',
  );
  t.same(heard, [res.json.id], 'onStop listeners heard it');
  t.match(await stopEvent, { id: res.json.id, scope: 'all' }, 'GET /v1/events carried a stop event');
  sse.abort();

  await until('amr-1 reports paused', () => g.fleet.get('amr-1')!.paused === true);
  // How fast is for `npm run bench` (STOP latency); here, what was sent and what stopped amr-1.
  t.comment(`POST /v1/stop answered in ${(answered - pressed).toFixed(0)} ms; amr-1 reported paused ${(pausedAt! - pressed).toFixed(0)} ms after the press`);
  await until('amr-1 states itself paused on the wire', () => fromAmr1.some((s) => s.paused === true));
  t.same(toAmr1[sentBefore]?.map((a) => a.actionType), ['startPause', 'cancelOrder'], 'the first message to amr-1 after the press: startPause, then cancelOrder');
  const pauses = new Set(toAmr1.slice(sentBefore).flat().filter((a) => a.actionType === 'startPause').map((a) => a.actionId));
  t.ok(
    fromAmr1.find((s) => s.paused === true)!.actionStates.some((a) => pauses.has(a.actionId) && a.actionStatus === 'FINISHED'),
    "amr-1's first paused state reports the STOP's startPause finished: the STOP paused it",
  );
  const ofOrder = () => progress.filter((p) => p.orderId === order.orderId);
  await until("amr-1's order is cancelled", () => ofOrder().at(-1)?.cancelled === true);
  t.match(ofOrder().at(-1), { orderId: order.orderId, cancelled: true, finished: false });
  await until('cnc-1 stopped', () => g.fleet.get('cnc-1')!.state === 'stopped');
  for (const id of amrIds) await until(`${id} paused`, () => g.fleet.get(id)!.paused === true);
  const held = g.fleet.get('amr-1')!.pose!;
  await sleep(500);
  t.same(g.fleet.get('amr-1')!.pose, held, 'amr-1 stands still');
  t.ok(Math.hypot(held.x - 4, held.y - 1.5) > 0.3, 'stopped on its way, not back at the dock');

  const shown = await call(g, tok.viewer, 'GET', '/v1/stop');
  t.equal(shown.status, 200);
  t.match(shown.json, { active: true, stops: [{ id: res.json.id, scope: 'all' }] });

  // A device that connects while the stop is latched is told at once: amr-2 crashes and a fresh
  // vehicle (unpaused, as after a reboot) comes up in its place. Its own state messages, read off
  // the broker, say whether it is paused (the registry still holds the old vehicle's).
  const rebornWatch = await connectMqtt({ url: g.mqttUrl, clientId: `stop-test-reborn-${process.pid}`, ...g.mqttAccess!.gateway });
  t.teardown(() => closeMqtt(rebornWatch, true));
  const rebornPaused: boolean[] = [];
  rebornWatch.on('message', (_topic, payload) => rebornPaused.push((JSON.parse(payload.toString()) as { paused?: boolean }).paused === true));
  g.virtualFleet!.amrs.get('amr-2')!.kill();
  await until('amr-2 offline', () => !g.fleet.get('amr-2')!.online);
  await rebornWatch.subscribeAsync('uagv/v2/phygate/amr-2/state', { qos: 0 });
  const started = performance.now();
  const reborn = await startVirtualAmr({ brokerUrl: g.mqttUrl, site: g.site.index, graph: g.site.graph, amrId: 'amr-2', speed: 20, login: g.mqttAccess!.inProcessCredentials('amr-2') });
  t.teardown(() => reborn.kill());
  await until('the reborn amr-2 reports paused', () => rebornPaused.includes(true));
  t.comment(`the reborn amr-2 reported paused ${(performance.now() - started).toFixed(0)} ms after it started (its states: ${rebornPaused.join(', ')})`);
  t.ok(g.fleet.get('amr-2')!.online, 'amr-2 is online again');
  reborn.kill();

  // Restart on the same data folder: still active, and every vehicle of the new fleet finds
  // itself paused as it comes online.
  await g.close();
  const g2 = await gateway(t, dataDir);
  const again = await call(g2, tok.viewer, 'GET', '/v1/stop');
  t.match(again.json, { active: true, stops: [{ id: res.json.id, scope: 'all', createdBy: 'viewer-test' }] }, 'latched across the restart');
  for (const id of amrIds) await until(`${id} online and paused after the restart`, () => g2.fleet.get(id)!.online && g2.fleet.get(id)!.paused === true);
  t.pass('every AMR of the restarted fleet is paused');
  t.ok(g2.stops.stopFor('cnc-1'), 'cnc-1 is covered: it gets no new work');

  // Release: an operator's, with ack.
  const byViewer = await call(g2, tok.viewer, 'POST', '/v1/stop/release', { ack: true });
  t.equal(byViewer.status, 403, 'a viewer cannot release');
  t.equal(byViewer.json.code, 'FORBIDDEN');
  const noAck = await call(g2, tok.operator, 'POST', '/v1/stop/release', { ack: false });
  t.equal(noAck.status, 400, 'ack must be true');
  t.match(noAck.json, { code: 'VALIDATION_FAILED', details: { problems: [{ path: 'ack' }] } });
  const missing = await call(g2, tok.operator, 'POST', '/v1/stop/release', {});
  t.equal(missing.status, 400, 'ack is required');
  t.equal((await call(g2, tok.viewer, 'GET', '/v1/stop')).json.active, true, 'still active after the refused releases');

  const poses = Object.fromEntries(amrIds.map((id) => [id, g2.fleet.get(id)!.pose]));
  const released = await call(g2, tok.operator, 'POST', '/v1/stop/release', { ack: true, note: 'aisle clear' });
  t.equal(released.status, 200);
  t.match(released.json, { active: false, released: [{ id: res.json.id, releasedBy: 'operator-test', releaseNote: 'aisle clear', releasedAt: String }] });
  t.same(
    released.json.resumed.map((d: { device: string; result: string }) => [d.device, d.result]),
    amrIds.map((id) => [id, 'sent']),
    'stopPause to every AMR',
  );
  for (const id of amrIds) await until(`${id} no longer paused`, () => g2.fleet.get(id)!.paused === false);
  await sleep(300);
  for (const id of amrIds) t.same(g2.fleet.get(id)!.pose, poses[id], `${id} has not moved: it has no order`);
  t.same((await call(g2, tok.viewer, 'GET', '/v1/stop')).json, { active: false, stops: [] });
  t.same((await call(g2, tok.operator, 'POST', '/v1/stop/release', { ack: true })).json, { active: false, released: [], resumed: [] }, 'releasing again releases nothing');
});

t.test('zone and device scopes reach only their devices; unknown ones are 404 and stop nothing', async (t) => {
  // The new zones change the floor amr-3's policy was certified on: it drives analytically here.
  const site = demoSiteCopy(t, (yaml) =>
    withoutPolicies(yaml).replace(
      'zones:\n',
      'zones:\n  - { id: bay-a, kind: slow, maxSpeed: 0.3, polygon: [[3, 0.5], [5, 0.5], [5, 2.5], [3, 2.5]] }\n  - { id: machining, kind: slow, maxSpeed: 0.3, polygon: [[15.5, 13], [16.5, 13], [16.5, 14], [15.5, 14]] }\n',
    ),
  );
  const g = await gateway(t, tempDirFor(t), { PHYGATE_SITE: site });
  const tok = tokens(g);
  await until('every device online', () => g.fleet.list().every((d) => d.online && (d.id.startsWith('amr') ? d.paused === false : true)));
  await g.machines.command('cnc-1', { action: 'run', program: 'bracket-v2', count: 4 });
  await g.machines.command('printer-1', { action: 'run', program: 'clip-x', count: 1 });
  await until('cnc-1 and printer-1 running', () => g.fleet.get('cnc-1')!.state === 'running' && g.fleet.get('printer-1')!.state === 'running');

  const told = (a: Answer) => a.json.told.map((d: { device: string }) => d.device);
  const bay = await call(g, tok.agent, 'POST', '/v1/stop', { scope: 'zone:bay-a', reason: 'loading dock a' });
  t.equal(bay.status, 200);
  t.same(told(bay), ['amr-1'], 'zone:bay-a reaches amr-1, which stands in it, only');
  const cell = await call(g, tok.agent, 'POST', '/v1/stop', { scope: 'zone:machining', reason: 'chips on the floor' });
  t.same(told(cell), ['cnc-1'], 'zone:machining reaches cnc-1, whose station is in it, only');
  const one = await call(g, tok.viewer, 'POST', '/v1/stop', { scope: 'device:amr-3', reason: 'odd noise' });
  t.same(told(one), ['amr-3'], 'device:amr-3 reaches amr-3 only');

  await until('amr-1 and amr-3 paused, cnc-1 stopped', () => g.fleet.get('amr-1')!.paused === true && g.fleet.get('amr-3')!.paused === true && g.fleet.get('cnc-1')!.state === 'stopped');
  await sleep(400);
  t.equal(g.fleet.get('amr-2')!.paused, false, 'amr-2, outside every scope, is not paused');
  t.equal(g.fleet.get('printer-1')!.state, 'running', 'printer-1, outside every scope, keeps running');
  t.same((await call(g, tok.viewer, 'GET', '/v1/stop')).json.stops.map((s: { scope: string }) => s.scope), ['zone:bay-a', 'zone:machining', 'device:amr-3']);

  // Bodies that are odd in other ways still stop (stop-body.cases.ts); only a scope naming nothing is refused.
  const bad: [unknown, RegExp][] = [
    [{ scope: 'device:amr-9', reason: 'x' }, /'amr-9' is not a device of this site; devices: amr-1, /],
    [{ scope: 'zone:nowhere', reason: 'x' }, /'nowhere' is not a zone of this site; zones: bay-a, machining, /],
    [{ scope: 'everything', reason: 'x' }, /'everything' is not 'all', 'zone:<id>', 'device:<id>' nor the id of a zone or device/],
  ];
  for (const [body, message] of bad) {
    const res = await call(g, tok.viewer, 'POST', '/v1/stop', body);
    t.equal(res.status, 404, JSON.stringify(body));
    t.match(res.json, { code: 'NOT_FOUND', message: /^Nothing was stopped: / }, 'nothing was stopped');
    t.match(res.json.message, message);
    t.match(res.json.details, { stopped: false, zones: ['bay-a', 'machining'] });
  }
  t.equal(g.stops.active().length, 3, 'none of them was stored');

  const released = await call(g, tok.admin, 'POST', '/v1/stop/release', { ack: true });
  t.same(released.json.released.map((s: { scope: string }) => s.scope), ['zone:bay-a', 'zone:machining', 'device:amr-3'], 'all three released at once');
  t.same(released.json.resumed.map((d: { device: string }) => d.device), ['amr-1', 'amr-3'], 'stopPause only to the AMRs that were stopped');
  await until('amr-1 and amr-3 resumed', () => g.fleet.get('amr-1')!.paused === false && g.fleet.get('amr-3')!.paused === false);
});

t.test('STOP is never rate-limited: with PHYGATE_RATE_LIMIT=3 exhausted, STOP still goes through', async (t) => {
  const h = await appFor(t, { config: { PHYGATE_RATE_LIMIT: 3 } });
  const auth = h.auth('viewer');
  for (let i = 0; i < 3; i++) t.equal((await h.app.inject({ method: 'GET', url: '/v1/robots', headers: auth })).statusCode, 200, `request ${i + 1} of 3`);
  const limited = await h.app.inject({ method: 'GET', url: '/v1/robots', headers: auth });
  t.equal(limited.statusCode, 429, 'the limit is reached');
  t.equal(limited.json().code, 'RATE_LIMITED');
  for (let i = 0; i < 5; i++) {
    const res = await h.app.inject({ method: 'POST', url: '/v1/stop', headers: auth, payload: { scope: 'all', reason: `press ${i + 1}` } });
    t.equal(res.statusCode, 200, `STOP ${i + 1} goes through`);
  }
  t.equal(h.store.stops.active().length, 5, 'and every press is stored');
  // Without masters (this app has none) the devices cannot be told, and the answer says so.
  const res = await h.app.inject({ method: 'POST', url: '/v1/stop', headers: auth, payload: { scope: 'device:cnc-1', reason: 'r' } });
  t.match(res.json().told, [{ device: 'cnc-1', via: 'machine', result: 'failed', error: /no machine master/ }]);
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/robots', headers: auth })).statusCode, 429, 'other routes stay limited');
});
