// Runs the real `phygate serve` (gateway/cli/phygate.mjs) as a child process for restart tests:
// its own data folder and port, stdout read line by line, killed in teardown whatever happens.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import { readConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import { TEST_GATEWAY_ENV, childEnv, spawnNode } from '../helpers/child-env.ts';
import { REPO_ROOT } from './harness.ts';

export const BIN = join(REPO_ROOT, 'gateway/cli/phygate.mjs');
const START_TIMEOUT_MS = 30_000;

/** A port that was free a moment ago: listen on port 0, note the port, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  server.close();
  await once(server, 'close');
  return address.port;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  /** The admin token printed because the data folder had no token, if any. */
  bootstrapToken: string | undefined;
  /** Every stdout line so far. */
  lines: string[];
  stderr(): string;
  exited: Promise<Exit>;
  /** Sends SIGTERM and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/**
 * Starts `phygate serve` and resolves once it printed its "serving" line, whose URL says where it
 * listens. The child is killed (SIGKILL) when `t` ends if it is still running. Pass `port: 0`
 * unless the test is about the port: a port freePort() found free can be taken by another test
 * file's process before the gateway listens on it.
 */
export async function startGatewayProcess(t: Test, opts: { dataDir: string; port: number; env?: Record<string, string> }): Promise<GatewayProcess> {
  const child = spawnNode([BIN, 'serve'], {
    cwd: REPO_ROOT,
    env: childEnv({
      PHYGATE_PORT: String(opts.port),
      PHYGATE_HOST: '127.0.0.1',
      PHYGATE_DATA_DIR: opts.dataDir,
      PHYGATE_LOG_LEVEL: 'warn',
      PHYGATE_MQTT_PORT: '0',
      ...opts.env,
    }),
  });
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines: string[] = [];
  let bootstrapToken: string | undefined;

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "serving" line within ${START_TIMEOUT_MS} ms; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`)), START_TIMEOUT_MS);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      lines.push(line);
      const token = /^\s*(pgt_[A-Za-z0-9_-]+)\s*$/.exec(line);
      if (token) bootstrapToken = token[1];
      const serving = /serving .* at (http:\/\/\S+)/.exec(line);
      if (serving) {
        clearTimeout(timer);
        resolve(serving[1]!);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`phygate exited (code ${code}, signal ${signal}) before serving; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
    });
  });

  return {
    child,
    url,
    bootstrapToken,
    lines,
    stderr: () => stderr,
    exited,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}

/** Polls GET /healthz until it answers 200. */
export async function waitHealthy(url: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url}/healthz not 200 within ${timeoutMs} ms (${last})`);
}

/** fetch() with a bearer token, a JSON body and extra headers; resolves to the status, headers and parsed body. */
export async function call(
  url: string,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    // A guard against a hung gateway, not a speed bound: a submit runs a check, which on a busy
    // machine (CI with five test files at once) has taken over 10 s; tap's 120 s per file stays the last word.
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as unknown) : undefined };
}

/**
 * Runs `phygate serve` expecting it to fail to start: resolves with its exit and output. Killed
 * when `t` ends (or after 30 s) if it serves after all.
 */
export async function runGatewayExpectingExit(
  t: Test,
  opts: { dataDir: string; port: number; mqttPort?: number; env?: Record<string, string> },
): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawnNode([BIN, 'serve'], {
    cwd: REPO_ROOT,
    env: childEnv({ PHYGATE_PORT: String(opts.port), PHYGATE_HOST: '127.0.0.1', PHYGATE_DATA_DIR: opts.dataDir, PHYGATE_LOG_LEVEL: 'warn', PHYGATE_MQTT_PORT: String(opts.mqttPort ?? 0), ...opts.env }),
  });
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  t.teardown(kill);
  const timer = setTimeout(kill, START_TIMEOUT_MS);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = await exited;
  clearTimeout(timer);
  return { ...exit, stdout, stderr };
}

/**
 * A gateway in this process with no virtual fleet of its own, on an external broker (closed when
 * `t` ends): the devices are expected to come from elsewhere, e.g. `spawnFleet`. `env`: more
 * PHYGATE_* settings.
 */
export async function gatewayOnBroker(t: Test, brokerUrl: string, adminToken: string, dataDir: string, env: Record<string, string> = {}): Promise<Gateway> {
  const g = await startGateway(
    readConfig({
      ...TEST_GATEWAY_ENV,
      PHYGATE_PORT: '0',
      PHYGATE_MQTT_URL: brokerUrl,
      PHYGATE_VIRTUAL_FLEET: '0',
      PHYGATE_DATA_DIR: dataDir,
      PHYGATE_LOG_LEVEL: 'silent',
      PHYGATE_ADMIN_TOKEN: adminToken,
      ...env,
    }),
  );
  t.teardown(() => g.close());
  return g;
}

/**
 * `phygate fleet --mqtt URL --speed N` as a child process, killed when `t` ends; its output
 * collected. `site`: its site folder (`--site`), else the demo's.
 */
export function spawnFleet(t: Test, brokerUrl: string, speed: number, site?: string): { child: ChildProcess; stdout: () => string; stderr: () => string } {
  const child = spawnNode([BIN, 'fleet', '--mqtt', brokerUrl, '--speed', String(speed), ...(site ? ['--site', site] : [])], { cwd: REPO_ROOT, env: childEnv({}) });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { child, stdout: () => out, stderr: () => err };
}
