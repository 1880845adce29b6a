// The embedded broker's logins, topic rules and limits, with real MQTT clients over real sockets:
// the demo site's devices, credentials issued into a real SQLite store, the gateway's own login.
// Nobody gets in without a login; a device publishes only its own state topics and subscribes
// only to its own command topics; retained messages and last wills follow the same rules; a
// packet above the limit closes the connection before it is read; TLS works and plain MQTT on
// the TLS port does not.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { MqttAccess } from '../../gateway/broker-auth.ts';
import { LOG_BURST, LOG_WINDOW_MS, startEmbeddedBroker, type BrokerLimits, type EmbeddedBroker, type EmbeddedBrokerOptions } from '../../gateway/broker.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import { openSiteFolder } from '../../sim/site-folder.ts';
import { closeMqtt } from '../../robots/mqtt.ts';
import { dataDir } from '../store/fixtures/data-dir.ts';
import { closed, connack, connectOnce, connectPacket, grants, heardBefore, mustConnect, rawConnect, varLength } from '../helpers/mqtt-clients.ts';

// Not through ./harness.ts: the broker needs nothing of the HTTP app.
const site = await openSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
const AMR1 = 'uagv/v2/phygate/amr-1';
const AMR2 = 'uagv/v2/phygate/amr-2';
const PRINTER = 'phygate/v1/demo/printer-1';
const CNC = 'phygate/v1/demo/cnc-1';

interface Rig {
  broker: EmbeddedBroker;
  access: MqttAccess;
  store: Store;
  /** A client logged in as the gateway. */
  gateway(): Promise<import('mqtt').MqttClient>;
  /** A client logged in as the device, with credentials issued into the store. */
  device(id: string, opts?: import('mqtt').IClientOptions): Promise<import('mqtt').MqttClient>;
}

async function rig(t: Test, limits: Partial<BrokerLimits> = {}, tls?: { cert: string; key: string }, more: Pick<EmbeddedBrokerOptions, 'log' | 'now'> = {}): Promise<Rig> {
  const store = openStore(dataDir(t));
  t.teardown(() => store.close());
  const access = new MqttAccess({ site: site.index, interfaceName: 'uagv', store: store.deviceCredentials });
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, auth: access, limits, ...(tls ? { tls } : {}), ...more });
  t.teardown(() => broker.close());
  const track = (c: import('mqtt').MqttClient) => {
    t.teardown(() => closeMqtt(c, true));
    return c;
  };
  return {
    broker,
    access,
    store,
    gateway: async () => track(await mustConnect(broker.url, { clientId: `phygate-gateway-test-${Math.random()}`, ...access.gateway })),
    device: async (id, opts = {}) => {
      const c = await store.deviceCredentials.issue(id);
      return track(await mustConnect(broker.url, { clientId: `${id}-${Math.random()}`, username: c.username, password: c.password, ...opts }));
    },
  };
}

t.test('nobody gets in without a login: anonymous, a wrong password, an unknown user, a device id without credentials', async (t) => {
  const r = await rig(t);
  const c = await r.store.deviceCredentials.issue('amr-1');

  const anonymous = await connectOnce(r.broker.url, { clientId: 'nobody' });
  t.match(anonymous, { ok: false, code: 5 }, 'anonymous: CONNACK 5, not authorized');
  const wrong = await connectOnce(r.broker.url, { clientId: 'x', username: 'nobody', password: 'wrong' });
  t.match(wrong, { ok: false, code: 4 }, 'mosquitto_sub -u nobody -P wrong: CONNACK 4');
  const wrongPassword = await connectOnce(r.broker.url, { clientId: 'x', username: 'amr-1', password: `${c.password}x` });
  t.match(wrongPassword, { ok: false, code: 4 }, "amr-1's username with a wrong password");
  const noCredentials = await connectOnce(r.broker.url, { clientId: 'x', username: 'amr-2', password: c.password });
  t.match(noCredentials, { ok: false, code: 4 }, "amr-2 has no credentials: amr-1's password does not open it");
  const notGateway = await connectOnce(r.broker.url, { clientId: 'x', username: r.access.gateway.username, password: c.password });
  t.match(notGateway, { ok: false, code: 4 }, "the gateway's username with another password");

  const right = await connectOnce(r.broker.url, { clientId: 'amr-1-ok', username: 'amr-1', password: c.password });
  t.ok(right.ok, 'the issued credentials let amr-1 in');
  if (right.ok) await closeMqtt(right.client, true);

  // The gateway's session cannot be taken over: its client ids are its own.
  const takeover = await connectOnce(r.broker.url, { clientId: 'phygate-gateway-demo-0000', username: 'amr-1', password: c.password });
  t.match(takeover, { ok: false, code: 2 }, "a device may not use the gateway's client ids");

  // An anonymous '#' subscriber gets no further than CONNECT: it is refused before it can subscribe.
  const raw = await rawConnect(r.broker.port);
  raw.socket.write(connectPacket('sniffer'));
  t.equal(await connack(raw), 5, 'a raw anonymous CONNECT is refused too');
  await raw.closed;
  t.pass('and its connection closed');
  t.match(r.broker.stats(), { refusedConnections: 7 }, 'every refusal counted');
});

t.test('credentials issued again replace the old ones at once, without a restart', async (t) => {
  const r = await rig(t);
  const first = await r.store.deviceCredentials.issue('cnc-1');
  const second = await r.store.deviceCredentials.issue('cnc-1');
  t.not(first.password, second.password);
  t.match(await connectOnce(r.broker.url, { clientId: 'a', username: 'cnc-1', password: first.password }), { ok: false, code: 4 }, 'the old password no longer works');
  const now = await connectOnce(r.broker.url, { clientId: 'b', username: 'cnc-1', password: second.password });
  t.ok(now.ok, 'the new one does');
  if (now.ok) await closeMqtt(now.client, true);
});

t.test('a device publishes only its own state topics; orders, instant actions, commands and other devices’ topics close its connection and reach nobody', async (t) => {
  const r = await rig(t);
  const gw = await r.gateway();
  const watched = [`${AMR1}/state`, `${AMR2}/state`, `${AMR1}/order`, `${AMR1}/instantActions`, `${AMR2}/order`, `${CNC}/command`, `${PRINTER}/connection`, `${CNC}/state`];

  // What amr-1 may do reaches the gateway.
  const amr1 = await r.device('amr-1');
  const own = await heardBefore(gw, watched, 'marker/1', () => amr1.publishAsync(`${AMR1}/state`, '{"own":true}', { qos: 1 }).then(() => {}), () => gw.publishAsync('marker/1', 'm', { qos: 1 }).then(() => {}));
  t.same(own.map((m) => m.topic), [`${AMR1}/state`], "amr-1's own state goes through");

  for (const [i, topic] of [`${AMR2}/state`, `${AMR1}/order`, `${AMR1}/instantActions`, `${AMR2}/order`, `${CNC}/command`, `${CNC}/state`, `${PRINTER}/connection`].entries()) {
    const device = await r.device('amr-1');
    const heard = await heardBefore(
      gw,
      watched,
      `marker/f${i}`,
      async () => {
        device.publish(topic, '{"forged":true}', { qos: 1 });
        await closed(device);
      },
      () => gw.publishAsync(`marker/f${i}`, 'm', { qos: 1 }).then(() => {}),
    );
    t.same(heard, [], `amr-1 on ${topic}: its connection is closed and nobody hears it`);
  }
  t.match(r.broker.stats(), { refusedPublishes: 7, refusedConnections: 0 }, 'each refused publish counted');
});

t.test('a device subscribes only to its own order, instant actions or command: "#" and other devices’ topics are refused and deliver nothing', async (t) => {
  const r = await rig(t);
  const gw = await r.gateway();
  const amr1 = await r.device('amr-1');
  const granted = await grants(amr1, ['#', `${AMR2}/order`, `${CNC}/command`, `${AMR2}/state`, `${AMR1}/order`, `${AMR1}/instantActions`]);
  t.same(granted, [128, 128, 128, 128, 1, 1], "'#', amr-2's order and state, cnc-1's command refused; only its own order and instantActions granted");
  const got: string[] = [];
  let markerSeen!: () => void;
  const marker = new Promise<void>((res) => (markerSeen = res));
  amr1.on('message', (topic) => (topic === `${AMR1}/instantActions` ? markerSeen() : got.push(topic)));
  await gw.publishAsync(`${AMR2}/order`, '{"orderId":"o-2"}', { qos: 1 });
  await gw.publishAsync(`${CNC}/command`, '{"action":"run"}', { qos: 1 });
  await gw.publishAsync(`${AMR1}/order`, '{"orderId":"o-1"}', { qos: 1 });
  await gw.publishAsync(`${AMR1}/instantActions`, '{"instantActions":[]}', { qos: 1 });
  await marker;
  t.same(got, [`${AMR1}/order`], "amr-1 hears its own order, not amr-2's order nor cnc-1's command");

  const cnc = await r.device('cnc-1');
  t.same(await grants(cnc, [`${CNC}/command`, `${PRINTER}/command`]), [1, 128], 'cnc-1: its own command only');
  t.match(r.broker.stats(), { refusedSubscriptions: 5 }, 'each refused subscription counted');
});

t.test("a forged retained CONNECTIONBROKEN for printer-1 is neither stored nor delivered, by a publish or by a last will", async (t) => {
  const r = await rig(t);
  const printer = await r.device('printer-1');
  await printer.publishAsync(`${PRINTER}/connection`, '{"connectionState":"ONLINE"}', { qos: 1, retain: true });

  const forger = await r.device('amr-1');
  forger.publish(`${PRINTER}/connection`, '{"connectionState":"CONNECTIONBROKEN"}', { qos: 1, retain: true });
  await closed(forger);
  t.pass("amr-1's retained publish on printer-1's topic closed its connection");

  // A last will on printer-1's topic, fired by a dropped socket, is checked when it fires.
  const willer = await r.device('cnc-1', { will: { topic: `${PRINTER}/connection`, payload: Buffer.from('{"connectionState":"CONNECTIONBROKEN"}'), qos: 1, retain: true } });
  (willer.stream as unknown as { destroy(): void }).destroy();
  await closed(willer);

  // What a subscriber arriving now is told about printer-1: its own ONLINE, nothing forged.
  const gw = await r.gateway();
  const retained = await heardBefore(gw, [`${PRINTER}/connection`], 'marker/r', async () => {}, () => gw.publishAsync('marker/r', 'm', { qos: 1 }).then(() => {}));
  t.same(retained, [{ topic: `${PRINTER}/connection`, payload: '{"connectionState":"ONLINE"}', retain: true }], "the retained message is printer-1's own");
});

t.test('a 100 MB publish: the connection is closed after the header, long before 100 MB; nothing is delivered', async (t) => {
  const r = await rig(t);
  const gw = await r.gateway();
  const c = await r.store.deviceCredentials.issue('amr-1');
  const raw = await rawConnect(r.broker.port);
  raw.socket.write(connectPacket('amr-1-big', c.username, c.password));
  t.equal(await connack(raw), 0, 'amr-1 logged in');

  const size = 100 * 1024 * 1024;
  const topic = Buffer.from(`${AMR1}/state`);
  const header = Buffer.concat([Buffer.from([0x30]), varLength(2 + topic.length + size), Buffer.from([topic.length >> 8, topic.length & 0xff]), topic]);
  let sent = 0;
  let isClosed = false;
  void raw.closed.then(() => (isClosed = true));
  const heard = await heardBefore(
    gw,
    [`${AMR1}/state`],
    'marker/big',
    async () => {
      raw.socket.write(header);
      const chunk = Buffer.alloc(64 * 1024, 0x7b);
      while (!isClosed && sent < size) {
        const more = raw.socket.write(chunk);
        sent += chunk.length;
        if (!more) await Promise.race([new Promise((res) => raw.socket.once('drain', res)), raw.closed]);
      }
      await raw.closed;
    },
    () => gw.publishAsync('marker/big', 'm', { qos: 1 }).then(() => {}),
  );
  t.ok(sent < size, `the broker closed the connection after ${(sent / 1024 / 1024).toFixed(1)} MB of 100 MB were written`);
  t.same(heard, [], 'the publish was never delivered');
  t.match(r.broker.stats(), { oversizedPackets: 1, refusedPublishes: 0 }, 'counted as an oversized packet');
});

t.test('limits: connections at once, subscriptions per client', async (t) => {
  const r = await rig(t, { maxConnections: 2, maxSubscriptionsPerClient: 1 });
  const gw = await r.gateway();
  const amr1 = await r.device('amr-1');
  const third = await rawConnect(r.broker.port);
  await third.closed;
  t.equal(third.received().length, 0, 'a third connection is closed without a word');

  t.same(await grants(amr1, [`${AMR1}/order`, `${AMR1}/instantActions`]), [1, 128], 'one subscription per client: the second is refused');
  await amr1.unsubscribeAsync(`${AMR1}/order`);
  t.same(await grants(amr1, `${AMR1}/instantActions`), [1], 'after an unsubscribe there is room again');
  t.same(await grants(gw, ['a/1', 'a/2', 'a/3']), [1, 1, 1], "the gateway's own subscriptions are not capped");

  // The packet limit is for what devices send; the gateway's own orders may be longer.
  const small = await rig(t, { maxPacketBytes: 4096 });
  const gw2 = await small.gateway();
  const amr = await small.device('amr-1');
  await grants(amr, `${AMR1}/order`);
  const big = Buffer.alloc(64 * 1024, 0x7b);
  const got = new Promise<number>((res) => amr.once('message', (_t, payload) => res(payload.length)));
  await gw2.publishAsync(`${AMR1}/order`, big, { qos: 1 });
  t.equal(await got, big.length, "a 64 KiB order from the gateway goes through a 4 KiB limit");
  amr.publish(`${AMR1}/state`, big, { qos: 0 });
  await closed(amr);
  t.pass('the same 64 KiB from amr-1 closes its connection');
});

t.test('MQTT over TLS: a client that trusts the certificate connects; plain MQTT on the TLS port gets no CONNACK', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'phygate-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A throwaway self-signed certificate for 127.0.0.1, made for this test only.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=phygate-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const key = readFileSync(join(dir, 'key.pem'), 'utf8');
  const r = await rig(t, {}, { cert, key });
  t.match(r.broker.url, /^mqtts:\/\/127\.0\.0\.1:\d+$/);

  const c = await r.store.deviceCredentials.issue('amr-1');
  const ok = await connectOnce(r.broker.url, { clientId: 'tls-amr-1', username: c.username, password: c.password, ca: cert });
  t.ok(ok.ok, 'amr-1 over TLS, verifying the certificate');
  if (ok.ok) await closeMqtt(ok.client, true);
  const untrusted = await connectOnce(r.broker.url, { clientId: 'tls-x', username: c.username, password: c.password });
  t.notOk(untrusted.ok, 'a client that does not trust the certificate does not connect');

  const plain = await rawConnect(r.broker.port);
  plain.socket.write(connectPacket('plain', c.username, c.password));
  await plain.closed;
  t.not(plain.received()[0], 0x20, `plain MQTT on the TLS port: closed without a CONNACK (got ${plain.received().length} bytes, a TLS alert at most)`);
});

t.test('refusals are logged with who and what, never the password, at most LOG_BURST lines a window; the rest are counted and the next window says how many', async (t) => {
  let clock = 1_000_000;
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  const r = await rig(t, {}, undefined, { log: { warn: (obj, msg) => lines.push({ obj: obj as Record<string, unknown>, msg }) }, now: () => clock });
  const c = await r.store.deviceCredentials.issue('amr-1');
  const wrong = await connectOnce(r.broker.url, { clientId: 'guesser', username: 'amr-1', password: 'not-the-password' });
  t.match(wrong, { ok: false, code: 4 });
  t.match(lines[0], { obj: { client: 'guesser', username: 'amr-1', address: '127.0.0.1' }, msg: "embedded broker: refused the CONNECT of 'guesser' as 'amr-1' (bad username or password)" });
  t.notOk(JSON.stringify(lines).includes('not-the-password'), 'the password is not logged');
  const amr2 = await r.device('amr-2');
  amr2.publish(`${AMR1}/order`, '{}', { qos: 1 });
  await closed(amr2);
  t.match(lines.at(-1), { obj: { as: 'amr-2', topic: `${AMR1}/order` }, msg: `embedded broker: amr-2 may not publish on '${AMR1}/order'; its connection is closed` });

  // A flood of anonymous CONNECTs in one window: every one counted, LOG_BURST lines in all.
  for (let i = 0; i < LOG_BURST + 10; i++) {
    const raw = await rawConnect(r.broker.port);
    raw.socket.write(connectPacket(`flood-${i}`));
    await raw.closed;
  }
  t.equal(r.broker.stats().refusedConnections, 1 + LOG_BURST + 10, 'every refusal counted');
  t.equal(lines.length, LOG_BURST, `${LOG_BURST} lines in the window, whatever the flood`);
  clock += LOG_WINDOW_MS;
  const next = await connectOnce(r.broker.url, { clientId: 'after', username: 'amr-1', password: `${c.password}x` });
  t.notOk(next.ok);
  t.match(lines.at(-1), { obj: { client: 'after', suppressed: 12 }, msg: /refused the CONNECT of 'after'/ }, 'the next window starts with how many lines were left out');
});
