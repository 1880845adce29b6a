// One action goal from the moment it is asked for until its outcome: wait for the action server,
// send the goal, follow its feedback, read its result. Whatever happens (no server, rejected,
// aborted, cancelled, an error of the binding, the adapter closing) ends in exactly one outcome;
// none of it throws to the caller.
//
// Cancelling is safe at every point: before the goal was sent it is never sent; while it is on
// its way it is cancelled as soon as the server accepts it; once accepted the server is asked.
import type { RclActionClient, RclClientGoalHandle } from './binding.ts';
import type { Ros2Action } from './devices.ts';
import { CANCEL_RETURN, fromDuration, GOAL_STATUS } from './messages.ts';

export type GoalOutcome = { status: 'succeeded' } | { status: 'failed'; reason: string } | { status: 'cancelled'; reason: string };

/**
 * What a cancel did: `cancelling` (the server took the request), `not-sent` (the goal never left),
 * `finished` (it had ended already), `rejected` (the server refused).
 */
export type GoalCancel = 'cancelling' | 'not-sent' | 'finished' | 'rejected';

/** What the robot reports while it works on a goal; only what its action's feedback has. */
export interface GoalProgress {
  goalId: string;
  device: string;
  /** Nav2: metres left to the (last) goal pose. */
  distanceRemaining?: number;
  /** Nav2: its estimate of the seconds left. */
  etaS?: number;
  /** NavigateThroughPoses: poses not reached yet. */
  posesRemaining?: number;
  /** Nav2: recovery behaviours run so far. */
  recoveries?: number;
  /** FollowJointTrajectory: share of the trajectory's time done, 0..1. */
  fraction?: number;
}

export interface ActionGoalOptions {
  goalId: string;
  device: string;
  action: Ros2Action;
  client: RclActionClient;
  message: object;
  /** How long the server may take to appear, and to accept or reject the goal. */
  serverTimeoutMs: number;
  /** FollowJointTrajectory: the last point's time, for `fraction`. */
  durationS?: number;
  onProgress(progress: GoalProgress): void;
}

type Phase = 'waiting' | 'sending' | 'active' | 'done';

export class ActionGoal {
  readonly outcome: Promise<GoalOutcome>;
  private phase: Phase = 'waiting';
  private cancelReason: string | undefined;
  private cancelling: Promise<GoalCancel> | undefined;
  private resolveOutcome!: (o: GoalOutcome) => void;
  private resolveHandle!: (h: RclClientGoalHandle | undefined) => void;
  private readonly handleReady: Promise<RclClientGoalHandle | undefined>;

  constructor(private readonly opts: ActionGoalOptions) {
    this.outcome = new Promise((resolve) => (this.resolveOutcome = resolve));
    this.handleReady = new Promise((resolve) => (this.resolveHandle = resolve));
  }

  get goalId(): string {
    return this.opts.goalId;
  }

  get device(): string {
    return this.opts.device;
  }

  /** False once the outcome is known. */
  get active(): boolean {
    return this.phase !== 'done';
  }

  start(): this {
    void this.run();
    return this;
  }

  /** Cancels the goal wherever it is; the outcome follows (`cancelled` with `reason`, or what the robot did meanwhile). */
  cancel(reason: string): Promise<GoalCancel> {
    this.cancelReason ??= reason;
    if (this.cancelling) return this.cancelling;
    if (this.phase === 'waiting') {
      this.settle({ status: 'cancelled', reason: `${reason} (before it was sent)` });
      return (this.cancelling = Promise.resolve('not-sent'));
    }
    const cancelling = (async (): Promise<GoalCancel> => {
      const handle = await this.handleReady;
      if (!handle) return 'finished';
      const response = await handle.cancelGoal();
      switch (response?.return_code) {
        case CANCEL_RETURN.NONE:
          return 'cancelling';
        case CANCEL_RETURN.REJECTED:
          return 'rejected';
        default:
          // UNKNOWN_GOAL_ID, GOAL_TERMINATED: the server has no such goal running any more.
          return 'finished';
      }
    })();
    // Kept while it is under way, so STOP and a cancel ask once; a refusal or an error is asked again next time.
    this.cancelling = cancelling;
    cancelling.then(
      (r) => r === 'rejected' && this.forget(cancelling),
      () => this.forget(cancelling),
    );
    return cancelling;
  }

  private forget(cancelling: Promise<GoalCancel>): void {
    if (this.cancelling === cancelling) this.cancelling = undefined;
  }

  /** Ends the goal here with a failure (the adapter is closing); the robot is not told. */
  abandon(reason: string): void {
    this.cancelReason ??= reason;
    this.settle({ status: 'failed', reason });
  }

  private async run(): Promise<void> {
    const { action, client, serverTimeoutMs } = this.opts;
    const s = serverTimeoutMs / 1000;
    try {
      const up = await client.waitForServer(serverTimeoutMs);
      if (this.phase === 'done') return;
      if (!up) return this.settle({ status: 'failed', reason: `no action server '${action.name}' (${action.type}) answered within ${s} s: is it running for ${this.device}?` });
      this.phase = 'sending';
      // A server that never answers the request fails the goal; should it accept it later after
      // all, the goal is cancelled at once (below), so the robot never runs a goal reported failed.
      const timer = setTimeout(() => {
        this.cancelReason ??= 'it was reported failed: no answer in time';
        this.settle({ status: 'failed', reason: `'${action.name}' did not accept or reject the goal within ${s} s` });
      }, serverTimeoutMs);
      let handle: RclClientGoalHandle;
      try {
        handle = await client.sendGoal(this.opts.message, (m) => this.feedback(m));
      } finally {
        clearTimeout(timer);
      }
      if (!handle.accepted) {
        this.resolveHandle(undefined);
        return this.settle({ status: 'failed', reason: `'${action.name}' rejected the goal` });
      }
      if ((this.phase as Phase) !== 'done') this.phase = 'active';
      this.resolveHandle(handle);
      if (this.cancelReason !== undefined) void this.cancel(this.cancelReason).catch(() => {});
      const raw = await handle.getResult();
      this.settle(outcomeOf(action, raw, handle.status, this.cancelReason));
    } catch (err) {
      this.resolveHandle(undefined);
      this.settle({ status: 'failed', reason: `'${action.name}': ${(err as Error).message}` });
    }
  }

  private feedback(message: unknown): void {
    if (this.phase === 'done') return;
    // rclnodejs before 0.20 hands over the FeedbackMessage, later versions its `feedback`.
    const m = message as Record<string, unknown> | null;
    const feedback = m && typeof m === 'object' && 'goal_id' in m && 'feedback' in m ? m.feedback : message;
    this.opts.onProgress({ goalId: this.goalId, device: this.device, ...progressOf(feedback, this.opts.durationS) });
  }

  private settle(outcome: GoalOutcome): void {
    if (this.phase === 'done') return;
    // A request still on its way may yet be accepted: its handle comes (and is cancelled) then.
    if (this.phase !== 'sending') this.resolveHandle(undefined);
    this.phase = 'done';
    this.resolveOutcome(outcome);
  }
}

/**
 * The outcome of a finished goal from its status (action_msgs/GoalStatus) and Result. Newer
 * rclnodejs resolves getResult() with the Result and sets the handle's status; older versions
 * resolve with `{ status, result }`. Nav2 (from Iron) and FollowJointTrajectory report an
 * `error_code` (0: none) and a message, which a failure carries.
 */
export function outcomeOf(action: Ros2Action, raw: unknown, handleStatus: number, cancelReason?: string): GoalOutcome {
  const r = raw as Record<string, any> | null | undefined;
  const wrapped = r != null && typeof r === 'object' && typeof r.status === 'number' && 'result' in r;
  const status: number = wrapped ? r.status : handleStatus;
  const result = (wrapped ? r.result : r) as Record<string, unknown> | null | undefined;
  const code = typeof result?.error_code === 'number' ? result.error_code : 0;
  const text = [result?.error_msg, result?.error_string].find((v): v is string => typeof v === 'string' && v !== '');
  const detail = [code !== 0 ? `error code ${code}` : '', text ?? ''].filter(Boolean).join(': ');
  switch (status) {
    case GOAL_STATUS.SUCCEEDED:
      return code === 0 ? { status: 'succeeded' } : { status: 'failed', reason: `'${action.name}' ended the goal as succeeded but with ${detail}` };
    case GOAL_STATUS.CANCELED:
      return { status: 'cancelled', reason: cancelReason ?? `cancelled on the robot${detail ? ` (${detail})` : ''}` };
    case GOAL_STATUS.ABORTED:
      return { status: 'failed', reason: `'${action.name}' aborted the goal${detail ? `: ${detail}` : ''}` };
    default:
      return { status: 'failed', reason: `'${action.name}' ended the goal with status ${status}, which is not a final one` };
  }
}

const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The progress in one feedback message of NavigateToPose, NavigateThroughPoses or FollowJointTrajectory. */
export function progressOf(feedback: unknown, durationS?: number): Omit<GoalProgress, 'goalId' | 'device'> {
  const f = (feedback ?? {}) as Record<string, any>;
  const out: Omit<GoalProgress, 'goalId' | 'device'> = {};
  const distance = finite(f.distance_remaining);
  if (distance !== undefined) out.distanceRemaining = distance;
  const eta = fromDuration(f.estimated_time_remaining);
  if (eta !== undefined) out.etaS = eta;
  const poses = finite(f.number_of_poses_remaining);
  if (poses !== undefined) out.posesRemaining = poses;
  const recoveries = finite(f.number_of_recoveries);
  if (recoveries !== undefined) out.recoveries = recoveries;
  const t = fromDuration(f.desired?.time_from_start);
  if (t !== undefined && durationS !== undefined && durationS > 0) out.fraction = Math.max(0, Math.min(1, t / durationS));
  return out;
}
