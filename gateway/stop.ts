// STOP, as design.md's safety model has it: accepted from any role, never queued behind other
// work, latched until an operator releases it.
//
// Pressing it writes the record first (so it is latched even if no message gets out), then tells
// every device in its scope at once, all in parallel: AMRs get one VDA 5050 instantActions
// message `startPause` + `cancelOrder` at QoS 1, machines, arms and conveyors the machine
// protocol's `stop`, and devices with a `ros2` block (and only they, over nothing else) have
// every goal on their action servers cancelled. Failures are logged and reported, never thrown:
// one dead link must not hold back the others.
//
// Latched means: while a stop is active, a device in its scope that comes online is told again at
// once, and one that shows it is moving anyway (an AMR reporting `paused: false`, a machine
// `running`) is told again, at most every `resendMs`. At gateway start, `resume()` sends every
// stop still active in the store again. Releasing (operator, `ack: true`) clears every active
// stop and sends `stopPause` to the AMRs; their orders were cancelled, so nothing moves until
// missions are resumed explicitly.
import type { DeviceState } from '../planners/fleet.ts';
import { pointInPolygon, type Point } from '../planners/geometry.ts';
import { protocolOf, type Device, type Zone } from '../planners/site.ts';
import type { FleetRegistry } from '../robots/fleet-registry.ts';
import type { MachineMaster } from '../robots/machine/master.ts';
import type { Ros2Adapter } from '../robots/ros2/adapter.ts';
import type { Vda5050Master } from '../robots/vda5050/master.ts';
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

export type StopLog = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void;

export interface StopServiceDeps {
  store: Pick<Store, 'stops'>;
  site: LoadedSite;
  fleet: FleetRegistry;
  /** Absent (tests of the API alone): AMRs cannot be told, and the stop says so. */
  vda5050?: Pick<Vda5050Master, 'stopVehicle' | 'instantAction'>;
  machines?: Pick<MachineMaster, 'command'>;
  /** Absent (PHYGATE_ROS2=off): devices with a `ros2` block cannot be told, and the stop says so. */
  ros2?: Pick<Ros2Adapter, 'stopAll'>;
  hub: Pick<EventHub, 'publish'>;
  now?: () => Date;
  log?: StopLog;
  confirmMs?: number;
  resendMs?: number;
}

/** What became of the message to one device. */
export interface Delivery {
  device: string;
  via: 'vda5050' | 'machine' | 'ros2';
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
  /** The AMRs sent `stopPause`. */
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
  private readonly log: StopLog;
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
    this.log = deps.log ?? (() => {});
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
      this.log('error', 'STOP could not be stored: sent, but not latched', { scope: name, error: (err as Error).message });
      throw new ApiError('INTERNAL', `STOP was sent to ${devices.length} device(s) but could not be stored, so it is not latched: ${(err as Error).message}`, { told });
    }
    const sending = this.send(devices, 'stop');
    this.latched.push(record);
    this.log('warn', `STOP ${record.scope} by ${record.createdBy}: ${record.reason}`, { stop: record.id, devices });
    this.deps.hub.publish('stop', record);
    for (const l of this.stopListeners) this.safely(() => l(record));
    return { stop: record, told: await this.settle(sending), notes };
  }

  /** The stops not released yet, oldest first. */
  active(): StopRecord[] {
    return [...this.latched];
  }

  /** The active stop that covers the device, if any: it must get no new work. */
  stopFor(deviceId: string): StopRecord | undefined {
    const device = this.deps.site.index.device(deviceId);
    return device && this.latched.find((s) => this.covers(s, device));
  }

  /**
   * Releases every active stop at once (only with `ack: true`) and sends `stopPause` to the AMRs
   * they covered. Their orders were cancelled when the stop was pressed: nothing moves until a
   * mission is resumed.
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
    // ROS 2 AMRs have nothing to resume: their goals were cancelled.
    const amrs = this.deps.site.index.devicesOfKind('amr').filter((d) => protocolOf(d) === 'vda5050' && released.some((s) => this.covers(s, d)));
    const sending = this.send(amrs.map((d) => d.id), 'release');
    this.log('warn', `STOP released by ${input.actor}`, { stops: released.map((s) => s.id), note: input.note });
    this.deps.hub.publish('stop.released', { released, devices: amrs.map((d) => d.id) });
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
    this.log('warn', `STOP still active from before the restart: sent again`, { stops: this.latched.map((s) => s.id), devices });
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
    const moving = protocolOf(device) === 'ros2' ? s.state === 'driving' || s.state === 'running' : device.kind === 'amr' ? s.paused === false : s.state === 'running';
    if (!cameOnline && !moving) return;
    if (!cameOnline && Date.now() - (this.lastSent.get(s.id) ?? -Infinity) < this.resendMs) return;
    const stop = this.latched.find((r) => this.covers(r, device));
    if (!stop) return;
    this.log('warn', `${s.id} ${cameOnline ? 'came online' : device.kind === 'amr' ? 'is not paused' : 'is running'} while STOP ${stop.scope} is active: told again`, { stop: stop.id, device: s.id });
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
    const { vda5050, machines, ros2 } = this.deps;
    for (const id of deviceIds) {
      const device = this.deps.site.index.device(id);
      if (!device) continue;
      let sending: Sending;
      if (protocolOf(device) === 'ros2') {
        if (what === 'release') continue;
        sending = {
          device: id,
          via: 'ros2',
          promise: attempt(async () => {
            if (!ros2) throw new Error('this gateway has no ROS 2 adapter (PHYGATE_ROS2=off)');
            const [r] = await ros2.stopAll([id]);
            if (r?.result === 'failed') throw new Error(r.error);
            return r?.result === 'unconfirmed' ? UNCONFIRMED : r;
          }),
        };
      } else if (device.kind === 'amr') {
        sending = {
          device: id,
          via: 'vda5050',
          promise: attempt(() => {
            if (!vda5050) throw new Error('this gateway has no VDA 5050 master');
            return what === 'stop' ? vda5050.stopVehicle(id) : vda5050.instantAction(id, 'stopPause');
          }),
        };
      } else if (what === 'stop') {
        sending = {
          device: id,
          via: 'machine',
          promise: attempt(() => {
            if (!machines) throw new Error('this gateway has no machine master');
            return machines.command(id, { action: 'stop' });
          }),
        };
      } else {
        continue;
      }
      if (what === 'stop') this.lastSent.set(id, Date.now());
      sending.promise.catch((err: Error) => this.log('error', `${what === 'stop' ? 'STOP' : 'stopPause'} not sent to ${id}`, { device: id, error: err.message }));
      out.push(sending);
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
      this.log('error', 'a STOP listener threw', { error: (err as Error).stack ?? String(err) });
    }
  }
}

/** Calls `f` now; a synchronous throw becomes a rejection. */
function attempt(f: () => Promise<unknown>): Promise<unknown> {
  try {
    return f();
  } catch (err) {
    return Promise.reject(err as Error);
  }
}
