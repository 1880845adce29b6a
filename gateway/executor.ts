// The executor: runs approved missions on the fleet. A step is dispatched when its `after` steps
// have succeeded and its device is free and online; its status then follows what the device
// reports (VDA 5050 order progress, machine job ends), not timers, except for `wait` steps and
// the timeout that fails a step a device never finishes. Every step transition is written to
// the store (with its event) before anything is sent, so a step is never dispatched twice.
//
// Every order and machine command goes through the outbox (gateway/store/outbox.ts): stored with
// its expiry in the transaction that dispatches the step, then published, and published again
// until the device shows it has it or the command expires — delivery is retried, work never is
// (a step that fails is not run again). A restarted gateway takes over what is still open and
// asks the devices what became of it: an order a vehicle already runs is followed, not sent again;
// a machine command is sent again only if the machine never started it (its commandId makes that
// safe); a command past its expiry is never sent and its step fails, saying so.
import { isStepFinal, type MissionStatus, type StepStatus } from '../planners/mission.ts';
import type { Step } from '../planners/plan.ts';
import type { CheckReport } from '../planners/report.ts';
import { findRoute } from '../planners/route.ts';
import { protocolOf } from '../planners/site.ts';
import type { FleetRegistry } from '../robots/fleet-registry.ts';
import type { MachineMaster } from '../robots/machine/master.ts';
import { JOB_END_STATES, MACHINE_STATES, type MachineCommand } from '../robots/machine/schemas.ts';
import type { Ros2Adapter } from '../robots/ros2/adapter.ts';
import { routePoses } from '../robots/ros2/poses.ts';
import type { Vda5050Master } from '../robots/vda5050/master.ts';
import { DEFAULT_DEVIATION_XY } from '../robots/vda5050/order.ts';
import type { Order } from '../robots/vda5050/schemas.ts';
import type { LoadedSite } from '../sim/site-folder.ts';
import { ApiError } from './errors.ts';
import type { EventHub } from './events.ts';
import type { StopRecord } from './store/stops.ts';
import type { Store } from './store/index.ts';
import { InvalidStepTransitionError, type Mission } from './store/missions.ts';
import type { OutboxEntry, OutboxOutcome } from './store/outbox.ts';

const ACTOR = 'executor';
/** A step's timeout when the plan gives none: the check's estimate × 3 + 60 s. */
export const TIMEOUT_FACTOR = 3;
export const TIMEOUT_MARGIN_S = 60;
/** How long a step waits for its device to come back online before it fails. */
export const OFFLINE_GRACE_MS = 60_000;
/** How long an order or command may take to reach its device; after that it is never sent. */
export const COMMAND_TTL_MS = 10_000;
/** How long to wait for a device to show it has a command before publishing it again. */
export const RESEND_MS = 2_000;

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
  /** Lifetime of an order or command (COMMAND_TTL_MS). */
  commandTtlMs?: number;
  /** Delivery retry interval (RESEND_MS). */
  resendMs?: number;
  now?: () => Date;
  /** Devices with a `ros2` block (PHYGATE_ROS2=on): their AMR steps become Nav2 goals. */
  ros2?: Pick<Ros2Adapter, 'navigateThrough' | 'cancel'>;
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
  kind: 'order' | 'command' | 'goal' | 'timer';
  /** VDA 5050 orderId, machine commandId or ROS 2 goal id. */
  ref?: string;
  /** The outbox entry of its order or command. */
  entry?: Pick<OutboxEntry, 'id' | 'channel' | 'message' | 'expiresAt'>;
  /** The device showed it has the order or answered the command: no more sends. */
  acked?: boolean;
  /** Taken over from the outbox at start: waiting for the device's state to tell what became of it. */
  adopted?: boolean;
  timer?: NodeJS.Timeout;
  timeout?: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
  resend?: NodeJS.Timeout;
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
        f.acked = true;
        if (p.finished) this.stepEnded(f, 'succeeded');
        else if (p.cancelled) this.stepEnded(f, 'cancelled', 'the order was cancelled');
        else if (p.failed) this.stepEnded(f, 'failed', `${f.device}: ${p.failed}`);
        else this.stepRunning(f);
      }),
      deps.machines.onAck((a) => {
        const f = this.flightBy('command', a.commandId);
        if (!f) return;
        f.acked = true;
        if (a.result === 'accepted') this.stepRunning(f);
        else if (a.result === 'duplicate') {
          // A command sent again that the machine had: fine if the job is ours, else its outcome is unknown.
          if (this.deps.fleet.get(f.device)?.job?.commandId !== f.ref) this.stepEnded(f, 'failed', `${f.device} had the command already but reports no job of it: its outcome is unknown`);
        } else this.stepEnded(f, 'failed', `${f.device} ${a.result} the command${a.reason ? `: ${a.reason}` : ''}`, a.result === 'expired' ? 'expired' : 'failed');
      }),
      deps.machines.onJob((j) => {
        const f = this.flightBy('command', j.commandId);
        if (!f) return;
        if (j.outcome === 'done') this.stepEnded(f, 'succeeded');
        else this.stepEnded(f, j.outcome === 'stopped' ? 'cancelled' : 'failed', `${f.device} ended the job ${j.outcome}${j.errors.length ? `: ${j.errors.join('; ')}` : ''}`);
      }),
      deps.fleet.onChange((state) => {
        for (const f of [...this.flights.values()]) if (f.adopted && f.device === state.id) this.reconcile(f);
        this.deviceChanged(state.id, state.online);
      }),
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
      this.interrupt(this.flights.get(key(f.missionId, stepId)) ?? f, stepId, `STOP: ${stop.reason}`);
      missions.add(f.missionId);
    }
    if (stop.scope === 'all') for (const m of this.deps.store.missions.list({ status: ['running'], limit: 500 })) missions.add(m.id);
    for (const id of missions) {
      if (this.deps.store.missions.get(id)?.status !== 'running') continue;
      this.moveMission(id, 'paused', { reason: `STOP (${stop.scope}): ${stop.reason}` }, `stop:${stop.createdBy}`);
    }
  }

  /** The step's flight ends without an outcome: the step is `blocked` and goes again on resume (RESUMABLE). */
  private interrupt(f: Flight, stepId: string, reason: string): void {
    this.endFlight(f);
    this.setStep(f.missionId, stepId, 'blocked', { reason }, f.entry && { id: f.entry.id, outcome: 'stopped' });
    this.interrupted.set(key(f.missionId, stepId), { device: f.device, ...(f.ref ? { ref: f.ref } : {}) });
  }

  /**
   * At start, after the device masters are listening: every order or command still open in the
   * outbox is taken over and reconciled with what its device reports (see the top of this file);
   * steps a STOP interrupted are known again from their settled entries, so resume works as
   * before the restart; `wait` steps wait for the time they had left. Missions that were running
   * go on. A step in flight with nothing in the outbox (a database from before the outbox) has an
   * unknown outcome: its mission is paused, and resuming it ends it honestly.
   */
  recover(): void {
    const { missions, outbox } = this.deps.store;
    for (const entry of outbox.open()) {
      const m = missions.get(entry.missionId);
      const step = m?.steps.find((s) => s.id === entry.stepId);
      if (m && (m.status === 'running' || m.status === 'paused') && step && inFlight(step.status)) this.adopt(m, entry);
      else outbox.settle(entry.id, 'abandoned', this.now());
    }
    for (const m of missions.list({ status: ['running', 'paused'], limit: 500 })) {
      let unknown: string | undefined;
      for (const s of m.steps) {
        if (!inFlight(s.status) || this.flights.has(key(m.id, s.id))) continue;
        const last = outbox.ofStep(m.id, s.id).at(-1);
        const def = m.plan.steps.find((x) => x.id === s.id);
        if (s.status === 'blocked' && last?.outcome === 'stopped') {
          this.interrupted.set(key(m.id, s.id), { device: last.device, ref: last.id });
          const count = (last.message as { count?: unknown }).count;
          if (typeof count === 'number') this.remaining.set(key(m.id, s.id), count);
        } else if (def?.action === 'wait' && s.status !== 'blocked') {
          const since = this.deps.store.missions.events(m.id).filter((e) => e.type === 'step.dispatched' && (e.data as { step?: string } | null)?.step === s.id).at(-1);
          const elapsed = since ? this.now().getTime() - Date.parse(since.at) : 0;
          const flight: Flight = { missionId: m.id, stepId: s.id, device: this.resolve(def.device, m.report as CheckReport), kind: 'timer' };
          this.flights.set(key(m.id, s.id), flight);
          this.armTimeout(flight, m, def);
          this.startWait(flight, def.params.seconds, elapsed);
        } else unknown ??= s.id;
      }
      if (unknown && m.status === 'running') {
        this.deps.store.missions.transition(m.id, 'paused', ACTOR, { reason: `the gateway restarted while step '${unknown}' was in flight and has no record of its command; resume it to go on` });
        this.emitMission(m.id, 'paused', 'the gateway restarted while the mission ran');
      }
    }
    for (const m of missions.list({ status: ['approved'], limit: 500 })) this.start(m.id);
    for (const m of missions.list({ status: ['running'], limit: 500 })) this.pump(m.id);
  }

  /** Takes over an open outbox entry of a step in flight (recover). */
  private adopt(m: Mission, entry: OutboxEntry): void {
    const def = m.plan.steps.find((x) => x.id === entry.stepId)!;
    const flight: Flight = {
      missionId: m.id,
      stepId: entry.stepId,
      device: entry.device,
      kind: entry.channel === 'vda5050.order' ? 'order' : 'command',
      ref: entry.id,
      entry,
      adopted: true,
    };
    this.flights.set(key(m.id, entry.stepId), flight);
    const to = (entry.message as { action?: string; to?: string }).action === 'transfer' ? (entry.message as { to: string }).to : undefined;
    if (to && this.deps.site.index.device(to)) this.hold(m.id, entry.stepId, to);
    this.armTimeout(flight, m, def);
    this.log('info', `taking over ${entry.channel} ${entry.id} of step '${entry.stepId}' on ${entry.device}`, { missionId: m.id });
    if (flight.kind === 'order') this.deps.vda5050.adoptOrder(entry.device, entry.message as Order);
    if (m.status === 'paused' && flight.kind === 'order') void this.deps.vda5050.instantAction(entry.device, 'startPause').catch(() => {});
    this.reconcile(flight);
    // A device that has not reported shortly after the start is treated as gone offline mid-step.
    const check = setTimeout(() => {
      if (flight.adopted && this.flights.get(key(m.id, entry.stepId)) === flight && this.deps.fleet.get(entry.device)?.online !== true) this.deviceChanged(entry.device, false);
    }, this.resendMs);
    check.unref?.();
  }

  /**
   * What became of a taken-over order or command, once its device has reported since the start:
   * the vehicle runs (or ran) the order, or the machine's job is (or was) this command, and its
   * outcome follows as usual; otherwise the device never got it, and it is sent again unless it
   * expired.
   */
  private reconcile(f: Flight): void {
    if (!f.adopted || !this.flights.has(key(f.missionId, f.stepId))) return;
    const state = this.deps.fleet.get(f.device);
    if (f.kind === 'order') {
      const vehicle = this.deps.vda5050.lastState(f.device);
      if (!vehicle || !state?.online) return;
      f.adopted = false;
      if (vehicle.orderId === f.ref) f.acked = true; // its progress arrives from the master as usual
      else this.deliver(f);
      return;
    }
    if (!state?.online || !(MACHINE_STATES as readonly string[]).includes(state.state)) return;
    f.adopted = false;
    if (state.job?.commandId !== f.ref) return this.deliver(f);
    f.acked = true;
    if (state.state === 'running') this.stepRunning(f);
    else if (state.state === 'done') this.stepEnded(f, 'succeeded');
    else if ((JOB_END_STATES as readonly string[]).includes(state.state)) {
      this.stepEnded(f, state.state === 'stopped' ? 'cancelled' : 'failed', `${f.device} ended the job ${state.state}${state.errors?.length ? `: ${state.errors.join('; ')}` : ''}`);
    }
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
    for (const f of this.flightsOf(missionId)) {
      if (f.kind === 'order') void this.deps.vda5050.instantAction(f.device, 'startPause').catch(() => {});
      if (f.kind === 'goal') {
        // Nav2 cannot pause a goal: it is cancelled, and sent again from where the robot stands on resume.
        this.interrupt(f, f.stepId, 'paused: the Nav2 goal was cancelled; resume sends it again');
        void this.deps.ros2?.cancel(f.device, 'the mission was paused').catch(() => {});
      }
    }
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
      this.setStep(missionId, f.stepId, 'cancelled', { reason: 'the mission was cancelled' }, f.entry && { id: f.entry.id, outcome: 'cancelled' });
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
      const was = this.interrupted.get(key(m.id, step.id));
      this.interrupted.delete(key(m.id, step.id));
      this.dispatch(m, step, device, targetAmr, was?.ref);
      status.set(step.id, 'dispatched');
    }
    if ([...status.values()].every((x) => x === 'succeeded')) this.moveMission(m.id, 'succeeded');
  }

  /** `interrupted`: the order or command a STOP interrupted, when the step goes again. */
  private dispatch(m: Mission, step: Step, device: string, targetAmr: string | undefined, interrupted?: string): void {
    const flight: Flight = { missionId: m.id, stepId: step.id, device, kind: 'timer' };
    let sending: Flight['entry'];
    let problem: Error | undefined;
    const overRos2 = this.overRos2(device);
    try {
      if (!overRos2) sending = this.prepare(m, step, device, targetAmr, interrupted);
    } catch (err) {
      problem = err as Error;
    }
    try {
      // The step is dispatched and its command stored in one transaction: a crash leaves both or neither.
      this.deps.store.db.transaction(() => {
        this.deps.store.missions.transitionStep(m.id, step.id, 'dispatched', ACTOR, { device, ...(targetAmr ? { amr: targetAmr } : {}) });
        if (sending) this.deps.store.outbox.add({ ...sending, missionId: m.id, stepId: step.id, device, at: this.now() });
      })();
    } catch (err) {
      if (err instanceof InvalidStepTransitionError) return; // already dispatched: never twice
      throw err;
    }
    this.deps.hub?.publish('step', { missionId: m.id, step: step.id, status: 'dispatched', device });
    this.flights.set(key(m.id, step.id), flight);
    if (targetAmr) this.hold(m.id, step.id, targetAmr);
    this.armTimeout(flight, m, step);
    if (problem) return this.stepEnded(flight, 'failed', `${device}: ${problem.message}`);
    if (step.action === 'wait') {
      this.startWait(flight, step.params.seconds, 0);
      return;
    }
    if (overRos2) return this.sendGoal(flight, m, step);
    flight.kind = sending!.channel === 'vda5050.order' ? 'order' : 'command';
    flight.ref = sending!.id;
    flight.entry = sending;
    this.deliver(flight);
  }

  private overRos2(device: string): boolean {
    const d = this.deps.site.index.device(device);
    return d !== undefined && protocolOf(d) === 'ros2';
  }

  /**
   * A step of a device driven over ROS 2: an AMR's step is a Nav2 NavigateThroughPoses goal along
   * the route the check planned (pick, drop and charge are the drive to their station: ROS 2 has
   * no standard action for the load itself). Its outcome ends the step. ROS 2 goals are not in the
   * outbox: after a gateway restart such a step's outcome is unknown and its mission ends.
   */
  private sendGoal(flight: Flight, m: Mission, step: Step): void {
    const { device } = flight;
    const ros2 = this.deps.ros2;
    if (!ros2) return this.stepEnded(flight, 'failed', `${device} is driven over ROS 2, and this gateway runs without it (PHYGATE_ROS2=off)`);
    if (step.action !== 'navigate' && step.action !== 'pick' && step.action !== 'drop' && step.action !== 'charge') {
      return this.stepEnded(flight, 'failed', `${device}: '${step.action}' over ROS 2 needs a trajectory for each station, which a site cannot describe yet`);
    }
    const target = step.action === 'navigate' ? step.params.to : step.params.at;
    const route = target === undefined ? undefined : this.route(device, target);
    if (!route || target === undefined) return this.stepEnded(flight, 'failed', `${device}: no route from where it is to '${target ?? 'a charger'}'`);
    flight.kind = 'goal';
    flight.ref = `${m.id}.${step.id}.${Date.now().toString(36)}`;
    let goal: ReturnType<typeof ros2.navigateThrough>;
    try {
      goal = ros2.navigateThrough(device, routePoses(this.deps.site.index, route.nodes, this.deps.site.index.station(target)?.theta), {
        goalId: flight.ref,
        onProgress: () => this.stepRunning(flight),
      });
    } catch (err) {
      return this.stepEnded(flight, 'failed', `${device}: ${(err as Error).message}`);
    }
    void goal.outcome.then((o) => {
      if (o.status === 'succeeded') this.stepEnded(flight, 'succeeded');
      else this.stepEnded(flight, o.status, `${device}: ${o.reason}`);
    });
  }

  /** The order or command a step sends, built and checked (not sent); none for `wait`. */
  private prepare(m: Mission, step: Step, device: string, targetAmr: string | undefined, interrupted?: string): Flight['entry'] {
    const ttlMs = this.deps.commandTtlMs ?? COMMAND_TTL_MS;
    switch (step.action) {
      case 'wait':
        return undefined;
      case 'navigate':
      case 'pick':
      case 'drop':
      case 'charge': {
        const target = step.action === 'navigate' ? step.params.to : step.params.at;
        const route = target === undefined ? undefined : this.route(device, target, interrupted);
        if (!route) throw new Error(`no route from where ${device} is to '${target ?? 'a charger'}'`);
        const actionsAtEnd = step.action === 'pick' ? (['pick'] as const) : step.action === 'drop' ? (['drop'] as const) : step.action === 'charge' ? (['startCharging'] as const) : [];
        // A new orderId per dispatch: a step dispatched again after a STOP must not look like the cancelled order.
        const orderId = `${m.id}.${step.id}.${this.attempt(m.id, step.id)}`;
        const order = this.deps.vda5050.prepareOrder(device, { route: route.nodes, actionsAtEnd: [...actionsAtEnd], orderId, ...(route.startDeviationXY ? { startDeviationXY: route.startDeviationXY } : {}) });
        return { id: orderId, channel: 'vda5050.order', message: order as unknown as Record<string, unknown>, expiresAt: new Date(this.now().getTime() + ttlMs).toISOString() };
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
        const commandId = `${m.id}-s${m.plan.steps.indexOf(step)}-${this.attempt(m.id, step.id)}`;
        const command = this.deps.machines.prepareCommand(device, request, { commandId, ttlMs });
        return { id: commandId, channel: 'machine.command', message: command as unknown as Record<string, unknown>, expiresAt: command.expiresAt };
      }
    }
  }

  /**
   * Publishes the flight's order or command, and again every `resendMs` until the device shows it
   * has it (QoS 0 orders can be lost; a vehicle discards an order it already has, a machine a
   * commandId it saw). Past its expiry it is never sent: the step fails.
   */
  private deliver(f: Flight): void {
    const entry = f.entry!;
    if (this.closed || f.acked || this.flights.get(key(f.missionId, f.stepId)) !== f) return;
    if (this.now().getTime() >= Date.parse(entry.expiresAt)) {
      const what = entry.channel === 'vda5050.order' ? 'order' : 'command';
      this.stepEnded(f, 'failed', `${f.device} did not take the ${what} for step '${f.stepId}' before it expired at ${entry.expiresAt}; it is not sent again`, 'expired');
      return;
    }
    clearTimeout(f.resend);
    f.resend = setTimeout(() => this.deliver(f), this.resendMs);
    f.resend.unref?.();
    // Paused: nothing goes out until it is resumed (its expiry still runs).
    if (this.deps.store.missions.get(f.missionId)?.status !== 'running') return;
    const sent = entry.channel === 'vda5050.order' ? this.deps.vda5050.publishOrder(f.device, entry.message as unknown as Order) : this.deps.machines.publish(f.device, entry.message as unknown as MachineCommand);
    sent.then(
      () => this.deps.store.outbox.published(entry.id, this.now()),
      (err: Error) => this.log('warn', `${entry.channel} ${entry.id} to ${f.device} not published (sent again in ${this.resendMs} ms): ${err.message}`),
    );
  }

  private armTimeout(flight: Flight, m: Mission, step: Step): void {
    const estimate = (m.report as CheckReport).steps.find((s) => s.id === step.id);
    const budgetS = step.timeoutS ?? ((estimate ? estimate.endS - estimate.startS : 0) * TIMEOUT_FACTOR) / (this.deps.timeScale ?? 1) + TIMEOUT_MARGIN_S;
    flight.timeout = setTimeout(() => this.stepEnded(flight, 'failed', `step '${step.id}' did not finish within ${budgetS.toFixed(0)} s`), budgetS * 1000);
    flight.timeout.unref?.();
  }

  private startWait(flight: Flight, seconds: number, elapsedMs: number): void {
    const ms = Math.max(0, (seconds * 1000) / (this.deps.timeScale ?? 1) - elapsedMs);
    flight.timer = setTimeout(() => this.stepEnded(flight, 'succeeded'), ms);
    this.stepRunning(flight);
  }

  /** The AMR an arm loads is busy until the transfer ends. */
  private hold(missionId: string, stepId: string, amr: string): void {
    this.flights.set(key(missionId, `${stepId}#${amr}`), { missionId, stepId: `${stepId}#${amr}`, device: amr, kind: 'timer', ref: 'holds' });
  }

  /**
   * Node ids from where the AMR stands to `target` (a station or node). An AMR a STOP halted
   * between two nodes (`interrupted`: the order it was driving) goes on along the edge it is on,
   * to that order's next node, and on from there: its order starts at its last node with a
   * deviation that covers where it stands, so it never cuts across the floor off the graph.
   */
  private route(device: string, target: string, interrupted?: string): { nodes: string[]; startDeviationXY?: number } | undefined {
    const { site, fleet } = this.deps;
    const amr = site.index.device(device);
    const state = fleet.get(device);
    const at = state?.at;
    const to = site.index.locate(target)?.id;
    if (amr?.kind !== 'amr' || !at || !to) return undefined;
    const node = site.index.node(at);
    const off = node && state.pose ? Math.hypot(state.pose.x - node.x, state.pose.y - node.y) : 0;
    const was = interrupted ? (this.deps.store.outbox.get(interrupted)?.message as { nodes?: { nodeId: string }[] } | undefined)?.nodes?.map((n) => n.nodeId) : undefined;
    const next = was?.[was.indexOf(at) + 1];
    if (off > DEFAULT_DEVIATION_XY && was?.includes(at) && next) {
      const rest = findRoute(site.graph, next, to, amr.limits);
      return rest.ok ? { nodes: [at, ...rest.route.nodes], startDeviationXY: off + DEFAULT_DEVIATION_XY } : undefined;
    }
    const r = findRoute(site.graph, at, to, amr.limits);
    return r.ok ? { nodes: r.route.nodes } : undefined;
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

  private stepEnded(f: Flight, outcome: 'succeeded' | 'failed' | 'cancelled', reason?: string, settleAs: OutboxOutcome = outcome): void {
    if (this.flights.get(key(f.missionId, f.stepId)) !== f) return;
    this.endFlight(f);
    this.setStep(f.missionId, f.stepId, outcome, reason ? { reason } : {}, f.entry && { id: f.entry.id, outcome: settleAs });
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
      this.setStep(missionId, other.stepId, 'cancelled', { reason: `step '${stepId}' failed` }, other.entry && { id: other.entry.id, outcome: 'cancelled' });
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
    if (f.kind === 'goal') void this.deps.ros2?.cancel(f.device, 'the mission was cancelled or failed').catch(() => {});
  }

  private endFlight(f: Flight): void {
    clearTimeout(f.timer);
    clearTimeout(f.timeout);
    clearTimeout(f.grace);
    clearTimeout(f.resend);
    this.flights.delete(key(f.missionId, f.stepId));
    for (const [k, other] of this.flights) if (other.missionId === f.missionId && other.stepId.startsWith(`${f.stepId}#`)) this.flights.delete(k);
    // Anything waiting for this device may go now.
    queueMicrotask(() => {
      if (this.closed) return;
      for (const m of this.deps.store.missions.list({ status: ['running'], limit: 500 })) if (m.id !== f.missionId) this.pump(m.id);
    });
  }

  /** How many commands the step has sent before (from the outbox): ids stay unique when a STOP makes it go again. */
  private attempt(missionId: string, stepId: string): number {
    return this.deps.store.outbox.countOfStep(missionId, stepId);
  }

  private flightBy(kind: Flight['kind'], ref: string): Flight | undefined {
    for (const f of this.flights.values()) if (f.kind === kind && f.ref === ref) return f;
    return undefined;
  }

  private flightsOf(missionId: string): Flight[] {
    return [...this.flights.values()].filter((f) => f.missionId === missionId && !f.stepId.includes('#'));
  }

  /** A step transition, and the outbox entry it settles in the same transaction. */
  private setStep(missionId: string, stepId: string, to: StepStatus, data: Record<string, unknown>, settle?: { id: string; outcome: OutboxOutcome }): void {
    const { store } = this.deps;
    try {
      store.db.transaction(() => {
        if (settle) store.outbox.settle(settle.id, settle.outcome, this.now());
        store.missions.transitionStep(missionId, stepId, to, ACTOR, data);
      })();
      this.deps.hub?.publish('step', { missionId, step: stepId, status: to, ...data });
    } catch (err) {
      if (!(err instanceof InvalidStepTransitionError)) throw err;
      if (settle) store.outbox.settle(settle.id, settle.outcome, this.now());
    }
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private get resendMs(): number {
    return this.deps.resendMs ?? RESEND_MS;
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>): void {
    this.deps.log?.(level, msg, data);
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

/** Sent and not yet ended (a blocked step waits for its device or a resume). */
function inFlight(status: StepStatus): boolean {
  return status === 'dispatched' || status === 'running' || status === 'blocked';
}

function key(missionId: string, stepId: string): string {
  return `${missionId}/${stepId}`;
}
