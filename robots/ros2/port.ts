// Devices driven over ROS 2 as a device port (../device-port.ts): an AMR's step is a Nav2
// NavigateThroughPoses goal along the route the executor gives (pick, drop and charge are the
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
  poses: Pose[];
}

export class Ros2Port implements DevicePort {
  readonly via = 'ros2';
  private readonly signals: StepSignals;
  /** This process's goals under way, by work id. */
  private readonly goals = new Map<string, Ros2Goal>();
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
    const message: GoalMessage = { action: 'navigateThrough', nodes: route.nodes, poses };
    return { id: `${request.missionId}.${step.id}.${request.attempt}`, device, channel: 'ros2.goal', message: { ...message }, expiresAt: new Date(Date.now() + request.ttlMs).toISOString() };
  }

  /** Starts the goal; a goal of this work under way, or ended, is not started again. */
  async send(work: Work): Promise<void> {
    if (this.goals.has(work.id) || this.ended.has(work.id)) return;
    const base = { workId: work.id, device: work.device };
    let goal: Ros2Goal;
    try {
      goal = this.adapter.navigateThrough(work.device, (work.message as unknown as GoalMessage).poses, {
        goalId: work.id,
        onProgress: () => this.signals.emit({ type: 'running', ...base }),
      });
    } catch (err) {
      this.signals.emit({ type: 'failed', ...base, reason: `${work.device}: ${(err as Error).message}` });
      return;
    }
    this.goals.set(work.id, goal);
    this.signals.emit({ type: 'accepted', ...base });
    void goal.outcome.then((o) => {
      this.goals.delete(work.id);
      this.remember(work.id);
      if (o.status === 'succeeded') this.signals.emit({ type: 'done', ...base });
      else this.signals.emit({ type: o.status === 'failed' ? 'failed' : 'aborted', ...base, reason: `${work.device}: ${o.reason}` });
    });
  }

  /** Nav2 cannot pause a goal: it is cancelled, and resume sends the step again. */
  pause(work: Work): PauseEffect {
    this.cancel(work, 'the mission was paused');
    return 'interrupted';
  }

  resume(): void {}

  /** Cancels the goal; one this process does not know (sent before a restart) by cancelling every goal of the device. */
  abort(work: Work, reason: string): void {
    if (this.goals.has(work.id)) return this.cancel(work, reason);
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
    const nodes = (work.message as Partial<GoalMessage>).nodes;
    return nodes ? { route: nodes } : {};
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
    const goal = this.goals.get(work.id);
    goal?.cancel(reason).catch((err: Error) => this.log.warn({ device: work.device, goal: work.id, err: err.message }, `cancelling goal ${work.id} failed (${reason})`));
  }
}
