// The measured side of the MQTT benchmark's state ingestion (test/bench/mqtt.ts), in a child
// process of its own — a fresh one per side — so that its CPU figures are its own and every side
// is measured the same way: CPU from process.cpuUsage, event-loop delay, and the lag and headerId
// gaps of the states the side hands to its application. The sides:
// * phygate: connectMqtt + FleetRegistry + Vda5050Master; lag at the registry update;
// * vda-5050-lib: the library's MasterController (its own connection), the application keeping
//   each vehicle's last state from a `subscribe` handler; lag at that handler; the library's
//   JSON-schema validation of inbound messages on (its default) or off;
// * bare: a bare mqtt.js subscriber that only JSON.parses each state.
// A start message may name a setup module (`setup`: a module URL whose default export is an
// IngestSetup), run once the side is up and undone before it stops: another workload in the same
// process (an executor running missions, say) measured with the same code; its `probe`, if it has
// one, is asked at the start and the end of each window, so the bench can show the work really ran
// while it measured. With PHYGATE_BENCH_PROFILE=<folder>, each window is profiled (V8's CPU
// profiler, the window only) into a .cpuprofile file there. Driven over IPC like
// state-publisher.ts; the process ends when its parent goes away.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { MqttClient } from 'mqtt';
import type { MasterController } from 'vda-5050-lib';
import type { SiteIndex } from '../../planners/site.ts';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import type { Vda5050Master } from '../../robots/vda5050/master.ts';
import { VDA5050_VERSION } from '../../robots/vda5050/schemas.ts';
import { DEFAULT_INTERFACE_NAME, topicFilter } from '../../robots/vda5050/topics.ts';
import { fleetSite } from './generate.ts';

export type SideSpec = { kind: 'phygate' } | { kind: 'vda-5050-lib'; validation: boolean } | { kind: 'bare' };

export interface IngestorStart {
  type: 'start';
  side: SideSpec;
  url: string;
  /** The site is fleetSite(vehicles): the demo site with this many AMRs, as the vehicles' process has them. */
  vehicles: number;
  /** A module URL whose default export is an IngestSetup. */
  setup?: string;
}

export type ToIngestor = IngestorStart | { type: 'measure'; seconds: number } | { type: 'stop' };

/** One measurement window of the side. */
export interface IngestWindow {
  type: 'window';
  /** Wall time of the window, s. */
  seconds: number;
  /** process.cpuUsage() during the window, user + system, µs. */
  cpuUs: number;
  ingested: number;
  dropped: number;
  reordered: number;
  /** Lag of each state recorded, ms. */
  lags: number[];
  loopP99Ms: number;
  loopMaxMs: number;
  /** Since the side started, warm-up included: messages rejected as invalid, and from vehicles the site does not know. */
  invalid: number;
  unknownDevice: number;
  /** Vehicles whose state the side has handed on so far. */
  heard: number;
  /** The setup's probe at the start and the end of the window (JSON), if it has one. */
  probes?: { start: unknown; end: unknown };
  /** The window's CPU profile, with PHYGATE_BENCH_PROFILE. */
  profile?: string;
}

export type FromIngestor = { type: 'started' } | IngestWindow | { type: 'stopped' } | { type: 'error'; message: string };

/** The side as it runs in this process, for a setup hook. */
export type SideHandles =
  | { kind: 'phygate'; url: string; site: SiteIndex; client: MqttClient; fleet: FleetRegistry; master: Vda5050Master }
  | { kind: 'vda-5050-lib'; url: string; site: SiteIndex; controller: MasterController }
  | { kind: 'bare'; url: string; site: SiteIndex; client: MqttClient };

/** What a setup leaves running: how to undo it, and what its work looks like now (JSON, for the bench to print). */
export interface SetupRun {
  undo?: () => Promise<void>;
  probe?: () => unknown;
}

/** Extra work next to a side before it is measured; returns how to undo it (or a SetupRun). */
export type IngestSetup = (side: SideHandles) => Promise<SetupRun | (() => Promise<void>) | void>;

/** Lag and headerId gaps of the states a side handed on. */
class Recorder {
  recording = false;
  lags: number[] = [];
  dropped = 0;
  reordered = 0;
  private readonly lastHeader = new Map<string, number>();

  note(key: string, headerId: number, timestamp: string): void {
    const prev = this.lastHeader.get(key);
    this.lastHeader.set(key, headerId);
    if (!this.recording) return;
    this.lags.push(Date.now() - Date.parse(timestamp));
    if (prev === undefined) return;
    if (headerId > prev + 1) this.dropped += headerId - prev - 1;
    else if (headerId <= prev) this.reordered++;
  }

  begin(): void {
    this.lags = [];
    this.dropped = 0;
    this.reordered = 0;
    this.recording = true;
  }

  get heard(): number {
    return this.lastHeader.size;
  }
}

interface Side {
  handles: SideHandles;
  /** Messages that reached the side's code (valid or not). */
  received(): number;
  problems(): { invalid: number; unknownDevice: number };
  stop(): Promise<void>;
}

const manufacturerOf = (site: SiteIndex) => site.devicesOfKind('amr')[0]!.vda5050.manufacturer;

async function phygateSide(url: string, site: SiteIndex, rec: Recorder): Promise<Side> {
  const { closeMqtt, connectMqtt } = await import('../../robots/mqtt.ts');
  const { FleetRegistry } = await import('../../robots/fleet-registry.ts');
  const { Vda5050Master } = await import('../../robots/vda5050/master.ts');
  const client = await connectMqtt({ url, clientId: `bench-gateway-${process.pid}` });
  const fleet = new FleetRegistry(site);
  const master = new Vda5050Master({ client, site, fleet });
  fleet.onChange((d) => {
    const s = master.lastState(d.id);
    if (s) rec.note(d.id, s.headerId, s.timestamp);
  });
  await master.start();
  return {
    handles: { kind: 'phygate', url, site, client, fleet, master },
    received: () => master.stats().received,
    problems: () => {
      const s = master.stats();
      return { invalid: s.invalid, unknownDevice: s.unknownDevice };
    },
    stop: async () => {
      // Mosquitto drops an UNSUBACK to a client whose queue is full, as any packet: the
      // connection is closed after a while all the same.
      await Promise.race([master.stop(), new Promise((resolve) => setTimeout(resolve, 2000))]);
      await closeMqtt(client, true);
    },
  };
}

async function librarySide(url: string, site: SiteIndex, validation: boolean, rec: Recorder): Promise<Side> {
  const { MasterController, Topic } = await import('vda-5050-lib');
  // The library drops an invalid message with a console.error line each: count them, show a few.
  let invalid = 0;
  const error = console.error;
  console.error = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('Drop inbound message')) {
      if (++invalid > 3) return;
    }
    error(...args);
  };
  const manufacturer = manufacturerOf(site);
  const known = new Set(site.devicesOfKind('amr').map((a) => a.vda5050.serialNumber));
  const controller = new MasterController(
    { interfaceName: DEFAULT_INTERFACE_NAME, transport: { brokerUrl: url }, vdaVersion: VDA5050_VERSION, topicObjectValidation: { inbound: validation, outbound: validation } },
    { targetAgvs: { manufacturer } },
  );
  // What an application keeps: each vehicle's connection state and last state.
  const connections = new Map<string, string>();
  const states = new Map<string, unknown>();
  let handled = 0;
  let unknownDevice = 0;
  controller.trackAgvs((agv, state) => connections.set(agv.serialNumber, state));
  await controller.start();
  await controller.subscribe(Topic.State, { manufacturer }, (state, agv) => {
    handled++;
    if (!known.has(agv.serialNumber)) {
      unknownDevice++;
      return;
    }
    states.set(agv.serialNumber, state);
    rec.note(agv.serialNumber, state.headerId, state.timestamp);
  });
  return {
    handles: { kind: 'vda-5050-lib', url, site, controller },
    received: () => handled + invalid,
    problems: () => ({ invalid, unknownDevice }),
    stop: async () => {
      await controller.stop();
      console.error = error;
    },
  };
}

async function bareSide(url: string, site: SiteIndex, rec: Recorder): Promise<Side> {
  const { closeMqtt, connectMqtt } = await import('../../robots/mqtt.ts');
  const client = await connectMqtt({ url, clientId: `bench-baseline-${process.pid}` });
  let received = 0;
  client.on('message', (topic: string, payload: Buffer) => {
    received++;
    const json = JSON.parse(payload.toString('utf8')) as { headerId: number; timestamp: string };
    rec.note(topic, json.headerId, json.timestamp);
  });
  await client.subscribeAsync(topicFilter(DEFAULT_INTERFACE_NAME, 'state', manufacturerOf(site)), { qos: 0 });
  return {
    handles: { kind: 'bare', url, site, client },
    received: () => received,
    problems: () => ({ invalid: 0, unknownDevice: 0 }),
    stop: () => closeMqtt(client, true),
  };
}

function startSide(spec: SideSpec, url: string, site: SiteIndex, rec: Recorder): Promise<Side> {
  switch (spec.kind) {
    case 'phygate':
      return phygateSide(url, site, rec);
    case 'vda-5050-lib':
      return librarySide(url, site, spec.validation, rec);
    case 'bare':
      return bareSide(url, site, rec);
  }
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const PROFILE_DIR = process.env.PHYGATE_BENCH_PROFILE;

async function measure(side: Side, rec: Recorder, seconds: number, setup: SetupRun): Promise<IngestWindow> {
  const profiler = PROFILE_DIR ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const start = setup.probe?.();
  const r0 = side.received();
  const c0 = cpuUs();
  const t0 = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  rec.begin();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  rec.recording = false;
  loop.disable();
  const wallS = (performance.now() - t0) / 1000;
  const c1 = cpuUs();
  const r1 = side.received();
  const end = setup.probe?.();
  let profile: string | undefined;
  if (profiler) {
    const { profile: p } = await profiler.post('Profiler.stop');
    profile = join(PROFILE_DIR!, `ingest-${process.pid}-${Date.now()}.cpuprofile`);
    writeFileSync(profile, JSON.stringify(p));
    profiler.disconnect();
  }
  return {
    type: 'window',
    seconds: wallS,
    cpuUs: c1 - c0,
    ingested: r1 - r0,
    dropped: rec.dropped,
    reordered: rec.reordered,
    lags: rec.lags,
    loopP99Ms: loop.percentile(99) / 1e6,
    loopMaxMs: loop.max / 1e6,
    ...side.problems(),
    heard: rec.heard,
    ...(setup.probe ? { probes: { start, end } } : {}),
    ...(profile ? { profile } : {}),
  };
}

/** One side and the setup run next to it. */
class Ingestor {
  private side: Side | undefined;
  private setup: SetupRun = {};
  private readonly rec = new Recorder();

  async start(s: IngestorStart): Promise<void> {
    if (this.side) throw new Error('already started');
    // Loaded before the side subscribes: compiling it must not leave the states to queue up meanwhile.
    const setup = s.setup ? ((await import(s.setup)) as { default?: unknown }).default : undefined;
    if (s.setup && typeof setup !== 'function') throw new Error(`${s.setup} has no default export to run as the setup`);
    this.side = await startSide(s.side, s.url, fleetSite(s.vehicles), this.rec);
    if (setup) {
      const run = await (setup as IngestSetup)(this.side.handles);
      this.setup = typeof run === 'function' ? { undo: run } : (run ?? {});
    }
  }

  measure(seconds: number): Promise<IngestWindow> {
    if (!this.side) throw new Error('not started');
    return measure(this.side, this.rec, seconds, this.setup);
  }

  async stop(): Promise<void> {
    const side = this.side;
    this.side = undefined;
    const { undo } = this.setup;
    this.setup = {};
    if (undo) await undo();
    await side?.stop();
  }
}

if (process.send) {
  const ingestor = new Ingestor();
  const send = (m: FromIngestor) => process.send!(m);
  process.on('message', (m: ToIngestor) => {
    const run = async () => {
      switch (m.type) {
        case 'start':
          await ingestor.start(m);
          send({ type: 'started' });
          break;
        case 'measure':
          send(await ingestor.measure(m.seconds));
          break;
        case 'stop':
          await ingestor.stop();
          send({ type: 'stopped' });
          break;
      }
    };
    run().catch((err: Error) => send({ type: 'error', message: err.stack ?? String(err) }));
  });
  process.on('disconnect', () => {
    void ingestor.stop().finally(() => process.exit(0));
  });
} else {
  console.error('test/bench/state-ingestor.ts is started by test/bench/mqtt.ts (child_process.fork), not on its own');
  process.exitCode = 2;
}
