// The steps in flight and their work on the devices: sending a work until the device has it,
// following what its port reports, holding and resuming it, interrupting it, telling a device to
// drop it and waiting until it has, and what a device going offline does to it. What an outcome
// means for the mission (the next steps, failing the mission) is the executor's (../executor.ts).
import type { DeviceState } from '../../planners/fleet.ts';
import type { Step } from '../../planners/plan.ts';
import type { DevicePorts, StepSignal, Work } from '../../robots/device-port.ts';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import type { Log } from '../../robots/log.ts';
import type { EventHub } from '../events.ts';
import type { Store } from '../store/index.ts';
import type { Mission } from '../store/missions.ts';
import type { OutboxOutcome } from '../store/outbox.ts';
import { Countdown, type Clock } from './clock.ts';
import { Flight } from './flight.ts';
import { FlightBook } from './flight-book.ts';
import type { StepWriter } from './step-writer.ts';
import type { TrafficControl } from './traffic.ts';

/** What a flight's end means for its mission: the executor's part. */
export interface FlightOutcomes {
  /** The device finished the step's work. */
  succeeded(f: Flight): void;
  /** The step failed; `status` cancelled and `ended` (the work's id) when the device ended the work by someone else's doing. */
  failed(f: Flight, reason: string, settle?: OutboxOutcome, status?: 'failed' | 'cancelled', ended?: string): void;
  /** Devices came free or online: the missions that waited for them go on. */
  wake(missionIds: string[]): void;
  /** Runs `f` now, or after the input being handled. */
  serially(f: () => void): void;
}

export interface FlightsDeps {
  store: Store;
  ports: Pick<DevicePorts, 'for'>;
  fleet: FleetRegistry;
  clock: Clock;
  log: Log;
  writer: StepWriter;
  hub?: Pick<EventHub, 'publish'>;
  resendMs: number;
  offlineGraceMs: number;
  timeScale: number;
  /** Whether a STOP covers the device now (gateway/stop.ts). */
  stopped(device: string): boolean;
  /** Traffic control: an AMR's route ends with its flight (it keeps where it stands). */
  traffic?: Pick<TrafficControl, 'end' | 'freeze'>;
}

export class Flights {
  readonly book = new FlightBook();
  /** Each device's last known link, to act on changes only. */
  private readonly online = new Map<string, boolean>();
  /** The nodes of the last route each AMR was sent along. */
  private readonly driven = new Map<string, string[]>();
  private closed = false;

  constructor(
    private readonly deps: FlightsDeps,
    private readonly outcomes: FlightOutcomes,
  ) {
    for (const s of deps.fleet.list()) this.online.set(s.id, s.online);
  }

  /** A flight for a step, its clocks not started. */
  create(m: Mission, step: Step, index: number, device: string, onto: string | undefined, budgetMs: number): Flight {
    const f: Flight = new Flight(m.id, step, index, device, onto, this.deps.clock, budgetMs, (ms) =>
      this.outcomes.serially(() => f.onDevice && this.outcomes.failed(f, `step '${f.stepId}' did not finish within ${(ms / 1000).toFixed(0)} s`)),
    );
    return f;
  }

  /** The nodes of the route the AMR was last sent along. */
  lastRoute(device: string): string[] | undefined {
    return this.driven.get(device);
  }

  /** The flight's (new) work goes out; a `wait` step (no work) starts its hold. */
  send(f: Flight, work: Work | undefined): void {
    if (f.state === 'interrupted') f.to('sent');
    this.book.add(f);
    this.book.bind(f, work);
    f.acked = false;
    f.timeout.resume();
    const route = work && this.deps.ports.for(f.device).describe(work).route;
    if (route) this.driven.set(f.device, route);
    if (work) this.deliver(f);
    else this.hold(f, 0);
  }

  /**
   * Sends the flight's work, and again every `resendMs` until the device shows it has it. Past its
   * expiry it is never sent: the step fails. Nothing goes out while the mission is paused.
   */
  deliver(f: Flight): void {
    const work = f.work;
    if (this.closed || !work || f.state !== 'sent' || f.acked || f.paused || f.adopted) return;
    if (this.deps.clock.now() >= Date.parse(work.expiresAt)) {
      this.outcomes.failed(f, `${f.device} did not take the work for step '${f.stepId}' before it expired at ${work.expiresAt}; it is not sent again`, 'expired');
      return;
    }
    f.retry?.cancel();
    f.retry = this.deps.clock.after(this.deps.resendMs, () => this.outcomes.serially(() => this.deliver(f)));
    const { store } = this.deps;
    this.deps.ports.for(f.device).send(work).then(
      () => store.db.open && store.outbox.published(work.id, new Date(this.deps.clock.now())),
      (err: Error) => this.deps.log.warn({ missionId: f.missionId, device: f.device, work: work.id }, `${work.channel} ${work.id} to ${f.device} not sent (trying again in ${this.deps.resendMs} ms): ${err.message}`),
    );
  }

  /** A `wait` step holds for its seconds (on the time scale), less what already passed. */
  hold(f: Flight, elapsedMs: number): void {
    const step = f.step;
    if (step.action !== 'wait') return;
    f.hold ??= new Countdown(this.deps.clock, Math.max(0, (step.params.seconds * 1000) / this.deps.timeScale - elapsedMs), () =>
      this.outcomes.serially(() => f.state === 'running' && this.outcomes.succeeded(f)),
    );
    if (f.state === 'sent') f.to('running');
    this.book.add(f);
    f.timeout.resume();
    f.hold.resume();
    this.deps.writer.step(f, 'running', { device: f.device });
  }

  /** Takes over a work sent before a restart: its port says what became of it. */
  adopt(m: Mission, f: Flight, work: Work): void {
    const port = this.deps.ports.for(f.device);
    f.adopted = true;
    this.book.add(f);
    this.book.bind(f, work);
    const route = port.describe(work).route;
    if (route) this.driven.set(f.device, route);
    f.timeout.resume();
    this.deps.log.info({ missionId: m.id, step: f.stepId, device: f.device }, `taking over ${work.channel} ${work.id} of step '${f.stepId}' on ${f.device}`);
    port.follow(work);
    if (m.status === 'paused') this.pause(f);
    // A device that has not reported shortly after the start is treated as gone offline mid-step.
    f.retry = this.deps.clock.after(this.deps.resendMs, () =>
      this.outcomes.serially(() => f.adopted && this.deps.fleet.get(f.device)?.online !== true && this.gone(f.device)),
    );
  }

  // ---- pausing -------------------------------------------------------------------------------

  /** The mission is paused: the device holds the work if it can, and the step's clocks stand still. */
  pause(f: Flight): void {
    if (!f.onDevice || f.paused) return;
    const effect = f.work ? this.deps.ports.for(f.device).pause(f.work) : 'held';
    if (effect === 'interrupted') return this.interrupt(f, 'paused: its device cannot hold the work, so it is sent again on resume', false);
    f.paused = effect;
    f.standStill();
  }

  resume(f: Flight): void {
    if (!f.paused || !f.onDevice) return;
    if (f.paused === 'held' && f.work) this.deps.ports.for(f.device).resume(f.work);
    f.paused = false;
    f.timeout.resume();
    f.hold?.resume();
    const work = f.work;
    // Paused before the device took it, and too old now: it goes again as a new work. The device
    // showed no sign of the old one; it is told to drop it all the same, in case only its answer was lost.
    if (work && !f.acked && !f.adopted && this.deps.clock.now() >= Date.parse(work.expiresAt)) {
      this.deps.ports.for(f.device).abort(work, 'it expired unanswered while its mission was paused');
      this.interrupt(f, 'paused before its device took the work; it is sent again', false, 'expired');
      return;
    }
    this.deliver(f);
  }

  /** The work is off its device (STOP, or a pause it cannot hold): the step is `blocked` and goes again on resume. */
  interrupt(f: Flight, reason: string, midJob: boolean, settleAs: OutboxOutcome = 'stopped'): void {
    f.previous = f.work ?? f.previous;
    f.midJob ||= midJob;
    f.paused = false;
    this.book.bind(f, undefined);
    f.to('interrupted');
    f.standStill();
    f.grace?.cancel();
    f.grace = undefined;
    this.deps.traffic?.end(f.device, f.missionId, f.stepId);
    this.deps.writer.step(f, 'blocked', { reason }, f.previous && settleAs);
  }

  // ---- ending --------------------------------------------------------------------------------

  /**
   * The device drops the flight's work: told now and again every `resendMs` until it confirms, and
   * reserved until then. Without work on the device the flight just ends.
   */
  abort(f: Flight, reason: string): void {
    const work = f.work;
    if (!work || !f.onDevice) {
      this.end(f);
      return;
    }
    const port = this.deps.ports.for(f.device);
    f.clearTimers();
    f.to('aborting');
    // Nothing more of its route goes out while it drops the work.
    this.deps.traffic?.freeze(f.device, f.missionId, f.stepId);
    const tell = () => {
      if (f.state !== 'aborting' || this.closed) return;
      port.abort(work, reason);
      f.retry = this.deps.clock.after(this.deps.resendMs, () => this.outcomes.serially(tell));
    };
    tell();
  }

  /**
   * The device confirmed it dropped the work: it is free. A device that stopped to drop it (an AMR
   * pauses where it is) is told to go on, unless a STOP covers it: it has nothing left to do.
   */
  private dropped(f: Flight): void {
    const work = f.work;
    this.end(f);
    if (work && !this.deps.stopped(f.device)) this.deps.ports.for(f.device).resume(work);
  }

  /** The flight is over: its timers stop and its devices are free; the missions waiting for them are woken (`wake`) or returned. */
  end(f: Flight, wake = true): string[] {
    if (f.state !== 'ended') f.to('ended');
    f.clearTimers();
    this.deps.traffic?.end(f.device, f.missionId, f.stepId);
    const woken = this.book.remove(f).filter((id) => id !== f.missionId);
    if (wake) this.outcomes.wake(woken);
    return woken;
  }

  close(): void {
    this.closed = true;
    for (const f of this.book.all()) f.clearTimers();
  }

  // ---- what the devices report ---------------------------------------------------------------

  signalled(s: StepSignal): void {
    const f = this.book.byWork(s.workId);
    if (!f || this.closed) return;
    if (f.state === 'aborting') {
      // Any end of the work is the device's confirmation that it dropped it.
      if (s.type === 'done' || s.type === 'failed' || s.type === 'aborted' || s.type === 'unknown') this.dropped(f);
      return;
    }
    switch (s.type) {
      case 'accepted':
      case 'running':
        f.acked = true;
        f.adopted = false;
        f.retry?.cancel();
        if (s.type === 'running' && f.state === 'sent') {
          f.to('running');
          this.deps.writer.step(f, 'running', { device: f.device });
        }
        return;
      case 'missing':
        if (f.adopted) {
          f.adopted = false;
          this.deliver(f);
        }
        return;
      case 'done':
        return this.outcomes.succeeded(f);
      case 'failed':
        return this.outcomes.failed(f, s.reason, s.expired ? 'expired' : 'failed');
      case 'unknown':
        return this.outcomes.failed(f, s.reason);
      case 'aborted':
        // Ended on the device by someone else's doing (an operator at the machine, the vehicle itself): nothing left to drop.
        this.book.bind(f, undefined);
        return this.outcomes.failed(f, `${f.device}: ${s.reason}`, 'cancelled', 'cancelled', s.workId);
    }
  }

  /** Acts on a device's link changing only: any other state message does no work here. */
  deviceState(s: DeviceState): void {
    if (this.online.get(s.id) === s.online) return;
    this.online.set(s.id, s.online);
    this.outcomes.serially(() => (s.online ? this.back(s.id) : this.gone(s.id)));
  }

  /** The device went offline mid-step: the step is blocked, and fails if it stays away for the grace period. */
  private gone(device: string): void {
    const f = this.book.holder(device);
    if (!f || f.device !== device || !f.onDevice || f.grace) return;
    this.deps.writer.step(f, 'blocked', { reason: `${device} went offline` });
    this.deps.hub?.publish('alert', { missionId: f.missionId, step: f.stepId, device, message: `${device} went offline during step '${f.stepId}'` });
    this.deps.log.warn({ missionId: f.missionId, step: f.stepId, device }, `${device} went offline during step '${f.stepId}'`);
    const graceMs = this.deps.offlineGraceMs;
    f.grace = this.deps.clock.after(graceMs, () => this.outcomes.serially(() => f.grace && this.outcomes.failed(f, `${device} stayed offline for ${graceMs / 1000} s`)));
  }

  private back(device: string): void {
    const f = this.book.holder(device);
    if (f?.grace && f.device === device) {
      f.grace.cancel();
      f.grace = undefined;
      this.deps.writer.step(f, f.state === 'running' ? 'running' : 'dispatched', { device });
    }
    this.outcomes.wake(this.book.wake(device));
  }
}
