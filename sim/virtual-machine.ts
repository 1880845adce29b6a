// A virtual CNC machine, printer, conveyor or arm that speaks the machine protocol
// (robots/machine/PROTOCOL.md) over its own MQTT connection, exactly as a real one would: it
// takes its durations from the site (program seconds per part, conveyor and arm transferS),
// scaled by `speed`, and honours expiry, idempotency, stop and reset as the protocol says.
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { Device, SiteIndex } from '../planners/site.ts';
import { closeMqtt, connectMqtt, type MqttLogin } from '../robots/mqtt.ts';
import {
  CommandIdSchema,
  MAX_ACKS,
  MachineCommandSchema,
  decodeMessage,
  describeProblems,
  type Ack,
  type AckResult,
  type Connection,
  type Job,
  type MachineCommand,
  type MachineError,
  type MachineState,
} from '../robots/machine/schemas.ts';
import { PUBLISH, machineTopic } from '../robots/machine/topics.ts';

export interface VirtualMachineOptions {
  brokerUrl: string;
  site: SiteIndex;
  /** The site id, the `{site}` level of the topics. */
  siteId: string;
  deviceId: string;
  /** Time scale: 10 runs a job ten times faster than the site's durations. */
  speed?: number;
  now?: () => Date;
  /** State is published at least this often when no job runs (the protocol says 10 s). */
  heartbeatMs?: number;
  log?: { warn(obj: object, msg: string): void };
  /** Called when a job ends `done`, before the state goes out: the simulator moves parts with it (the arm loads an AMR). */
  onJobDone?: (job: Job) => void;
  /** Its MQTT login (and how to trust a TLS broker); none: anonymous. */
  login?: MqttLogin;
}

export interface VirtualMachine {
  /** Says OFFLINE and disconnects cleanly. */
  close(): Promise<void>;
  /** Drops the socket without a goodbye, so the broker sends the last will. */
  kill(): void;
  /** The device detects a fault: a running job ends in `fault`. */
  fault(error: MachineError): void;
  stats(): { commands: number; dropped: number };
  /** Running a job. */
  atWork(): boolean;
}

type Machine = Exclude<Device, { kind: 'amr' }>;
type Phase = MachineState['state'];

interface Running {
  startedMs: number;
  totalMs: number;
  perPartMs: number;
  parts: number;
  timer: NodeJS.Timeout;
}

/** How many commandIds are kept beyond those not yet expired. */
const REMEMBER = 100;
const TICK_MS = 1_000;

export async function startVirtualMachine(opts: VirtualMachineOptions): Promise<VirtualMachine> {
  const device = opts.site.device(opts.deviceId);
  if (!device) throw new Error(`no device '${opts.deviceId}' in site '${opts.siteId}'`);
  if (device.kind === 'amr') throw new Error(`${device.id} is an AMR: it speaks VDA 5050, not the machine protocol`);
  const speed = opts.speed ?? 1;
  if (!(speed > 0)) throw new Error(`speed must be positive, not ${speed}`);
  const now = opts.now ?? (() => new Date());
  const topic = (c: 'command' | 'state' | 'connection') => machineTopic(opts.siteId, device.id, c);
  const connection = (connectionState: Connection['connectionState']) => JSON.stringify({ timestamp: now().toISOString(), connectionState } satisfies Connection);
  const client = await connectMqtt({
    url: opts.brokerUrl,
    clientId: `phygate-vm-${opts.siteId}-${device.id}-${randomUUID().slice(0, 8)}`,
    ...opts.login,
    will: { topic: topic('connection'), payload: connection('CONNECTIONBROKEN'), ...PUBLISH.connection },
  });
  const vm = new VirtualDevice(device, new Set(opts.site.devicesOfKind('amr').map((a) => a.id)), client, topic('state'), speed, now, opts.heartbeatMs ?? 10_000, opts.log, opts.onJobDone);

  const announce = async () => {
    try {
      await client.subscribeAsync(topic('command'), { qos: PUBLISH.command.qos });
      await client.publishAsync(topic('connection'), connection('ONLINE'), PUBLISH.connection);
      vm.publishState();
    } catch (err) {
      opts.log?.warn({ err, deviceId: device.id }, 'virtual machine: announcing itself failed');
    }
  };
  client.on('connect', () => void announce());
  client.on('message', (t, payload) => {
    if (t === topic('command')) vm.receive(payload);
  });
  await announce();

  return {
    close: async () => {
      vm.halt();
      if (client.connected) {
        await client.publishAsync(topic('connection'), connection('OFFLINE'), PUBLISH.connection).catch(() => undefined);
        await closeMqtt(client);
      } else {
        await closeMqtt(client, true);
      }
    },
    kill: () => {
      vm.halt();
      (client as unknown as { stream?: { destroy(): void } }).stream?.destroy();
      client.end(true);
    },
    fault: (error) => vm.fault(error),
    stats: () => vm.stats(),
    atWork: () => vm.atWork,
  };
}

class VirtualDevice {
  private seq = 0;
  private phase: Phase = 'idle';

  get atWork(): boolean {
    return this.phase === 'running';
  }
  private job: Job | undefined;
  private progress = 0;
  private produced = 0;
  private running: Running | undefined;
  private errors: MachineError[] = [];
  private acks: Ack[] = [];
  private readonly seen = new Map<string, { result: AckResult; expiresMs: number }>();
  private readonly startedAtMs: number;
  private lastPublishMs = 0;
  private halted = false;
  private readonly counts = { commands: 0, dropped: 0 };
  private readonly ticker: NodeJS.Timeout;

  constructor(
    private readonly device: Machine,
    /** AMRs an arm may put a part on (the gateway checks that one is parked in reach). */
    private readonly amrs: ReadonlySet<string>,
    private readonly client: MqttClient,
    private readonly stateTopic: string,
    private readonly speed: number,
    private readonly now: () => Date,
    private readonly heartbeatMs: number,
    private readonly log: VirtualMachineOptions['log'],
    private readonly onJobDone: VirtualMachineOptions['onJobDone'],
  ) {
    this.startedAtMs = now().getTime();
    // ~1 Hz while running, and a heartbeat otherwise.
    this.ticker = setInterval(() => {
      if (this.phase === 'running' || performance.now() - this.lastPublishMs >= this.heartbeatMs) this.publishState();
    }, Math.min(TICK_MS, this.heartbeatMs));
  }

  stats() {
    return { ...this.counts };
  }

  halt(): void {
    this.halted = true;
    clearInterval(this.ticker);
    if (this.running) clearTimeout(this.running.timer);
  }

  receive(payload: Buffer): void {
    if (this.halted) return;
    const decoded = decodeMessage(MachineCommandSchema, payload);
    if (!decoded.ok) {
      const raw = decoded.raw as { commandId?: unknown } | undefined;
      const problems = describeProblems(decoded.problems);
      const id = CommandIdSchema.safeParse(raw?.commandId);
      if (!id.success) {
        this.counts.dropped++;
        this.log?.warn({ deviceId: this.device.id, problems }, `virtual machine ${this.device.id}: unreadable command dropped`);
        return;
      }
      this.counts.commands++;
      return this.acknowledge(id.data, 'rejected', `not a valid command: ${problems}`.slice(0, 500));
    }
    this.counts.commands++;
    this.handle(decoded.value);
  }

  private handle(cmd: MachineCommand): void {
    const nowMs = this.now().getTime();
    const first = this.seen.get(cmd.commandId);
    if (first) return this.acknowledge(cmd.commandId, 'duplicate', `already ${first.result}`);
    const expiresMs = Date.parse(cmd.expiresAt);
    const remember = (result: AckResult) => {
      this.seen.set(cmd.commandId, { result, expiresMs });
      for (const [id, s] of this.seen) {
        if (this.seen.size <= REMEMBER) break;
        if (s.expiresMs < nowMs) this.seen.delete(id);
      }
    };
    if (expiresMs <= nowMs) {
      remember('expired');
      return this.acknowledge(cmd.commandId, 'expired', `expired at ${cmd.expiresAt}, received at ${new Date(nowMs).toISOString()}`);
    }
    if (Date.parse(cmd.issuedAt) < this.startedAtMs) {
      remember('expired');
      return this.acknowledge(cmd.commandId, 'expired', `issued at ${cmd.issuedAt}, before the device started at ${new Date(this.startedAtMs).toISOString()}`);
    }
    const refusal = this.refusal(cmd);
    remember(refusal === undefined ? 'accepted' : 'rejected');
    if (refusal !== undefined) return this.acknowledge(cmd.commandId, 'rejected', refusal);

    switch (cmd.action) {
      case 'stop': {
        const wasRunning = this.phase === 'running';
        if (wasRunning) this.end('stopped');
        return this.acknowledge(cmd.commandId, 'accepted', wasRunning ? undefined : 'nothing to stop');
      }
      case 'reset':
        this.phase = 'idle';
        this.job = undefined;
        this.errors = [];
        return this.acknowledge(cmd.commandId, 'accepted');
      default:
        this.begin(cmd);
        return this.acknowledge(cmd.commandId, 'accepted');
    }
  }

  /** Why the device cannot do this, or undefined when it can. */
  private refusal(cmd: MachineCommand): string | undefined {
    const d = this.device;
    if (cmd.action === 'stop') return undefined;
    if (cmd.action === 'reset') return this.phase === 'running' ? `running job ${this.job!.commandId}: send stop first` : undefined;
    const takes = d.kind === 'conveyor' ? 'convey' : d.kind === 'arm' ? 'transfer' : 'run';
    if (cmd.action !== takes) return `${d.id} is ${/^[aeiou]/.test(d.kind) ? 'an' : 'a'} ${d.kind}: it takes ${takes}, stop and reset, not ${cmd.action}`;
    if (cmd.action === 'run' && (d.kind === 'cnc' || d.kind === 'printer') && !(cmd.program in d.programs)) {
      return `${d.id} has no program '${cmd.program}'; programs: ${Object.keys(d.programs).join(', ')}`;
    }
    if (cmd.action === 'transfer' && d.kind === 'arm') {
      if (!d.reaches.includes(cmd.from)) return `from '${cmd.from}' is out of reach of ${d.id}; it reaches ${d.reaches.join(', ')}`;
      if (!d.reaches.includes(cmd.to) && !this.amrs.has(cmd.to)) {
        return `to '${cmd.to}' is neither a station ${d.id} reaches (${d.reaches.join(', ')}) nor an AMR of the site`;
      }
    }
    if (this.phase === 'running') return `busy with job ${this.job!.commandId}`;
    if (this.phase === 'fault') return 'in fault: send reset first';
    return undefined;
  }

  private begin(cmd: Extract<MachineCommand, { action: 'run' | 'convey' | 'transfer' }>): void {
    const startedAt = this.now().toISOString();
    const d = this.device;
    let perPartS: number;
    let parts: number;
    switch (cmd.action) {
      case 'run':
        perPartS = d.kind === 'cnc' || d.kind === 'printer' ? d.programs[cmd.program]! : 0;
        parts = cmd.count;
        this.job = { commandId: cmd.commandId, action: 'run', program: cmd.program, count: cmd.count, startedAt };
        break;
      case 'convey':
        perPartS = d.kind === 'conveyor' ? d.transferS : 0;
        parts = cmd.count;
        this.job = { commandId: cmd.commandId, action: 'convey', count: cmd.count, startedAt };
        break;
      case 'transfer':
        perPartS = d.kind === 'arm' ? d.transferS : 0;
        parts = 1;
        this.job = { commandId: cmd.commandId, action: 'transfer', from: cmd.from, to: cmd.to, startedAt };
        break;
    }
    const perPartMs = (perPartS * 1000) / this.speed;
    this.phase = 'running';
    this.errors = [];
    this.progress = 0;
    this.produced = 0;
    this.running = { startedMs: performance.now(), totalMs: perPartMs * parts, perPartMs, parts, timer: setTimeout(() => this.partDone(), perPartMs) };
  }

  private partDone(): void {
    const r = this.running;
    if (!r || this.halted) return;
    this.produced++;
    if (this.produced >= r.parts) return this.end('done');
    r.timer = setTimeout(() => this.partDone(), r.startedMs + r.perPartMs * (this.produced + 1) - performance.now());
    this.publishState();
  }

  /** Ends the running job as done, stopped or fault and publishes the state. */
  private end(outcome: 'done' | 'stopped' | 'fault', error?: MachineError): void {
    const r = this.running;
    if (r) clearTimeout(r.timer);
    this.progress = outcome === 'done' ? 1 : this.runningProgress();
    this.running = undefined;
    this.phase = outcome;
    if (this.job) this.job = { ...this.job, endedAt: this.now().toISOString() };
    if (error) this.errors = [error];
    if (outcome === 'done' && this.job) this.onJobDone?.(this.job);
    if (outcome === 'done') this.publishState();
  }

  fault(error: MachineError): void {
    if (this.halted) return;
    if (this.phase === 'running') this.end('fault', error);
    else {
      this.phase = 'fault';
      this.job = undefined;
      this.errors = [error];
    }
    this.publishState();
  }

  private runningProgress(): number {
    const r = this.running;
    if (!r) return this.progress;
    return Math.min(0.999, Math.round(((performance.now() - r.startedMs) / r.totalMs) * 1000) / 1000);
  }

  private acknowledge(commandId: string, result: AckResult, reason?: string): void {
    this.acks = [...this.acks, { commandId, result, ...(reason !== undefined ? { reason } : {}), seq: this.seq + 1 }].slice(-MAX_ACKS);
    this.publishState();
  }

  private message(): MachineState {
    const base = { seq: this.seq, timestamp: this.now().toISOString(), errors: [...this.errors], acks: [...this.acks] };
    const job = this.job;
    switch (this.phase) {
      case 'idle':
        return { ...base, state: 'idle' };
      case 'running':
        return { ...base, state: 'running', job: job!, progress: this.runningProgress(), partsProduced: this.produced };
      case 'done':
        return { ...base, state: 'done', job: job!, progress: 1, partsProduced: this.produced };
      case 'stopped':
        return { ...base, state: 'stopped', job: job!, progress: this.progress, partsProduced: this.produced };
      case 'fault':
        return { ...base, state: 'fault', ...(job ? { job, progress: this.progress, partsProduced: this.produced } : {}) };
    }
  }

  publishState(): void {
    if (this.halted) return;
    this.seq++;
    this.lastPublishMs = performance.now();
    this.client.publish(this.stateTopic, JSON.stringify(this.message()), PUBLISH.state, () => undefined);
  }
}
