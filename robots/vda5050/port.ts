// AMRs over VDA 5050 as a device port (../device-port.ts): a step's work is an order along the
// route the executor gives, with `pick`, `drop` or `startCharging` at its end; the order's
// progress becomes step signals. Pause is `startPause` (the vehicle holds its order), abort is
// `cancelOrder`, STOP is `startPause` + `cancelOrder` in one message at QoS 1.
import { randomBytes } from 'node:crypto';
import type { DeviceState } from '../../planners/fleet.ts';
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
import type { FleetRegistry } from '../fleet-registry.ts';
import { errorText, silentLog, type Log } from '../log.ts';
import type { Vda5050Master } from './master.ts';
import type { EndAction } from './order.ts';
import { hasActiveOrder, type OrderProgress } from './progress.ts';
import type { Order } from './schemas.ts';

const END_ACTION: Partial<Record<string, EndAction>> = { pick: 'pick', drop: 'drop', charge: 'startCharging' };

export class Vda5050Port implements DevicePort {
  readonly via = 'vda5050';
  private readonly signals: StepSignals;
  /** Works taken over after a restart, by device: waiting for the vehicle's first state. */
  private readonly followed = new Map<string, Work>();
  /** Works told to drop, by device: the vehicle's state confirms once it has no such order left. */
  private readonly aborting = new Map<string, Work>();
  /**
   * Devices this port told `startPause` (a mission pause, or an abort of an order they run): only
   * those are told `stopPause` when they may go on. A vehicle never paused answers a `stopPause`
   * with an instantActionError ("not yet paused", as vda-5050-lib's does), which the operator
   * would then see among its errors.
   */
  private readonly pausedHere = new Set<string>();
  private readonly offs: (() => void)[];

  constructor(
    private readonly master: Vda5050Master,
    private readonly fleet: FleetRegistry,
    private readonly log: Log = silentLog,
  ) {
    this.signals = new StepSignals((err) => log.error({ err: errorText(err) }, 'a VDA 5050 step listener threw'));
    this.offs = [
      master.onOrderProgress((p) => this.signals.emit(signalOf(p))),
      fleet.onChange((s) => {
        if (this.followed.has(s.id)) this.checkFollowed(s.id);
        if (this.aborting.has(s.id)) this.checkAborted(s.id);
      }),
    ];
  }

  prepare(request: WorkRequest): Work {
    const { step, device, route } = request;
    if (step.action !== 'navigate' && step.action !== 'pick' && step.action !== 'drop' && step.action !== 'charge') {
      throw new StepRefusedError(`${device} is an AMR: it cannot do '${step.action}'`);
    }
    if (!route) throw new StepRefusedError(`${device}: no route from where it stands`);
    // Readable, and not guessable: a state naming the orderId finished ends the step, so nobody who
    // did not see the order may be able to name it (128 random bits; the outbox row has the mission
    // and step too).
    const orderId = `${request.missionId}.${step.id}.${request.attempt}.${randomBytes(16).toString('hex')}`;
    const end = END_ACTION[step.action];
    try {
      const order = this.master.prepareOrder(device, {
        route: route.nodes,
        actionsAtEnd: end ? [end] : [],
        orderId,
        ...(route.startDeviationXY ? { startDeviationXY: route.startDeviationXY } : {}),
        ...(route.released !== undefined && route.released < route.nodes.length ? { releasedNodes: route.released } : {}),
      });
      return { id: orderId, device, channel: 'vda5050.order', message: order as unknown as Record<string, unknown>, expiresAt: new Date(Date.now() + request.ttlMs).toISOString() };
    } catch (err) {
      throw StepRefusedError.from(device, err);
    }
  }

  /** A vehicle discards an order whose orderId and orderUpdateId it already has: sending again is safe. */
  send(work: Work): Promise<void> {
    return this.master.publishOrder(work.device, work.message as unknown as Order);
  }

  pause(work: Work): PauseEffect {
    this.pausedHere.add(work.device);
    this.instant(work.device, 'startPause');
    return 'held';
  }

  /** `stopPause`, unless the vehicle was never paused: an order it never took was dropped without one. */
  resume(work: Work): void {
    const paused = this.pausedHere.delete(work.device);
    if (paused || this.master.lastState(work.device)?.paused === true) this.instant(work.device, 'stopPause');
  }

  /**
   * `startPause` + `cancelOrder` in one message, as STOP sends them: the AMR stops where it is (a
   * plain cancelOrder lets a vehicle drive on to its next node) and drops the order; `resume` lets
   * it go on once it confirmed. Nothing is sent when the vehicle's state shows the order done
   * with; the executor calls again until the `aborted` signal. A vehicle that still does not show
   * the order at the second call never got it (a copy on its way when sending stopped would have
   * arrived by then).
   */
  abort(work: Work): void {
    const again = this.aborting.get(work.device)?.id === work.id;
    this.aborting.set(work.device, work);
    if (this.checkAborted(work.device)) return;
    const state = this.master.lastState(work.device);
    if (state?.orderId === work.id) {
      this.pausedHere.add(work.device);
      this.master.stopVehicle(work.device).catch((err: Error) => this.log.warn({ device: work.device, err: err.message }, `cancelOrder not sent to ${work.device}`));
      return;
    }
    // Another order the vehicle runs is not this step's to cancel.
    if (again) this.confirmAborted(work.device, work, `${work.device} never took the order`);
    else if (!state || !hasActiveOrder(state)) this.instant(work.device, 'cancelOrder');
  }

  /** `accepted` (or `missing`) first, once the vehicle has reported; then the order's progress, which the master reports as soon as it adopts the order. */
  follow(work: Work): void {
    this.followed.set(work.device, work);
    this.checkFollowed(work.device);
    this.master.adoptOrder(work.device, work.message as unknown as Order);
  }

  describe(work: Work): WorkSummary {
    const nodes = (work.message as Partial<Order>).nodes;
    if (!nodes) return {};
    const base = nodes.filter((n) => n.released);
    return { route: nodes.map((n) => n.nodeId), releasedThrough: base[base.length - 1]!.sequenceId / 2 };
  }

  /** An order update (orderUpdateId + 1) whose base reaches `through`: the vehicle drives on without stopping if it comes in time. */
  extend(work: Work, route: readonly string[], through: number): Work {
    try {
      const update = this.master.prepareUpdate(work.device, work.message as unknown as Order, route, through);
      return { ...work, message: update as unknown as Record<string, unknown> };
    } catch (err) {
      throw StepRefusedError.from(work.device, err);
    }
  }

  has(work: Work): boolean {
    const state = this.master.lastState(work.device);
    return state?.orderId === work.id && state.orderUpdateId >= (work.message as unknown as Order).orderUpdateId;
  }

  async stop(device: string): Promise<StopAnswer> {
    await this.master.stopVehicle(device);
    return 'sent';
  }

  async release(device: string): Promise<StopAnswer> {
    await this.master.instantAction(device, 'stopPause');
    return 'sent';
  }

  /** An AMR under a STOP must report itself paused. */
  moving(state: DeviceState): boolean {
    return state.paused === false;
  }

  onSignal(listener: (signal: StepSignal) => void): () => void {
    return this.signals.on(listener);
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
  }

  /** Once the vehicle has reported: it runs (or ran) the order, and its progress follows; or it never got it. */
  private checkFollowed(device: string): void {
    const work = this.followed.get(device)!;
    const state = this.master.lastState(device);
    if (!state || this.fleet.get(device)?.online !== true) return;
    this.followed.delete(device);
    this.signals.emit({ type: state.orderId === work.id ? 'accepted' : 'missing', workId: work.id, device });
  }

  /** True (and `aborted` signalled) once the vehicle's state shows it is done with the order. */
  private checkAborted(device: string): boolean {
    const work = this.aborting.get(device)!;
    const state = this.master.lastState(device);
    if (state?.orderId !== work.id || hasActiveOrder(state)) return false;
    this.confirmAborted(device, work, 'the order was cancelled');
    return true;
  }

  private confirmAborted(device: string, work: Work, reason: string): void {
    this.aborting.delete(device);
    this.signals.emit({ type: 'aborted', workId: work.id, device, reason });
  }

  private instant(device: string, action: 'startPause' | 'stopPause' | 'cancelOrder'): void {
    this.master.instantAction(device, action).catch((err: Error) => this.log.warn({ device, action, err: err.message }, `${action} not sent to ${device}`));
  }
}

function signalOf(p: OrderProgress): StepSignal {
  const base = { workId: p.orderId, device: p.deviceId };
  if (p.finished) return { type: 'done', ...base };
  if (p.cancelled) return { type: 'aborted', ...base, reason: 'the order was cancelled' };
  if (p.failed !== undefined) return { type: 'failed', ...base, reason: `${p.deviceId}: ${p.failed}` };
  return { type: 'running', ...base };
}
