// Real MQTT brokers for tests: Mosquitto from Debian (/usr/sbin/mosquitto) on a free loopback
// port with its own config in a temp folder, and the embedded aedes broker. Each is stopped
// when the test ends; Mosquitto can be restarted on the same port to test reconnects.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startEmbeddedBroker } from '../../gateway/broker.ts';
import { freePort, waitForPort } from './net.ts';

export { freePort } from './net.ts';

export const MOSQUITTO = process.env.PHYGATE_TEST_MOSQUITTO ?? '/usr/sbin/mosquitto';

export interface TestBroker {
  kind: 'mosquitto' | 'aedes';
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Stops and starts the broker again on the same port (clients must reconnect). */
  restart(): Promise<void>;
}

export async function startMosquitto(t: Test): Promise<TestBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'phygate-mosquitto-'));
  // A fixed port, so a restarted broker is where the clients were: one freePort() found free.
  let port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  const configure = () => writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest none', ''].join('\n'));
  configure();
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<never>((_, reject) => c.once('exit', (code) => reject(new Error(`mosquitto exited (${code}): ${stderr}`))));
    exited.catch(() => {});
    child = c;
    await Promise.race([waitForPort(port), exited]);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM');
    await gone;
  };
  // Another test's process may take the port between freePort() and mosquitto's bind: then a new one.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (attempt === 3) throw err;
      port = await freePort();
      configure();
    }
  }
  t.teardown(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    kind: 'mosquitto',
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
  };
}

export async function startAedes(t: Test): Promise<TestBroker> {
  let broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, auth: 'off' });
  const port = broker.port;
  let stopped = false;
  t.teardown(() => broker.close());
  return {
    kind: 'aedes',
    url: broker.url,
    port,
    stop: async () => {
      stopped = true;
      await broker.close();
    },
    restart: async () => {
      if (!stopped) await broker.close();
      broker = await startEmbeddedBroker({ host: '127.0.0.1', port, auth: 'off' });
      stopped = false;
    },
  };
}

/** Both real brokers, for tests that must hold on each. */
export const BROKERS = [
  ['mosquitto', startMosquitto],
  ['aedes', startAedes],
] as const;
