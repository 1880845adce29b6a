// The gateway's side of the devices driven over ROS 2 (docs/architecture.md, "Device ports"): Nav2
// NavigateToPose / NavigateThroughPoses for AMRs, FollowJointTrajectory for arms, map pose (TF or
// AMCL), odometry and battery into the fleet registry, and cancel on STOP. The only module that
// touches rclnodejs, through the binding it is given (the real one is imported lazily by
// `loadRclnodejs`). Poses cross each AMR's map transform here: callers speak site coordinates.
//
// rclnodejs shuts ROS down on SIGINT by itself, from a handler it installs when it is loaded;
// that handler is taken away at once, so the gateway's own shutdown runs first (it stops the
// devices, then closes this adapter, which shuts ROS down).
//
// A goal is started with an id of the caller's (the executor's step or command id) and returns
// at once a handle whose `outcome` settles exactly once: `succeeded`, `failed` with a reason, or
// `cancelled`. A device takes one goal at a time.
//
// STOP (`stopAll`) does not rely on what this process knows: besides its own goals it asks every
// action server of each device to cancel ALL its goals (action_msgs/srv/CancelGoal with a zero
// goal id and stamp, the protocol's "cancel everything"), so a goal sent before a restart, or by
// someone else, is cancelled too. It never throws and reports each device.
import type { Pose } from '../../planners/fleet.ts';
import type { SiteIndex } from '../../planners/site.ts';
import type { FleetRegistry } from '../fleet-registry.ts';
import { silentLog } from '../log.ts';
import { abandonStart, loadRclnodejs, type RclActionClient, type RclBinding, type RclContext, type RclNode, type RclServiceClient } from './binding.ts';
import { siteToMap } from './poses.ts';
import { cancelAllGoals, TIMEOUT, within } from './cancel-all.ts';
import { CANCEL_GOAL, CLOCK, qosFor, ros2Devices, type Ros2Action, type Ros2Device, type Ros2TopicRole } from './devices.ts';
import { GoalActiveError, InvalidGoalError, NotRos2DeviceError, Ros2NotStartedError, Ros2UnavailableError } from './errors.ts';
import { FleetFeed, type Ros2Log } from './fleet-feed.ts';
import { ActionGoal, type GoalCancel, type GoalOutcome, type GoalProgress } from './goal.ts';
import { followJointTrajectoryGoal, navigateThroughPosesGoal, navigateToPoseGoal, checkPose, trajectoryDuration, type TrajectoryPoint } from './messages.ts';

export type { GoalCancel, GoalOutcome, GoalProgress } from './goal.ts';
export type { Ros2Log } from './fleet-feed.ts';
export type { TrajectoryPoint } from './messages.ts';

export interface Ros2AdapterOptions {
  site: SiteIndex;
  fleet: FleetRegistry;
  /** Default: rclnodejs, imported when `start()` runs. */
  loadBinding?: () => Promise<RclBinding>;
  /** Decides the NavigateThroughPoses goal's shape; default: ROS_DISTRO. */
  rosDistro?: string;
  nodeName?: string;
  /**
   * The ROS domain to work in, apart from the environment's (ROS_DOMAIN_ID): a context of its own
   * (`rclnodejs.Context`). A rehearsal on the simulated fleet uses one, so that nothing it sends
   * reaches the floor's robots. Default: rclnodejs's default context.
   */
  domainId?: number;
  /**
   * Read the simulation's clock (`/clock`, rosgraph_msgs/msg/Clock, as Gazebo's clock bridge
   * publishes it): `simTimeS()` then answers its time. For a rehearsal on a simulated fleet.
   */
  simClock?: boolean;
  log?: Ros2Log;
  /** How long an action server may take to appear and to answer a goal request. Default 5 s. */
  serverTimeoutMs?: number;
  /** How long a STOP or cancel waits for the servers' answers before it reports `unconfirmed`. Default 1 s. */
  cancelTimeoutMs?: number;
  /** A device silent this long is marked offline. Default 5 s. */
  silenceMs?: number;
  /** Least time between two routine fleet updates of one device. Default 200 ms. */
  updateMs?: number;
  nodeToleranceM?: number;
  now?: () => number;
}

export interface GoalOptions {
  /** The caller's id for the goal (a step or command id); default: one made up here. */
  goalId?: string;
  /**
   * The goal this one takes over from on the same action server (Nav2 preempts a NavigateThroughPoses
   * goal with a newer one): it may still be under way; its end comes from the server as it comes.
   */
  preempts?: string;
  onProgress?: (progress: GoalProgress) => void;
}

/** A goal under way. */
export interface Ros2Goal {
  goalId: string;
  device: string;
  /** Settles once, never rejects. */
  outcome: Promise<GoalOutcome>;
  /** The outcome then says `reason`. */
  cancel(reason?: string): Promise<GoalCancel>;
}

/** What a STOP did for one device. */
export interface Ros2StopResult {
  device: string;
  /**
   * `cancelled`: goals were running and their cancel was accepted; `idle`: the servers answered
   * and nothing was running; `unconfirmed`: not every server answered within cancelTimeoutMs;
   * `failed`: nothing could be told (no server, not started) or a server refused.
   */
  result: 'cancelled' | 'idle' | 'unconfirmed' | 'failed';
  /** The adapter's own goals of the device that were under way. */
  goals: string[];
  error?: string;
}

interface Endpoint {
  action: Ros2Action;
  client: RclActionClient;
  cancelService: RclServiceClient;
}

interface Live {
  rcl: RclBinding;
  /** Its own context, when it works in a domain of its own. */
  context?: RclContext;
  node: RclNode;
  endpoints: Map<string, Endpoint>;
}

export class Ros2Adapter {
  private readonly devices: Map<string, Ros2Device>;
  private readonly goals = new Map<string, ActionGoal>();
  /** Goals a newer goal of the same device took over from: no longer in its way, though the server has not ended them yet. */
  private readonly preempted = new Set<string>();
  private readonly feed: FleetFeed;
  private readonly log: Ros2Log;
  private readonly serverTimeoutMs: number;
  private readonly cancelTimeoutMs: number;
  private live: Live | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;
  private sequence = 0;
  /** The simulation's time from `/clock`, s; undefined before the first message (or without `simClock`). */
  private simS: number | undefined;

  constructor(private readonly opts: Ros2AdapterOptions) {
    this.devices = new Map(ros2Devices(opts.site).map((d) => [d.id, d]));
    this.log = opts.log ?? silentLog;
    this.serverTimeoutMs = opts.serverTimeoutMs ?? 5_000;
    this.cancelTimeoutMs = opts.cancelTimeoutMs ?? 1_000;
    this.feed = new FleetFeed(
      {
        site: opts.site,
        fleet: opts.fleet,
        log: this.log,
        now: opts.now ?? Date.now,
        silenceMs: opts.silenceMs ?? 5_000,
        updateMs: opts.updateMs ?? 200,
        nodeToleranceM: opts.nodeToleranceM ?? 0.5,
      },
      [...this.devices.values()],
    );
  }

  /** The simulation's time (`/clock`) in seconds, with `simClock`; undefined until it has been heard. */
  simTimeS(): number | undefined {
    return this.simS;
  }

  /** The site's devices driven over ROS 2. */
  deviceIds(): string[] {
    return [...this.devices.keys()];
  }

  /**
   * Loads rclnodejs, creates the node, an action client per action and the subscriptions, and
   * spins. Throws Ros2UnavailableError when ROS 2 cannot be used here.
   */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Ros2NotStartedError('closed'));
    this.starting ??= this.open().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  /** Drives an AMR to a pose (site coordinates; sent in its map frame) with NavigateToPose. */
  navigate(deviceId: string, pose: Pose, opts: GoalOptions = {}): Ros2Goal {
    const device = this.device(deviceId, 'amr');
    checkPose(pose);
    return this.send(device, device.navigate, navigateToPoseGoal(siteToMap(device.mapTransform, pose), device.frame, device.behaviorTree), opts);
  }

  /** Drives an AMR through poses in order (site coordinates, a nav-graph route: poses.ts `routePoses`) with NavigateThroughPoses. */
  navigateThrough(deviceId: string, poses: readonly Pose[], opts: GoalOptions = {}): Ros2Goal {
    const device = this.device(deviceId, 'amr');
    if (poses.length === 0) throw new InvalidGoalError('navigateThrough needs at least one pose');
    poses.forEach(checkPose);
    const inMap = poses.map((p) => siteToMap(device.mapTransform, p));
    const goal = navigateThroughPosesGoal(inMap, device.frame, device.behaviorTree, this.opts.rosDistro ?? process.env.ROS_DISTRO);
    return this.send(device, device.navigateThrough, goal, opts);
  }

  /** Moves an arm along joint-space points (one position per configured joint) with FollowJointTrajectory. */
  followTrajectory(deviceId: string, points: readonly TrajectoryPoint[], opts: GoalOptions = {}): Ros2Goal {
    const device = this.device(deviceId, 'arm');
    const durationS = trajectoryDuration(deviceId, device.joints, points);
    return this.send(device, device.trajectory, followJointTrajectoryGoal(device.joints, points), opts, durationS);
  }

  /** The adapter's goals under way, per device (what the fleet shows as driving or running). */
  activeGoals(deviceId?: string): { goalId: string; device: string }[] {
    return [...this.goals.values()].filter((g) => g.active && (deviceId === undefined || g.device === deviceId)).map((g) => ({ goalId: g.goalId, device: g.device }));
  }

  /** Cancels the adapter's goals of one device (a mission cancelled). Unanswered within cancelTimeoutMs: `unconfirmed`. */
  async cancel(deviceId: string, reason = 'cancelled by phygate'): Promise<{ goalId: string; result: GoalCancel | 'unconfirmed' | 'failed'; error?: string }[]> {
    this.device(deviceId);
    const mine = [...this.goals.values()].filter((g) => g.device === deviceId && g.active);
    return Promise.all(
      mine.map(async (g) => {
        try {
          const r = await within(g.cancel(reason), this.cancelTimeoutMs);
          return { goalId: g.goalId, result: r === TIMEOUT ? ('unconfirmed' as const) : r };
        } catch (err) {
          return { goalId: g.goalId, result: 'failed' as const, error: (err as Error).message };
        }
      }),
    );
  }

  /** STOP: cancels every goal on every action server of the devices (default: all ROS 2 devices), in parallel. Never throws. */
  async stopAll(deviceIds?: readonly string[]): Promise<Ros2StopResult[]> {
    return Promise.all((deviceIds ?? [...this.devices.keys()]).map((id) => this.stopDevice(id)));
  }

  /** Ends every goal here as failed, destroys the node and shuts rclnodejs down. Robots are not told; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.starting?.catch(() => {});
    this.feed.stop();
    for (const g of this.goals.values()) g.abandon('the ROS 2 adapter closed before the goal ended');
    this.goals.clear();
    const live = this.live;
    this.live = undefined;
    if (!live) return;
    try {
      live.node.destroy();
    } catch (err) {
      this.log.warn({ error: (err as Error).message }, 'destroying the ROS 2 node failed');
    }
    try {
      live.rcl.shutdown(live.context);
    } catch (err) {
      this.log.warn({ error: (err as Error).message }, 'rclnodejs shutdown failed');
    }
    this.log.info({}, 'ROS 2 adapter closed');
  }

  // ---- internals ---------------------------------------------------------------------------

  private async open(): Promise<void> {
    const rcl = await (this.opts.loadBinding ?? (() => loadRclnodejs()))();
    if (typeof rcl.removeSignalHandlers === 'function') rcl.removeSignalHandlers();
    else this.log.warn({}, 'this rclnodejs has no removeSignalHandlers(): on SIGINT it shuts ROS 2 down before the gateway has stopped the devices');
    const domain = this.opts.domainId;
    let context: RclContext | undefined;
    if (domain !== undefined) {
      if (typeof rcl.Context !== 'function') throw new Ros2UnavailableError([`the rclnodejs that loaded has no Context class, so ROS domain ${domain} cannot be kept apart from the environment's`]);
      context = new rcl.Context(domain);
    }
    // Without a context of its own, rclnodejs's default one (its functions take undefined for it).
    await rcl.init(context);
    let node: RclNode | undefined;
    try {
      const name = this.opts.nodeName ?? `phygate_${this.opts.site.site.id.replace(/[^A-Za-z0-9_]/g, '_')}`;
      node = rcl.createNode(name, '', context);
      const endpoints = new Map<string, Endpoint>();
      for (const d of this.devices.values()) {
        for (const action of d.actions) {
          endpoints.set(action.name, {
            action,
            client: new rcl.ActionClient(node, action.type, action.name),
            cancelService: node.createClient(CANCEL_GOAL, `${action.name}/_action/cancel_goal`),
          });
        }
        for (const topic of d.topics) {
          const on = this.handlers[topic.role];
          node.createSubscription(topic.type, topic.name, { qos: qosFor(rcl, topic.qos) }, (m: unknown) => this.safely(() => on(d.id, m)));
        }
      }
      if (this.opts.simClock) {
        // Best effort, so it matches the clock bridge whichever reliability it publishes with.
        node.createSubscription(CLOCK, '/clock', { qos: qosFor(rcl, 'sensor') }, (m: unknown) =>
          this.safely(() => {
            const t = (m as { clock?: { sec?: unknown; nanosec?: unknown } })?.clock;
            if (typeof t?.sec === 'number' && typeof t.nanosec === 'number' && Number.isFinite(t.sec)) this.simS = t.sec + t.nanosec / 1e9;
          }),
        );
      }
      node.spin();
      if (this.closed) throw new Ros2NotStartedError('closed');
      this.live = { rcl, node, endpoints, ...(context ? { context } : {}) };
    } catch (err) {
      abandonStart(rcl, node, context);
      throw err;
    }
    this.feed.start();
    for (const d of this.devices.values()) {
      if (d.kind === 'amr' && d.poseSource === 'odom') {
        this.log.warn({ deviceId: d.id }, `${d.id}: its fleet pose comes from odometry, which drifts from the map: zone STOPs and route starts may place it wrongly (poseSource 'tf' or 'amcl_pose' give its map pose)`);
      }
    }
    this.log.info({ devices: [...this.devices.keys()], ...(domain !== undefined ? { domainId: domain } : {}) }, `ROS 2 adapter started: ${this.devices.size} device(s)${domain !== undefined ? ` in ROS domain ${domain}` : ''}`);
  }

  private readonly handlers: Record<Ros2TopicRole, (id: string, message: unknown) => void> = {
    odometry: (id, m) => this.feed.onOdometry(id, m),
    battery: (id, m) => this.feed.onBattery(id, m),
    joints: (id) => this.feed.onJointStates(id),
    'map-pose': (id, m) => this.feed.onMapPose(id, m),
    tf: (id, m) => this.feed.onTf(id, m),
    'tf-static': (id, m) => this.feed.onTf(id, m),
  };

  private device<K extends Ros2Device['kind']>(id: string, kind?: K): Extract<Ros2Device, { kind: K }> {
    const d = this.devices.get(id);
    if (!d || (kind && d.kind !== kind)) throw new NotRos2DeviceError(id, kind);
    return d as Extract<Ros2Device, { kind: K }>;
  }

  private send(device: Ros2Device, action: Ros2Action, message: object, opts: GoalOptions, durationS?: number): Ros2Goal {
    if (!this.live) throw new Ros2NotStartedError(this.closed ? 'closed' : 'not started');
    if (opts.preempts !== undefined && this.goals.get(opts.preempts)?.device === device.id) this.preempted.add(opts.preempts);
    const busy = [...this.goals.values()].find((g) => g.active && !this.preempted.has(g.goalId) && (g.device === device.id || g.goalId === opts.goalId));
    if (busy) throw new GoalActiveError(busy.device, busy.goalId);
    const goalId = opts.goalId ?? `${device.id}-${Date.now().toString(36)}-${++this.sequence}`;
    const onProgress = opts.onProgress;
    const goal = new ActionGoal({
      goalId,
      device: device.id,
      action,
      client: this.live.endpoints.get(action.name)!.client,
      message,
      serverTimeoutMs: this.serverTimeoutMs,
      ...(durationS === undefined ? {} : { durationS }),
      onProgress: (p) => onProgress && this.safely(() => onProgress(p)),
    });
    this.goals.set(goalId, goal);
    this.feed.goalsChanged(device.id, this.activeGoals(device.id).length);
    void goal.outcome.then((outcome) => {
      if (this.goals.get(goalId) === goal) this.goals.delete(goalId);
      this.preempted.delete(goalId);
      this.feed.goalsChanged(device.id, this.activeGoals(device.id).length);
      this.log[outcome.status === 'succeeded' ? 'info' : 'warn']({ deviceId: device.id, goalId }, `${device.id} goal ${goalId} ${outcome.status}${outcome.status === 'succeeded' ? '' : `: ${outcome.reason}`}`);
    });
    this.log.info({ deviceId: device.id, goalId, action: action.name }, `${device.id} goal ${goalId} to ${action.name}`);
    goal.start();
    return { goalId, device: device.id, outcome: goal.outcome, cancel: (reason = 'cancelled by phygate') => goal.cancel(reason) };
  }

  private async stopDevice(id: string): Promise<Ros2StopResult> {
    const device = this.devices.get(id);
    if (!device) return { device: id, result: 'failed', goals: [], error: `'${id}' is not a device of this site driven over ROS 2` };
    const mine = [...this.goals.values()].filter((g) => g.device === id && g.active);
    // Ours first: one not sent yet never leaves, one on its way is cancelled when it is accepted.
    for (const g of mine) void g.cancel('STOP').catch(() => {});
    const goals = mine.map((g) => g.goalId);
    const live = this.live;
    if (!live) return { device: id, result: 'failed', goals, error: `the ROS 2 adapter is ${this.closed ? 'closed' : 'not started'}: nothing was sent` };
    const answers = await Promise.all(device.actions.map((a) => cancelAllGoals(a, live.endpoints.get(a.name)!.cancelService, this.cancelTimeoutMs)));
    const problem = answers.find((a) => a.kind === 'error' || a.kind === 'refused');
    if (problem) return { device: id, result: 'failed', goals, error: problem.message };
    if (answers.every((a) => a.kind === 'no-server')) {
      return { device: id, result: 'failed', goals, error: `no action server of ${id} is running (${device.actions.map((a) => a.name).join(', ')}): nothing could be told` };
    }
    if (answers.some((a) => a.kind === 'timeout')) return { device: id, result: 'unconfirmed', goals, error: `no answer within ${this.cancelTimeoutMs} ms` };
    const running = answers.some((a) => a.kind === 'cancelling') || mine.length > 0;
    return { device: id, result: running ? 'cancelled' : 'idle', goals };
  }

  private safely(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.log.error({ error: (err as Error).stack ?? String(err) }, 'handling a ROS 2 message failed');
    }
  }
}
