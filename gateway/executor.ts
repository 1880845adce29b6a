// The executor: runs approved missions on the fleet. A step is dispatched when its `after` steps
// have succeeded and its device is free and online; its status then follows what the device
// reports (VDA 5050 order progress, machine job ends), not timers, except for `wait` steps and
// the timeout that fails a step a device never finishes. Every step transition is written to
// the store (with its event) before anything is sent, so a step is never dispatched twice.
import { isStepFinal, type MissionStatus, type StepStatus } from '../planners/mission.ts';
import type { Step } from '../planners/plan.ts';
import type { CheckReport } from '../planners/report.ts';
import { findRoute } from '../planners/route.ts';
import type { FleetRegistry } from '../robots/fleet-registry.ts';
import type { MachineMaster } from '../robots/machine/master.ts';
import type { Vda5050Master } from '../robots/vda5050/master.ts';
import type { LoadedSite } from '../sim/site-folder.ts';
import { ApiError } from './errors.ts';
import type { EventHub } from './events.ts';
import type { StopRecord } from './store/stops.ts';
import type { Store } from './store/index.ts';
import { InvalidStepTransitionError, type Mission } from './store/missions.ts';

const ACTOR = 'executor';
/** A step's timeout when the plan gives none: the check's estimate × 3 + 60 s. */
export const TIMEOUT_FACTOR = 3;
export const TIMEOUT_MARGIN_S = 60;
/** How long a step waits for its device to come back online before it fails. */
export const OFFLINE_GRACE_MS = 60_000;

export interface ExecutorDeps {
  store: Store;
  site: LoadedSite;
  fleet: FleetRegistry;
  vda5050: Vda5050Master;
  machines: MachineMaster;
  hub?: EventHub;
  log?: (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void;
  /** Real-time divisor for the estimate-based timeouts (the virtual fleet's speed); default 1. */
  timeScale?: number;
  /** How long a step waits for its device to come back online before it fails; default 60 s. */
  offlineGraceMs?: number;
  /** The latched STOP (gateway/stop.ts): nothing is dispatched to a device it covers. */
  stops?: {
    stopFor(deviceId: string): StopRecord | undefined;
    onStop(listener: (stop: StopRecord) => void): () => void;
  };
}

/**
 * Steps that can be sent again after a STOP interrupted them: an AMR drives on from where it
 * stands; a machine or conveyor makes the parts still missing (the part in work when it stopped
 * is lost). An arm stopped mid-transfer may hold the part: that is for a person to sort out.
 */
const RESUMABLE = new Set(['navigate', 'pick', 'drop', 'charge', 'wait', 'machine.run', 'convey']);

interface Flight {
  missionId: string;
  stepId: string;
  device: string;
  kind: 'order' | 'command' | 'timer';
  /** VDA 5050 orderId or machine commandId. */
  ref?: string;
  timer?: NodeJS.Timeout;
  timeout?: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
}

export class Executor {
  private readonly flights = new Map<string, Flight>();
  /** Steps a STOP interrupted (mission/step keys → the device and command of the interrupted flight): dispatched again on resume. */
  private readonly interrupted = new Map<string, { device: string; ref?: string }>();
  /** Parts a machine step still has to make, after a STOP stopped it part way. */
  private readonly remaining = new Map<string, number>();
  private readonly offs: (() => void)[] = [];
  private closed = false;

  constructor(private readonly deps: ExecutorDeps) {
    this.offs.push(
      deps.vda5050.onOrderProgress((p) => {
        const f = this.flightBy('order', p.orderId);
        if (!f) return;
        if (p.finished) this.stepEnded(f, 'succeeded');
        else if (p.cancelled) this.stepEnded(f, 'cancelled', 'the order was cancelled');
        else if (p.failed) this.stepEnded(f, 'failed', `${f.device}: ${p.failed}`);
        else this.stepRunning(f);
      }),
      deps.machines.onAck((a) => {
        const f = this.flightBy('command', a.commandId);
        if (!f) return;
        if (a.result === 'accepted') this.stepRunning(f);
        else if (a.result !== 'duplicate') this.stepEnded(f, 'failed', `${f.device} ${a.result} the command${a.reason ? `: ${a.reason}` : ''}`);
      }),
      deps.machines.onJob((j) => {
        const f = this.flightBy('command', j.commandId);
        if (!f) return;
        if (j.outcome === 'done') this.stepEnded(f, 'succeeded');
        else this.stepEnded(f, j.outcome === 'stopped' ? 'cancelled' : 'failed', `${f.device} ended the job ${j.outcome}${j.errors.length ? `: ${j.errors.join('; ')}` : ''}`);
      }),
      deps.fleet.onChange((state) => this.deviceChanged(state.id, state.online)),
    );
    if (deps.stops) this.offs.push(deps.stops.onStop((stop) => this.stopped(stop)));
  }

  /**
   * A STOP was pressed (its devices are already told): the steps it interrupts are `blocked`
   * and the missions they belong to (every running mission, for `all`) are `paused`. They carry
   * on only when an operator has released the STOP and resumes them.
   */
  private stopped(stop: StopRecord): void {
    const inScope = (device: string) => stop.scope === 'all' || stop.devices.includes(device);
    const missions = new Set<string>();
    for (const f of [...this.flights.values()]) {
      if (!inScope(f.device)) continue;
      const stepId = f.stepId.split('#')[0]!;
      const main = this.flights.get(key(f.missionId, stepId)) ?? f;
      this.endFlight(main);
      this.setStep(f.missionId, stepId, 'blocked', { reason: `STOP: ${stop.reason}` });
      this.interrupted.set(key(f.missionId, stepId), { device: main.device, ...(main.ref ? { ref: main.ref } : {}) });
      missions.add(f.missionId);
    }
    if (stop.scope === 'all') for (const m of this.deps.store.missions.list({ status: ['running'], limit: 500 })) missions.add(m.id);
    for (const id of missions) {
      if (this.deps.store.missions.get(id)?.status !== 'running') continue;
      this.moveMission(id, 'paused', { reason: `STOP (${stop.scope}): ${stop.reason}` }, `stop:${stop.createdBy}`);
    }
  }

  /**
   * At start: missions the store says were running when the gateway stopped are paused, not
   * carried on blindly — what the devices did meanwhile is unknown to this process. An operator
   * resumes them (steps in flight then count as failed and the mission ends honestly).
   */
  recover(): void {
    for (const m of this.deps.store.missions.list({ status: ['running'], limit: 500 })) {
      this.deps.store.missions.transition(m.id, 'paused', ACTOR, { reason: 'the gateway restarted while the mission ran; resume it to go on' });
      this.emitMission(m.id, 'paused', 'the gateway restarted while the mission ran');
    }
    for (const m of this.deps.store.missions.list({ status: ['approved'], limit: 500 })) this.start(m.id);
  }

  /** An approved mission starts running. */
  start(missionId: string): void {
    const m = this.deps.store.missions.get(missionId);
    if (!m || m.status !== 'approved') return;
    this.moveMission(m.id, 'running');
    this.pump(m.id);
  }

  pause(missionId: string, actor: string): Mission {
    const m = this.moveMission(missionId, 'paused', undefined, actor);
    for (const f of this.flightsOf(missionId)) if (f.kind === 'order') void this.deps.vda5050.instantAction(f.device, 'startPause').catch(() => {});
    return m;
  }

  resume(missionId: string, actor: string): Mission {
    const current = this.deps.store.missions.get(missionId);
    if (current?.status === 'paused') {
      const report = current.report as CheckReport;
      const devices = new Set(current.plan.steps.flatMap((s, i) => (current.steps[i]?.status === 'succeeded' ? [] : [this.resolve(s.device, report)])));
      const stop = [...devices].map((d) => this.deps.stops?.stopFor(d)).find((x) => x !== undefined);
      if (stop) throw new ApiError('STOP_ACTIVE', `a STOP (${stop.scope}: ${stop.reason}) covers devices of mission ${missionId}; release it first`, { stop: stop.id });
    }
    const m = this.moveMission(missionId, 'running', undefined, actor);
    // Steps left in flight by a restart have no live flight: their outcome is unknown, so they fail.
    const live = new Set(this.flightsOf(missionId).map((f) => f.stepId));
    const orphan = m.steps.find(
      (s) => (s.status === 'dispatched' || s.status === 'running' || s.status === 'blocked') && !live.has(s.id) && !this.interrupted.has(key(m.id, s.id)),
    );
    if (orphan) {
      this.failMission(m.id, orphan.id, `step '${orphan.id}' was in flight when the gateway restarted; its outcome is unknown`);
      return this.deps.store.missions.get(m.id)!;
    }
    for (const f of this.flightsOf(missionId)) if (f.kind === 'order') void this.deps.vda5050.instantAction(f.device, 'stopPause').catch(() => {});
    this.pump(m.id);
    return this.deps.store.missions.get(m.id)!;
  }

  /** Stops what is in flight and cancels the steps; the mission itself is moved by the caller. */
  cancelWork(missionId: string): void {
    for (const f of this.flightsOf(missionId)) {
      this.abort(f);
      this.endFlight(f);
      this.setStep(missionId, f.stepId, 'cancelled', { reason: 'the mission was cancelled' });
    }
    // Steps without a live flight too: not yet started, interrupted by a STOP, or in flight before a restart.
    const m = this.deps.store.missions.get(missionId);
    for (const s of m?.steps ?? []) {
      if (!isStepFinal(s.status)) this.setStep(missionId, s.id, 'cancelled', { reason: 'the mission was cancelled' });
      this.interrupted.delete(key(missionId, s.id));
    }
  }

  close(): void {
    this.closed = true;
    for (const off of this.offs.splice(0)) off();
    for (const f of this.flights.values()) this.endFlight(f);
  }

  // ---- dispatching ---------------------------------------------------------------------------

  /** Dispatch every step of the mission that may go now; finish the mission when all are done. */
  private pump(missionId: string): void {
    if (this.closed) return;
    const m = this.deps.store.missions.get(missionId);
    if (!m || m.status !== 'running') return;
    const status = new Map(m.steps.map((s) => [s.id, s.status]));
    if (m.steps.every((s) => s.status === 'succeeded')) {
      this.moveMission(m.id, 'succeeded');
      return;
    }
    const report = m.report as CheckReport;
    for (const step of m.plan.steps) {
      const again = status.get(step.id) === 'blocked' && this.interrupted.has(key(m.id, step.id));
      if (status.get(step.id) !== 'pending' && !again) continue;
      if (again && !RESUMABLE.has(step.action)) {
        this.failMission(m.id, step.id, `step '${step.id}' (${step.action}) was interrupted by a STOP mid-job; repeating it is not safe, so the mission ends here`);
        return;
      }
      if (!(step.after ?? []).every((d) => status.get(d) === 'succeeded')) continue;
      const device = this.resolve(step.device, report);
      const targetAmr = step.action === 'arm.transfer' && !this.deps.site.index.station(step.params.to) ? this.resolve(step.params.to, report) : undefined;
      const devices = [device, ...(targetAmr ? [targetAmr] : [])];
      if (devices.some((d) => this.busy(d) || this.deps.fleet.get(d)?.online !== true || this.deps.stops?.stopFor(d))) continue;
      if (again && (step.action === 'machine.run' || step.action === 'convey')) {
        // The stopped job's state says how many parts it finished.
        const was = this.interrupted.get(key(m.id, step.id))!;
        const state = this.deps.fleet.get(was.device);
        const done = state?.job?.commandId === was.ref ? (state?.partsProduced ?? 0) : 0;
        const left = (this.remaining.get(key(m.id, step.id)) ?? step.params.count) - done;
        if (left <= 0) {
          this.interrupted.delete(key(m.id, step.id));
          this.setStep(m.id, step.id, 'running', { reason: 'every part was made before the STOP' });
          this.setStep(m.id, step.id, 'succeeded', {});
          status.set(step.id, 'succeeded');
          continue;
        }
        this.remaining.set(key(m.id, step.id), left);
      }
      this.interrupted.delete(key(m.id, step.id));
      this.dispatch(m, step, device, targetAmr);
      status.set(step.id, 'dispatched');
    }
    if ([...status.values()].every((x) => x === 'succeeded')) this.moveMission(m.id, 'succeeded');
  }

  private dispatch(m: Mission, step: Step, device: string, targetAmr: string | undefined): void {
    const flight: Flight = { missionId: m.id, stepId: step.id, device, kind: 'timer' };
    try {
      this.deps.store.missions.transitionStep(m.id, step.id, 'dispatched', ACTOR, { device, ...(targetAmr ? { amr: targetAmr } : {}) });
    } catch (err) {
      if (err instanceof InvalidStepTransitionError) return; // already dispatched: never twice
      throw err;
    }
    this.deps.hub?.publish('step', { missionId: m.id, step: step.id, status: 'dispatched', device });
    this.flights.set(key(m.id, step.id), flight);
    if (targetAmr) this.flights.set(key(m.id, `${step.id}#${targetAmr}`), { missionId: m.id, stepId: `${step.id}#${targetAmr}`, device: targetAmr, kind: 'timer', ref: 'holds' });
    const estimate = (m.report as CheckReport).steps.find((s) => s.id === step.id);
    const budgetS = step.timeoutS ?? ((estimate ? estimate.endS - estimate.startS : 0) * TIMEOUT_FACTOR) / (this.deps.timeScale ?? 1) + TIMEOUT_MARGIN_S;
    flight.timeout = setTimeout(() => this.stepEnded(flight, 'failed', `step '${step.id}' did not finish within ${budgetS.toFixed(0)} s`), budgetS * 1000);
    flight.timeout.unref?.();

    const fail = (err: unknown) => this.stepEnded(flight, 'failed', `${device}: ${(err as Error).message}`);
    switch (step.action) {
      case 'wait':
        flight.timer = setTimeout(() => this.stepEnded(flight, 'succeeded'), (step.params.seconds * 1000) / (this.deps.timeScale ?? 1));
        this.stepRunning(flight);
        return;
      case 'navigate':
      case 'pick':
      case 'drop':
      case 'charge': {
        const target = step.action === 'navigate' ? step.params.to : step.params.at;
        const route = target === undefined ? undefined : this.route(device, target);
        if (!route) return fail(new Error(`no route from where ${device} is to '${target ?? 'a charger'}'`));
        const actionsAtEnd = step.action === 'pick' ? (['pick'] as const) : step.action === 'drop' ? (['drop'] as const) : step.action === 'charge' ? (['startCharging'] as const) : [];
        // A new orderId per dispatch: a step dispatched again after a STOP must not look like the cancelled order.
        const orderId = `${m.id}.${step.id}.${this.attempt(m.id, step.id)}`;
        flight.kind = 'order';
        flight.ref = orderId;
        this.deps.vda5050.sendOrder(device, { route, actionsAtEnd: [...actionsAtEnd], orderId }).catch(fail);
        return;
      }
      case 'machine.run':
      case 'convey':
      case 'arm.transfer': {
        const count = this.remaining.get(key(m.id, step.id));
        const request =
          step.action === 'machine.run'
            ? { action: 'run' as const, program: step.params.program, count: count ?? step.params.count }
            : step.action === 'convey'
              ? { action: 'convey' as const, count: count ?? step.params.count }
              : { action: 'transfer' as const, from: step.params.from, to: targetAmr ?? step.params.to };
        // The command id is chosen here, so an acknowledgement can never arrive before the flight knows it.
        flight.kind = 'command';
        flight.ref = `${m.id}-s${m.plan.steps.indexOf(step)}-${this.attempt(m.id, step.id)}`;
        this.deps.machines.command(device, request, { commandId: flight.ref }).catch(fail);
        return;
      }
    }
  }

  /** Node ids from where the AMR stands to `target` (a station or node). */
  private route(device: string, target: string): string[] | undefined {
    const { site, fleet } = this.deps;
    const amr = site.index.device(device);
    const at = fleet.get(device)?.at;
    const to = site.index.locate(target)?.id;
    if (amr?.kind !== 'amr' || !at || !to) return undefined;
    const r = findRoute(site.graph, at, to, amr.limits);
    return r.ok ? r.route.nodes : undefined;
  }

  private resolve(ref: string, report: CheckReport): string {
    return ref.startsWith('$') ? (report.assignments[ref.slice(1)] ?? ref) : ref;
  }

  private busy(device: string): boolean {
    for (const f of this.flights.values()) if (f.device === device) return true;
    return false;
  }

  // ---- outcomes ------------------------------------------------------------------------------

  private stepRunning(f: Flight): void {
    const m = this.deps.store.missions.get(f.missionId);
    const s = m?.steps.find((x) => x.id === f.stepId);
    if (s?.status === 'dispatched' || s?.status === 'blocked') {
      this.setStep(f.missionId, f.stepId, 'running', { device: f.device });
    }
  }

  private stepEnded(f: Flight, outcome: 'succeeded' | 'failed' | 'cancelled', reason?: string): void {
    if (!this.flights.has(key(f.missionId, f.stepId))) return;
    this.endFlight(f);
    this.setStep(f.missionId, f.stepId, outcome, reason ? { reason } : {});
    if (outcome === 'succeeded') {
      this.pump(f.missionId);
      return;
    }
    const m = this.deps.store.missions.get(f.missionId);
    if (m && (m.status === 'running' || m.status === 'paused')) {
      if (outcome === 'failed') this.failMission(f.missionId, f.stepId, reason ?? `step '${f.stepId}' failed`);
      else if (m.status === 'running') this.failMission(f.missionId, f.stepId, reason ?? `step '${f.stepId}' was cancelled`);
    }
  }

  /** A step failed: nothing more starts, what is in flight is stopped, the mission fails with the reason. */
  private failMission(missionId: string, stepId: string, reason: string): void {
    for (const other of this.flightsOf(missionId)) {
      this.abort(other);
      this.endFlight(other);
      this.setStep(missionId, other.stepId, 'cancelled', { reason: `step '${stepId}' failed` });
    }
    const m = this.deps.store.missions.get(missionId);
    for (const s of m?.steps ?? []) {
      if (s.status === 'pending') this.setStep(missionId, s.id, 'cancelled', { reason: `not started: step '${stepId}' failed` });
      else if (s.status === 'dispatched' || s.status === 'running' || s.status === 'blocked') this.setStep(missionId, s.id, 'failed', { reason });
    }
    this.moveMission(missionId, 'failed', { step: stepId, reason });
  }

  private deviceChanged(device: string, online: boolean): void {
    for (const f of [...this.flights.values()].filter((x) => x.device === device && !x.ref?.startsWith('holds'))) {
      if (!online && !f.grace) {
        this.setStep(f.missionId, f.stepId, 'blocked', { reason: `${device} went offline` });
        this.deps.hub?.publish('alert', { missionId: f.missionId, step: f.stepId, device, message: `${device} went offline during step '${f.stepId}'` });
        const grace = this.deps.offlineGraceMs ?? OFFLINE_GRACE_MS;
        f.grace = setTimeout(() => this.stepEnded(f, 'failed', `${device} stayed offline for ${grace / 1000} s`), grace);
        f.grace.unref?.();
      } else if (online && f.grace) {
        clearTimeout(f.grace);
        f.grace = undefined;
        this.stepRunning(f);
      }
    }
    if (online) for (const m of this.deps.store.missions.list({ status: ['running'], limit: 500 })) this.pump(m.id);
  }

  private abort(f: Flight): void {
    if (f.kind === 'order') void this.deps.vda5050.instantAction(f.device, 'cancelOrder').catch(() => {});
    if (f.kind === 'command') void this.deps.machines.command(f.device, { action: 'stop' }).catch(() => {});
  }

  private endFlight(f: Flight): void {
    clearTimeout(f.timer);
    clearTimeout(f.timeout);
    clearTimeout(f.grace);
    this.flights.delete(key(f.missionId, f.stepId));
    for (const [k, other] of this.flights) if (other.missionId === f.missionId && other.stepId.startsWith(`${f.stepId}#`)) this.flights.delete(k);
    // Anything waiting for this device may go now.
    queueMicrotask(() => {
      if (this.closed) return;
      for (const m of this.deps.store.missions.list({ status: ['running'], limit: 500 })) if (m.id !== f.missionId) this.pump(m.id);
    });
  }

  /** How many times the step was dispatched (from the store's events): ids stay unique when a STOP makes it go again. */
  private attempt(missionId: string, stepId: string): number {
    return this.deps.store.missions.events(missionId).filter((e) => e.type === 'step.dispatched' && (e.data as { step?: string } | null)?.step === stepId).length;
  }

  private flightBy(kind: Flight['kind'], ref: string): Flight | undefined {
    for (const f of this.flights.values()) if (f.kind === kind && f.ref === ref) return f;
    return undefined;
  }

  private flightsOf(missionId: string): Flight[] {
    return [...this.flights.values()].filter((f) => f.missionId === missionId && !f.stepId.includes('#'));
  }

  private setStep(missionId: string, stepId: string, to: StepStatus, data: Record<string, unknown>): void {
    try {
      this.deps.store.missions.transitionStep(missionId, stepId, to, ACTOR, data);
      this.deps.hub?.publish('step', { missionId, step: stepId, status: to, ...data });
    } catch (err) {
      if (!(err instanceof InvalidStepTransitionError)) throw err;
    }
  }

  private moveMission(missionId: string, to: MissionStatus, data?: Record<string, unknown>, actor = ACTOR): Mission {
    const m = this.deps.store.missions.transition(missionId, to, actor, data);
    this.emitMission(missionId, to, data?.reason as string | undefined);
    return m;
  }

  private emitMission(missionId: string, status: MissionStatus, reason?: string): void {
    this.deps.hub?.publish('mission', { id: missionId, status, ...(reason ? { reason } : {}) });
  }
}

function key(missionId: string, stepId: string): string {
  return `${missionId}/${stepId}`;
}
