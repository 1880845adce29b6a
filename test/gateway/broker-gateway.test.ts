// The whole gateway with its embedded broker as `npm start` runs it (logins on by default): the
// attack of issue finding 1 (a foreign order for amr-1 while a STOP is latched) goes nowhere;
// PHYGATE_MQTT_AUTH=off is refused beyond loopback; the virtual fleet logs in by itself, over
// TLS too; `phygate fleet --issue-credentials` brings a fleet process in like real hardware.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import { closeMqtt } from '../../robots/mqtt.ts';
import { TEST_GATEWAY_ENV, childEnv, spawnNode } from '../helpers/child-env.ts';
import { closed, connectOnce, mustConnect } from '../helpers/mqtt-clients.ts';
import { until } from '../helpers/wait.ts';
import { BIN } from './gateway-process.ts';
import { demoSiteCopy, REPO_ROOT, tempDirFor } from './harness.ts';
import { withoutPolicies } from '../helpers/demo-site.ts';

const ADMIN = 'test-admin-token-0123456789';
const AMR1 = 'uagv/v2/phygate/amr-1';

/** The demo site's gateway with its virtual fleet at 20×, every AMR on the analytic motion model. */
async function gateway(t: Test, env: Record<string, string> = {}): Promise<Gateway> {
  const g = await startGateway(
    readConfig({ ...TEST_GATEWAY_ENV, PHYGATE_PORT: '0', PHYGATE_MQTT_PORT: '0', PHYGATE_DATA_DIR: tempDirFor(t), PHYGATE_LOG_LEVEL: 'silent', PHYGATE_FLEET_SPEED: '20', PHYGATE_ADMIN_TOKEN: ADMIN, PHYGATE_SITE: demoSiteCopy(t, withoutPolicies), ...env }),
  );
  t.teardown(() => g.close());
  return g;
}

async function post(g: Gateway, path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${g.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

interface AmrState {
  orderId: string;
  paused?: boolean;
  driving: boolean;
  nodeStates: unknown[];
  edgeStates: unknown[];
  agvPosition?: { x: number; y: number };
}

t.test('finding 1: with STOP latched on amr-1, a foreign order and stopPause never reach it, and after the release it has no order to drive', async (t) => {
  const g = await gateway(t);
  await until('every device online', () => g.fleet.list().every((d) => d.online));
  const stop = await post(g, '/v1/stop', { scope: 'device:amr-1', reason: 'finding 1' });
  t.equal(stop.status, 200, 'amr-1 stopped');

  // amr-1's own state, as the gateway reads it off the broker.
  const watch = await mustConnect(g.mqttUrl, { clientId: 'finding-1-watch', ...g.mqttAccess!.gateway });
  t.teardown(() => closeMqtt(watch, true));
  const states: AmrState[] = [];
  watch.on('message', (_topic, payload) => states.push(JSON.parse(payload.toString()) as AmrState));
  await watch.subscribeAsync(`${AMR1}/state`, { qos: 0 });
  await until('amr-1 reports paused', () => states.some((s) => s.paused === true));
  const home = states.at(-1)!.agvPosition!;

  // The attacker of the issue, anonymous: refused at CONNECT.
  const anonymous = await connectOnce(g.mqttUrl, { clientId: 'attacker' });
  t.match(anonymous, { ok: false, code: 5 }, 'an anonymous client is refused');

  // With a real device's login (amr-2's, say stolen): publishing to amr-1 closes the connection.
  const stolen = await g.store.deviceCredentials.issue('amr-2');
  const order = {
    headerId: 1, timestamp: new Date().toISOString(), version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-1',
    orderId: 'foreign-order', orderUpdateId: 0,
    nodes: [{ nodeId: 'dock-a', sequenceId: 0, released: true, actions: [] }, { nodeId: 'sa-1', sequenceId: 2, released: true, actions: [] }],
    edges: [{ edgeId: 'e-foreign', sequenceId: 1, released: true, startNodeId: 'dock-a', endNodeId: 'sa-1', actions: [] }],
  };
  const resume = { headerId: 1, timestamp: new Date().toISOString(), version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-1', instantActions: [{ actionId: 'foreign-resume', actionType: 'stopPause', blockingType: 'NONE' }] };
  for (const [topic, message] of [[`${AMR1}/instantActions`, resume], [`${AMR1}/order`, order]] as const) {
    const attacker = await mustConnect(g.mqttUrl, { clientId: `attacker-${topic}`, username: stolen.username, password: stolen.password });
    attacker.publish(topic, JSON.stringify(message), { qos: 1 });
    await closed(attacker);
    t.pass(`amr-2's login publishing on ${topic}: connection closed`);
  }

  const release = await post(g, '/v1/stop/release', { ack: true, note: 'finding 1 over' });
  t.equal(release.status, 200, 'released');
  const after = states.length;
  const free = await until('amr-1 reports it is no longer paused', () => states.slice(after).find((s) => s.paused === false));
  t.not(free.orderId, 'foreign-order', 'amr-1 never took the foreign order');
  t.same([free.nodeStates, free.edgeStates, free.driving], [[], [], false], 'nothing left to drive after the release');
  t.same(free.agvPosition && [free.agvPosition.x, free.agvPosition.y], [home.x, home.y], 'where it stood');
  t.notOk(states.some((s) => s.orderId === 'foreign-order'), 'no state of amr-1 ever named the foreign order');
});

t.test("finding 2's broker half: another device's forged retained CONNECTIONBROKEN for printer-1 and forged done for cnc-1 reach neither the broker's store nor the gateway", async (t) => {
  const g = await gateway(t);
  await until('every device online', () => g.fleet.list().every((d) => d.online));
  const stolen = await g.store.deviceCredentials.issue('amr-3');
  const forgeries: [string, string, boolean][] = [
    ['phygate/v1/demo/printer-1/connection', JSON.stringify({ timestamp: new Date().toISOString(), connectionState: 'CONNECTIONBROKEN' }), true],
    ['phygate/v1/demo/cnc-1/state', JSON.stringify({ seq: 1_000_000, timestamp: new Date().toISOString(), state: 'idle', acks: [{ commandId: 'guessed-s0-0', result: 'done' }] }), true],
  ];
  for (const [topic, payload, retain] of forgeries) {
    const forger = await mustConnect(g.mqttUrl, { clientId: `forger-${topic}`, username: stolen.username, password: stolen.password });
    forger.publish(topic, payload, { qos: 1, retain });
    await closed(forger);
    t.pass(`amr-3's login on ${topic}: connection closed`);
  }
  // What the broker keeps for these topics, read by a client arriving now: the devices' own.
  const watch = await mustConnect(g.mqttUrl, { clientId: 'finding-2-watch', ...g.mqttAccess!.gateway });
  t.teardown(() => closeMqtt(watch, true));
  const retained = new Map<string, string>();
  watch.on('message', (topic, payload) => retained.set(topic, payload.toString()));
  await watch.subscribeAsync(['phygate/v1/demo/printer-1/connection', 'phygate/v1/demo/cnc-1/state'], { qos: 1 });
  await until('both retained messages', () => retained.size === 2);
  t.match(JSON.parse(retained.get('phygate/v1/demo/printer-1/connection')!), { connectionState: 'ONLINE' }, "printer-1's own ONLINE is what the broker keeps");
  t.notOk(retained.get('phygate/v1/demo/cnc-1/state')!.includes('guessed-s0-0'), "cnc-1's retained state is its own");
  t.ok(g.fleet.get('printer-1')!.online, 'printer-1 online at the gateway');
});

t.test('PHYGATE_MQTT_AUTH=off is refused when the broker listens beyond loopback; TLS needs both files, readable and matching', async (t) => {
  await t.rejects(gateway(t, { PHYGATE_MQTT_AUTH: 'off', PHYGATE_MQTT_HOST: '0.0.0.0' }), { name: 'ConfigError', message: /PHYGATE_MQTT_AUTH=off is allowed only when the embedded broker listens on loopback, not on '0\.0\.0\.0'/ });
  await t.rejects(gateway(t, { PHYGATE_MQTT_TLS_CERT: '/nonexistent/cert.pem' }), { name: 'ConfigError', message: /go together/ });
  await t.rejects(gateway(t, { PHYGATE_MQTT_TLS_CERT: '/nonexistent/cert.pem', PHYGATE_MQTT_TLS_KEY: '/nonexistent/key.pem' }), { name: 'ConfigError', message: /PHYGATE_MQTT_TLS_CERT: cannot read '\/nonexistent\/cert\.pem'/ });
  // A certificate with another certificate's key.
  const dir = mkdtempSync(join(tmpdir(), 'phygate-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ['a', 'b']) execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { stdio: 'ignore' });
  await t.rejects(gateway(t, { PHYGATE_MQTT_TLS_CERT: join(dir, 'a.crt'), PHYGATE_MQTT_TLS_KEY: join(dir, 'b.key') }), { name: 'ConfigError', message: /cannot be used together/ });
  const open = await gateway(t, { PHYGATE_MQTT_AUTH: 'off', PHYGATE_VIRTUAL_FLEET: '0' });
  const anyone = await connectOnce(open.mqttUrl, { clientId: 'anyone' });
  t.ok(anyone.ok, 'on loopback, off means anyone may connect');
  if (anyone.ok) await closeMqtt(anyone.client, true);
  t.equal(open.mqttAccess, undefined);
});

t.test('MQTT over TLS on the embedded broker: the virtual fleet comes online over mqtts://, plain MQTT gets nowhere', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'phygate-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A throwaway self-signed certificate for another host name: the gateway's own clients pin it.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=gateway.floor.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const g = await gateway(t, { PHYGATE_MQTT_TLS_CERT: join(dir, 'cert.pem'), PHYGATE_MQTT_TLS_KEY: join(dir, 'key.pem') });
  t.match(g.mqttUrl, /^mqtts:\/\//);
  await until('every device online over TLS', () => g.fleet.list().every((d) => d.online));
  t.pass('all seven devices online');
  const plain = await connectOnce(g.mqttUrl.replace('mqtts:', 'mqtt:'), { clientId: 'plain', ...g.mqttAccess!.gateway });
  t.notOk(plain.ok, 'plain MQTT on the TLS port does not connect');
});

for (const tls of [false, true]) {
  t.test(`phygate fleet --issue-credentials: a fleet process logs in to the embedded broker like real hardware${tls ? ', over TLS' : ''}`, async (t) => {
    const dataDir = tempDirFor(t);
    const certs = mkdtempSync(join(tmpdir(), 'phygate-tls-'));
    t.teardown(() => rmSync(certs, { recursive: true, force: true }));
    // A throwaway self-signed certificate for 127.0.0.1; the fleet process trusts it as its CA.
    if (tls) execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=phygate-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(certs, 'key.pem'), '-out', join(certs, 'cert.pem')], { stdio: 'ignore' });
    const site = demoSiteCopy(t, withoutPolicies);
    const g = await gateway(t, { PHYGATE_VIRTUAL_FLEET: '0', PHYGATE_DATA_DIR: dataDir, PHYGATE_SITE: site, ...(tls ? { PHYGATE_MQTT_TLS_CERT: join(certs, 'cert.pem'), PHYGATE_MQTT_TLS_KEY: join(certs, 'key.pem') } : {}) });
    t.match(g.mqttUrl, tls ? /^mqtts:/ : /^mqtt:/);
    const child = spawnNode([BIN, 'fleet', '--mqtt', g.mqttUrl, '--speed', '10', '--issue-credentials', '--data-dir', dataDir, '--site', site], { cwd: REPO_ROOT, env: childEnv(tls ? { PHYGATE_MQTT_CA_FILE: join(certs, 'cert.pem') } : {}) });
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await until('every device online', () => g.fleet.list().every((d) => d.online)).catch((e) => {
      throw new Error(`${(e as Error).message}; stderr: ${stderr}`);
    });
    t.pass('all seven devices online, each with its own stored credentials');
    t.same(g.store.deviceCredentials.list().map((c) => c.deviceId).sort(), g.site.index.site.devices.map((d) => d.id).sort());
    t.match(stderr, /issued fresh MQTT credentials for amr-1, amr-2, amr-3/);
  });
}
