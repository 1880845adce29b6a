// phygate's side of the machine protocol (PROTOCOL.md): it keeps the fleet registry up to date
// from the state and connection messages of every machine of the site, sends commands with a
// fresh commandId and an expiry, and reports acknowledgements and job ends per commandId.
// Nothing a device publishes can make it throw: bad messages are counted and logged.
//
// What it believes of a device is what the device could know: a commandId is random (never
// derived from the mission, so nobody can name a command they did not see), an acknowledgement or
// a job end counts only for a command this gateway sent to that very device, and a state is taken
// only in order (its seq above the last one taken, and not far above it: ../sequence.ts).
import { randomUUID } from 'node:crypto';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { DeviceState, MachineJob } from '../../planners/fleet.ts';
import { shapeProblems } from '../../planners/plan.ts';
import type { SiteIndex } from '../../planners/site.ts';
import { DropCounter, UNKNOWN_DEVICE } from '../drops.ts';
import type { FleetRegistry } from '../fleet-registry.ts';
import { errorText, silentLog, type Log } from '../log.ts';
import { SequenceGuard } from '../sequence.ts';
import {
  ConnectionSchema,
  JOB_END_STATES,
  MachineCommandSchema,
  MachineStateSchema,
  decodeMessage,
  describeProblems,
  type AckResult,
  type Connection,
  type Job,
  type MachineCommand,
  type MachineCommandRequest,
  type MachineState,
} from './schemas.ts';
import { PUBLISH, machineSubscription, machineTopic, parseMachineTopic } from './topics.ts';

export interface MachineMasterOptions {
  client: MqttClient;
  site: SiteIndex;
  /** The site id, the `{site}` level of the topics. */
  siteId: string;
  fleet: FleetRegistry;
  now?: () => Date;
  log?: Log;
  /** A device that publishes nothing for this long is put offline; 0 turns the watchdog off. */
  silentAfterMs?: number;
  /** Where dropped messages are counted (shared with the other masters); one of its own if not given. */
  drops?: DropCounter;
  /** How far above the last seq taken a state's may be (../sequence.ts). Default 10. */
  maxSeqJump?: number;
}

export interface AckEvent {
  deviceId: string;
  commandId: string;
  result: AckResult;
  reason?: string;
}

export interface JobEndEvent {
  deviceId: string;
  commandId: string;
  outcome: 'done' | 'stopped' | 'fault';
  job: Job;
  partsProduced?: number;
  errors: string[];
}

export interface MachineMasterStats {
  states: number;
  connections: number;
  /** Not JSON, or not a valid message of the protocol. */
  invalid: number;
  /** From a device id that is not a machine of the site. */
  unknownDevice: number;
  /** Its seq not above the last one taken (a redelivery), or far above it. */
  outOfOrder: number;
  /** Acknowledgements and job ends of commands the gateway did not send to that device. */
  unknownCommand: number;
  commandsSent: number;
}

type LinkState = 'unknown' | Connection['connectionState'];

interface DeviceTrack {
  link: LinkState;
  seq: SequenceGuard;
  lastHeardMs?: number;
  /** Keys of acknowledgements and commandIds of job ends already reported (bounded). */
  acksSeen: Set<string>;
  jobsEnded: Set<string>;
  /** The commandIds sent to this device, or followed after a restart (bounded): only their acknowledgements and job ends count. */
  commands: Set<string>;
  /**
   * A state was taken since the master started. The first one is usually the retained one, with
   * acknowledgements of commands an earlier run of the gateway sent: not reported, but not
   * counted as dropped either.
   */
  heard: boolean;
}

const REMEMBER = 200;
/**
 * CommandIds sent to one device that are remembered: many more than a job outlives, since a
 * machine that keeps running under a STOP is sent `stop` again every 0.5 s and its job's command
 * must still count when it ends.
 */
const REMEMBER_COMMANDS = 2_000;
/** A machine's states travel at QoS 1: the gateway misses none while connected, so a gap of more is no redelivery. */
export const DEFAULT_MAX_SEQ_JUMP = 10;
/** States the master writes itself, from the link rather than from the device. */
const LINK_LABELS = ['never connected', 'connected', 'offline', 'connection broken', 'silent', 'broker unreachable'];
export const DEFAULT_TTL_MS = 10_000;
export const DEFAULT_SILENT_AFTER_MS = 30_000;

export class MachineMaster {
  private readonly client: MqttClient;
  private readonly site: SiteIndex;
  private readonly siteId: string;
  private readonly fleet: FleetRegistry;
  private readonly now: () => Date;
  private readonly log: Log;
  private readonly silentAfterMs: number;
  private readonly tracks = new Map<string, DeviceTrack>();
  private readonly ackListeners = new Set<(e: AckEvent) => void>();
  private readonly jobListeners = new Set<(e: JobEndEvent) => void>();
  private readonly counts: MachineMasterStats = { states: 0, connections: 0, invalid: 0, unknownDevice: 0, outOfOrder: 0, unknownCommand: 0, commandsSent: 0 };
  private readonly drops: DropCounter;
  private watchdog: NodeJS.Timeout | undefined;
  private started = false;
  private readonly onMessage = (topic: string, payload: Buffer, packet?: IPublishPacket) => this.receive(topic, payload, packet?.retain === true);
  private readonly onClose = () => this.linkLost();

  constructor(opts: MachineMasterOptions) {
    this.client = opts.client;
    this.site = opts.site;
    this.siteId = opts.siteId;
    this.fleet = opts.fleet;
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? silentLog;
    this.silentAfterMs = opts.silentAfterMs ?? DEFAULT_SILENT_AFTER_MS;
    this.drops = opts.drops ?? new DropCounter({ log: this.log, now: () => this.now().getTime() });
    const jump = opts.maxSeqJump ?? DEFAULT_MAX_SEQ_JUMP;
    for (const d of this.site.site.devices) {
      if (d.kind !== 'amr') this.tracks.set(d.id, { link: 'unknown', seq: new SequenceGuard(jump), acksSeen: new Set(), jobsEnded: new Set(), commands: new Set(), heard: false });
    }
  }

  /** Subscribes to the state and connection of every machine of the site. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.client.on('message', this.onMessage);
    this.client.on('close', this.onClose);
    await this.client.subscribeAsync(
      [machineSubscription(this.siteId, 'connection'), machineSubscription(this.siteId, 'state')],
      { qos: 1 },
    );
    if (this.silentAfterMs > 0) {
      this.watchdog = setInterval(() => this.checkSilence(), Math.min(1_000, this.silentAfterMs));
      this.watchdog.unref();
    }
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearInterval(this.watchdog);
    this.client.off('message', this.onMessage);
    this.client.off('close', this.onClose);
    if (this.client.connected) {
      await this.client
        .unsubscribeAsync([machineSubscription(this.siteId, 'connection'), machineSubscription(this.siteId, 'state')])
        .catch(() => undefined);
    }
  }

  /**
   * Acknowledgements and job ends of `commandId` from `deviceId` are reported: a command this
   * gateway sent before it restarted (the outbox has it), followed now. Commands sent through
   * `publish` need not be announced.
   */
  expectCommand(deviceId: string, commandId: string): void {
    const track = this.tracks.get(deviceId);
    if (!track) return;
    // Sent again: the newest, so the last to be forgotten.
    track.commands.delete(commandId);
    remember(track.commands, commandId, REMEMBER_COMMANDS);
  }

  /**
   * Sends a command with a fresh commandId that expires `ttlMs` from now; resolves with the
   * commandId once the broker has it. Throws (a caller's mistake, or no link) when the device is
   * not a machine of the site, the command is not valid, a job is sent to an offline device, or
   * the broker is not connected.
   */
  async command(deviceId: string, request: MachineCommandRequest, opts: { ttlMs?: number; commandId?: string } = {}): Promise<string> {
    const command = this.prepareCommand(deviceId, request, opts);
    await this.publish(deviceId, command);
    return command.commandId;
  }

  /** The command `command` would publish, checked but not sent (for a caller that stores it first). */
  prepareCommand(deviceId: string, request: MachineCommandRequest, opts: { ttlMs?: number; commandId?: string } = {}): MachineCommand {
    if (!this.tracks.has(deviceId)) throw new Error(`'${deviceId}' is not a machine of site '${this.siteId}'`);
    const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    if (!(ttlMs > 0)) throw new Error(`ttlMs must be positive, not ${ttlMs}`);
    const issued = this.now();
    const command = MachineCommandSchema.safeParse({
      ...request,
      commandId: opts.commandId ?? randomUUID(),
      issuedAt: issued.toISOString(),
      expiresAt: new Date(issued.getTime() + ttlMs).toISOString(),
    });
    if (!command.success) throw new Error(`invalid ${request.action} command for ${deviceId}: ${describeProblems(shapeProblems(command.error))}`);
    if (command.data.action !== 'stop' && command.data.action !== 'reset' && this.fleet.get(deviceId)?.online !== true) {
      throw new Error(`${deviceId} is offline: it gets no new work`);
    }
    return command.data;
  }

  /** Publishes a command as it is (a retry keeps its commandId and expiresAt). */
  async publish(deviceId: string, command: MachineCommand): Promise<void> {
    if (!this.client.connected) throw new Error(`no connection to the MQTT broker: ${command.action} for ${deviceId} not sent`);
    // Before it leaves: the device may acknowledge it before publishAsync resolves.
    this.expectCommand(deviceId, command.commandId);
    await this.client.publishAsync(machineTopic(this.siteId, deviceId, 'command'), JSON.stringify(command), PUBLISH.command);
    this.counts.commandsSent++;
  }

  onAck(listener: (e: AckEvent) => void): () => void {
    this.ackListeners.add(listener);
    return () => this.ackListeners.delete(listener);
  }

  onJob(listener: (e: JobEndEvent) => void): () => void {
    this.jobListeners.add(listener);
    return () => this.jobListeners.delete(listener);
  }

  stats(): MachineMasterStats {
    return { ...this.counts };
  }

  /** `retained`: the broker handed the message over because the gateway subscribed, not because the device published it now. */
  private receive(topic: string, payload: Buffer, retained: boolean): void {
    const t = parseMachineTopic(topic);
    if (!t || t.siteId !== this.siteId || t.channel === 'command') return;
    // An empty retained message clears the topic; it says nothing about the device.
    if (payload.length === 0) return;
    const track = this.tracks.get(t.deviceId);
    if (!track) {
      this.counts.unknownDevice++;
      this.drops.drop(UNKNOWN_DEVICE, 'unknown-device', `machine protocol: '${t.deviceId}' is not a machine of site '${this.siteId}'; message ignored`, { topic });
      return;
    }
    if (t.channel === 'connection') {
      const msg = decodeMessage(ConnectionSchema, payload);
      if (!msg.ok) return this.invalid(t.deviceId, topic, describeProblems(msg.problems));
      this.counts.connections++;
      this.connection(t.deviceId, track, msg.value);
    } else {
      const msg = decodeMessage(MachineStateSchema, payload);
      if (!msg.ok) return this.invalid(t.deviceId, topic, describeProblems(msg.problems));
      this.state(t.deviceId, track, msg.value, retained);
    }
  }

  private invalid(deviceId: string, topic: string, problems: string): void {
    this.counts.invalid++;
    this.drops.drop(deviceId, 'schema', `machine protocol: invalid message on ${topic}: ${problems}`, { topic, problems });
  }

  private connection(deviceId: string, track: DeviceTrack, msg: Connection): void {
    track.link = msg.connectionState;
    // The device may have restarted and counts its seq from 1 again.
    track.seq.reset();
    track.lastHeardMs = Date.now();
    const lastSeen = this.now().toISOString();
    if (msg.connectionState === 'ONLINE') {
      // The device publishes its state right after this; until then say no more than what is known.
      const stale = LINK_LABELS.includes(this.fleet.get(deviceId)?.state ?? '');
      this.fleet.update(deviceId, { online: true, lastSeen, ...(stale ? { state: 'connected' } : {}) });
    } else {
      this.fleet.update(deviceId, { online: false, state: msg.connectionState === 'OFFLINE' ? 'offline' : 'connection broken' });
    }
  }

  private state(deviceId: string, track: DeviceTrack, msg: MachineState, retained: boolean): void {
    const last = track.seq.lastTaken;
    const verdict = track.seq.take(msg.seq);
    if (verdict !== 'taken') {
      this.counts.outOfOrder++;
      const why = verdict === 'backwards' ? 'not above' : `more than ${track.seq.maxJump} above`;
      this.drops.drop(deviceId, 'seq', `machine protocol: a state with seq ${msg.seq}, ${why} the last one taken (${last})`, { seq: msg.seq, last });
      return;
    }
    this.counts.states++;
    const counting = track.heard;
    track.heard = true;
    track.lastHeardMs = Date.now();
    // A retained state of a device whose connection says it is gone is shown, but offline. A state
    // it publishes now says it is connected, whatever a connection message said: a retained
    // CONNECTIONBROKEN someone else published cannot keep it offline past its next state.
    let gone = track.link === 'CONNECTIONBROKEN' || track.link === 'OFFLINE';
    if (gone && !retained) {
      this.log.warn({ deviceId, link: track.link }, `machine protocol: ${deviceId} publishes its state although its connection said ${track.link}: it is connected`);
      track.link = 'ONLINE';
      gone = false;
    }
    const errors = msg.errors.map((e) => `${e.code}: ${e.message}`);
    const patch: Partial<Omit<DeviceState, 'id'>> = {
      online: !gone,
      state: msg.state,
      errors,
      job: 'job' in msg && msg.job ? fleetJob(msg.job) : undefined,
      progress: 'progress' in msg ? msg.progress : undefined,
      partsProduced: 'partsProduced' in msg ? msg.partsProduced : undefined,
    };
    if (!gone) patch.lastSeen = this.now().toISOString();
    this.fleet.update(deviceId, patch);

    for (const ack of msg.acks) {
      const key = `${ack.commandId}|${ack.result}|${ack.seq}`;
      if (!remember(track.acksSeen, key)) continue;
      if (!track.commands.has(ack.commandId)) {
        if (counting) this.unknownCommand(deviceId, `an acknowledgement (${ack.result}) of command ${ack.commandId}`);
        continue;
      }
      const event: AckEvent = { deviceId, commandId: ack.commandId, result: ack.result, ...(ack.reason !== undefined ? { reason: ack.reason } : {}) };
      for (const l of this.ackListeners) this.safely(() => l(event));
    }
    if ((JOB_END_STATES as readonly string[]).includes(msg.state) && 'job' in msg && msg.job && remember(track.jobsEnded, msg.job.commandId)) {
      if (!track.commands.has(msg.job.commandId)) {
        if (counting) this.unknownCommand(deviceId, `the end (${msg.state}) of a job of command ${msg.job.commandId}`);
        return;
      }
      const event: JobEndEvent = {
        deviceId,
        commandId: msg.job.commandId,
        outcome: msg.state as JobEndEvent['outcome'],
        job: msg.job,
        ...(msg.partsProduced !== undefined ? { partsProduced: msg.partsProduced } : {}),
        errors,
      };
      for (const l of this.jobListeners) this.safely(() => l(event));
    }
  }

  /** An acknowledgement or job end of a command the gateway did not send to the device: never reported. */
  private unknownCommand(deviceId: string, what: string): void {
    this.counts.unknownCommand++;
    this.drops.drop(deviceId, 'unknown-command', `machine protocol: ${what}, which the gateway did not send to ${deviceId}; ignored`);
  }

  /**
   * Without the broker nothing a machine says arrives and no command leaves: every machine is
   * offline until the subscriptions come back with the retained connection and state.
   */
  private linkLost(): void {
    for (const [deviceId, track] of this.tracks) {
      track.link = 'unknown';
      track.seq.reset();
      if (this.fleet.get(deviceId)?.online === true) this.fleet.update(deviceId, { online: false, state: 'broker unreachable' });
    }
  }

  private checkSilence(): void {
    const limit = Date.now() - this.silentAfterMs;
    for (const [deviceId, track] of this.tracks) {
      if (track.lastHeardMs === undefined || track.lastHeardMs > limit) continue;
      // Nothing of it was taken for that long: whatever seq it counts from now is taken next.
      track.seq.reset();
      if (this.fleet.get(deviceId)?.online !== true) continue;
      this.log.warn({ deviceId }, `machine protocol: ${deviceId} sent nothing for ${this.silentAfterMs} ms; offline`);
      this.fleet.update(deviceId, { online: false, state: 'silent' });
    }
  }

  /** A listener's bug must not stop the other listeners or the message handling. */
  private safely(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.log.error({ err: errorText(err) }, 'machine protocol: a listener threw');
    }
  }
}

function fleetJob(job: Job): MachineJob {
  switch (job.action) {
    case 'run':
      return { commandId: job.commandId, action: job.action, program: job.program, count: job.count };
    case 'convey':
      return { commandId: job.commandId, action: job.action, count: job.count };
    case 'transfer':
      return { commandId: job.commandId, action: job.action, from: job.from, to: job.to };
  }
}

/** Adds `key` to a bounded set; false when it was already there. */
function remember(set: Set<string>, key: string, bound = REMEMBER): boolean {
  if (set.has(key)) return false;
  set.add(key);
  if (set.size > bound) set.delete(set.values().next().value!);
  return true;
}
