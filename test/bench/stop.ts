// The STOP benchmark, section (f) of `npm run bench` (or alone: `node --import tsx test/bench/stop.ts`).
//
// The issue's goal: from the HTTP request to the last of 100 devices receiving its stop, over a
// real broker, p99 ≤ 50 ms. The broker is Mosquitto on a free loopback port (the embedded aedes
// broker in a child process when Mosquitto is not installed, and the output says so). The gateway
// side runs in this process, wired as gateway/main.ts wires it: connectMqtt + FleetRegistry +
// Vda5050Master + MachineMaster + StopService + buildApp (a store in a temp data dir, listening on
// 127.0.0.1:0), on a site of 100 AMRs (clones of the demo's amr-1) plus the demo's machines.
//
// The 100 "devices" are STAND-INS, not VDA 5050 vehicles: plain mqtt.js clients in a child
// process (this file, forked with --stand-ins), 10 connections × 10 vehicles, TCP_NODELAY on,
// each subscribed at QoS 1 to its vehicle's instantActions topic. They announce themselves with a
// connection ONLINE and one state each (so the master marks them online the ordinary way), then
// note the wall-clock time (performance.timeOrigin + performance.now(), sub-ms, in both processes)
// at which each vehicle's instantActions with `startPause` arrives, and report the first and last
// arrival of each round over IPC.
//
// A round: POST /v1/stop {scope:'all'} with fetch, the start time taken on the same clock; wait
// for all 100 arrivals; POST /v1/stop/release {ack:true}; 50 ms pause. Interleaved with it, the
// baseline: this process publishes one instantActions-shaped message (startPause + cancelOrder)
// per vehicle straight to the broker with client.publishAsync at QoS 1 on the gateway's own
// connection — no HTTP, no store, no StopService — and waits for the same 100 arrivals.
//
// And the same STOP rounds while CHECK_CLIENTS HTTP clients post checks of the largest allowed
// plan back to back (the checks run in the gateway's worker threads), in blocks of BLOCK rounds
// taking turns with idle ones through the run, so a noisy moment of the machine falls on both: STOP
// p99 during the checks next to STOP p99 on the idle gateway, and their ratio (issue #13's goal:
// ≤ 1.5×). The check clients run in a process of their own at the lowest CPU priority: they stand
// for agents on other computers, and their parsing of 200 KB reports is not the gateway's work.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { MqttClient } from 'mqtt';
import { buildApp } from '../../gateway/app.ts';
import { inThreadChecker } from '../../gateway/checks/checker.ts';
import { EventHub } from '../../gateway/events.ts';
import { StopService } from '../../gateway/stop.ts';
import { openStore } from '../../gateway/store/index.ts';
import { DevicePorts } from '../../robots/device-port.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { silentLog } from '../../robots/log.ts';
import { MachinePort } from '../../robots/machine/port.ts';
import { MachineMaster } from '../../robots/machine/master.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { Vda5050Master } from '../../robots/vda5050/master.ts';
import { Vda5050Port } from '../../robots/vda5050/port.ts';
import type { Connection, InstantActions } from '../../robots/vda5050/schemas.ts';
import { DEFAULT_INTERFACE_NAME, vehicleTopic } from '../../robots/vda5050/topics.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { table } from './format.ts';
import type { PublisherStart } from './state-publisher.ts';
import { demoSite, fleetSite } from './generate.ts';
import {
  forkChild,
  MOSQUITTO,
  ms,
  NODELAY,
  quantile,
  Resources,
  sleep,
  standInState,
  startAedes,
  startMosquitto,
  times,
  until,
  withTimeout,
  type Broker,
} from './mqtt.ts';

const STAND_IN_FLAG = '--stand-ins';
const CHECK_LOAD_FLAG = '--check-load';
const AMRS = 100;
const CONNECTIONS = 10;
const WARMUP = 10;
const ROUNDS = 300;
/** Rounds per block: idle and under checks take turns, BLOCK rounds each. */
const BLOCK = 20;
const PAUSE_MS = 50;
const GOAL_P99_MS = 50;
const ROUND_TIMEOUT_MS = 5_000;
/** HTTP clients posting checks of the largest allowed plans back to back during the rounds under load. */
const CHECK_CLIENTS = 4;
/** The ratio the issue sets: STOP p99 during back-to-back checks against STOP p99 on an idle gateway. */
const GOAL_UNDER_CHECKS = 1.5;
/** A check's budget here: the bench's heavy plans are slow on purpose, and a timed-out check would end its work early. */
const CHECK_BUDGET_MS = 120_000;
/** PHYGATE_BENCH_CHECKS_IN_THREAD=1: the checks on the event loop, as before the worker pool, for comparison. */
const CHECKS_IN_THREAD = process.env.PHYGATE_BENCH_CHECKS_IN_THREAD === '1';

/** Wall clock with sub-ms resolution, comparable between this process and the stand-ins'. */
const wall = () => performance.timeOrigin + performance.now();

// ---- the stand-ins' process (IPC protocol) --------------------------------------------------

/** The stand-ins connect as the MQTT bench's vehicles do, without publishing states of their own. */
type StandInStart = Omit<PublisherStart, 'hz' | 'slots'>;
type ToStandIns = StandInStart | { type: 'arm'; round: number } | { type: 'clock'; parentMs: number };
interface RoundReport {
  type: 'round';
  round: number;
  /** Wall-clock ms (stand-ins' clock) of the first and the last startPause arrival. */
  first: number;
  last: number;
  vehicles: number;
}
type FromStandIns =
  | { type: 'ready'; vehicles: number; connections: number }
  | { type: 'armed'; round: number }
  | RoundReport
  | { type: 'clock'; parentMs: number; childMs: number }
  | { type: 'error'; message: string };

/** Runs in the child: plain MQTT clients standing in for 100 vehicles. */
async function runStandIns(): Promise<void> {
  const send = (m: FromStandIns) => process.send!(m);
  let clients: MqttClient[] = [];
  let heartbeat: NodeJS.Timeout | undefined;
  let expected = 0;
  let armed: { round: number; seen: Set<string>; first: number; last: number } | undefined;
  const onMessage = (topic: string, payload: Buffer) => {
    const t = wall();
    if (!armed || !topic.endsWith('/instantActions')) return;
    const msg = JSON.parse(payload.toString('utf8')) as InstantActions;
    if (!msg.actions.some((a) => a.actionType === 'startPause')) return;
    if (armed.seen.has(msg.serialNumber)) return;
    armed.seen.add(msg.serialNumber);
    if (armed.seen.size === 1) armed.first = t;
    armed.last = t;
    if (armed.seen.size === expected) {
      send({ type: 'round', round: armed.round, first: armed.first, last: armed.last, vehicles: armed.seen.size });
      armed = undefined;
    }
  };
  const start = async (s: StandInStart) => {
    const tag = `${process.pid}-${Date.now().toString(36)}`;
    clients = await Promise.all(Array.from({ length: s.connections }, (_, k) => connectMqtt({ url: s.url, clientId: `bench-stop-standins-${tag}-${k}` })));
    for (const c of clients) {
      // Many vehicles share a connection here where each real one has its own: no Nagle on it.
      const noDelay = () => (c.stream as unknown as Socket).setNoDelay?.(true);
      noDelay();
      c.on('connect', noDelay);
      c.on('message', onMessage);
    }
    expected = s.serialNumbers.length;
    const home = { nodeId: s.node, sequenceId: 0, x: s.x, y: s.y, theta: 0 };
    await Promise.all(
      s.serialNumbers.map(async (serialNumber, i) => {
        const c = clients[i % clients.length]!;
        const address = { manufacturer: s.manufacturer, serialNumber };
        await c.subscribeAsync(vehicleTopic(s.interfaceName, address, 'instantActions'), { qos: 1 });
        const header = { headerId: 1, timestamp: new Date().toISOString(), version: '2.0.0', ...address };
        const connection: Connection = { ...header, connectionState: 'ONLINE' };
        await c.publishAsync(vehicleTopic(s.interfaceName, address, 'connection'), JSON.stringify(connection), { qos: 1 });
        const state = { ...standInState(1, home), ...address, agvPosition: { x: s.x, y: s.y, theta: 0, mapId: s.mapId, positionInitialized: true } };
        await c.publishAsync(vehicleTopic(s.interfaceName, address, 'state'), JSON.stringify(state), { qos: 0 });
      }),
    );
    // A state every 20 s, as a vehicle's heartbeat, so the master does not mark them silent (65 s)
    // in a long run; the checks under load bind among online AMRs.
    let headerId = 1;
    heartbeat = setInterval(() => {
      headerId++;
      s.serialNumbers.forEach((serialNumber, i) => {
        const address = { manufacturer: s.manufacturer, serialNumber };
        const state = { ...standInState(headerId, home), ...address, agvPosition: { x: s.x, y: s.y, theta: 0, mapId: s.mapId, positionInitialized: true } };
        clients[i % clients.length]!.publish(vehicleTopic(s.interfaceName, address, 'state'), JSON.stringify(state), { qos: 0 });
      });
    }, 20_000);
    send({ type: 'ready', vehicles: s.serialNumbers.length, connections: clients.length });
  };
  const close = async () => {
    clearInterval(heartbeat);
    const cs = clients;
    clients = [];
    await Promise.all(cs.map((c) => closeMqtt(c, true)));
  };
  process.on('message', (m: ToStandIns) => {
    switch (m.type) {
      case 'start':
        start(m).catch((err: Error) => send({ type: 'error', message: err.stack ?? String(err) }));
        break;
      case 'arm':
        armed = { round: m.round, seen: new Set(), first: NaN, last: NaN };
        send({ type: 'armed', round: m.round });
        break;
      case 'clock':
        send({ type: 'clock', parentMs: m.parentMs, childMs: wall() });
        break;
    }
  });
  // The bench is gone (finished, or crashed): close everything and leave.
  process.on('disconnect', () => {
    void close().finally(() => process.exit(0));
  });
}

/** The check load's process: HTTP clients posting the same check back to back, as agents elsewhere would. */
type ToCheckLoad = { type: 'load'; url: string; token: string; body: string; clients: number } | { type: 'halt' };
interface CheckLoadDone {
  type: 'done';
  answered: number[];
  failed: [string, number][];
  outcomes: [string, number][];
}
type FromCheckLoad = { type: 'loading' } | { type: 'first' } | CheckLoadDone | { type: 'error'; message: string };

/** Runs in the child: the check clients, off the gateway's event loop (their JSON.parse of 200 KB reports too). */
async function runCheckLoad(): Promise<void> {
  // The agents these clients stand for run on other computers: here they take only the CPU the
  // gateway, the broker and the stand-ins leave.
  os.setPriority(19);
  const send = (m: FromCheckLoad) => process.send!(m);
  const answered: number[] = [];
  const failed = new Map<string, number>();
  const outcomes = new Map<string, number>();
  let loading = false;
  let clients: Promise<void>[] = [];
  let first = false;
  const client = async (url: string, token: string, body: string) => {
    while (loading) {
      const c0 = performance.now();
      const r = await fetch(`${url}/v1/plans/check`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
      const text = await r.text();
      if (r.status === 200) {
        answered.push(performance.now() - c0);
        const report = JSON.parse(text) as { verdict: string; issues: { code: string; severity: string }[] };
        const key = `${report.verdict}${report.verdict === 'fail' ? `: ${[...new Set(report.issues.filter((i) => i.severity === 'error').map((i) => i.code))].join(', ')}` : ''}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      } else {
        const key = `${r.status} ${/"code":"([A-Z_]+)"/.exec(text)?.[1] ?? ''}`;
        failed.set(key, (failed.get(key) ?? 0) + 1);
      }
      if (!first) {
        first = true;
        send({ type: 'first' });
      }
    }
  };
  process.on('message', (m: ToCheckLoad) => {
    if (m.type === 'load') {
      loading = true;
      first = false;
      clients = Array.from({ length: m.clients }, () => client(m.url, m.token, m.body).catch((err: Error) => void send({ type: 'error', message: err.stack ?? String(err) })));
      send({ type: 'loading' });
    } else {
      loading = false;
      void Promise.all(clients).then(() => send({ type: 'done', answered, failed: [...failed], outcomes: [...outcomes] }));
    }
  });
  process.on('disconnect', () => process.exit(0));
}

/** The parent's handle on a child process of this file (the stand-ins', the check load's). */
class Child<To, From extends { type: string }> {
  private readonly waiting: { accept: (m: From) => boolean; resolve: (m: From) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  private constructor(readonly child: ChildProcess, private readonly label: string) {
    child.on('message', (m: From) => {
      if (m.type === 'error') return this.fail(new Error(`${label}: ${(m as unknown as { message: string }).message}`));
      const i = this.waiting.findIndex((w) => w.accept(m));
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(m);
    });
    child.once('exit', (code, signal) => this.fail(new Error(`${label} exited (${code ?? signal})`)));
  }

  static start<To, From extends { type: string }>(res: Resources, flag: string, label: string): Child<To, From> {
    return new Child<To, From>(forkChild(res, fileURLToPath(import.meta.url), [flag], label), label);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }

  /** The next message `accept` takes; registered before `message` is sent. */
  wait<T extends From>(what: string, accept: (m: From) => boolean, message?: To, timeoutMs = ROUND_TIMEOUT_MS): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const answer = new Promise<From>((resolve, reject) => this.waiting.push({ accept, resolve, reject }));
    answer.catch(() => {});
    if (message) this.child.send(message as object);
    return withTimeout(what, answer, timeoutMs) as Promise<T>;
  }
}
type StandIns = Child<ToStandIns, FromStandIns>;
const StandIns = { start: (res: Resources): StandIns => Child.start<ToStandIns, FromStandIns>(res, STAND_IN_FLAG, "the stand-ins' process") };
const CheckLoadProcess = { start: (res: Resources) => Child.start<ToCheckLoad, FromCheckLoad>(res, CHECK_LOAD_FLAG, "the check load's process") };

// ---- the measurement -----------------------------------------------------------------------

export interface Samples {
  /** Last arrival − start, ms. */
  last: number[];
  first: number[];
  /** Until the HTTP response (body read) / every publishAsync resolved, ms. */
  returned: number[];
}

/** The checks posted during the rounds under load. */
interface CheckLoad {
  clients: number;
  workers: number;
  steps: number;
  bodyBytes: number;
  /** Request → response read, ms, of each check that answered 200. */
  answered: number[];
  /** Answers other than 200, by status and code. */
  failed: Map<string, number>;
  /** The reports' verdicts and error codes, e.g. `fail: DEADLOCK`, and how many. */
  outcomes: Map<string, number>;
}

interface StopResult {
  stop: Samples;
  /** The same STOP rounds, while CHECK_CLIENTS clients post checks back to back. */
  underChecks: Samples;
  checks: CheckLoad;
  raw: Samples;
  offsetMs: number;
  offsetRttMs: number;
  notSent: Map<string, number>;
  stopLogErrors: string[];
  onlineBefore: number;
  onlineAfter: number;
  bodyBytes: number;
  rawBytes: number;
}

/** The stand-ins' clock minus this one's, from the IPC ping with the shortest round trip. */
async function clockOffset(standIns: StandIns): Promise<{ offsetMs: number; rttMs: number }> {
  let best = { offsetMs: NaN, rttMs: Infinity };
  for (let i = 0; i < 20; i++) {
    const p0 = wall();
    const m = await standIns.wait<{ type: 'clock'; parentMs: number; childMs: number }>('a clock reply', (x) => x.type === 'clock' && x.parentMs === p0, { type: 'clock', parentMs: p0 });
    const p1 = wall();
    if (p1 - p0 < best.rttMs) best = { offsetMs: m.childMs - (p0 + p1) / 2, rttMs: p1 - p0 };
  }
  return best;
}

/**
 * The STOP set-up this section measures, and the policy section (test/bench/policy.ts) too: the
 * gateway side in this process on a site of `n` AMRs, the broker, and the stand-ins' process, all
 * online. `stopRound` is one STOP round; what it finds wrong goes to `notSent` and `stopLogErrors`.
 */
export async function startStopRig(broker: Broker, res: Resources, n: number) {
  const demo = demoSite();
  const site: LoadedSite = { ...demo, index: fleetSite(n) };
  const amrs = site.index.devicesOfKind('amr');
  const manufacturer = amrs[0]!.vda5050.manufacturer;
  const home = site.index.node(amrs[0]!.home)!;
  const tag = `${process.pid}-stop`;

  // The gateway side, as gateway/main.ts wires it.
  const dataDir = mkdtempSync(join(os.tmpdir(), 'phygate-bench-stop-'));
  res.dir(dataDir);
  res.add('the temp data dir', () => rmSync(dataDir, { recursive: true, force: true }));
  const store = openStore(dataDir);
  res.add('the store', () => store.close());
  const client = await connectMqtt({ url: broker.url, clientId: `bench-gateway-${tag}` });
  res.add('the gateway connection', () => closeMqtt(client, true));
  const fleet = new FleetRegistry(site.index);
  const vda5050 = new Vda5050Master({ client, site: site.index, fleet, graph: site.graph });
  res.add('the VDA 5050 master', () => vda5050.stop());
  await vda5050.start();
  const machines = new MachineMaster({ client, site: site.index, siteId: site.index.site.id, fleet });
  res.add('the machine master', () => machines.stop());
  await machines.start();
  const hub = new EventHub();
  const stopLogErrors: string[] = [];
  const stopLog = { ...silentLog, error: (data: { err?: unknown }, msg: string) => void stopLogErrors.push(`${msg}${data.err ? `: ${String(data.err)}` : ''}`) };
  const vdaPort = new Vda5050Port(vda5050, fleet);
  const machinePort = new MachinePort(machines, fleet, site.index);
  res.add('the device ports', () => (vdaPort.close(), machinePort.close()));
  const ports = new DevicePorts(site.index, { vda5050: vdaPort, machine: machinePort });
  const stops = new StopService({ store, site, fleet, ports, hub, log: stopLog });
  res.add('the stop service', () => stops.close());
  const token = randomBytes(24).toString('hex');
  const workers = Math.max(1, os.availableParallelism() - 1);
  const app = await buildApp({
    config: {
      PHYGATE_ADMIN_TOKEN: token,
      PHYGATE_RATE_LIMIT: 1_000_000,
      PHYGATE_BODY_LIMIT: 256 * 1024,
      PHYGATE_REQUEST_TIMEOUT_MS: 30_000,
      PHYGATE_LOG_LEVEL: 'error',
      PHYGATE_CHECK_WORKERS: workers,
      PHYGATE_CHECK_BUDGET_MS: CHECK_BUDGET_MS,
    },
    site,
    store,
    fleet,
    hub,
    stops,
    ...(CHECKS_IN_THREAD ? { checker: inThreadChecker(site) } : {}),
  });
  res.add('the app', () => app.close());
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const post = async (path: string, body: unknown) => {
    const r = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`POST ${path}: ${r.status} ${text.slice(0, 300)}`);
    return text;
  };

  // The stand-ins: connect, subscribe, announce themselves; the master marks them online.
  const standIns = StandIns.start(res);
  const serialNumbers = amrs.map((a) => a.vda5050.serialNumber);
  await standIns.wait('the stand-ins to be ready', (m) => m.type === 'ready', { type: 'start', url: broker.url, interfaceName: DEFAULT_INTERFACE_NAME, manufacturer, serialNumbers, connections: CONNECTIONS, mapId: site.index.site.mapId, node: home.id, x: home.x, y: home.y }, 20_000);
  const onlineCount = () => amrs.filter((a) => fleet.get(a.id)?.online).length;
  await until(`all ${n} AMRs online`, () => onlineCount() === n, 10_000);
  const { offsetMs, rttMs } = await clockOffset(standIns);
  const notSent = new Map<string, number>();
  let bodyBytes = 0;
  const arm = (round: number) => standIns.wait('the stand-ins to arm', (m) => m.type === 'armed' && m.round === round, { type: 'arm', round });
  const arrivals = (round: number, what: string) => standIns.wait<RoundReport>(`${what}: all ${n} startPause arrivals of round ${round}`, (m) => m.type === 'round' && m.round === round);
  let round = 0;
  /** One STOP round: POST /v1/stop → all arrivals → release; its times go to `into` unless it is a warm-up. */
  const stopRound = async (i: number, into: Samples | undefined) => {
    const r1 = ++round;
    await arm(r1);
    const got = arrivals(r1, 'POST /v1/stop');
    const t0 = wall();
    const body = await post('/v1/stop', { scope: 'all', reason: `bench round ${i}` });
    const tHttp = wall();
    const rep = await got;
    const told = (JSON.parse(body) as { told: { device: string; result: string }[] }).told;
    for (const d of told) if (d.result !== 'sent') notSent.set(`${d.result}`, (notSent.get(d.result) ?? 0) + 1);
    if (into) {
      into.last.push(rep.last - t0);
      into.first.push(rep.first - t0);
      into.returned.push(tHttp - t0);
      bodyBytes = Math.max(bodyBytes, Buffer.byteLength(body));
    }
    await post('/v1/stop/release', { ack: true });
    await sleep(PAUSE_MS);
  };
  return { site, client, url, token, workers, manufacturer, serialNumbers, onlineCount, offsetMs, rttMs, notSent, stopLogErrors, arm, arrivals, stopRound, nextRound: () => ++round, bodyBytes: () => bodyBytes };
}

async function measure(broker: Broker, res: Resources): Promise<StopResult> {
  const rig = await startStopRig(broker, res, AMRS);
  const { site, client, url, token, workers, manufacturer, serialNumbers, onlineCount, arm, arrivals, stopRound } = rig;
  const onlineBefore = onlineCount();
  const out: StopResult = {
    stop: { last: [], first: [], returned: [] },
    underChecks: { last: [], first: [], returned: [] },
    checks: { clients: CHECK_CLIENTS, workers, steps: 0, bodyBytes: 0, answered: [], failed: new Map(), outcomes: new Map() },
    raw: { last: [], first: [], returned: [] },
    offsetMs: rig.offsetMs, offsetRttMs: rig.rttMs, notSent: rig.notSent, stopLogErrors: rig.stopLogErrors, onlineBefore, onlineAfter: 0, bodyBytes: 0, rawBytes: 0 };
  const rawTopics = serialNumbers.map((serialNumber) => ({ serialNumber, topic: vehicleTopic(DEFAULT_INTERFACE_NAME, { manufacturer, serialNumber }, 'instantActions') }));
  let rawHeader = 0;
  /** One idle STOP round followed by its raw baseline. */
  const idleRound = async (i: number, keep: boolean) => {
    // STOP over HTTP.
    await stopRound(i, keep ? out.stop : undefined);

    // Baseline: the same 100 messages, published raw.
    const r2 = rig.nextRound();
    await arm(r2);
    const rawGot = arrivals(r2, 'the raw baseline');
    const b0 = wall();
    const stamp = new Date().toISOString();
    rawHeader++;
    const sends = rawTopics.map(({ serialNumber, topic }) => {
      const message: InstantActions = {
        headerId: rawHeader,
        timestamp: stamp,
        version: '2.0.0',
        manufacturer,
        serialNumber,
        actions: [
          { actionId: `raw-${serialNumber}-pause-${rawHeader}`, actionType: 'startPause', blockingType: 'NONE' },
          { actionId: `raw-${serialNumber}-cancel-${rawHeader}`, actionType: 'cancelOrder', blockingType: 'NONE' },
        ],
      };
      const payload = JSON.stringify(message);
      out.rawBytes = Math.max(out.rawBytes, Buffer.byteLength(payload));
      return client.publishAsync(topic, payload, { qos: 1 });
    });
    await Promise.all(sends);
    const bPub = wall();
    const rawRep = await rawGot;
    if (keep) {
      out.raw.last.push(rawRep.last - b0);
      out.raw.first.push(rawRep.first - b0);
      out.raw.returned.push(bPub - b0);
    }
    await sleep(PAUSE_MS);
  };

  // The check load: clients posting checks of the largest allowed plan back to back, in their own
  // process. It is switched on and off in blocks, so the idle rounds and the rounds under checks
  // are measured in turn through the same run, and a noisy moment of the machine falls on both.
  const plan = heavyPlan(site);
  const checkBody = JSON.stringify({ plan });
  out.checks.steps = plan.steps.length;
  out.checks.bodyBytes = Buffer.byteLength(checkBody);
  const load = CheckLoadProcess.start(res);
  let n = 0;
  for (let i = 0; i < WARMUP; i++) await idleRound(n++, false);
  for (let block = 0; block < ROUNDS / BLOCK; block++) {
    for (let i = 0; i < BLOCK; i++) await idleRound(n++, true);
    // Load on: the rounds start once the first check has answered (the worker is busy for sure).
    await load.wait('the check clients to start', (m) => m.type === 'loading', { type: 'load', url, token, body: checkBody, clients: CHECK_CLIENTS });
    await load.wait('the first check under load to answer', (m) => m.type === 'first', undefined, CHECK_BUDGET_MS);
    for (let i = 0; i < BLOCK; i++) await stopRound(n++, out.underChecks);
    // Load off: every check under way answers before the next idle block.
    const done = await load.wait<CheckLoadDone>('the check clients to finish', (m) => m.type === 'done', { type: 'halt' }, CHECK_BUDGET_MS);
    out.checks.answered = done.answered;
    out.checks.failed = new Map(done.failed);
    out.checks.outcomes = new Map(done.outcomes);
  }
  out.onlineAfter = onlineCount();
  out.bodyBytes = rig.bodyBytes();

  return out;
}

/**
 * The largest plan the format allows, slow to check: 200 steps of one AMR role going round the
 * demo's stations among the 100 AMRs, so the check binds the role, simulates the robots making
 * way, and tries other AMRs for the role too (8 assignments; about 1 s on the development VM).
 */
function heavyPlan(site: LoadedSite): { schema: string; name: string; roles: Record<string, { kind: 'amr' }>; steps: unknown[] } {
  const stations = site.index.site.stations.filter((s) => s.kind !== 'booth').map((s) => s.id);
  return {
    schema: 'phygate.plan/v1',
    name: 'bench-largest',
    roles: { courier: { kind: 'amr' } },
    steps: Array.from({ length: 200 }, (_, i) => ({ id: `s${i}`, action: 'navigate', device: '$courier', params: { to: stations[(i * 7) % stations.length] } })),
  };
}

function print(r: StopResult, broker: Broker): void {
  console.log(`  broker: ${broker.description} at ${broker.url}`);
  console.log(`  gateway (this process): connectMqtt + FleetRegistry + Vda5050Master + MachineMaster + StopService + buildApp, store in a temp`);
  console.log(`  data dir, HTTP on 127.0.0.1:0 (fetch, keep-alive); site = the demo's machines + ${AMRS} AMRs, so scope 'all' is ${AMRS} AMRs + the machines`);
  console.log(`  devices: ${AMRS} STAND-INS (plain mqtt.js clients, not VDA 5050 vehicles) in a child process, ${CONNECTIONS} connections × ${AMRS / CONNECTIONS},`);
  console.log(`  TCP_NODELAY, subscribed at QoS 1 to their instantActions; marked online by publishing connection ONLINE + one state each`);
  console.log(`  (${r.onlineBefore}/${AMRS} online before the rounds, ${r.onlineAfter}/${AMRS} after)`);
  console.log(`  ${ROUNDS} rounds after ${WARMUP} warm-up: POST /v1/stop {scope:'all'} → all ${AMRS} startPause arrivals → POST /v1/stop/release, ${PAUSE_MS} ms pause;`);
  console.log(`  interleaved baseline: ${AMRS} × client.publishAsync(instantActions-shaped JSON, QoS 1) on the gateway's connection, no HTTP/store`);
  console.log(`  times: wall clock (performance.timeOrigin + now()) in both processes; stand-ins − this process ≈ ${r.offsetMs.toFixed(3)} ms (IPC ping, rtt ${r.offsetRttMs.toFixed(3)} ms), not corrected`);
  const row = (label: string, s: Samples, bytes: number) => [label, String(s.last.length), String(bytes), ms(quantile(s.last, 0.5)), ms(quantile(s.last, 0.99)), ms(quantile(s.last, 1)), ms(quantile(s.first, 0.5)), ms(quantile(s.returned, 0.5))];
  table(
    ['path', 'rounds', 'bytes', 'last p50 ms', 'last p99 ms', 'last max ms', 'first p50 ms', 'returns p50 ms'],
    [row('POST /v1/stop → last of 100 stand-ins', r.stop, r.bodyBytes), row(`baseline: ${AMRS} × publishAsync → last`, r.raw, r.rawBytes)],
  );
  console.log(`  bytes = HTTP response body (stop) / one message (baseline); returns = HTTP response read (stop) / all publishAsync resolved (baseline)`);
  console.log(`  stop/baseline, last arrival: p50 ${times(quantile(r.stop.last, 0.5) / quantile(r.raw.last, 0.5))}, p99 ${times(quantile(r.stop.last, 0.99) / quantile(r.raw.last, 0.99))}`);
  const notSent = [...r.notSent].map(([k, n]) => `${n} ${k}`).join(', ');
  if (notSent) console.log(`  !! deliveries not 'sent' in the stop responses (all rounds, all devices): ${notSent}`);
  if (r.stopLogErrors.length) console.log(`  !! StopService logged ${r.stopLogErrors.length} errors, first: ${r.stopLogErrors[0]}`);
  const p99 = quantile(r.stop.last, 0.99);
  console.log(`  goal: HTTP request → last of ${AMRS} devices, p99 ≤ ${GOAL_P99_MS} ms: ${p99 <= GOAL_P99_MS ? 'PASS' : 'MISS'} (p99 ${ms(p99)} ms, max ${ms(quantile(r.stop.last, 1))} ms)`);
  console.log('');
  const c = r.checks;
  console.log(`  STOP during checks: the same rounds, in blocks of ${BLOCK} taking turns with the idle ones, while ${c.clients} HTTP clients (a process of their own,`);
  console.log(`  lowest CPU priority: agents on other computers) post POST /v1/plans/check back to back, each the largest allowed plan`);
  console.log(
    `  (${c.steps} steps of one AMR role among the ${AMRS} AMRs, ${c.bodyBytes} bytes), checked ${CHECKS_IN_THREAD ? 'ON THE EVENT LOOP (PHYGATE_BENCH_CHECKS_IN_THREAD=1, as before the worker pool)' : `in ${c.workers} worker thread(s) (PHYGATE_CHECK_WORKERS = CPUs − 1)`}`,
  );
  const failed = [...c.failed].map(([k, n]) => `${n} × ${k}`).join(', ');
  console.log(`  checks answered during the rounds: ${c.answered.length}, request → report p50 ${ms(quantile(c.answered, 0.5))} ms, max ${ms(quantile(c.answered, 1))} ms${failed ? `; not 200: ${failed}` : ''}`);
  console.log(`  their reports: ${[...c.outcomes].map(([k, n]) => `${n} × ${k}`).join('; ')}`);
  table(
    ['STOP → last of 100', 'rounds', 'last p50 ms', 'last p99 ms', 'last max ms', 'returns p50 ms', 'returns p99 ms'],
    [
      ['idle gateway', String(r.stop.last.length), ms(quantile(r.stop.last, 0.5)), ms(p99), ms(quantile(r.stop.last, 1)), ms(quantile(r.stop.returned, 0.5)), ms(quantile(r.stop.returned, 0.99))],
      ['during back-to-back checks', String(r.underChecks.last.length), ms(quantile(r.underChecks.last, 0.5)), ms(quantile(r.underChecks.last, 0.99)), ms(quantile(r.underChecks.last, 1)), ms(quantile(r.underChecks.returned, 0.5)), ms(quantile(r.underChecks.returned, 0.99))],
    ],
  );
  const ratio = quantile(r.underChecks.last, 0.99) / p99;
  console.log(`  goal: STOP p99 during checks ≤ ${GOAL_UNDER_CHECKS}× idle: ${ratio <= GOAL_UNDER_CHECKS ? 'PASS' : 'MISS'} (${times(ratio)}; p50 ${times(quantile(r.underChecks.last, 0.5) / quantile(r.stop.last, 0.5))})`);
  if (broker.kind !== 'mosquitto') console.log('  !! measured on aedes, not Mosquitto');
}

// ---- the section ---------------------------------------------------------------------------

export async function benchStop(): Promise<void> {
  const began = performance.now();
  console.log(`(f) STOP latency: HTTP request → last of ${AMRS} devices over a real broker`);
  const res = new Resources();
  try {
    const broker = existsSync(MOSQUITTO) ? await startMosquitto(res) : await startAedes(res);
    if (broker.kind === 'aedes') console.log(`  !! ${MOSQUITTO} not found: falling back to aedes`);
    if (NODELAY) console.log('  (PHYGATE_BENCH_NODELAY=1: Mosquitto runs with set_tcp_nodelay true)');
    const r = await measure(broker, res);
    print(r, broker);
  } catch (err) {
    console.log(`  !! the STOP benchmark failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  } finally {
    await res.closeAll();
  }
  console.log(`  section wall time ${((performance.now() - began) / 1000).toFixed(1)} s`);
}

if (process.argv.includes(STAND_IN_FLAG) || process.argv.includes(CHECK_LOAD_FLAG)) {
  if (process.send) await (process.argv.includes(STAND_IN_FLAG) ? runStandIns() : runCheckLoad());
  else {
    console.error(`test/bench/stop.ts ${process.argv.slice(2).join(' ')} is started by benchStop (child_process.fork), not on its own`);
    process.exitCode = 2;
  }
} else {
  const main = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
  if (import.meta.url === main) await benchStop();
}
