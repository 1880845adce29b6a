// `phygate fleet` as its own process, like real hardware on the network: a gateway with no
// virtual fleet of its own, on a real Mosquitto, sees the devices come online; when the fleet
// process dies the broker's last wills take them offline at once.
import t from 'tap';
import { startMosquitto } from '../helpers/brokers.ts';
import { childEnv, spawnNode } from '../helpers/child-env.ts';
import { BIN, gatewayOnBroker, spawnFleet } from './gateway-process.ts';
import { REPO_ROOT, tempDirFor } from './harness.ts';
import { until } from '../helpers/wait.ts';


t.test('the fleet process on Mosquitto: online with the gateway, offline through last wills when killed', async (t) => {
  const broker = await startMosquitto(t);
  const g = await gatewayOnBroker(t, broker.url, 'test-admin-token-0123456789', tempDirFor(t));
  t.notOk(g.embeddedBroker, 'PHYGATE_MQTT_URL set: no embedded broker');
  t.ok(g.fleet.list().every((d) => !d.online), 'nothing online before the fleet runs');

  const fleet = spawnFleet(t, broker.url, 10);
  const child = fleet.child;
  await until('the fleet says it is connected', () => /virtual fleet of site 'demo' connected to mqtt:\/\/127\.0\.0\.1:\d+ at 10x/.test(fleet.stdout()), 30_000).catch((e) => {
    throw new Error(`${(e as Error).message}; stdout: ${fleet.stdout()}; stderr: ${fleet.stderr()}`);
  });
  await until('every device online', () => g.fleet.list().every((d) => d.online));
  t.pass('all seven devices online through the external broker');
  const res = await fetch(`${g.url}/v1/robots/amr-2`, { headers: { authorization: 'Bearer test-admin-token-0123456789' } });
  t.match(await res.json(), { id: 'amr-2', online: true, at: 'dock-b', state: 'idle' });

  child.kill('SIGKILL');
  await until('every device offline', () => g.fleet.list().every((d) => !d.online), 10_000);
  t.pass('a killed fleet goes offline through the last wills, without waiting for a timeout');
});

t.test('phygate fleet against a broker that is not there: exit 2 with a clear message', async (t) => {
  const child = spawnNode([BIN, 'fleet', '--mqtt', 'mqtt://127.0.0.1:9', '--speed', '10'], { cwd: REPO_ROOT, env: childEnv() });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.equal(code, 2, stderr);
  t.match(stderr, /^MQTT error: .*mqtt:\/\/127\.0\.0\.1:9/m);
});
