// What ROS 2 devices report, into the fleet registry: an AMR's map pose (from TF, AMCL's pose or,
// warned about, odometry), carried into site coordinates by its map transform, and the node it
// stands on; whether it moves, from odometry; the state of charge from BatteryState; an arm's
// liveliness from its joint states. A device is online while its messages arrive and marked
// offline after `silenceMs` without one. TF and odometry come at tens of Hz; the registry (and
// the events it drives) gets at most one update per device every `updateMs`, except when
// something that matters changes (coming online, the activity), which goes through at once.
import type { DeviceState, Pose } from '../../planners/fleet.ts';
import type { SiteIndex } from '../../planners/site.ts';
import type { FleetRegistry } from '../fleet-registry.ts';
import type { Ros2Device } from './devices.ts';
import { readBattery, readOdometry, readPoseWithCovariance } from './messages.ts';
import { mapToSite } from './poses.ts';
import { frameId, planarPose, TfTree } from './tf.ts';
import type { Log } from '../log.ts';

/** The ROS 2 adapter's logger: the gateway's. */
export type Ros2Log = Log;

export interface FleetFeedOptions {
  site: SiteIndex;
  fleet: FleetRegistry;
  log: Ros2Log;
  now: () => number;
  silenceMs: number;
  updateMs: number;
  /** How close (m) a robot must be to a nav-graph node to count as standing on it. */
  nodeToleranceM: number;
  /** Above this speed (m/s, from odometry) an AMR counts as driving. */
  movingMps?: number;
}

interface Track {
  device: Ros2Device;
  lastHeardMs?: number;
  lastUpdateMs: number;
  pending: Partial<Omit<DeviceState, 'id'>>;
  moving: boolean;
  charging: boolean;
  goals: number;
  warnedFrame: boolean;
  /** poseSource `tf`: the device's transforms. */
  tf?: TfTree;
}

export class FleetFeed {
  private readonly tracks = new Map<string, Track>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: FleetFeedOptions,
    devices: readonly Ros2Device[],
  ) {
    for (const device of devices) {
      const tf = device.kind === 'amr' && device.poseSource === 'tf' ? { tf: new TfTree() } : {};
      this.tracks.set(device.id, { device, lastUpdateMs: -Infinity, pending: {}, moving: false, charging: false, goals: 0, warnedFrame: false, ...tf });
    }
  }

  start(): void {
    const every = Math.max(50, Math.min(1_000, this.opts.silenceMs / 4));
    this.timer = setInterval(() => this.markSilentOffline(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  onOdometry(id: string, message: unknown): void {
    const t = this.track(id);
    const read = readOdometry(message);
    if (!read) return this.heard(t, {});
    t.moving = read.speed !== undefined && read.speed > (this.opts.movingMps ?? 0.05);
    if (t.device.kind !== 'amr' || t.device.poseSource !== 'odom') return this.heard(t, {});
    this.checkFrame(t, 'odometry', read.frame);
    this.heard(t, this.placed(t, read.pose));
  }

  /** AMCL's pose (PoseWithCovarianceStamped), in the map frame. */
  onMapPose(id: string, message: unknown): void {
    const t = this.track(id);
    const read = readPoseWithCovariance(message);
    if (!read) return this.heard(t, {});
    this.checkFrame(t, 'the pose', read.frame);
    this.heard(t, this.placed(t, read.pose));
  }

  /** A TFMessage from `tf` or `tf_static`: the pose when the chain from the map frame to the base is complete. */
  onTf(id: string, message: unknown): void {
    const t = this.track(id);
    const device = t.device;
    if (device.kind !== 'amr' || !t.tf) return;
    const changed = t.tf.update(message);
    // TF carries every frame of the robot (sensors, arms): only changes on the chain move it, and
    // only those count as hearing from it.
    if (!changed.some((f) => t.tf!.onPath(device.frame, device.baseFrame, f))) return;
    const found = t.tf.lookup(device.frame, device.baseFrame);
    if (!found) return;
    this.heard(t, this.placed(t, planarPose(found)));
  }

  onBattery(id: string, message: unknown): void {
    const t = this.track(id);
    const { soc, charging } = readBattery(message);
    t.charging = charging;
    // NaN means "not measured": keep what was known rather than report an empty battery.
    this.heard(t, soc === undefined ? {} : { soc });
  }

  onJointStates(id: string): void {
    this.heard(this.track(id), {});
  }

  /** The adapter's goals for the device: while one runs, an AMR is `driving` and an arm `running`. */
  goalsChanged(id: string, running: number): void {
    const t = this.track(id);
    t.goals = running;
    if (t.lastHeardMs !== undefined) this.flush(t, { state: this.activity(t) }, true);
  }

  private checkFrame(t: Track, what: string, frame: string | undefined): void {
    if (t.device.kind !== 'amr' || frame === undefined || frameId(frame) === frameId(t.device.frame) || t.warnedFrame) return;
    t.warnedFrame = true;
    this.opts.log.warn({ deviceId: t.device.id }, `${t.device.id}: ${what} is in frame '${frame}', not '${t.device.frame}': the fleet pose (zone STOPs, route starts) may drift from the map`);
  }

  /** A map-frame pose of the device, as the fleet shows it: in site coordinates, with the node it stands on. */
  private placed(t: Track, mapPose: Pose): Partial<Omit<DeviceState, 'id'>> {
    const pose = t.device.kind === 'amr' ? mapToSite(t.device.mapTransform, mapPose) : mapPose;
    const at = this.nodeAt(pose.x, pose.y);
    return { pose, ...(at ? { at } : {}) };
  }

  private heard(t: Track, patch: Partial<Omit<DeviceState, 'id'>>): void {
    const now = this.opts.now();
    t.lastHeardMs = now;
    const state = this.activity(t);
    const current = this.opts.fleet.get(t.device.id);
    const urgent = current?.online !== true || current.state !== state;
    this.flush(t, { ...patch, online: true, state, lastSeen: new Date(now).toISOString() }, urgent);
  }

  private flush(t: Track, patch: Partial<Omit<DeviceState, 'id'>>, urgent: boolean): void {
    Object.assign(t.pending, patch);
    const now = this.opts.now();
    if (!urgent && now - t.lastUpdateMs < this.opts.updateMs) return;
    t.lastUpdateMs = now;
    const next = t.pending;
    t.pending = {};
    this.opts.fleet.update(t.device.id, next);
  }

  private activity(t: Track): string {
    if (t.device.kind === 'arm') return t.goals > 0 ? 'running' : 'idle';
    if (t.goals > 0 || t.moving) return 'driving';
    return t.charging ? 'charging' : 'idle';
  }

  private nodeAt(x: number, y: number): string | undefined {
    let best: string | undefined;
    let bestD = this.opts.nodeToleranceM;
    for (const n of this.opts.site.site.nodes) {
      const d = Math.hypot(n.x - x, n.y - y);
      if (d <= bestD) {
        best = n.id;
        bestD = d;
      }
    }
    return best;
  }

  private markSilentOffline(): void {
    const now = this.opts.now();
    for (const t of this.tracks.values()) {
      if (t.lastHeardMs === undefined || now - t.lastHeardMs <= this.opts.silenceMs) continue;
      if (!this.opts.fleet.get(t.device.id)?.online) continue;
      t.pending = {};
      t.lastUpdateMs = now;
      this.opts.fleet.update(t.device.id, { online: false, state: 'silent' });
      this.opts.log.warn({ deviceId: t.device.id }, `${t.device.id} silent for ${Math.round((now - t.lastHeardMs) / 1000)} s over ROS 2: marked offline`);
    }
  }

  private track(id: string): Track {
    return this.tracks.get(id)!;
  }
}
