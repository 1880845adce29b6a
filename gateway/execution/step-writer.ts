// How the executor records what happens: each step and mission transition in the store (with its
// event, and the outbox entry it settles, in one transaction) and on the live event stream.
import type { MissionStatus, StepStatus } from '../../planners/mission.ts';
import type { EventHub } from '../events.ts';
import type { Store } from '../store/index.ts';
import { InvalidStepTransitionError, type Mission } from '../store/missions.ts';
import type { OutboxOutcome } from '../store/outbox.ts';
import type { Clock } from './clock.ts';
import type { Flight } from './flight.ts';

export const EXECUTOR = 'executor';

export class StepWriter {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly hub: Pick<EventHub, 'publish'> | undefined,
  ) {}

  /** The flight's step moves; `settle`: its work's outbox entry (the current or the interrupted one) ends so. */
  step(f: Flight, to: StepStatus, data: Record<string, unknown>, settle?: OutboxOutcome): void {
    const entry = settle && (f.work ?? f.previous);
    this.stepOf(f.missionId, f.stepId, to, data, entry ? { id: entry.id, outcome: settle } : undefined);
  }

  /** A step transition, and the outbox entry it settles in the same transaction. A move its status forbids is ignored. */
  stepOf(missionId: string, stepId: string, to: StepStatus, data: Record<string, unknown>, settle?: { id: string; outcome: OutboxOutcome }): void {
    const at = new Date(this.clock.now());
    try {
      this.store.db.transaction(() => {
        if (settle) this.store.outbox.settle(settle.id, settle.outcome, at);
        this.store.missions.transitionStep(missionId, stepId, to, EXECUTOR, data);
      })();
      this.hub?.publish('step', { missionId, step: stepId, status: to, ...data });
    } catch (err) {
      if (!(err instanceof InvalidStepTransitionError)) throw err;
      if (settle) this.store.outbox.settle(settle.id, settle.outcome, at);
    }
  }

  mission(missionId: string, to: MissionStatus, data?: Record<string, unknown>, actor = EXECUTOR): Mission {
    const m = this.store.missions.transition(missionId, to, actor, data);
    this.hub?.publish('mission', { id: missionId, status: to, ...(data?.reason ? { reason: data.reason } : {}) });
    return m;
  }
}
