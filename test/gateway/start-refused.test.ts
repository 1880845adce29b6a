// A `phygate serve` process whose start fails because a port is taken: it exits by itself with
// code 2 and says which port and which setting, and the bootstrap token is not used up by it.
// (Apart from restart.test.ts, whose restarts take most of tap's time limit for a file.)
import { once } from 'node:events';
import { createServer } from 'node:net';
import t from 'tap';
import { openStore } from '../../gateway/store/index.ts';
import { call, runGatewayExpectingExit, startGatewayProcess, waitHealthy } from './gateway-process.ts';
import { tempDirFor } from './harness.ts';

t.test('a first start that fails (port in use) does not use up the bootstrap token', async (t) => {
  const dataDir = tempDirFor(t);
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => new Promise<void>((done) => blocker.close(() => done())));
  const busy = (blocker.address() as { port: number }).port;

  // Without the virtual fleet: what fails is the HTTP port, and a start under a loaded machine
  // need not spend its time bringing up a fleet (and amr-3's policy runtime) first.
  const failed = await runGatewayExpectingExit(t, { dataDir, port: busy, env: { PHYGATE_VIRTUAL_FLEET: '0' } });
  t.same({ code: failed.code, signal: failed.signal }, { code: 2, signal: null }, 'exits by itself with code 2');
  t.notMatch(failed.stdout, /serving/, 'it never says it is serving');
  t.match(failed.stderr, /EADDRINUSE/, 'says why');
  t.notMatch(failed.stdout, /pgt_/, 'no token was shown');

  // Tokens only: no virtual fleet needed for this start.
  const next = await startGatewayProcess(t, { dataDir, port: 0, env: { PHYGATE_VIRTUAL_FLEET: '0' } });
  t.match(next.bootstrapToken, /^pgt_/, 'the first successful start prints the bootstrap admin token');
  if (next.bootstrapToken) {
    await waitHealthy(next.url);
    t.equal((await call(next.url, next.bootstrapToken, 'GET', '/v1/missions')).status, 200, 'and it works');
  }
  const store = openStore(dataDir);
  const admins = store.tokens.list().filter((x) => x.role === 'admin' && x.revokedAt === null);
  store.close();
  t.equal(admins.length, 1, 'exactly one live admin token exists: the one that was shown');
  t.same(await next.stop('SIGTERM'), { code: 0, signal: null }, 'graceful stop');
});

t.test("the embedded broker's port in use: the gateway exits at once, naming PHYGATE_MQTT_PORT", async (t) => {
  const blocker = createServer();
  blocker.listen(0, '127.0.0.1');
  await once(blocker, 'listening');
  t.teardown(() => new Promise<void>((done) => blocker.close(() => done())));
  const busy = (blocker.address() as { port: number }).port;
  const failed = await runGatewayExpectingExit(t, { dataDir: tempDirFor(t), port: 0, mqttPort: busy });
  t.same({ code: failed.code, signal: failed.signal }, { code: 2, signal: null }, 'exits by itself with code 2, not left running with the broker half started');
  t.match(failed.stderr, new RegExp(`embedded MQTT broker cannot listen on 127\\.0\\.0\\.1:${busy} \\(EADDRINUSE\\); set PHYGATE_MQTT_PORT`), 'says which port and which setting');
  t.notMatch(failed.stderr, /PHYGATE_PORT to a free port/, 'not the HTTP port');
  t.notMatch(failed.stdout, /serving/, 'it never says it is serving');
});
