// STOP, as the safety model has it (docs/architecture.md, "STOP and the safety model"): accepted
// from any role, never queued behind other work, latched until an operator releases it.
//
// Pressing it writes the record first (so it is latched even if no message gets out), then tells
// every device in its scope at once, all in parallel, through its device port
// (robots/device-port.ts): AMRs over VDA 5050 get one instantActions message `startPause` +
// `cancelOrder` at QoS 1, machines, arms and conveyors the machine protocol's `stop`, and devices
// driven over ROS 2 have every goal on their action servers cancelled. Failures are logged and
// reported, never thrown: one dead link must not hold back the others.
//
// Latched means: while a stop is active, a device in its scope that comes online is told again at
// once, and one that shows it is moving anyway (an AMR reporting `paused: false`, a machine
// `running`) is told again, at most every `resendMs`. At gateway start, `resume()` sends every
// stop still active in the store again. Releasing (operator, `ack: true`) clears every active
// stop and tells the devices that need it (VDA 5050 AMRs get `stopPause`); their orders were
// cancelled, so nothing moves until missions are resumed explicitly.
import type { DeviceState } from '../planners/fleet.ts';
import { pointInPolygon, type Point } from '../planners/geometry.ts';
import type { Device, Zone } from '../planners/site.ts';
import { DevicePorts, type StopAnswer } from '../robots/device-port.ts';
import type { FleetRegistry } from '../robots/fleet-registry.ts';
import { errorText, silentLog, type Log } from '../robots/log.ts';
import type { LoadedSite } from '../sim/site-folder.ts';
import { ApiError } from './errors.ts';
import type { EventHub } from './events.ts';
import type { Store } from './store/index.ts';
import type { StopRecord } from './store/stops.ts';
import { resolveScope, type Scope } from './stop-request.ts';

export type { StopRecord } from './store/stops.ts';

/** How long `stop()` waits for the broker to confirm the messages before it answers. */
export const CONFIRM_MS = 1_000;
/** Least time between two sends of an active stop to one device that still moves. */
export const RESEND_MS = 500;

export interface StopServiceDeps {
  store: Pick<Store, 'stops'>;
  site: LoadedSite;
  fleet: FleetRegistry;
  /** How each device is told. Absent (tests of the API alone): no device can be told, and the stop says so. */
  ports?: Pick<DevicePorts, 'for'>;
  hub: Pick<EventHub, 'publish'>;
  now?: () => Date;
  log?: Log;
  confirmMs?: number;
  resendMs?: number;
}

/** What became of the message to one device. */
export interface Delivery {
  device: string;
  /** The device port that told it: `vda5050`, `machine`, `ros2`. */
  via: string;
  /** `sent`: the broker confirmed it; `unconfirmed`: no confirmation yet (it may still go out); `failed`: not sent. */
  result: 'sent' | 'unconfirmed' | 'failed';
  error?: string;
}

export interface StopOutcome {
  stop: StopRecord;
  /** Every device in the scope and what became of its message. */
  told: Delivery[];
  /** What was made of the scope as sent (`'ALL' read as 'all'`, `scope missing: 'all' used`). */
  notes: string[];
}

export interface ReleaseOutcome {
  /** The stops this release ended (empty: none was active). */
  released: StopRecord[];
  /** The devices told the stop is over (VDA 5050 AMRs: `stopPause`). */
  resumed: Delivery[];
}

interface Sending {
  device: string;
  via: Delivery['via'];
  promise: Promise<unknown>;
}

const UNCONFIRMED = Symbol('unconfirmed');

export class StopService {
  private readonly deps: StopServiceDeps;
  private readonly now: () => Date;
  private readonly log: Log;
  private readonly ports: Pick<DevicePorts, 'for'>;
  private readonly confirmMs: number;
  private readonly resendMs: number;
  /** The active stops, oldest first; the store is the truth, this is its copy for the fleet watch. */
  private latched: StopRecord[];
  private readonly online = new Map<string, boolean>();
  private readonly lastSent = new Map<string, number>();
  private readonly stopListeners = new Set<(stop: StopRecord) => void>();
  private readonly releaseListeners = new Set<(released: StopRecord[]) => void>();
  private readonly unwatch: () => void;

  constructor(deps: StopServiceDeps) {
    this.deps = deps;
    this.now = deps.now ?? (() => new Date());
    this.log = deps.log ?? silentLog;
    this.ports = deps.ports ?? new DevicePorts(deps.site.index, {});
    this.confirmMs = deps.confirmMs ?? CONFIRM_MS;
    this.resendMs = deps.resendMs ?? RESEND_MS;
    this.latched = deps.store.stops.active();
    for (const s of deps.fleet.list()) this.online.set(s.id, s.online);
    this.unwatch = deps.fleet.onChange(this.onDevice);
  }

  /**
   * Presses STOP: stored first, then sent to every device in the scope at once. Resolves once the
   * broker confirmed each message or `confirmMs` passed. `scope` is read leniently (absent: `all`,
   * see resolveScope); one that names nothing on the site throws 404 NOT_FOUND, nothing stopped.
   */
  async stop(input: { scope?: unknown; reason: string; actor: string }): Promise<StopOutcome> {
    const { scope, name, notes } = resolveScope(this.deps.site.index, input.scope);
    const devices = this.devicesIn(scope);
    let record: StopRecord;
    try {
      record = this.deps.store.stops.create({ scope: name, reason: input.reason, devices, actor: input.actor, at: this.now() });
    } catch (err) {
      // Not latched, but the devices stop all the same; the caller must know it was not stored.
      const told = await this.settle(this.send(devices, 'stop'));
      this.log.error({ scope: name, err: (err as Error).message }, 'STOP could not be stored: sent, but not latched');
      throw new ApiError('INTERNAL', `STOP was sent to ${devices.length} device(s) but could not be stored, so it is not latched: ${(err as Error).message}`, { told });
    }
    const sending = this.send(devices, 'stop');
    this.latched.push(record);
    this.log.warn({ stop: record.id, devices }, `STOP ${record.scope} by ${record.createdBy}: ${record.reason}`);
    this.deps.hub.publish('stop', record);
    for (const l of this.stopListeners) this.safely(() => l(record));
    return { stop: record, told: await this.settle(sending), notes };
  }

  /** The stops not released yet, oldest first. */
  active(): StopRecord[] {
    return [...this.latched];
  }

  /** The latest stops, released or not, newest first: who pressed, when, why, who released. */
  history(limit: number): StopRecord[] {
    return this.deps.store.stops.recent(limit);
  }

  /** The active stop that covers the device, if any: it must get no new work. */
  stopFor(deviceId: string): StopRecord | undefined {
    const device = this.deps.site.index.device(deviceId);
    return device && this.latched.find((s) => this.covers(s, device));
  }

  /**
   * Releases every active stop at once (only with `ack: true`) and tells the devices they covered
   * that need it (VDA 5050 AMRs: `stopPause`). Their orders were cancelled when the stop was
   * pressed: nothing moves until a mission is resumed.
   */
  async release(input: { actor: string; ack: boolean; note?: string }): Promise<ReleaseOutcome> {
    if (input.ack !== true) {
      throw new ApiError('VALIDATION_FAILED', 'releasing STOP needs ack: true', {
        problems: [{ path: 'ack', message: 'must be true: the operator confirms the floor is safe to resume' }],
      });
    }
    const released = this.deps.store.stops.release(input.actor, input.note, this.now());
    this.latched = [];
    this.lastSent.clear();
    if (released.length === 0) return { released, resumed: [] };
    const covered = this.deps.site.index.site.devices.filter((d) => released.some((s) => this.covers(s, d))).map((d) => d.id);
    const sending = this.send(covered, 'release');
    this.log.warn({ stops: released.map((s) => s.id), note: input.note }, `STOP released by ${input.actor}`);
    this.deps.hub.publish('stop.released', { released, devices: sending.map((s) => s.device) });
    for (const l of this.releaseListeners) this.safely(() => l(released));
    return { released, resumed: await this.settle(sending) };
  }

  /**
   * At gateway start, once the masters run: every stop still active in the store is sent again
   * to every device it covers. Devices that are not connected yet get it when they come online.
   */
  async resume(): Promise<Delivery[]> {
    this.latched = this.deps.store.stops.active();
    if (this.latched.length === 0) return [];
    const devices = this.deps.site.index.site.devices.filter((d) => this.latched.some((s) => this.covers(s, d))).map((d) => d.id);
    this.log.warn({ stops: this.latched.map((s) => s.id), devices }, 'STOP still active from before the restart: sent again');
    return this.settle(this.send(devices, 'stop'));
  }

  /** Called with each new stop, after it is stored and sent (the executor pauses missions here). */
  onStop(listener: (stop: StopRecord) => void): () => void {
    this.stopListeners.add(listener);
    return () => this.stopListeners.delete(listener);
  }

  /** Called with the stops a release ended. */
  onRelease(listener: (released: StopRecord[]) => void): () => void {
    this.releaseListeners.add(listener);
    return () => this.releaseListeners.delete(listener);
  }

  close(): void {
    this.unwatch();
    this.stopListeners.clear();
    this.releaseListeners.clear();
  }

  // ---- latching ----------------------------------------------------------------------------

  private readonly onDevice = (s: DeviceState): void => {
    const was = this.online.get(s.id) === true;
    this.online.set(s.id, s.online);
    if (!s.online || this.latched.length === 0) return;
    const device = this.deps.site.index.device(s.id);
    if (!device) return;
    const cameOnline = !was;
    const moving = this.ports.for(s.id).moving(s);
    if (!cameOnline && !moving) return;
    if (!cameOnline && Date.now() - (this.lastSent.get(s.id) ?? -Infinity) < this.resendMs) return;
    const stop = this.latched.find((r) => this.covers(r, device));
    if (!stop) return;
    this.log.warn({ stop: stop.id, device: s.id }, `${s.id} ${cameOnline ? 'came online' : 'moves'} while STOP ${stop.scope} is active: told again`);
    void this.send([s.id], 'stop');
  };

  /** Whether the stop applies to the device: it was in the scope when pressed, or is in it now (a zone). */
  private covers(stop: StopRecord, device: Device): boolean {
    if (stop.devices.includes(device.id) || stop.scope === 'all') return true;
    if (!stop.scope.startsWith('zone:')) return false;
    const zone = this.deps.site.index.site.zones.find((z) => z.id === stop.scope.slice('zone:'.length));
    return zone !== undefined && this.inZone(zone, device);
  }

  // ---- scope -------------------------------------------------------------------------------

  private devicesIn(scope: Scope): string[] {
    const devices = this.deps.site.index.site.devices;
    switch (scope.kind) {
      case 'all':
        return devices.map((d) => d.id);
      case 'device':
        return [scope.device.id];
      case 'zone':
        return devices.filter((d) => this.inZone(scope.zone, d)).map((d) => d.id);
    }
  }

  /** AMRs by their current pose; machines by their station, arms by their pose, conveyors by either end. */
  private inZone(zone: Zone, device: Device): boolean {
    const polygon = zone.polygon as Point[];
    const nodeInside = (id: string) => {
      const n = this.deps.site.index.locate(id);
      return n !== undefined && pointInPolygon([n.x, n.y], polygon);
    };
    switch (device.kind) {
      case 'amr': {
        const pose = this.deps.fleet.get(device.id)?.pose;
        return pose !== undefined && pointInPolygon([pose.x, pose.y], polygon);
      }
      case 'arm':
        return pointInPolygon([device.pose.x, device.pose.y], polygon);
      case 'cnc':
      case 'printer':
        return nodeInside(device.station);
      case 'conveyor':
        return nodeInside(device.from) || nodeInside(device.to);
    }
  }

  // ---- sending -----------------------------------------------------------------------------

  /** Starts every message now, none waiting for another; failures are logged when they happen. */
  private send(deviceIds: readonly string[], what: 'stop' | 'release'): Sending[] {
    const out: Sending[] = [];
    for (const id of deviceIds) {
      if (!this.deps.site.index.device(id)) continue;
      const port = this.ports.for(id);
      const answer = what === 'stop' ? attempt(() => port.stop(id)) : port.release(id);
      if (!answer) continue;
      const promise = answer.then((a: StopAnswer) => (a === 'unconfirmed' ? UNCONFIRMED : a));
      if (what === 'stop') this.lastSent.set(id, Date.now());
      promise.catch((err: Error) => this.log.error({ device: id, err: err.message }, `${what === 'stop' ? 'STOP' : 'release'} not sent to ${id}`));
      out.push({ device: id, via: port.via, promise });
    }
    return out;
  }

  /** What became of each message once the broker confirmed it, or `confirmMs` passed. */
  private async settle(sending: Sending[]): Promise<Delivery[]> {
    if (sending.length === 0) return [];
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof UNCONFIRMED>((resolve) => (timer = setTimeout(() => resolve(UNCONFIRMED), this.confirmMs)));
    try {
      return await Promise.all(
        sending.map(async ({ device, via, promise }): Promise<Delivery> => {
          try {
            const r = await Promise.race([promise, deadline]);
            return { device, via, result: r === UNCONFIRMED ? 'unconfirmed' : 'sent' };
          } catch (err) {
            return { device, via, result: 'failed', error: (err as Error).message };
          }
        }),
      );
    } finally {
      clearTimeout(timer);
    }
  }

  private safely(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.log.error({ err: errorText(err) }, 'a STOP listener threw');
    }
  }
}

/** Calls `f` now; a synchronous throw becomes a rejection. */
function attempt<T>(f: () => Promise<T>): Promise<T> {
  try {
    return f();
  } catch (err) {
    return Promise.reject(err as Error);
  }
}
