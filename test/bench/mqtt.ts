// The MQTT benchmark, section (e) of `npm run bench` (or alone: `node --import tsx test/bench/mqtt.ts`;
// PHYGATE_BENCH_FLEETS=1000 measures the ingestion of 1,000 vehicles only, PHYGATE_BENCH_ROUNDS=3
// how many rounds compare phygate's master with the library there, PHYGATE_BENCH_DISPATCH=0
// leaves out the order dispatch, PHYGATE_BENCH_PROFILE=<folder> writes each window's CPU profile there).
//
// (1) State ingestion, the issue's goal: N vehicles each publishing its VDA 5050 state at 10 Hz
// through a real broker (Mosquitto on a free loopback port; the embedded aedes broker, in a child
// process, when Mosquitto is not installed). The vehicles are a child process
// (test/bench/state-publisher.ts) so that their CPU is not the measured side's; each measured side
// runs alone in a fresh child process of its own (test/bench/state-ingestor.ts), one after the
// other under the same load: phygate's master (connectMqtt + FleetRegistry + Vda5050Master);
// vda-5050-lib's MasterController, the library a user would otherwise pick, with its schema
// validation on (its default) and off; and a same-run baseline, a bare mqtt.js subscriber that
// only JSON.parses each message. For N = 100 and 1,000 it prints messages/s published and
// ingested, messages dropped (headerId gaps), the measured process's CPU as a share of one core
// and per message, the lag from a state's `timestamp` to the side handing it on, and each side's
// CPU per message against phygate's master's. Target: 1,000 vehicles, ≥ 9,500 msg/s ingested by
// phygate's master, CPU < 100 % of one core. A scenario is a case in CASES; a case's `setup`
// module runs extra work in the measured process (see IngestCase).
//
// (2) Order dispatch: the time from `sendOrder` being called to the order arriving at a stand-in
// vehicle (a plain MQTT client here, not a VDA 5050 vehicle) on the demo site, p50/p99, against a
// raw publish of a small fixed JSON over the same connections.
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findRoute } from '../../planners/route.ts';
import type { Amr } from '../../planners/site.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { Vda5050Master } from '../../robots/vda5050/master.ts';
import { freePort, waitForPort } from '../helpers/net.ts';
import { table } from './format.ts';
import type { EndAction } from '../../robots/vda5050/order.ts';
import type { Order, State } from '../../robots/vda5050/schemas.ts';
import { DEFAULT_INTERFACE_NAME, vehicleTopic } from '../../robots/vda5050/topics.ts';
import { demoSite, fleetSite } from './generate.ts';
import type { FromIngestor, IngestorStart, IngestWindow, SideSpec, ToIngestor } from './state-ingestor.ts';
import type { FromPublisher, PublisherCount, PublisherStart, ToPublisher } from './state-publisher.ts';

export const MOSQUITTO = process.env.PHYGATE_BENCH_MOSQUITTO ?? process.env.PHYGATE_TEST_MOSQUITTO ?? '/usr/sbin/mosquitto';
/** PHYGATE_BENCH_NODELAY=1: Mosquitto with `set_tcp_nodelay true`, to see what Nagle's algorithm adds to the lag. */
export const NODELAY = process.env.PHYGATE_BENCH_NODELAY === '1';
/** PHYGATE_BENCH_FLEETS=100,1000: the vehicle counts of the state ingestion. */
const FLEETS = (process.env.PHYGATE_BENCH_FLEETS ?? '100,1000').split(',').map(Number);
/** PHYGATE_BENCH_DISPATCH=0: no order dispatch. */
const DISPATCH = process.env.PHYGATE_BENCH_DISPATCH !== '0';
export const HZ = 10;
export const CONNECTIONS = 20;
/** Each 100 ms tick is cut into 20 slots of 5 ms; vehicle i publishes in slot i mod 20. */
const SLOTS = 20;
const WARMUP_S = 2;
const WINDOW_S = 10;
const BASELINE_WARMUP_S = 1;
const BASELINE_WINDOW_S = 5;
const TARGET = { vehicles: 1000, ingestedPerS: 9500, cpuShare: 1 };
const DISPATCH_WARMUP = 30;
const DISPATCH_RUNS = 300;
const RAW_TOPIC = 'phygate-bench/raw';
const RAW_ECHO_TOPIC = 'phygate-bench/raw-echo';
const RAW_PAYLOAD = '{"bench":"raw","n":1}';
/** The versions measured: vda-5050-lib, and the mqtt.js it brings along. */
const requireHere = createRequire(import.meta.url);
const LIBRARY_VERSION = (requireHere('vda-5050-lib/package.json') as { version: string }).version;
const LIBRARY_MQTT_VERSION = (createRequire(requireHere.resolve('vda-5050-lib'))('mqtt/package.json') as { version: string }).version;
/** Linux's USER_HZ, the unit of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_S = 100;

// ---- small helpers -------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export const fixed = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
export const ms = (x: number) => (!Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
export const times = (x: number) => (!Number.isFinite(x) ? '-' : `${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)}x`);
export const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-');
export const pct = (share: number | undefined) => (share === undefined || !Number.isFinite(share) ? '-' : `${(share * 100).toFixed(0)} %`);


/** CPU time (user + system, µs) of another process, from /proc; undefined where there is none. */
function processCpuUs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) ": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** A promise for the next event of one kind, failing after `timeoutMs`; never an unhandled rejection. */
function expect<T>(what: string, timeoutMs: number): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    timer = setTimeout(() => rej(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    timer.unref();
  }).finally(() => clearTimeout(timer));
  promise.catch(() => {});
  return { promise, resolve };
}

export async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(5);
  }
}

export async function withTimeout<T>(what: string, p: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for a child to exit; SIGKILL if it has not after `graceMs`. */
export async function ended(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/**
 * A child process of the bench, driven over IPC and ended when `res` is released. Its own
 * execArgv: a --cpu-prof given to the bench must not profile the child too (`nodeArgs` may ask for it).
 */
export function forkChild(res: Resources, file: string, args: string[], label: string): ChildProcess {
  const child = fork(file, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  res.child(child);
  res.add(label, async () => {
    if (child.connected) child.disconnect();
    await ended(child);
  });
  return child;
}

/**
 * What the bench opened, closed in reverse order when it ends, normally or not. Should the
 * process be interrupted or exit without getting there, child processes are killed and temp
 * folders removed synchronously.
 */
export class Resources {
  private readonly closers: { what: string; close: () => Promise<void> }[] = [];
  private readonly children = new Set<ChildProcess>();
  private readonly dirs = new Set<string>();
  private readonly emergency = () => {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  };
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.emergency();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };

  constructor() {
    process.on('exit', this.emergency);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  add(what: string, close: () => Promise<void> | void): void {
    this.closers.push({ what, close: async () => close() });
  }

  child(c: ChildProcess): void {
    this.children.add(c);
    c.once('exit', () => this.children.delete(c));
  }

  dir(d: string): void {
    this.dirs.add(d);
  }

  /** Closes the most recent resources down to `keep` left open. */
  async closeDownTo(keep: number): Promise<void> {
    while (this.closers.length > keep) {
      const { what, close } = this.closers.pop()!;
      try {
        await withTimeout(`closing ${what}`, close(), 5000);
      } catch (err) {
        console.log(`  !! closing ${what} failed: ${(err as Error).message}`);
      }
    }
  }

  get open(): number {
    return this.closers.length;
  }

  async closeAll(): Promise<void> {
    await this.closeDownTo(0);
    this.emergency();
    process.off('exit', this.emergency);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}

// ---- the broker ----------------------------------------------------------------------------

export interface Broker {
  kind: 'mosquitto' | 'aedes';
  description: string;
  url: string;
  pid: number | undefined;
}


/** Rejects when the child exits before `ready` settles. */
function exitRace(c: ChildProcess, what: string, stderr: () => string): Promise<never> {
  const p = new Promise<never>((_, reject) => c.once('exit', (code, signal) => reject(new Error(`${what} exited (${code ?? signal}): ${stderr().trim()}`))));
  p.catch(() => {});
  return p;
}

export async function startMosquitto(res: Resources): Promise<Broker> {
  const dir = mkdtempSync(join(os.tmpdir(), 'phygate-bench-mosquitto-'));
  res.dir(dir);
  res.add('the mosquitto temp folder', () => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest none', ...(NODELAY ? ['set_tcp_nodelay true'] : []), ''].join('\n'));
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  res.child(child);
  res.add('mosquitto', async () => {
    child.kill('SIGTERM');
    await ended(child);
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  await Promise.race([waitForPort(port), exitRace(child, 'mosquitto', () => stderr)]);
  const version = spawnSync(MOSQUITTO, ['-h'], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim() || 'mosquitto';
  return { kind: 'mosquitto', description: `${version} (${MOSQUITTO}), ${NODELAY ? 'set_tcp_nodelay true (PHYGATE_BENCH_NODELAY)' : 'default settings'}`, url: `mqtt://127.0.0.1:${port}`, pid: child.pid };
}

/** gateway/broker.ts's aedes, in a child process of its own so that its CPU is not counted as the gateway's. */
export async function startAedes(res: Resources): Promise<Broker> {
  const code = [
    'const { startEmbeddedBroker } = await import(process.argv[1]);',
    // Open and unbounded, as the bench's thousand vehicles and bare clients need (loopback only).
    "const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, auth: 'off', limits: { maxConnections: 100000, maxSubscriptionsPerClient: 100000 } });",
    "process.stdout.write(b.port + '\\n');",
    "process.stdin.on('end', () => { void b.close().then(() => process.exit(0)); });",
    'process.stdin.resume();',
  ].join('\n');
  const brokerModule = new URL('../../gateway/broker.ts', import.meta.url).href;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, brokerModule], { stdio: ['pipe', 'pipe', 'pipe'] });
  res.child(child);
  res.add('the aedes broker', async () => {
    child.stdin!.end();
    await ended(child);
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const port = await Promise.race([
    new Promise<number>((resolve) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('\n')) resolve(Number(out.trim()));
      });
    }),
    exitRace(child, 'the aedes broker', () => stderr),
  ]);
  return { kind: 'aedes', description: `aedes (gateway/broker.ts) in a child process — ${MOSQUITTO} not found, so NOT Mosquitto`, url: `mqtt://127.0.0.1:${port}`, pid: child.pid };
}

// ---- child processes driven over IPC -------------------------------------------------------

/** Requests to a child over IPC, each answered by the child's next message of one type. */
class ChildChannel<To extends { type: string }, From extends { type: string }> {
  private readonly waiting: { type: string; resolve: (m: From) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  constructor(
    readonly child: ChildProcess,
    private readonly name: string,
  ) {
    child.on('message', (m: From) => {
      if (m.type === 'error') return this.fail(new Error(`${name}: ${(m as { message?: string }).message}`));
      const i = this.waiting.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m);
    });
    child.once('exit', (code, signal) => this.fail(new Error(`${name} exited (${code ?? signal})`)));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  request<T extends From>(message: To, reply: T['type'], timeoutMs = 15_000): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const answer = new Promise<From>((resolve, reject) => this.waiting.push({ type: reply, resolve, reject }));
    this.child.send(message);
    return withTimeout(`${this.name} to answer '${message.type}'`, answer, timeoutMs) as Promise<T>;
  }
}

/** The vehicles' process (test/bench/state-publisher.ts). */
export class Vehicles {
  private constructor(private readonly channel: ChildChannel<ToPublisher, FromPublisher>) {}

  static start(res: Resources): Vehicles {
    const child = forkChild(res, fileURLToPath(new URL('./state-publisher.ts', import.meta.url)), [], "the vehicles' process");
    return new Vehicles(new ChildChannel(child, "the vehicles' process"));
  }

  run(start: Omit<PublisherStart, 'type'>) {
    return this.channel.request({ type: 'start', ...start }, 'started');
  }

  count(): Promise<PublisherCount> {
    return this.channel.request<PublisherCount>({ type: 'count' }, 'count');
  }

  stop() {
    return this.channel.request({ type: 'stop' }, 'stopped');
  }
}

/** A measured side's process (test/bench/state-ingestor.ts), one per side. */
class Ingestor {
  private constructor(private readonly channel: ChildChannel<ToIngestor, FromIngestor>) {}

  static start(res: Resources, label: string): Ingestor {
    const name = `the measured process (${label})`;
    return new Ingestor(new ChildChannel(forkChild(res, fileURLToPath(new URL('./state-ingestor.ts', import.meta.url)), [], name), name));
  }

  /** Starting includes loading the side's code with tsx, on a machine busy with the vehicles, and the setup. */
  run(start: Omit<IngestorStart, 'type'>, timeoutMs = 60_000) {
    return this.channel.request({ type: 'start', ...start }, 'started', timeoutMs);
  }

  measure(seconds: number): Promise<IngestWindow> {
    return this.channel.request<IngestWindow>({ type: 'measure', seconds }, 'window', seconds * 1000 + 15_000);
  }

  stop() {
    return this.channel.request({ type: 'stop' }, 'stopped');
  }
}

// ---- (1) state ingestion -------------------------------------------------------------------

/**
 * One measured side of the state ingestion, in a process of its own (test/bench/state-ingestor.ts).
 * `setup`: a module URL whose default export (an IngestSetup) runs in that process once the side
 * is up, e.g. an executor running missions next to phygate's master; a case with it, next to the
 * same case without, measures what that work costs the ingestion.
 */
export interface IngestCase {
  label: string;
  side: SideSpec;
  warmupS: number;
  windowS: number;
  setup?: string;
  /** How long starting the side and its setup may take; default 60 s. */
  startTimeoutS?: number;
}

const PHYGATE = 'phygate master';
const LIBRARY = 'vda-5050-lib, validation on';
const BASELINE = 'baseline';
const CASES: IngestCase[] = [
  { label: PHYGATE, side: { kind: 'phygate' }, warmupS: WARMUP_S, windowS: WINDOW_S },
  { label: LIBRARY, side: { kind: 'vda-5050-lib', validation: true }, warmupS: WARMUP_S, windowS: WINDOW_S },
  { label: 'vda-5050-lib, validation off', side: { kind: 'vda-5050-lib', validation: false }, warmupS: WARMUP_S, windowS: WINDOW_S },
  { label: BASELINE, side: { kind: 'bare' }, warmupS: BASELINE_WARMUP_S, windowS: BASELINE_WINDOW_S },
];

export interface Sample {
  seconds: number;
  publishedPerS: number;
  publishFailed: number;
  publisherLateMs: number;
  ingested: number;
  ingestedPerS: number;
  cpuShare: number;
  brokerShare: number | undefined;
  vehiclesShare: number;
  dropped: number;
  reordered: number;
  lags: number[];
  /** The measured process's event-loop delay, p99 and max, ms: how long a message could wait for the loop. */
  loopP99Ms: number;
  loopMaxMs: number;
  /** Since the side started, warm-up included: every state the vehicles send must pass. */
  invalid: number;
  unknownDevice: number;
  /** Mean size of the states the vehicles sent during the window, bytes. */
  stateBytes: number;
  /** Orders the vehicles took, finished and saw cancelled since they started (with `orders`). */
  vehicleOrders: PublisherCount['orders'];
  /** The setup's probe at the window's start and end. */
  probes?: { start: unknown; end: unknown };
  /** The window's CPU profile (PHYGATE_BENCH_PROFILE). */
  profile?: string;
}

async function measure(c: IngestCase, n: number, broker: Broker, vehicles: Vehicles, res: Resources): Promise<Sample> {
  const keep = res.open;
  try {
    const side = Ingestor.start(res, c.label);
    await side.run({ side: c.side, url: broker.url, vehicles: n, ...(c.setup ? { setup: c.setup } : {}) }, (c.startTimeoutS ?? 60) * 1000);
    res.add(`the side '${c.label}'`, async () => {
      await side.stop();
    });
    await sleep(c.warmupS * 1000);
    const p0 = await vehicles.count();
    const b0 = processCpuUs(broker.pid);
    const t0 = performance.now();
    const w = await side.measure(c.windowS);
    const wallS = (performance.now() - t0) / 1000;
    const b1 = processCpuUs(broker.pid);
    const p1 = await vehicles.count();
    if (w.heard < n) console.log(`  !! ${c.label}: only ${w.heard} of ${n} vehicles heard from after the ${c.warmupS} s warm-up and the window`);
    const pubWallS = (p1.atMs - p0.atMs) / 1000;
    return {
      seconds: w.seconds,
      publishedPerS: (p1.published - p0.published) / pubWallS,
      publishFailed: p1.failed - p0.failed,
      publisherLateMs: p1.maxLateMs,
      ingested: w.ingested,
      ingestedPerS: w.ingested / w.seconds,
      cpuShare: w.cpuUs / 1e6 / w.seconds,
      brokerShare: b0 === undefined || b1 === undefined ? undefined : (b1 - b0) / 1e6 / wallS,
      vehiclesShare: (p1.cpuUs - p0.cpuUs) / 1e6 / pubWallS,
      dropped: w.dropped,
      reordered: w.reordered,
      lags: w.lags,
      loopP99Ms: w.loopP99Ms,
      loopMaxMs: w.loopMaxMs,
      invalid: w.invalid,
      unknownDevice: w.unknownDevice,
      stateBytes: (p1.bytes - p0.bytes) / (p1.published - p0.published),
      vehicleOrders: p1.orders,
      ...(w.probes ? { probes: w.probes } : {}),
      ...(w.profile ? { profile: w.profile } : {}),
    };
  } finally {
    await res.closeDownTo(keep);
  }
}

export interface IngestResult {
  vehicles: number;
  sides: { case: IngestCase; sample: Sample }[];
}

/** The vehicles start (with `orders`: taking orders, see state-publisher.ts), and each case is measured under them in turn. */
export async function ingest(n: number, cases: IngestCase[], broker: Broker, vehicles: Vehicles, res: Resources, orders?: PublisherStart['orders']): Promise<IngestResult> {
  const keep = res.open;
  try {
    const site = fleetSite(n);
    const home = site.node(site.devicesOfKind('amr')[0]!.home)!;
    await vehicles.run({
      url: broker.url,
      interfaceName: DEFAULT_INTERFACE_NAME,
      manufacturer: site.devicesOfKind('amr')[0]!.vda5050.manufacturer,
      serialNumbers: site.devicesOfKind('amr').map((a) => a.vda5050.serialNumber),
      connections: CONNECTIONS,
      hz: HZ,
      slots: SLOTS,
      mapId: site.site.mapId,
      node: home.id,
      x: home.x,
      y: home.y,
      ...(orders ? { orders } : {}),
    });
    res.add('the vehicles', async () => {
      await vehicles.stop();
    });
    const sides: IngestResult['sides'] = [];
    for (const c of cases) sides.push({ case: c, sample: await measure(c, n, broker, vehicles, res) });
    return { vehicles: n, sides };
  } finally {
    await res.closeDownTo(keep);
  }
}

export const usPerMessage = (w: Sample) => (w.cpuShare * w.seconds * 1e6) / w.ingested;

function printIngestion(results: IngestResult[], broker: Broker): void {
  console.log(`  (1) state ingestion: N vehicles × ${HZ} Hz VDA 5050 state, QoS 0, from a child process over ${CONNECTIONS} connections`);
  console.log('  (TCP_NODELAY on those: one carries many vehicles, each of which would have a connection of its own);');
  console.log('  each side runs alone in a fresh child process ("measured process"), one after the other under the same load:');
  console.log(`  ${PHYGATE} = connectMqtt + FleetRegistry + Vda5050Master (zod validation of every message, always on);`);
  console.log(`  vda-5050-lib = the library's MasterController (${LIBRARY_VERSION}, on its mqtt.js ${LIBRARY_MQTT_VERSION}, default connection settings), targetAgvs the`);
  console.log('  vehicles\' manufacturer, trackAgvs, and a subscribe(state) handler keeping each vehicle\'s last state, as an application');
  console.log('  would; validation on = its inbound JSON-schema validation (topicObjectValidation, on by default), off = turned off;');
  console.log(`  all on interface '${DEFAULT_INTERFACE_NAME}', same broker, same vehicles; ${WINDOW_S} s window after ${WARMUP_S} s warm-up;`);
  console.log(`  ${BASELINE} = a bare mqtt.js subscriber that only JSON.parses each message (${BASELINE_WINDOW_S} s after ${BASELINE_WARMUP_S} s)`);
  console.log('  CPU = the measured process\'s share of one core (process.cpuUsage / wall); lag = registry update (phygate), subscribe');
  console.log('  handler (vda-5050-lib) or parse (baseline) − the state\'s timestamp, ms, 1 ms resolution; dropped = headerId gaps;');
  console.log('  µs/msg = the measured process\'s CPU per message ingested; loop = its event-loop delay (monitorEventLoopDelay), ms;');
  console.log('  all three = measured process + broker + vehicles; pub late = how late the vehicles\' worst publish slot ran, ms');
  const rows: string[][] = [];
  for (const r of results) {
    for (const { case: c, sample: w } of r.sides) {
      rows.push([
        c.label,
        int(r.vehicles),
        int(w.publishedPerS),
        int(w.ingestedPerS),
        int(w.dropped),
        pct(w.cpuShare),
        fixed(usPerMessage(w), 1),
        ms(quantile(w.lags, 0.5)),
        ms(quantile(w.lags, 0.99)),
        ms(quantile(w.lags, 1)),
        `${ms(w.loopP99Ms)}/${ms(w.loopMaxMs)}`,
        pct(w.brokerShare),
        pct(w.vehiclesShare),
        pct(w.cpuShare + (w.brokerShare ?? 0) + w.vehiclesShare),
        ms(w.publisherLateMs),
      ]);
    }
  }
  table(['side', 'vehicles', 'published/s', 'ingested/s', 'dropped', 'CPU', 'µs/msg', 'lag p50', 'lag p99', 'lag max', 'loop p99/max', `${broker.kind} CPU`, 'vehicles CPU', 'all three', 'pub late ms'], rows);
  for (const r of results) {
    const problems = r.sides.flatMap(({ case: c, sample: w }) =>
      [
        w.invalid ? `${w.invalid} invalid` : '',
        w.unknownDevice ? `${w.unknownDevice} from unknown vehicles` : '',
        w.reordered ? `${w.reordered} out of order` : '',
        w.publishFailed ? `${w.publishFailed} publishes failed` : '',
      ]
        .filter(Boolean)
        .map((p) => `${c.label}: ${p}`),
    );
    const phygate = r.sides.find((s) => s.case.label === PHYGATE)?.sample;
    const baseline = r.sides.find((s) => s.case.label === BASELINE)?.sample;
    if (phygate && baseline) {
      console.log(
        `  ${int(r.vehicles)} vehicles: ${PHYGATE}/baseline CPU ${times(phygate.cpuShare / baseline.cpuShare)}, per message ${times(usPerMessage(phygate) / usPerMessage(baseline))}` +
          (problems.length ? `; !! ${problems.join(', ')}` : ''),
      );
    } else if (problems.length) console.log(`  ${int(r.vehicles)} vehicles: !! ${problems.join(', ')}`);
  }
  printAgainstPhygate(results);
  if (broker.kind === 'mosquitto' && !NODELAY) {
    console.log('  note: Mosquitto\'s default is set_tcp_nodelay false, so at low rates a state can wait for the gateway\'s delayed');
    console.log('  ACK (up to ≈ 40 ms) before the broker sends it on; PHYGATE_BENCH_NODELAY=1 runs the broker with TCP_NODELAY');
  }
  const big = results.find((r) => r.vehicles === TARGET.vehicles)?.sides.find((s) => s.case.label === PHYGATE)?.sample;
  if (big) {
    const pass = big.ingestedPerS >= TARGET.ingestedPerS && big.cpuShare < TARGET.cpuShare;
    console.log(
      `  target ${int(TARGET.vehicles)} vehicles, ≥ ${int(TARGET.ingestedPerS)} msg/s ingested, CPU < ${pct(TARGET.cpuShare)} of one core: ${pass ? 'PASS' : 'MISS'}` +
        ` (${int(big.ingestedPerS)} msg/s, ${pct(big.cpuShare)} CPU, lag p99 ${ms(quantile(big.lags, 0.99))} ms)`,
    );
  }
}

/** PHYGATE_BENCH_ROUNDS: rounds of phygate's master against vda-5050-lib at the largest fleet (the first is the table's). */
const ROUNDS = Number(process.env.PHYGATE_BENCH_ROUNDS ?? '3');

/** phygate's master against the library over the rounds: each round's ratio, and the verdict on their median. */
function printRounds(rounds: IngestResult[]): void {
  const us = (r: IngestResult, label: string) => usPerMessage(r.sides.find((s) => s.case.label === label)!.sample);
  const ratios = rounds.map((r) => us(r, LIBRARY) / us(r, PHYGATE));
  const median = quantile(ratios, 0.5);
  console.log(
    `  ${int(rounds[0]!.vehicles)} vehicles, ${rounds.length} rounds (fresh processes each): ${PHYGATE} ${rounds.map((r) => fixed(us(r, PHYGATE), 1)).join(' / ')} µs/msg,` +
      ` ${LIBRARY} ${rounds.map((r) => fixed(us(r, LIBRARY), 1)).join(' / ')} µs/msg; library/phygate ${ratios.map(times).join(', ')}`,
  );
  console.log(`  on the median round, ${PHYGATE} needs less CPU per message than the library: ${median > 1 ? 'yes' : 'NO'} (the library needs ${times(median)} of phygate's)`);
}

/** Every other side's CPU per message next to phygate's master's, same vehicle count, same run. */
function printAgainstPhygate(results: IngestResult[]): void {
  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const r of results) {
    const phygate = r.sides.find((s) => s.case.label === PHYGATE)?.sample;
    if (!phygate) continue;
    for (const { case: c, sample: w } of r.sides) {
      if (c.label === PHYGATE) continue;
      const ratio = usPerMessage(w) / usPerMessage(phygate);
      rows.push([c.label, int(r.vehicles), fixed(usPerMessage(w), 1), fixed(usPerMessage(phygate), 1), times(ratio), pct(w.cpuShare), pct(phygate.cpuShare)]);
      if (c.label === LIBRARY) verdicts.push(`${ratio > 1 ? 'yes' : 'NO'} at ${int(r.vehicles)} vehicles (the library needs ${times(ratio)} of phygate's)`);
    }
  }
  if (rows.length === 0) return;
  console.log(`\n  against ${PHYGATE}, same vehicles, same run: CPU per message ingested (µs/msg) and share of one core`);
  console.log('  (at 1,000 msg/s a process\'s fixed costs — timers, keep-alives, GC — weigh in µs/msg: the 1,000-vehicle rows tell more)');
  table(['side', 'vehicles', 'µs/msg', `${PHYGATE} µs/msg`, `side/${PHYGATE}`, 'CPU', `${PHYGATE} CPU`], rows);
  if (verdicts.length) console.log(`  ${PHYGATE} needs less CPU per message than vda-5050-lib's MasterController with its validation on: ${verdicts.join(', ')}`);
}

// ---- (2) order dispatch --------------------------------------------------------------------

interface DispatchResult {
  orderBytes: number;
  order: number[];
  returned: number[];
  raw: number[];
  rawReturned: number[];
  routes: string[][];
  /** Orders the master reported finished (onOrderProgress) and failed. */
  finishedReported: number;
  failedReported: number;
}

/** A state of amr-1 standing at a node, as the stand-in reports it. */
export function standInState(headerId: number, at: { nodeId: string; sequenceId: number; x: number; y: number; theta: number }, order?: Order, loads = 0): State {
  const actions = order ? [...order.nodes.flatMap((n) => n.actions), ...order.edges.flatMap((e) => e.actions)] : [];
  return {
    headerId,
    timestamp: new Date().toISOString(),
    version: '2.0.0',
    manufacturer: 'phygate',
    serialNumber: 'amr-1',
    orderId: order?.orderId ?? '',
    orderUpdateId: order?.orderUpdateId ?? 0,
    lastNodeId: at.nodeId,
    lastNodeSequenceId: at.sequenceId,
    nodeStates: [],
    edgeStates: [],
    agvPosition: { x: at.x, y: at.y, theta: at.theta, mapId: 'demo-hall', positionInitialized: true },
    velocity: { vx: 0, vy: 0, omega: 0 },
    loads: Array.from({ length: loads }, () => ({ loadType: 'tote' })),
    driving: false,
    paused: false,
    operatingMode: 'AUTOMATIC',
    batteryState: { batteryCharge: 80, charging: false },
    errors: [],
    information: [],
    actionStates: actions.map((a) => ({ actionId: a.actionId, actionType: a.actionType, actionStatus: 'FINISHED' as const })),
    safetyState: { eStop: 'NONE', fieldViolation: false },
  };
}

async function dispatch(broker: Broker, res: Resources): Promise<DispatchResult> {
  const keep = res.open;
  try {
    const demo = demoSite();
    const amr = demo.index.device('amr-1') as Amr;
    const route = (from: string, to: string) => {
      const found = findRoute(demo.graph, from, to, amr.limits, { start: demo.index.station(from)!.theta, end: demo.index.station(to)!.theta });
      if (!found.ok) throw new Error(`no route ${from} → ${to}: ${found.reason}`);
      return found.route.nodes;
    };
    const legs: { route: string[]; actionsAtEnd: EndAction[] }[] = [
      { route: route('dock-a', 'shelf-1'), actionsAtEnd: ['pick'] },
      { route: route('shelf-1', 'dock-a'), actionsAtEnd: ['drop'] },
    ];
    const tag = `${process.pid}-dispatch`;

    const client = await connectMqtt({ url: broker.url, clientId: `bench-gateway-${tag}` });
    res.add('the gateway connection', () => closeMqtt(client, true));
    const fleet = new FleetRegistry(demo.index);
    const master = new Vda5050Master({ client, site: demo.index, fleet, graph: demo.graph });
    res.add('the master', () => master.stop());
    await master.start();
    // The next order can go once the master holds the stand-in's state that completes this one.
    let completed: { orderId: string; resolve: () => void } | undefined;
    fleet.onChange((d) => {
      if (d.id === 'amr-1' && completed && master.lastState('amr-1')?.orderId === completed.orderId) completed.resolve();
    });
    const reported = { finished: 0, failed: 0 };
    master.onOrderProgress((p) => {
      if (p.finished) reported.finished++;
      if (p.failed !== undefined) {
        reported.failed++;
        console.log(`  !! order ${p.orderId} failed: ${p.failed}`);
      }
    });

    // The stand-in vehicle: a plain MQTT client that takes every order and reports it done at once.
    const standIn = await connectMqtt({ url: broker.url, clientId: `bench-standin-amr-1-${tag}` });
    res.add('the stand-in vehicle', () => closeMqtt(standIn, true));
    const address = amr.vda5050;
    const orderTopic = vehicleTopic(DEFAULT_INTERFACE_NAME, address, 'order');
    const stateTopic = vehicleTopic(DEFAULT_INTERFACE_NAME, address, 'state');
    await standIn.subscribeAsync({ [orderTopic]: { qos: 0 }, [RAW_TOPIC]: { qos: 0 } });
    let headerId = 0;
    let onOrder: ((t: number, order: Order) => void) | undefined;
    let onRaw: ((t: number) => void) | undefined;
    standIn.on('message', (topic: string, payload: Buffer) => {
      const t = performance.now();
      if (topic === RAW_TOPIC) {
        onRaw?.(t);
        // The answer the order path has in the completing state: without traffic back on the
        // gateway's connection, Nagle would hold its next publish until a delayed ACK (≈ 40 ms).
        standIn.publish(RAW_ECHO_TOPIC, payload, { qos: 0 });
        return;
      }
      if (topic !== orderTopic) return;
      const order = JSON.parse(payload.toString('utf8')) as Order;
      onOrder?.(t, order);
      const last = order.nodes[order.nodes.length - 1]!;
      const pos = last.nodePosition!;
      const state = standInState(++headerId, { nodeId: last.nodeId, sequenceId: last.sequenceId, x: pos.x, y: pos.y, theta: pos.theta ?? 0 }, order, last.actions.some((a) => a.actionType === 'pick') ? 1 : 0);
      standIn.publish(stateTopic, JSON.stringify(state), { qos: 0 });
    });
    const dock = demo.index.node('dock-a')!;
    standIn.publish(stateTopic, JSON.stringify(standInState(++headerId, { nodeId: 'dock-a', sequenceId: 0, x: dock.x, y: dock.y, theta: demo.index.station('dock-a')!.theta })), { qos: 0 });
    let onEcho: (() => void) | undefined;
    await client.subscribeAsync(RAW_ECHO_TOPIC, { qos: 0 });
    client.on('message', (topic: string) => {
      if (topic === RAW_ECHO_TOPIC) onEcho?.();
    });
    await until('the stand-in amr-1 is online at dock-a', () => fleet.get('amr-1')?.online === true && fleet.get('amr-1')?.at === 'dock-a', 5000);

    const out: DispatchResult = { orderBytes: 0, order: [], returned: [], raw: [], rawReturned: [], routes: legs.map((l) => l.route), finishedReported: 0, failedReported: 0 };
    for (let i = 0; i < DISPATCH_WARMUP + DISPATCH_RUNS; i++) {
      const leg = legs[i % 2]!;
      // plan step → order on the wire
      const arrival = expect<{ t: number; order: Order }>(`order ${i} at the stand-in`, 5000);
      onOrder = (t, order) => arrival.resolve({ t, order });
      const t0 = performance.now();
      const sent = await master.sendOrder('amr-1', leg);
      const t1 = performance.now();
      const done = expect<void>(`the state that completes order ${sent.orderId}`, 5000);
      completed = { orderId: sent.orderId, resolve: done.resolve };
      if (master.lastState('amr-1')?.orderId === sent.orderId) done.resolve();
      const got = await arrival.promise;
      if (got.order.orderId !== sent.orderId) throw new Error(`the stand-in got order ${got.order.orderId}, not ${sent.orderId}`);
      await done.promise;
      // the baseline: a raw publish of a small fixed JSON over the same connections
      const raw = expect<number>(`raw message ${i} at the stand-in`, 5000);
      const echo = expect<void>(`the stand-in's echo of raw message ${i}`, 5000);
      onRaw = raw.resolve;
      onEcho = echo.resolve;
      const r0 = performance.now();
      await client.publishAsync(RAW_TOPIC, RAW_PAYLOAD, { qos: 0 });
      const r1 = performance.now();
      const rt = await raw.promise;
      await echo.promise;
      if (i >= DISPATCH_WARMUP) {
        out.order.push(got.t - t0);
        out.returned.push(t1 - t0);
        out.raw.push(rt - r0);
        out.rawReturned.push(r1 - r0);
        out.orderBytes = Math.max(out.orderBytes, Buffer.byteLength(JSON.stringify(sent)));
      }
    }
    onOrder = undefined;
    onRaw = undefined;
    onEcho = undefined;
    out.finishedReported = reported.finished;
    out.failedReported = reported.failed;
    return out;
  } finally {
    await res.closeDownTo(keep);
  }
}

function printDispatch(d: DispatchResult): void {
  console.log(`\n  (2) order dispatch: plan step → order on the wire, demo site, amr-1 alternating ${d.routes[0]!.join(' → ')} (pick)`);
  console.log(`  and back (drop); a stand-in vehicle (a plain MQTT client in this process, not a VDA 5050 vehicle) reports each order`);
  console.log(`  done at once so the master takes the next; ${DISPATCH_RUNS} orders after ${DISPATCH_WARMUP} warm-up, each followed by a raw publish`);
  console.log('  (baseline) that the stand-in echoes back, as it answers an order with a state, so both leave the same TCP state behind');
  const row = (label: string, runs: number[], bytes: number, returned: number[]) => [
    label,
    String(runs.length),
    String(bytes),
    ms(quantile(runs, 0.5)),
    ms(quantile(runs, 0.99)),
    ms(quantile(runs, 1)),
    ms(quantile(returned, 0.5)),
  ];
  table(
    ['path', 'runs', 'bytes', 'p50 ms', 'p99 ms', 'max ms', 'call returns p50 ms'],
    [
      row('sendOrder() → order at the stand-in', d.order, d.orderBytes, d.returned),
      row('baseline: publishAsync(raw JSON) → stand-in', d.raw, Buffer.byteLength(RAW_PAYLOAD), d.rawReturned),
    ],
  );
  const total = DISPATCH_WARMUP + DISPATCH_RUNS;
  console.log(`  the master reported ${d.finishedReported} of ${total} orders finished${d.failedReported ? `, !! ${d.failedReported} failed` : ''}`);
  console.log(`  sendOrder/raw: p50 ${times(quantile(d.order, 0.5) / quantile(d.raw, 0.5))}, p99 ${times(quantile(d.order, 0.99) / quantile(d.raw, 0.99))}; "call returns" = until the call's promise resolves (build, validate, write)`);
}

// ---- the section ---------------------------------------------------------------------------

export async function benchMqtt(): Promise<void> {
  const began = performance.now();
  console.log('(e) MQTT: state ingestion and order dispatch');
  if (FLEETS.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`PHYGATE_BENCH_FLEETS: vehicle counts such as 100,1000, not '${process.env.PHYGATE_BENCH_FLEETS}'`);
  const res = new Resources();
  try {
    const broker = existsSync(MOSQUITTO) ? await startMosquitto(res) : await startAedes(res);
    const cpus = os.cpus();
    console.log(`  broker: ${broker.description}, on ${broker.url}`);
    console.log(`  ${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}: broker, vehicles' process, measured process and this one share them; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    if (broker.kind === 'aedes') console.log('  !! Mosquitto is missing: the figures below are for aedes, a slower broker in Node');
    const vehicles = Vehicles.start(res);
    const results: IngestResult[] = [];
    for (const n of FLEETS) results.push(await ingest(n, CASES, broker, vehicles, res));
    printIngestion(results, broker);
    // One fresh process per side and run can settle into a costlier GC regime: the master and the
    // library are measured again, in more rounds, and compared on the median of the rounds.
    const largest = Math.max(...FLEETS);
    const first = results.find((r) => r.vehicles === largest)!;
    const rounds = [first];
    for (let k = 1; k < ROUNDS; k++) rounds.push(await ingest(largest, CASES.filter((c) => c.label === PHYGATE || c.label === LIBRARY), broker, vehicles, res));
    printRounds(rounds);
    if (DISPATCH) printDispatch(await dispatch(broker, res));
  } finally {
    await res.closeAll();
  }
  console.log(`  section wall time ${((performance.now() - began) / 1000).toFixed(1)} s`);
}

const main = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
if (import.meta.url === main) await benchMqtt();
