// Devices driven over ROS 2 as a device port (../device-port.ts): an AMR's step is a Nav2
// NavigateThroughPoses goal along the route the executor gives, through its last node granted and
// taken over by a new goal as traffic control grants more (pick, drop and charge are the
// drive to their station: ROS 2 has no standard action for the load itself), and the goal's
// outcome ends the step. Nav2 cannot pause a goal: pausing cancels it, and the step is sent again
// from where the robot stands on resume. STOP cancels every goal on the device's action servers.
import type { DeviceState } from '../../planners/fleet.ts';
import type { SiteIndex } from '../../planners/site.ts';
import {
  StepRefusedError,
  StepSignals,
  type DevicePort,
  type PauseEffect,
  type StepSignal,
  type StopAnswer,
  type Work,
  type WorkRequest,
  type WorkSummary,
} from '../device-port.ts';
import { errorText, silentLog, type Log } from '../log.ts';
import type { Ros2Adapter, Ros2Goal } from './adapter.ts';
import { routePoses } from './poses.ts';
import type { Pose } from '../../planners/fleet.ts';

/** How many ended works are remembered: far more than a resend can lag behind. */
const REMEMBER = 1_000;

interface GoalMessage {
  action: 'navigateThrough';
  nodes: string[];
  /** One pose per node after the first. */
  poses: Pose[];
  /** Index of the last node the robot may drive to (traffic control grants the rest later); default: the last. */
  through?: number;
  /** How many times the goal was extended: each extension is a new goal that takes over from the one under way. */
  update?: number;
  /** An extension's goal starts after this node (the one the robot last reached). */
  from?: number;
}

const through = (m: GoalMessage) => m.through ?? m.nodes.length - 1;
/** The goal id of one extension of a work. */
const goalKey = (work: Work) => {
  const update = (work.message as unknown as GoalMessage).update ?? 0;
  return update === 0 ? work.id : `${work.id}.u${update}`;
};

export class Ros2Port implements DevicePort {
  readonly via = 'ros2';
  private readonly signals: StepSignals;
  /** This process's goals under way, by work id (the latest extension's; no goal while nothing is granted beyond the start). */
  private readonly goals = new Map<string, { key: string; goal: Ros2Goal | undefined }>();
  /** Works whose goal ended here (the latest first to go): a late resend must not drive the route again. */
  private readonly ended = new Set<string>();

  constructor(
    private readonly adapter: Pick<Ros2Adapter, 'navigateThrough' | 'stopAll'>,
    private readonly site: SiteIndex,
    private readonly log: Log = silentLog,
  ) {
    this.signals = new StepSignals((err) => log.error({ err: errorText(err) }, 'a ROS 2 step listener threw'));
  }

  prepare(request: WorkRequest): Work {
    const { step, device, route } = request;
    if (step.action === 'arm.transfer') throw new StepRefusedError(`${device}: 'arm.transfer' over ROS 2 needs a trajectory for each station, which a site cannot describe yet`);
    if (step.action !== 'navigate' && step.action !== 'pick' && step.action !== 'drop' && step.action !== 'charge') {
      throw new StepRefusedError(`${device} is driven over ROS 2: it cannot do '${step.action}'`);
    }
    if (!route) throw new StepRefusedError(`${device}: no route from where it stands`);
    const target = step.action === 'navigate' ? step.params.to : step.params.at;
    let poses: Pose[];
    try {
      poses = routePoses(this.site, route.nodes, target === undefined ? undefined : this.site.station(target)?.theta);
    } catch (err) {
      throw StepRefusedError.from(device, err);
    }
    const message: GoalMessage = {
      action: 'navigateThrough',
      nodes: route.nodes,
      poses,
      ...(route.released !== undefined && route.released < route.nodes.length ? { through: route.released - 1 } : {}),
    };
    return { id: `${request.missionId}.${step.id}.${request.attempt}`, device, channel: 'ros2.goal', message: { ...message }, expiresAt: new Date(Date.now() + request.ttlMs).toISOString() };
  }

  /**
   * Starts the goal, through the last node granted; a goal of this work (and extension) under way,
   * or ended, is not started again. An extension is a new goal from the node after the one the
   * robot reached, which takes over from the goal under way (Nav2 preempts it); the end of a goal
   * that stops short of the route's last node is no end of the step: the robot waits there.
   */
  async send(work: Work): Promise<void> {
    const key = goalKey(work);
    const under = this.goals.get(work.id);
    if (under?.key === key || this.ended.has(work.id)) return;
    const message = work.message as unknown as GoalMessage;
    const base = { workId: work.id, device: work.device };
    const last = through(message);
    if (last === 0) {
      this.goals.set(work.id, { key, goal: undefined });
      this.signals.emit({ type: 'accepted', ...base });
      return;
    }
    let goal: Ros2Goal;
    try {
      goal = this.adapter.navigateThrough(work.device, message.poses.slice(message.from ?? 0, last), {
        goalId: key,
        ...(under?.goal ? { preempts: under.goal.goalId } : {}),
        onProgress: () => this.signals.emit({ type: 'running', ...base }),
      });
    } catch (err) {
      this.signals.emit({ type: 'failed', ...base, reason: `${work.device}: ${(err as Error).message}` });
      return;
    }
    this.goals.set(work.id, { key, goal });
    this.signals.emit({ type: under ? 'running' : 'accepted', ...base });
    void goal.outcome.then((o) => {
      // A goal an extension took over from says nothing of the step.
      if (this.goals.get(work.id)?.key !== key) return;
      if (o.status === 'succeeded' && last < message.nodes.length - 1) return;
      this.goals.delete(work.id);
      this.remember(work.id);
      if (o.status === 'succeeded') this.signals.emit({ type: 'done', ...base });
      else this.signals.emit({ type: o.status === 'failed' ? 'failed' : 'aborted', ...base, reason: `${work.device}: ${o.reason}` });
    });
  }

  /** The work with more of its route granted: a new goal from the node after `reached` through node `upTo`. */
  extend(work: Work, route: readonly string[], upTo: number, reached: number): Work {
    const message = work.message as unknown as GoalMessage;
    let poses = message.poses;
    if (route.join() !== message.nodes.join()) {
      try {
        poses = routePoses(this.site, route, this.site.station(route[route.length - 1]!)?.theta);
      } catch (err) {
        throw StepRefusedError.from(work.device, err);
      }
    }
    return { ...work, message: { ...message, nodes: [...route], poses, through: upTo, from: reached, update: (message.update ?? 0) + 1 } };
  }

  /** Whether this very extension's goal was started (or the work is over). */
  has(work: Work): boolean {
    return this.goals.get(work.id)?.key === goalKey(work) || this.ended.has(work.id);
  }

  /** Nav2 cannot pause a goal: it is cancelled, and resume sends the step again. */
  pause(work: Work): PauseEffect {
    this.cancel(work, 'the mission was paused');
    return 'interrupted';
  }

  resume(): void {}

  /** Cancels the goal; one this process does not know (sent before a restart) by cancelling every goal of the device. */
  abort(work: Work, reason: string): void {
    const under = this.goals.get(work.id);
    if (under && !under.goal) {
      this.goals.delete(work.id);
      this.remember(work.id);
      queueMicrotask(() => this.signals.emit({ type: 'aborted', workId: work.id, device: work.device, reason }));
      return;
    }
    if (under) return this.cancel(work, reason);
    void this.adapter.stopAll([work.device]).then(([r]) => {
      if (r?.result === 'failed' || r?.result === 'unconfirmed') this.log.warn({ device: work.device, error: r.error }, `cancelling the goals of ${work.device} was not confirmed`);
      else this.signals.emit({ type: 'aborted', workId: work.id, device: work.device, reason });
    });
  }

  /** A goal sent before a restart: this process cannot ask what became of it. */
  follow(work: Work): void {
    queueMicrotask(() =>
      this.signals.emit({ type: 'unknown', workId: work.id, device: work.device, reason: `${work.device}: the gateway restarted while goal ${work.id} was under way, and ROS 2 cannot tell what became of it` }),
    );
  }

  describe(work: Work): WorkSummary {
    const message = work.message as Partial<GoalMessage>;
    return message.nodes ? { route: message.nodes, releasedThrough: through(message as GoalMessage) } : {};
  }

  async stop(device: string): Promise<StopAnswer> {
    const [r] = await this.adapter.stopAll([device]);
    if (!r || r.result === 'failed') throw new Error(r?.error ?? `${device}: no answer`);
    return r.result === 'unconfirmed' ? 'unconfirmed' : 'sent';
  }

  release(): undefined {
    return undefined;
  }

  moving(state: DeviceState): boolean {
    return state.state === 'driving' || state.state === 'running';
  }

  onSignal(listener: (signal: StepSignal) => void): () => void {
    return this.signals.on(listener);
  }

  private remember(workId: string): void {
    this.ended.add(workId);
    if (this.ended.size > REMEMBER) this.ended.delete(this.ended.values().next().value!);
  }

  private cancel(work: Work, reason: string): void {
    const goal = this.goals.get(work.id)?.goal;
    goal?.cancel(reason).catch((err: Error) => this.log.warn({ device: work.device, goal: work.id, err: err.message }, `cancelling goal ${work.id} failed (${reason})`));
  }
}
