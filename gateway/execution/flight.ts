// One step in flight: from the moment its work is stored until its device is done with it. A
// small state machine (docs/architecture.md, "A step in flight"):
//
//   sent ──► running ──► ended (done | failed | aborted)
//     │         │   ▲
//     │         ▼   │ resume sends it again
//     └──────► interrupted (a STOP, or a pause its device cannot hold)
//     └──────► aborting ──► ended   (failed or cancelled: its device drops the work; the
//                                    device stays reserved until it confirmed)
//
// `paused` (a mission paused whose device holds the work, or finishes it) and `offline` (its
// device went away: a grace period runs) are conditions of a live flight, not states: they stop
// the clocks and the resends but the work stays where it is.
import type { Step } from '../../planners/plan.ts';
import type { Work } from '../../robots/device-port.ts';
import { Countdown, type Clock, type Timer } from './clock.ts';

export type FlightState = 'sent' | 'running' | 'interrupted' | 'aborting' | 'ended';

const NEXT: Record<FlightState, readonly FlightState[]> = {
  sent: ['running', 'interrupted', 'aborting', 'ended'],
  running: ['interrupted', 'aborting', 'ended'],
  interrupted: ['sent', 'aborting', 'ended'],
  aborting: ['ended'],
  ended: [],
};

export class IllegalFlightTransitionError extends Error {
  override readonly name = 'IllegalFlightTransitionError';
}

export class Flight {
  private current: FlightState = 'sent';
  /** The work on the device now: none for a `wait` step, nor while interrupted. */
  work: Work | undefined;
  /** The work a STOP or a pause interrupted: what the step sends again continues it. */
  previous: Work | undefined;
  /** A STOP caught the device mid-job (a part may be half made, or in a gripper). */
  midJob = false;
  /** The device showed it has the work: no more sends. */
  acked = false;
  /** Taken over from the outbox at start: waiting for the device to say what became of it. */
  adopted = false;
  /** The mission is paused; `held` when the device was told to hold the work (and must be told to go on). */
  paused: false | 'held' | 'continues' = false;
  /** The step's time budget; stands still while the mission is paused or the work interrupted. */
  readonly timeout: Countdown;
  /** A `wait` step's hold. */
  hold: Countdown | undefined;
  /** The next delivery attempt, or abort retry. */
  retry: Timer | undefined;
  /** Running while the device is offline: the step fails when it ends. */
  grace: Timer | undefined;

  constructor(
    readonly missionId: string,
    readonly step: Step,
    readonly stepIndex: number,
    /** The device doing the step. */
    readonly device: string,
    /** An AMR an arm's transfer loads: reserved by this flight too. */
    readonly onto: string | undefined,
    clock: Clock,
    budgetMs: number,
    onTimeout: (budgetMs: number) => void,
  ) {
    this.timeout = new Countdown(clock, budgetMs, () => onTimeout(budgetMs));
  }

  get state(): FlightState {
    return this.current;
  }

  get stepId(): string {
    return this.step.id;
  }

  /** The devices the flight reserves. */
  get devices(): string[] {
    return this.onto ? [this.device, this.onto] : [this.device];
  }

  /** The device has the work (or may have it) and may be working on it. */
  get onDevice(): boolean {
    return this.current === 'sent' || this.current === 'running';
  }

  to(next: FlightState): void {
    if (!NEXT[this.current].includes(next)) throw new IllegalFlightTransitionError(`step '${this.step.id}' of mission ${this.missionId}: flight ${this.current} cannot become ${next}`);
    this.current = next;
  }

  /** Stops the clocks that run while the step works: it waits. */
  standStill(): void {
    this.timeout.pause();
    this.hold?.pause();
    this.retry?.cancel();
    this.retry = undefined;
  }

  /** Every timer off, for good. */
  clearTimers(): void {
    this.timeout.cancel();
    this.hold?.cancel();
    this.retry?.cancel();
    this.grace?.cancel();
    this.retry = this.grace = undefined;
  }
}
