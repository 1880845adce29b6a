// One control tick for every policy-driven robot: the shield's hold first (STOP, pause, a stale
// observation: zero command, the policy not asked), then one batched inference for the robots
// left, then the shield's filter on each action. A STOP pressed while the inference ran wins over
// its answer: whether a robot is stopped is asked again when the actions arrive.
// A robot with a shield `profile` has its filter decided in the inference worker, next to its
// inference (runtime.ts): 50 robots' look-aheads near walls take milliseconds, and there they do
// not hold the event loop that STOP, the device masters and the broker's traffic share. Its own
// shield here records the decision (counts, alerts). Without a profile the filter runs here, and
// the loop is given back between robots once a slice of it is used up; a STOP that comes in
// meanwhile wins for the robots not yet filtered.
import type { AmrState } from './kinematics.ts';
import type { RobotObservation, TickAnswer } from './runtime.ts';
import type { Shield, ShieldedCommand } from './shield.ts';

/** What a tick needs of the runtime (PolicyRuntime has it). */
export interface Inference {
  tick(observations: ReadonlyMap<string, RobotObservation>): Promise<TickAnswer>;
}

export interface DrivenRobot {
  id: string;
  /** The runtime's id of the model that drives it. */
  model: string;
  state: AmrState;
  /** The control's observation, built from `state` (amr-track.ts). */
  obs: ArrayLike<number>;
  /** When `state` was measured, ms. */
  observedAt: number;
  shield: Shield;
  /** The inference worker's shield profile for this robot: its filter is decided there. */
  profile?: string;
}

export interface PolicyDriveOptions {
  inference: Inference;
  /** Whether STOP or a pause covers the robot now. */
  stopped: (robot: string) => boolean;
  now: () => number;
  /** Event-loop time the filters may take before they yield to other work, ms. Default 2. */
  sliceMs?: number;
}

export class PolicyDrive {
  constructor(private readonly opts: PolicyDriveOptions) {}

  /** The command for each robot this tick. */
  async tick(robots: readonly DrivenRobot[]): Promise<Map<string, ShieldedCommand>> {
    const commands = new Map<string, ShieldedCommand>();
    const asking = new Map<string, RobotObservation>();
    const now = this.opts.now();
    for (const r of robots) {
      const held = r.shield.hold(r.id, { now, stopped: this.opts.stopped(r.id), observedAt: r.observedAt });
      if (held) commands.set(r.id, held);
      else asking.set(r.id, { model: r.model, obs: r.obs, ...(r.profile !== undefined ? { shield: { profile: r.profile, state: r.state } } : {}) });
    }
    if (asking.size === 0) return commands;
    const answer = await this.opts.inference.tick(asking);
    const later = this.opts.now();
    const sliceMs = this.opts.sliceMs ?? 2;
    let slice = performance.now();
    let filtered = 0;
    for (const r of robots) {
      if (!asking.has(r.id)) continue;
      const decided = answer.decisions?.get(r.id);
      if (!decided && filtered++ > 0 && performance.now() - slice >= sliceMs) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        slice = performance.now();
      }
      const held = r.shield.hold(r.id, { now: later, stopped: this.opts.stopped(r.id), observedAt: r.observedAt });
      commands.set(r.id, held ?? (decided ? r.shield.record(r.id, decided) : r.shield.filter(r.id, { state: r.state, action: answer.actions.get(r.id) })));
    }
    return commands;
  }
}
