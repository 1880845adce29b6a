// Device ports: the one interface through which the gateway drives a device, whatever protocol it
// speaks (docs/architecture.md, "Device ports"). The executor and STOP program against this file
// only; each way of driving a device — VDA 5050 (vda5050/port.ts), the machine protocol
// (machine/port.ts), ROS 2 (ros2/port.ts), and later a policy runtime — implements it.
//
// A step's work goes through a port in two halves, so the executor can store it first: `prepare`
// builds and checks the exact message (nothing leaves), `send` hands it to the device and may be
// called again with the same work until the device shows it has it (a device must never do the
// same work twice: an orderId, commandId or goal id it has seen is not run again). What the
// device reports about the work comes back as one normalised stream of step signals.
import type { DeviceState } from '../planners/fleet.ts';
import type { Step } from '../planners/plan.ts';
import { protocolOf, type DeviceProtocol, type SiteIndex } from '../planners/site.ts';

/** What one step asks of one device, in the shop floor's terms; a port turns it into a message. */
export interface WorkRequest {
  missionId: string;
  step: Step;
  /** The step's index in the plan. */
  stepIndex: number;
  /** How many works the step sent before (a STOP makes a step go again): ids stay unique. */
  attempt: number;
  device: string;
  /**
   * AMR steps: the nav-graph nodes from where the AMR stands, the first node's allowed deviation
   * (an AMR stopped between nodes), and how many of the nodes it may drive to now (the rest it is
   * granted later, through `extend`; default: all).
   */
  route?: { nodes: string[]; startDeviationXY?: number; released?: number };
  /** `machine.run` and `convey`: the parts still to make. */
  count?: number;
  /** `arm.transfer` onto an AMR: its id. */
  onto?: string;
  /** How long the work may take to reach the device; after that it is never sent. */
  ttlMs: number;
}

export type WorkChannel = 'vda5050.order' | 'machine.command' | 'ros2.goal';

/** One step's work for one device, exactly as it goes out: stored in the outbox before it is sent. */
export interface Work {
  /** The orderId, commandId or goal id. */
  id: string;
  device: string;
  channel: WorkChannel;
  message: Record<string, unknown>;
  /** After this instant the work is never sent (again). */
  expiresAt: string;
}

/** What a work asks for, read back from its message (also after a restart, from the outbox). */
export interface WorkSummary {
  /** The nodes an AMR's work drives. */
  route?: string[];
  /** The parts a machine's work makes. */
  count?: number;
  /** The AMR an arm's transfer loads. */
  onto?: string;
  /** AMR works: the index (in the route it was first sent with) of the last node it may drive to. */
  releasedThrough?: number;
}

/**
 * What the device reports about a work. `accepted`: it has the work (stop sending it); `running`:
 * it works on it (implies accepted); `done`; `failed` with the reason (`expired`: it refused the
 * work as too old); `aborted`: it ended the work unfinished (cancelled, stopped) — the answer to
 * `abort`, or someone else's doing. After `follow`: `missing` (the device reported and does not
 * have the work: it may be sent again) or `unknown` (the port cannot tell what became of it).
 */
export type StepSignal =
  | { type: 'accepted' | 'running' | 'done' | 'missing'; workId: string; device: string }
  | { type: 'failed'; workId: string; device: string; reason: string; expired?: boolean }
  | { type: 'aborted' | 'unknown'; workId: string; device: string; reason: string };

/** What pausing does to a work: the device holds it, finishes it anyway, or drops it (sent again on resume). */
export type PauseEffect = 'held' | 'continues' | 'interrupted';

/** Whether the device confirmed a STOP (or release) message: `sent` (confirmed), `unconfirmed` (no answer yet). Failures reject. */
export type StopAnswer = 'sent' | 'unconfirmed';

export interface DevicePort {
  /** The protocol's name in STOP reports: `vda5050`, `machine`, `ros2`. */
  readonly via: string;
  /** Builds and checks the work (nothing is sent). Throws StepRefusedError saying why the device cannot do it. */
  prepare(request: WorkRequest): Work;
  /** Hands the work to the device; may be called again with the same work. Resolves once the transport took it. */
  send(work: Work): Promise<void>;
  /** The mission is paused. */
  pause(work: Work): PauseEffect;
  /** The device goes on: after `pause` answered `held`, or after it confirmed `abort`. */
  resume(work: Work): void;
  /**
   * The device drops the work (a failed or cancelled step), stopping where it is; `aborted` (or
   * another end) follows once it has. Then `resume` lets a device that paused to drop it go on.
   */
  abort(work: Work, reason: string): void;
  /** A work sent before a restart: report what became of it once the device tells. */
  follow(work: Work): void;
  describe(work: Work): WorkSummary;
  /**
   * AMRs that take their route a part at a time: the work as it is once the device may drive
   * through node `through` of `route` (the route the work was first prepared with), to be stored
   * and sent; nothing is sent here. `reached`: the index of the node the device last reached. A
   * port without it gets only works whose whole route is granted.
   */
  extend?(work: Work, route: readonly string[], through: number, reached: number): Work;
  /** Whether the device shows it has this very message of the work (an order update included). */
  has?(work: Work): boolean;
  /** STOP for the device, whatever it is doing. Rejects when it could not be sent. */
  stop(device: string): Promise<StopAnswer>;
  /** After a STOP is released; undefined when the device needs nothing. */
  release(device: string): Promise<StopAnswer> | undefined;
  /** Whether a device under a STOP shows it moves anyway (it is told again). */
  moving(state: DeviceState): boolean;
  onSignal(listener: (signal: StepSignal) => void): () => void;
}

/** A device cannot do a step's work: the step fails with this message. */
export class StepRefusedError extends Error {
  override readonly name = 'StepRefusedError';

  /** A protocol's error as a refusal that names the device once. */
  static from(device: string, err: unknown): StepRefusedError {
    const message = err instanceof Error ? err.message : String(err);
    return new StepRefusedError(message.startsWith(`${device} `) || message.startsWith(`${device}:`) ? message : `${device}: ${message}`);
  }
}

/**
 * A port for a protocol this gateway cannot speak (ROS 2 with PHYGATE_ROS2=off): every step
 * fails and every STOP is reported failed, saying why.
 */
export class UnavailablePort implements DevicePort {
  constructor(
    readonly via: string,
    private readonly why: string,
    /** Whether its devices would be told a STOP is released (they are reported as not told). */
    private readonly releases = false,
  ) {}

  prepare(request: WorkRequest): Work {
    throw new StepRefusedError(`${request.device} is driven over ${this.via}, and ${this.why}`);
  }
  send(): Promise<void> {
    return Promise.reject(new Error(this.why));
  }
  pause(): PauseEffect {
    return 'continues';
  }
  resume(): void {}
  abort(): void {}
  follow(): void {}
  describe(): WorkSummary {
    return {};
  }
  stop(): Promise<StopAnswer> {
    return Promise.reject(new Error(this.why));
  }
  release(): Promise<StopAnswer> | undefined {
    return this.releases ? Promise.reject(new Error(this.why)) : undefined;
  }
  moving(): boolean {
    return false;
  }
  onSignal(): () => void {
    return () => {};
  }
}

/** Which port drives each device of the site, by the protocol the site gives it (planners/site.ts `protocolOf`). */
export class DevicePorts {
  private readonly ports: Record<DeviceProtocol, DevicePort>;

  constructor(
    private readonly site: SiteIndex,
    ports: Partial<Record<DeviceProtocol, DevicePort>>,
  ) {
    const missing = (via: DeviceProtocol, why: string, releases = false) => ports[via] ?? new UnavailablePort(via, why, releases);
    this.ports = {
      vda5050: missing('vda5050', 'this gateway has no VDA 5050 master', true),
      machine: missing('machine', 'this gateway has no machine master'),
      ros2: missing('ros2', 'this gateway runs without ROS 2 (PHYGATE_ROS2=off)'),
    };
  }

  /** The port of a device of the site; throws for an unknown id (a bug of the caller). */
  for(deviceId: string): DevicePort {
    const device = this.site.device(deviceId);
    if (!device) throw new Error(`'${deviceId}' is not a device of this site`);
    return this.ports[protocolOf(device)];
  }

  /** Every distinct port, each once. */
  all(): DevicePort[] {
    return [...new Set(Object.values(this.ports))];
  }

  /** One listener for the signals of every port. */
  onSignal(listener: (signal: StepSignal) => void): () => void {
    const offs = this.all().map((p) => p.onSignal(listener));
    return () => offs.forEach((off) => off());
  }
}

/** The listeners of one port's step signals; one that throws does not keep the others from hearing. */
export class StepSignals {
  private readonly listeners = new Set<(signal: StepSignal) => void>();

  constructor(private readonly onError: (err: unknown) => void = () => {}) {}

  on(listener: (signal: StepSignal) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(signal: StepSignal): void {
    for (const l of this.listeners) {
      try {
        l(signal);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
