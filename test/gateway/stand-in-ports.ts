// STAND-IN device ports, not real ones: they implement robots/device-port.ts's DevicePort exactly
// (no casts) and record what the executor and STOP ask of the devices, and a test delivers any
// step signal at any moment. For tests that need exact control of timing and of the order of
// events (delivery retries, expiry, restarts, random event orders), on fake time. The real ports
// over a real broker run in test/robots/port-contract.test.ts and the end-to-end tests.
import type { DeviceState } from '../../planners/fleet.ts';
import { DevicePorts, StepRefusedError, StepSignals, type DevicePort, type PauseEffect, type StepSignal, type StopAnswer, type Work, type WorkRequest, type WorkSummary } from '../../robots/device-port.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';

export interface Sent {
  device: string;
  work: Work;
  /** The clock's time when it was sent (the port's `now`). */
  at: number;
}

export class StandInPort implements DevicePort {
  /** Every send (a resend appears again). */
  readonly sent: Sent[] = [];
  /** What else it was asked: `${device} ${what}` with what ∈ pause, resume, abort, stop, release, follow. */
  readonly asked: string[] = [];
  /** Sends still to refuse, as with no link to the broker. */
  refuse = 0;
  /** What pausing does on this kind of device. */
  pauseEffect: PauseEffect = 'held';
  /** Called at each send before it is recorded (checks of the caller's invariants). */
  onSend: (work: Work) => void = () => {};
  /** How a device answers a STOP or a release: confirmed, not (yet), or a failure to send (a rejection or a throw). */
  stopAnswer: (device: string, what: 'stop' | 'release') => Promise<StopAnswer> = () => Promise.resolve('sent');
  private readonly signals = new StepSignals((err) => {
    throw err;
  });

  constructor(
    readonly via: string,
    private readonly now: () => number = Date.now,
    /** Refuse to prepare (a device that cannot do the step): the message. */
    public refusePrepare?: (request: WorkRequest) => string | undefined,
  ) {}

  prepare(request: WorkRequest): Work {
    const why = this.refusePrepare?.(request);
    if (why) throw new StepRefusedError(why);
    const id = `${request.missionId}.${request.step.id}.${request.attempt}`;
    const message: Record<string, unknown> = { step: request.step.id, action: request.step.action };
    if (request.route) message.route = request.route.nodes;
    if (request.route?.startDeviationXY) message.startDeviationXY = request.route.startDeviationXY;
    if (request.count !== undefined) message.count = request.count;
    if (request.onto) message.onto = request.onto;
    return { id, device: request.device, channel: this.via === 'machine' ? 'machine.command' : this.via === 'ros2' ? 'ros2.goal' : 'vda5050.order', message, expiresAt: new Date(this.now() + request.ttlMs).toISOString() };
  }

  send(work: Work): Promise<void> {
    if (this.refuse > 0) {
      this.refuse--;
      return Promise.reject(new Error(`no connection to the MQTT broker: ${work.id} not sent`));
    }
    this.onSend(work);
    this.sent.push({ device: work.device, work, at: this.now() });
    return Promise.resolve();
  }

  pause(work: Work): PauseEffect {
    this.asked.push(`${work.device} pause`);
    return this.pauseEffect;
  }

  resume(work: Work): void {
    this.asked.push(`${work.device} resume`);
  }

  /** Recorded as `${device} abort`; the reasons given, in order, in `abortReasons`. */
  readonly abortReasons: string[] = [];

  abort(work: Work, reason: string): void {
    this.abortReasons.push(reason);
    this.asked.push(`${work.device} abort`);
  }

  follow(work: Work): void {
    this.asked.push(`${work.device} follow`);
  }

  describe(work: Work): WorkSummary {
    const m = work.message as { route?: string[]; count?: number; onto?: string };
    return { ...(m.route ? { route: m.route } : {}), ...(m.count !== undefined ? { count: m.count } : {}), ...(m.onto ? { onto: m.onto } : {}) };
  }

  stop(device: string): Promise<StopAnswer> {
    this.asked.push(`${device} stop`);
    return this.stopAnswer(device, 'stop');
  }

  release(device: string): Promise<StopAnswer> | undefined {
    if (this.via !== 'vda5050') return undefined;
    this.asked.push(`${device} release`);
    return this.stopAnswer(device, 'release');
  }

  moving(state: DeviceState): boolean {
    return this.via === 'vda5050' ? state.paused === false : state.state === 'running';
  }

  onSignal(listener: (signal: StepSignal) => void): () => void {
    return this.signals.on(listener);
  }

  /** The device reports about a work. */
  signal(type: 'accepted' | 'running' | 'done' | 'missing', work: string, device: string): void;
  signal(type: 'failed' | 'aborted' | 'unknown', work: string, device: string, reason?: string, expired?: boolean): void;
  signal(type: StepSignal['type'], workId: string, device: string, reason = 'stand-in reason', expired?: boolean): void {
    if (type === 'failed') this.signals.emit({ type, workId, device, reason, ...(expired ? { expired } : {}) });
    else if (type === 'aborted' || type === 'unknown') this.signals.emit({ type, workId, device, reason });
    else this.signals.emit({ type, workId, device });
  }

  /** Distinct works sent, oldest first. */
  works(device?: string): Work[] {
    const seen = new Map<string, Work>();
    for (const s of this.sent) if (device === undefined || s.device === device) seen.set(s.work.id, s.work);
    return [...seen.values()];
  }

  /** How often the work was sent. */
  sends(workId: string): number {
    return this.sent.filter((s) => s.work.id === workId).length;
  }
}

/** A stand-in port for each protocol of the demo site, and the registry over them. */
export function standInPorts(site: LoadedSite, now: () => number = Date.now) {
  const vda5050 = new StandInPort('vda5050', now);
  const machine = new StandInPort('machine', now);
  machine.pauseEffect = 'continues';
  const ros2 = new StandInPort('ros2', now);
  ros2.pauseEffect = 'interrupted';
  return { vda5050, machine, ros2, ports: new DevicePorts(site.index, { vda5050, machine, ros2 }) };
}
