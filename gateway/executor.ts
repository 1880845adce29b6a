// The executor: runs approved missions on the fleet through device ports (docs/architecture.md).
// A step is sent when its `after` steps have succeeded and its devices are free, online and not
// under a STOP; from then on it is a Flight (execution/flight.ts) whose status follows the step
// signals its port reports, not timers — except `wait` steps, and the timeout that fails a step a
// device never finishes. It imports no protocol: VDA 5050, the machine protocol and ROS 2 are
// ports (robots/device-port.ts).
//
// Every step transition is written to the store (with its event) before anything is sent; every
// work goes through the outbox (gateway/store/outbox.ts): stored with its expiry in the
// transaction that dispatches the step, then sent, and sent again until the device shows it has
// it — delivery is retried, work never is. A step that fails is not run again, and its own device
// is told to drop the work before its mission is marked failed; the device stays reserved until it
// confirmed. Pausing a mission (an operator, a STOP) stops its steps' clocks.
//
// Inputs are applied one at a time: a step signal or timer that arrives while another input is
// being handled waits for it to finish (`serially`).
import { isStepFinal, isStepInFlight as inFlight } from '../planners/mission.ts';
import type { Pass } from '../planners/check.ts';
import { isMove, stepsToRun } from '../planners/make-way.ts';
import type { Step } from '../planners/plan.ts';
import type { CheckReport } from '../planners/report.ts';
import type { DevicePorts, Work } from '../robots/device-port.ts';
import type { FleetRegistry } from '../robots/fleet-registry.ts';
import { errorText, silentLog, type Log } from '../robots/log.ts';
import type { LoadedSite } from '../sim/site-folder.ts';
import { ApiError } from './errors.ts';
import type { EventHub } from './events.ts';
import { systemClock, type Clock } from './execution/clock.ts';
import type { Flight } from './execution/flight.ts';
import { Flights } from './execution/flights.ts';
import { recoverMissions, type RecoveryHost } from './execution/recovery.ts';
import { EXECUTOR, StepWriter } from './execution/step-writer.ts';
import { commitmentsOf } from './missions/commitments.ts';
import { TrafficControl } from './execution/traffic.ts';
import { workRequest } from './execution/work-request.ts';
import type { StopRecord } from './store/stops.ts';
import type { Store } from './store/index.ts';
import { InvalidStepTransitionError, type Mission } from './store/missions.ts';
import type { OutboxOutcome } from './store/outbox.ts';

/** A step's timeout when the plan gives none: the check's estimate × 3 + 60 s. */
export const TIMEOUT_FACTOR = 3;
export const TIMEOUT_MARGIN_S = 60;
/** How long a step waits for its device to come back online before it fails. */
export const OFFLINE_GRACE_MS = 60_000;
/** How long an order or command may take to reach its device; after that it is never sent. */
export const COMMAND_TTL_MS = 10_000;
/** How long to wait for a device to show it has a work (or dropped it) before telling it again. */
export const RESEND_MS = 2_000;

/**
 * Steps that can be sent again after a STOP interrupted them mid-job: an AMR drives on from where
 * it stands; a machine or conveyor makes the parts still missing (the part in work when it stopped
 * is lost). An arm stopped mid-transfer may hold the part: that is for a person to sort out.
 */
const RESUMABLE = new Set(['navigate', 'pick', 'drop', 'charge', 'wait', 'machine.run', 'convey']);

export interface ExecutorDeps {
  store: Store;
  site: LoadedSite;
  fleet: FleetRegistry;
  ports: Pick<DevicePorts, 'for' | 'onSignal'>;
  hub?: Pick<EventHub, 'publish'> & Partial<Pick<EventHub, 'publishThrottled'>>;
  log?: Log;
  clock?: Clock;
  /** Real-time divisor for the estimate-based timeouts and `wait` steps (the virtual fleet's speed); default 1. */
  timeScale?: number;
  offlineGraceMs?: number;
  commandTtlMs?: number;
  resendMs?: number;
  /** The latched STOP (gateway/stop.ts): nothing is sent to a device it covers. */
  stops?: {
    stopFor(deviceId: string): StopRecord | undefined;
    onStop(listener: (stop: StopRecord) => void): () => void;
    onRelease(listener: (released: StopRecord[]) => void): () => void;
  };
}

export class Executor {
  readonly clock: Clock;
  readonly log: Log;
  /** Which AMR holds which node, and who waits for whom (execution/traffic.ts). */
  readonly traffic: TrafficControl;
  /** Missions with a step that waits until its AMR's whole route is granted (a port that cannot extend a route). */
  private readonly waitingForRoute = new Set<string>();
  private readonly write: StepWriter;
  private readonly flights: Flights;
  private readonly offs: (() => void)[] = [];
  private readonly inbox: (() => void)[] = [];
  private busy = false;
  private closed = false;

  constructor(readonly deps: ExecutorDeps) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log ?? silentLog;
    this.write = new StepWriter(deps.store, this.clock, deps.hub);
    this.traffic = new TrafficControl({
      store: deps.store,
      site: deps.site,
      fleet: deps.fleet,
      ports: deps.ports,
      clock: this.clock,
      log: this.log,
      ...(deps.hub ? { hub: deps.hub } : {}),
      resendMs: deps.resendMs ?? RESEND_MS,
      stopped: (device) => deps.stops?.stopFor(device) !== undefined,
    });
    this.flights = new Flights(
      {
        store: deps.store,
        ports: deps.ports,
        fleet: deps.fleet,
        clock: this.clock,
        log: this.log,
        writer: this.write,
        ...(deps.hub ? { hub: deps.hub } : {}),
        resendMs: deps.resendMs ?? RESEND_MS,
        offlineGraceMs: deps.offlineGraceMs ?? OFFLINE_GRACE_MS,
        timeScale: deps.timeScale ?? 1,
        stopped: (device) => deps.stops?.stopFor(device) !== undefined,
        traffic: this.traffic,
      },
      {
        succeeded: (f) => this.succeed(f),
        failed: (f, reason, settle, status, ended) => this.fail(f, reason, settle, status, ended),
        wake: (ids) => ids.forEach((id) => this.pump(id)),
        serially: (f) => this.serially(f),
      },
    );
    this.offs.push(
      deps.ports.onSignal((s) => this.serially(() => this.flights.signalled(s))),
      deps.fleet.onChange((s) => this.flights.deviceState(s)),
      this.traffic.onFreed(() =>
        this.serially(() => {
          const waiting = [...this.waitingForRoute];
          this.waitingForRoute.clear();
          waiting.forEach((id) => this.pump(id));
        }),
      ),
      () => this.traffic.close(),
    );
    if (deps.stops) {
      this.offs.push(
        deps.stops.onStop((stop) => this.serially(() => this.stopped(stop))),
        deps.stops.onRelease(() =>
          this.serially(() => {
            this.traffic.regrant();
            this.flights.book.wakeAll().forEach((id) => this.pump(id));
          }),
        ),
      );
    }
  }

  // ---- the mission use cases (gateway/missions/service.ts) -----------------------------------

  /** An approved mission starts running; `passes`: its approval's schedule, which the robots keep from now on. */
  start(missionId: string, passes?: readonly Pass[]): void {
    this.serially(() => {
      const m = this.deps.store.missions.get(missionId);
      if (!m || m.status !== 'approved') return;
      if (passes) {
        // Moves the check made for other missions' robots only are not this mission's to run.
        const own = new Set(stepsToRun(m.plan, m.report as CheckReport).map((s) => s.id));
        this.traffic.adopt(m.id, passes.filter((p) => p.step.includes('/') || own.has(p.step)));
      }
      this.write.mission(m.id, 'running');
      this.pump(m.id);
    });
  }

  /** AMR → the nodes it holds now (traffic control): what a check starts it occupying. */
  holds(): ReadonlyMap<string, readonly string[]> {
    return new Map(this.traffic.view().map((d) => [d.id, d.holds]));
  }

  /** The robots keep to a schedule simulated anew (its passes are all committed missions'). */
  reschedule(passes: readonly Pass[]): void {
    this.serially(() => this.traffic.adopt(undefined, passes));
  }

  /** No new steps start; each device holds its work if it can (an AMR pauses), and the steps' clocks stand still. */
  pause(missionId: string, actor: string): Mission {
    return this.serially(() => this.pauseMission(missionId, actor));
  }

  resume(missionId: string, actor: string): Mission {
    return this.serially(() => {
      const current = this.deps.store.missions.get(missionId);
      if (current?.status === 'paused') {
        const report = current.report as CheckReport;
        const devices = new Set(stepsToRun(current.plan, report).flatMap((s, i) => (current.steps[i]?.status === 'succeeded' ? [] : [resolve(s.device, report)])));
        const stop = [...devices].map((d) => this.deps.stops?.stopFor(d)).find((x) => x !== undefined);
        if (stop) throw new ApiError('STOP_ACTIVE', `a STOP (${stop.scope}: ${stop.reason}) covers devices of mission ${missionId}; release it first`, { stop: stop.id });
      }
      const m = this.write.mission(missionId, 'running', undefined, actor);
      // A step in flight with no record of its work (a database from before the outbox) has an unknown outcome.
      const orphan = m.steps.find((s) => inFlight(s.status) && !this.flights.book.get(m.id, s.id));
      if (orphan) {
        this.failMission(m.id, orphan.id, `step '${orphan.id}' was in flight when the gateway restarted; its outcome is unknown`);
        return this.deps.store.missions.get(m.id)!;
      }
      for (const f of this.flights.book.ofMission(missionId)) this.flights.resume(f);
      this.pump(m.id);
      return this.deps.store.missions.get(m.id)!;
    });
  }

  /** Every step's work is dropped by its device and the steps are cancelled; the caller moves the mission. */
  cancelWork(missionId: string, reason = 'the mission was cancelled'): void {
    this.serially(() => {
      for (const f of this.flights.book.ofMission(missionId)) this.drop(f, reason);
      for (const s of this.deps.store.missions.get(missionId)?.steps ?? []) if (!isStepFinal(s.status)) this.write.stepOf(missionId, s.id, 'cancelled', { reason });
      this.log.info({ missionId }, `mission ${missionId}: ${reason}; its devices drop their work`);
    });
  }

  /** At start, once the ports listen: see execution/recovery.ts. */
  recover(): void {
    this.serially(() => recoverMissions(this.recovery));
  }

  close(): void {
    this.closed = true;
    for (const off of this.offs.splice(0)) off();
    this.flights.close();
  }

  // ---- inputs --------------------------------------------------------------------------------

  /** Runs `f` now, or once the input being handled is done; what arrives meanwhile runs after it. */
  private serially<T>(f: () => T): T {
    if (this.busy) {
      this.inbox.push(f);
      return undefined as T;
    }
    this.busy = true;
    try {
      return f();
    } finally {
      for (let next = this.inbox.shift(); next; next = this.inbox.shift()) {
        try {
          next();
        } catch (err) {
          this.log.error({ err: errorText(err) }, 'the executor failed to handle an input');
        }
      }
      this.busy = false;
    }
  }

  /**
   * A STOP was pressed (its devices are already told): the steps it interrupts are `blocked`, and
   * the missions they belong to (every running mission, for `all`) are paused. They carry on only
   * when an operator has released the STOP and resumes them.
   */
  private stopped(stop: StopRecord): void {
    const inScope = (d: string) => stop.scope === 'all' || stop.devices.includes(d);
    const missions = new Set<string>();
    for (const f of this.flights.book.all()) {
      if (!f.devices.some(inScope) || (!f.onDevice && f.state !== 'interrupted')) continue;
      if (f.onDevice) this.flights.interrupt(f, `STOP: ${stop.reason}`, true);
      missions.add(f.missionId);
    }
    if (stop.scope === 'all') for (const m of this.deps.store.missions.all(['running'])) missions.add(m.id);
    for (const id of missions) {
      if (this.deps.store.missions.get(id)?.status !== 'running') continue;
      this.pauseMission(id, `stop:${stop.createdBy}`, `STOP (${stop.scope}): ${stop.reason}`);
      this.log.warn({ missionId: id, stop: stop.id }, `mission ${id} paused by STOP (${stop.scope})`);
    }
  }

  private pauseMission(missionId: string, actor: string, reason?: string): Mission {
    const m = this.write.mission(missionId, 'paused', reason ? { reason } : undefined, actor);
    for (const f of this.flights.book.ofMission(missionId)) this.flights.pause(f);
    return m;
  }

  // ---- dispatching ---------------------------------------------------------------------------

  /** Sends every step of the mission that may go now; finishes the mission when all succeeded. */
  private pump(missionId: string): void {
    if (this.closed) return;
    const m = this.deps.store.missions.get(missionId);
    if (!m || m.status !== 'running') return;
    const status = new Map(m.steps.map((s) => [s.id, s.status]));
    const report = m.report as CheckReport;
    stepsToRun(m.plan, report).forEach((step, index) => {
      const flight = this.flights.book.get(m.id, step.id);
      if (flight?.state !== 'interrupted' && (flight || status.get(step.id) !== 'pending')) return;
      if (flight?.midJob && !RESUMABLE.has(step.action)) {
        this.failMission(m.id, step.id, `step '${step.id}' (${step.action}) was interrupted by a STOP mid-job; repeating it is not safe, so the mission ends here`);
        return;
      }
      if (!(step.after ?? []).every((d) => status.get(d) === 'succeeded')) return;
      const device = resolve(step.device, report);
      const onto = step.action === 'arm.transfer' && !this.deps.site.index.station(step.params.to) ? resolve(step.params.to, report) : undefined;
      if (!this.ready(m.id, onto ? [device, onto] : [device], flight)) return;
      // A robot moved out of the way goes once no other mission has work for it left.
      if (!flight && isMove(step.id) && this.movedElsewhere(m.id, device)) return;
      if (this.dispatch(m, step, index, device, onto, flight) === 'succeeded') status.set(step.id, 'succeeded');
    });
    const now = this.deps.store.missions.get(m.id);
    if (now?.status === 'running' && now.steps.every((s) => s.status === 'succeeded')) {
      this.write.mission(m.id, 'succeeded');
      this.log.info({ missionId: m.id }, `mission ${m.id} succeeded`);
    }
  }

  /** Whether the devices may take work now; if not, the mission is woken when they may. */
  private ready(missionId: string, devices: string[], own: Flight | undefined): boolean {
    const blocking = devices.find((d) => {
      const holder = this.flights.book.holder(d);
      return (holder && holder !== own) || this.deps.fleet.get(d)?.online !== true || this.deps.stops?.stopFor(d);
    });
    if (blocking) this.flights.book.waitFor(blocking, missionId);
    return blocking === undefined;
  }

  /** Stores the step as dispatched with its work, and sends it; `again`: the interrupted flight that goes on. */
  private dispatch(m: Mission, step: Step, index: number, device: string, onto: string | undefined, again?: Flight): 'sent' | 'succeeded' | 'refused' {
    const { store } = this.deps;
    const port = this.deps.ports.for(device);
    const previous = again?.previous && { id: again.previous.id, ...port.describe(again.previous) };
    let work: Work | undefined;
    let problem: string | undefined;
    try {
      const driven = previous?.route ?? this.flights.lastRoute(device);
      const report = m.report as CheckReport | null;
      const checked = report?.steps?.find((s) => s.id === step.id)?.route ?? report?.moves?.find((mv) => mv.id === step.id)?.route;
      const request = workRequest(this.deps.site, this.deps.fleet, {
        missionId: m.id,
        step,
        stepIndex: index,
        device,
        onto,
        attempt: store.outbox.countOfStep(m.id, step.id),
        ttlMs: this.deps.commandTtlMs ?? COMMAND_TTL_MS,
        ...(previous ? { previous } : {}),
        ...(driven ? { driven } : {}),
        ...(checked ? { checked } : {}),
      });
      if (request === 'nothing-left') {
        this.flights.end(again!);
        this.write.stepOf(m.id, step.id, 'running', { reason: 'every part was made before the STOP' });
        this.write.stepOf(m.id, step.id, 'succeeded', {});
        return 'succeeded';
      }
      if (request.route) {
        // The AMR may drive as far as it is granted now; a port that cannot extend a route waits for all of it.
        const granted = this.traffic.begin(device, m.id, step.id, request.route.nodes, !port.extend);
        if (granted === undefined) {
          this.waitingForRoute.add(m.id);
          return 'refused';
        }
        request.route.released = granted;
        // Parting robots that wait for each other may have sent it another way already.
        request.route.nodes = this.traffic.pathOf(device)?.nodes ?? request.route.nodes;
      }
      if (step.action !== 'wait') work = port.prepare(request);
    } catch (err) {
      problem = (err as Error).message;
    }
    try {
      // The step is dispatched and its work stored in one transaction: a crash leaves both or neither.
      store.db.transaction(() => {
        store.missions.transitionStep(m.id, step.id, 'dispatched', EXECUTOR, { device, ...(onto ? { amr: onto } : {}) });
        if (work) store.outbox.add({ id: work.id, channel: work.channel, message: work.message, expiresAt: work.expiresAt, missionId: m.id, stepId: step.id, device, at: new Date(this.clock.now()) });
      })();
    } catch (err) {
      if (err instanceof InvalidStepTransitionError) return 'refused'; // already dispatched: never twice
      throw err;
    }
    if (work && this.traffic.pathOf(device)?.missionId === m.id) this.traffic.bind(device, work);
    this.deps.hub?.publish('step', { missionId: m.id, step: step.id, status: 'dispatched', device });
    const f = again ?? this.flights.create(m, step, index, device, onto, this.budgetMs(m, step));
    if (problem !== undefined) {
      this.flights.book.add(f);
      this.fail(f, problem);
    } else this.flights.send(f, work);
    return 'sent';
  }

  /** Whether another committed mission still has work for the device (it waits for that mission's steps). */
  private movedElsewhere(missionId: string, device: string): boolean {
    const other = commitmentsOf(this.deps.store, missionId).find((c) => c.plan.steps.some((s) => !c.over.has(s.id) && resolve(s.device, c) === device));
    if (other) {
      // Woken when the device ends a step, or when any robot gives nodes back.
      this.flights.book.waitFor(device, missionId);
      this.waitingForRoute.add(missionId);
    }
    return other !== undefined;
  }

  private budgetMs(m: Mission, step: Step): number {
    const estimate = (m.report as CheckReport).steps.find((s) => s.id === step.id);
    const budgetS = step.timeoutS ?? ((estimate ? estimate.endS - estimate.startS : 0) * TIMEOUT_FACTOR) / (this.deps.timeScale ?? 1) + TIMEOUT_MARGIN_S;
    return budgetS * 1000;
  }

  // ---- outcomes ------------------------------------------------------------------------------

  /** The step succeeded: its mission goes on first (its next step may need the same devices), then the missions that waited for them. */
  private succeed(f: Flight): void {
    const work = f.work;
    const woken = this.flights.end(f, false);
    this.write.step(f, 'succeeded', {}, work && 'succeeded');
    this.pump(f.missionId);
    for (const id of woken) this.pump(id);
  }

  /**
   * The step failed: its device drops the work first, then the step and its mission are marked
   * failed, and the mission's other steps are cancelled (their devices drop their work too).
   */
  private fail(f: Flight, reason: string, settle: OutboxOutcome = 'failed', status: 'failed' | 'cancelled' = 'failed', ended?: string): void {
    if (f.state === 'aborting' || f.state === 'ended') return;
    const entry = f.work?.id ?? ended;
    this.flights.abort(f, reason);
    this.write.stepOf(f.missionId, f.stepId, status, { reason }, entry ? { id: entry, outcome: settle } : undefined);
    const m = this.deps.store.missions.get(f.missionId);
    if (m?.status === 'running' || m?.status === 'paused') this.failMission(f.missionId, f.stepId, reason);
  }

  private failMission(missionId: string, stepId: string, reason: string): void {
    for (const other of this.flights.book.ofMission(missionId)) this.drop(other, `step '${stepId}' failed`);
    for (const s of this.deps.store.missions.get(missionId)?.steps ?? []) {
      if (s.status === 'pending') this.write.stepOf(missionId, s.id, 'cancelled', { reason: `not started: step '${stepId}' failed` });
      else if (inFlight(s.status)) this.write.stepOf(missionId, s.id, 'failed', { reason });
    }
    this.write.mission(missionId, 'failed', { step: stepId, reason });
    this.log.warn({ missionId, step: stepId, reason }, `mission ${missionId} failed: ${reason}`);
  }

  /** The flight's device drops its work, and its step is cancelled with the reason. */
  private drop(f: Flight, reason: string): void {
    if (f.state === 'aborting' || f.state === 'ended') return;
    const settle = f.work ? 'cancelled' : undefined;
    this.flights.abort(f, reason);
    this.write.step(f, 'cancelled', { reason }, settle);
  }

  // ---- recovery ------------------------------------------------------------------------------

  private get recovery(): RecoveryHost {
    return {
      store: this.deps.store,
      ports: this.deps.ports,
      book: this.flights.book,
      log: this.log,
      now: () => this.clock.now(),
      flight: (m, stepId, device, onto) => {
        const steps = stepsToRun(m.plan, m.report as CheckReport);
        const index = steps.findIndex((s) => s.id === stepId);
        return this.flights.create(m, steps[index]!, index, device, onto, this.budgetMs(m, steps[index]!));
      },
      deviceOf: (m, stepId) => resolve(stepsToRun(m.plan, m.report as CheckReport).find((s) => s.id === stepId)!.device, m.report as CheckReport),
      adopt: (m, f, work) => this.flights.adopt(m, f, work),
      holdOn: (f, elapsedMs) => this.flights.hold(f, elapsedMs),
      pauseUnknown: (m, reason) => {
        this.write.mission(m.id, 'paused', { reason });
        this.log.warn({ missionId: m.id }, reason);
      },
      start: (id) => this.start(id),
      pump: (id) => this.pump(id),
    };
  }
}

/** A role (`$courier`) → the device the check assigned it. */
export function resolve(ref: string, report: { readonly assignments: Readonly<Record<string, string>> }): string {
  return ref.startsWith('$') ? (report.assignments[ref.slice(1)] ?? ref) : ref;
}
