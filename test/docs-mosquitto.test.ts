// docs/mosquitto.md is a configuration people will copy, so it is run: a real Mosquitto with the
// page's mosquitto.conf and phygate.acl as written (only the paths and the port changed), users
// made with mosquitto_passwd as the page says, a throwaway self-signed certificate. It refuses
// anonymous clients, drops a device's publish on another device's state topic or on any order,
// instant action or command topic and a forged retained CONNECTIONBROKEN, delivers a device
// subscribed to '#' only its own commands, disconnects an oversized packet, speaks TLS only; and the gateway, configured as the page
// says, reads a device through it.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { readConfig } from '../gateway/config.ts';
import { startGateway } from '../gateway/main.ts';
import { closeMqtt } from '../robots/mqtt.ts';
import { MOSQUITTO } from './helpers/brokers.ts';
import { closed, connack, connectOnce, connectPacket, grants, heardBefore, mustConnect, rawConnect } from './helpers/mqtt-clients.ts';
import { freePort, waitForPort } from './helpers/net.ts';
import { until } from './helpers/wait.ts';

const doc = readFileSync(fileURLToPath(new URL('../docs/mosquitto.md', import.meta.url)), 'utf8');

/** The fenced block of the page whose first line starts with `first`. */
function block(first: string): string {
  const found = [...doc.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith(first));
  if (!found) throw new Error(`docs/mosquitto.md has no block starting '${first}'`);
  return found;
}

const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';
const skip = !existsSync(MOSQUITTO) || !existsSync(MOSQUITTO_PASSWD) ? 'needs mosquitto and mosquitto_passwd (Debian: mosquitto)' : false;

t.test('the documented Mosquitto configuration refuses what the page says it refuses', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'phygate-mosquitto-doc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Mosquitto started as root drops to its own user before it reads the files.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const path = (p: string) => p.replace('/etc/mosquitto/certs/', `${dir}/`).replace('/etc/mosquitto/', `${dir}/`);
  const conf = block('# mosquitto.conf')
    .split('\n')
    .map((l) => (l.startsWith('listener 8883') ? `listener ${port} 127.0.0.1` : path(l)))
    .join('\n');
  t.match(conf, `listener ${port} 127.0.0.1`, 'the page listens on 8883; the test on a free port');
  writeFileSync(join(dir, 'mosquitto.conf'), conf);
  writeFileSync(join(dir, 'phygate.acl'), block('# phygate.acl'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=phygate-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'broker.key'), '-out', join(dir, 'broker.crt')], { stdio: 'ignore' });
  const password = (user: string) => `${user}-pw-0123456789abcdef`;
  const users = ['phygate', 'amr-1', 'amr-2', 'printer-1', 'cnc-1'];
  // As the page says: -c for the first, -b for each.
  for (const [i, user] of users.entries()) execFileSync(MOSQUITTO_PASSWD, [...(i === 0 ? ['-c'] : []), '-b', join(dir, 'phygate.passwd'), user, password(user)], { stdio: 'ignore' });
  for (const f of ['mosquitto.conf', 'phygate.acl', 'phygate.passwd', 'broker.crt', 'broker.key']) chmodSync(join(dir, f), 0o644);

  const child = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  await Promise.race([waitForPort(port), exited.then(() => Promise.reject(new Error(`mosquitto exited: ${stderr}`)))]);

  const url = `mqtts://127.0.0.1:${port}`;
  const ca = readFileSync(join(dir, 'broker.crt'), 'utf8');
  const login = (user: string, extra: import('mqtt').IClientOptions = {}) => mustConnect(url, { ca, clientId: `${user}-${Math.random()}`, username: user, password: password(user), ...extra });
  const clients: import('mqtt').MqttClient[] = [];
  t.teardown(() => Promise.all(clients.map((c) => closeMqtt(c, true))));
  const as = async (user: string, extra: import('mqtt').IClientOptions = {}) => {
    const c = await login(user, extra);
    clients.push(c);
    return c;
  };

  t.match(await connectOnce(url, { ca, clientId: 'nobody' }), { ok: false, code: 5 }, 'anonymous: refused');
  t.match(await connectOnce(url, { ca, clientId: 'x', username: 'amr-1', password: 'wrong' }), { ok: false, code: 5 }, 'a wrong password: refused');
  const plain = await rawConnect(port);
  plain.socket.write(connectPacket('plain', 'amr-1', password('amr-1')));
  await plain.closed;
  t.not(plain.received()[0], 0x20, 'plain MQTT on the TLS listener: no CONNACK');

  const gw = await as('phygate');
  const watched = ['uagv/v2/phygate/amr-1/state', 'uagv/v2/phygate/amr-1/order', 'uagv/v2/phygate/amr-1/instantActions', 'phygate/v1/demo/cnc-1/command', 'phygate/v1/demo/printer-1/connection'];
  const amr1 = await as('amr-1');
  const amr2 = await as('amr-2');
  const own = await heardBefore(gw, watched, 'phygate/marker/own', () => amr1.publishAsync('uagv/v2/phygate/amr-1/state', '{"own":true}', { qos: 1 }).then(() => {}), () => gw.publishAsync('phygate/marker/own', 'm', { qos: 1 }).then(() => {}));
  t.same(own.map((m) => m.topic), ['uagv/v2/phygate/amr-1/state'], "amr-1's own state reaches the gateway");

  const forged = await heardBefore(
    gw,
    watched,
    'phygate/marker/forged',
    async () => {
      // Mosquitto acknowledges and drops each (MQTT 3.1.1): the PUBACK comes, the message goes nowhere.
      await amr2.publishAsync('uagv/v2/phygate/amr-1/state', '{"forged":true}', { qos: 1 });
      await amr2.publishAsync('uagv/v2/phygate/amr-1/order', '{"orderId":"foreign"}', { qos: 1 });
      await amr1.publishAsync('uagv/v2/phygate/amr-1/instantActions', '{"instantActions":[]}', { qos: 1 });
      await amr1.publishAsync('phygate/v1/demo/cnc-1/command', '{"action":"run"}', { qos: 1 });
      await amr1.publishAsync('phygate/v1/demo/printer-1/connection', '{"connectionState":"CONNECTIONBROKEN"}', { qos: 1, retain: true });
    },
    () => gw.publishAsync('phygate/marker/forged', 'm', { qos: 1 }).then(() => {}),
  );
  t.same(forged, [], "amr-2 on amr-1's state and order, amr-1 on its own instantActions, cnc-1's command and printer-1's connection: nobody hears any of it");

  const printer = await as('printer-1');
  await printer.publishAsync('phygate/v1/demo/printer-1/connection', '{"connectionState":"ONLINE"}', { qos: 1, retain: true });
  await amr1.publishAsync('phygate/v1/demo/printer-1/connection', '{"connectionState":"CONNECTIONBROKEN"}', { qos: 1, retain: true });
  const late = await as('phygate');
  const retained = await heardBefore(late, ['phygate/v1/demo/printer-1/connection'], 'phygate/marker/retained', async () => {}, () => late.publishAsync('phygate/marker/retained', 'm', { qos: 1 }).then(() => {}));
  t.same(retained, [{ topic: 'phygate/v1/demo/printer-1/connection', payload: '{"connectionState":"ONLINE"}', retain: true }], "the retained connection is printer-1's own");

  // Mosquitto 2.0 grants any subscription and checks each message against the reader's rules
  // when it delivers: a device that subscribes to '#' hears its own commands and nothing else.
  const cnc = await as('cnc-1');
  await grants(cnc, ['#', 'phygate/v1/demo/printer-1/command', 'uagv/v2/phygate/amr-1/order']);
  const heardByCnc = await heardBefore(
    cnc,
    ['phygate/v1/demo/printer-1/command', 'uagv/v2/phygate/amr-1/order', 'uagv/v2/phygate/amr-1/state', 'phygate/v1/demo/printer-1/connection'],
    'phygate/v1/demo/cnc-1/command',
    async () => {
      await gw.publishAsync('phygate/v1/demo/printer-1/command', '{"action":"run"}', { qos: 1 });
      await gw.publishAsync('uagv/v2/phygate/amr-1/order', '{"orderId":"o-1"}', { qos: 1 });
      await amr1.publishAsync('uagv/v2/phygate/amr-1/state', '{"s":1}', { qos: 1 });
    },
    () => gw.publishAsync('phygate/v1/demo/cnc-1/command', '{"action":"stop"}', { qos: 1 }).then(() => {}),
  );
  t.same(heardByCnc, [], "cnc-1 subscribed to '#' hears printer-1's command, amr-1's order and state, printer-1's retained connection: none of them; its own command: yes");

  const big = await as('amr-1');
  big.publish('uagv/v2/phygate/amr-1/state', Buffer.alloc(300 * 1024, 0x7b), { qos: 0 });
  await closed(big);
  t.pass('a 300 KiB packet (max_packet_size 262144) closes the connection');

  // The gateway as the page configures it: through TLS with its login, it sees amr-1 come online.
  const g = await startGateway(
    readConfig({
      PHYGATE_PORT: '0',
      PHYGATE_DATA_DIR: join(dir, 'var'),
      PHYGATE_LOG_LEVEL: 'silent',
      PHYGATE_VIRTUAL_FLEET: '0',
      PHYGATE_MQTT_URL: url,
      PHYGATE_MQTT_USERNAME: 'phygate',
      PHYGATE_MQTT_PASSWORD: password('phygate'),
      PHYGATE_MQTT_CA_FILE: join(dir, 'broker.crt'),
      PHYGATE_ADMIN_TOKEN: 'test-admin-token-0123456789',
    }),
  );
  t.teardown(() => g.close());
  const connection = { headerId: 1, timestamp: new Date().toISOString(), version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-1', connectionState: 'ONLINE' };
  await amr1.publishAsync('uagv/v2/phygate/amr-1/connection', JSON.stringify(connection), { qos: 1, retain: true });
  await until('the gateway sees amr-1 online through Mosquitto', () => g.fleet.get('amr-1')!.online);
  t.pass('amr-1 online at the gateway');
});
