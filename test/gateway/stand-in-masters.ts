// STAND-INS, not the real masters: objects with the parts of the VDA 5050 and machine masters'
// interface the executor uses. They record what the executor publishes and let a test deliver
// any device event at any moment, for tests that need exact control of timing (delivery retries,
// expiry, restarts, random event orders). The real masters over a real broker run in
// execute.test.ts, execute-process.test.ts, outbox-live.test.ts and the fault tests.
import type { MachineMaster } from '../../robots/machine/master.ts';
import type { Vda5050Master } from '../../robots/vda5050/master.ts';

export interface Published {
  kind: 'order' | 'command';
  device: string;
  /** orderId or commandId. */
  ref: string;
  message: Record<string, unknown>;
  at: number;
}

type Listener = (e: never) => void;

export class StandInMasters {
  /** Every publish the executor made (a resend appears again). */
  published: Published[] = [];
  /** Instant actions and `stop` commands: `${device} ${type}`. */
  controls: string[] = [];
  /** Publishes still to refuse, as with no link to the broker. */
  refuse = 0;
  /** What each vehicle's last state says (only `orderId` is read). */
  vehicleStates = new Map<string, { orderId: string }>();
  adopted: string[] = [];
  /** Called before each publish is recorded (checks of the caller's invariants). */
  onPublish: (p: Omit<Published, 'at'>) => void = () => {};
  readonly progress = new Set<Listener>();
  readonly acks = new Set<Listener>();
  readonly jobs = new Set<Listener>();

  private publish(kind: Published['kind'], device: string, message: Record<string, unknown>, ref: string): Promise<void> {
    if (this.refuse > 0) {
      this.refuse--;
      return Promise.reject(new Error(`no connection to the MQTT broker: ${ref} not sent`));
    }
    this.onPublish({ kind, device, ref, message });
    this.published.push({ kind, device, ref, message, at: Date.now() });
    return Promise.resolve();
  }

  readonly vda = {
    onOrderProgress: (l: Listener) => (this.progress.add(l), () => this.progress.delete(l)),
    prepareOrder: (_device: string, req: { orderId: string; route: string[] }) => ({ orderId: req.orderId, orderUpdateId: 0, nodes: req.route.map((nodeId) => ({ nodeId })) }),
    publishOrder: (device: string, order: { orderId: string }) => this.publish('order', device, order, order.orderId),
    adoptOrder: (_device: string, order: { orderId: string }) => void this.adopted.push(order.orderId),
    lastState: (device: string) => this.vehicleStates.get(device),
    instantAction: async (device: string, type: string) => {
      this.controls.push(`${device} ${type}`);
      return 'action';
    },
  };

  readonly machines = {
    onAck: (l: Listener) => (this.acks.add(l), () => this.acks.delete(l)),
    onJob: (l: Listener) => (this.jobs.add(l), () => this.jobs.delete(l)),
    prepareCommand: (_device: string, request: { action: string }, opts: { commandId: string; ttlMs?: number }) => ({
      ...request,
      commandId: opts.commandId,
      issuedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + (opts.ttlMs ?? 10_000)).toISOString(),
    }),
    publish: (device: string, command: { commandId: string }) => this.publish('command', device, command, command.commandId),
    command: async (device: string, request: { action: string }) => {
      this.controls.push(`${device} ${request.action}`);
      return request.action;
    },
  };

  get vda5050(): Vda5050Master {
    return this.vda as unknown as Vda5050Master;
  }

  get machineMaster(): MachineMaster {
    return this.machines as unknown as MachineMaster;
  }

  /** Distinct refs published for a step (ids carry the step: `m.step.n` orders, `m-sI-n` commands). */
  refsOf(kind: Published['kind'], device?: string): string[] {
    return [...new Set(this.published.filter((p) => p.kind === kind && (device === undefined || p.device === device)).map((p) => p.ref))];
  }

  orderProgress(orderId: string, deviceId: string, outcome: 'finished' | 'failed' | 'cancelled' | 'progress'): void {
    const p = { deviceId, orderId, finished: outcome === 'finished', cancelled: outcome === 'cancelled', ...(outcome === 'failed' ? { failed: 'stand-in failure' } : {}) };
    for (const l of this.progress) l(p as never);
  }

  ack(commandId: string, deviceId: string, result: 'accepted' | 'rejected' | 'expired' | 'duplicate'): void {
    for (const l of this.acks) l({ deviceId, commandId, result } as never);
  }

  jobEnd(commandId: string, deviceId: string, outcome: 'done' | 'stopped' | 'fault'): void {
    for (const l of this.jobs) l({ deviceId, commandId, outcome, errors: [] } as never);
  }
}
