// The policy runtime: the models robots are driven by, run in a worker thread, batched. At each
// tick the caller hands in every policy-driven robot's observation; the runtime groups them by
// model, runs one batch per model in the worker, and answers each robot's actions in physical
// units (the description's scales and limits applied). A tick the worker does not answer within
// its budget, or one asked while the previous is still running, is missed: no robot gets actions
// from it, and the shield turns that into a zero command.
import { Worker } from 'node:worker_threads';
import type { LoadedPolicy } from './loader.ts';
import { workerExecArgv } from '../worker-options.ts';

/** One model as the worker gets it. */
export interface InferenceModel {
  id: string;
  policy: LoadedPolicy;
  n: number;
  m: number;
  obsScale: number[];
  actionScale: number[];
  actionMin: number[];
  actionMax: number[];
}

export interface InferenceStart {
  models: InferenceModel[];
}

export type ToInference = { id: number; batches: { model: string; rows: number; obs: Float32Array }[] };
export type ToRuntime =
  | { type: 'ready' }
  | { type: 'actions'; id: number; batches: { model: string; actions: Float32Array }[] }
  | { type: 'failed'; id?: number; message: string };

export interface RobotObservation {
  /** Which model drives this robot (an id given to PolicyRuntime.start). */
  model: string;
  /** The control's observations, in physical units and the contract's order. */
  obs: ArrayLike<number>;
}

export interface TickAnswer {
  /** Each robot's actions in physical units; empty when the tick was missed. */
  actions: Map<string, Float32Array>;
  /** Why no robot got actions: the worker did not answer within the budget, or was still on the previous tick. */
  missed?: 'budget' | 'busy';
}

const WORKER = new URL('./inference-worker.mjs', import.meta.url);

/** The timers a tick's budget runs on (the gateway's Clock has this shape; tests pass a fake one). */
export interface BudgetTimers {
  after(ms: number, f: () => void): { cancel(): void };
}

const realTimers: BudgetTimers = {
  after(ms, f) {
    const t = setTimeout(f, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
};

export class PolicyRuntime {
  private nextId = 1;
  private inFlight?: { id: number; resolve: (a: TickAnswer) => void; timer: { cancel(): void }; robots: Map<string, { model: string; row: number }> };
  private failure?: string;
  /** Ticks answered, and missed by reason, since the start. */
  readonly ticks = { answered: 0, budget: 0, busy: 0 };

  private constructor(
    private readonly worker: Worker,
    private readonly models: ReadonlyMap<string, InferenceModel>,
    /** The default budget of a tick, ms: half the period of the fastest model. */
    readonly budgetMs: number,
    private readonly timers: BudgetTimers,
  ) {
    worker.on('message', (m: ToRuntime) => this.answer(m));
    worker.on('error', (err) => this.fail(err.stack ?? String(err)));
    worker.on('exit', (code) => this.fail(`the inference worker exited with code ${code}`));
  }

  /** Starts the worker and one session per model; rejects if any model's session cannot be made. */
  static async start(policies: ReadonlyMap<string, LoadedPolicy>, opts: { budgetMs?: number; timers?: BudgetTimers } = {}): Promise<PolicyRuntime> {
    if (policies.size === 0) throw new Error('a policy runtime needs at least one model');
    const models = [...policies].map(([id, policy]): InferenceModel => {
      const md = policy.metadata;
      return {
        id,
        policy,
        n: policy.inputs,
        m: policy.outputs,
        obsScale: md.observations.map((o) => o.scale),
        actionScale: md.actions.map((a) => a.scale),
        actionMin: md.actions.map((a) => a.min),
        actionMax: md.actions.map((a) => a.max),
      };
    });
    const fastest = Math.max(...models.map((m) => m.policy.metadata.rateHz));
    const worker = new Worker(WORKER, { workerData: { models } satisfies InferenceStart, execArgv: workerExecArgv() });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: ToRuntime) => {
        if (m.type === 'ready') done(undefined);
        else if (m.type === 'failed') done(new Error(`the policy runtime could not start: ${m.message}`));
      };
      const onError = (err: Error) => done(err);
      const onExit = (code: number) => done(new Error(`the inference worker exited with code ${code} while starting`));
      const done = (err: Error | undefined) => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        if (err) {
          void worker.terminate();
          reject(err);
        } else resolve();
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    return new PolicyRuntime(worker, new Map(models.map((m) => [m.id, m])), opts.budgetMs ?? 500 / fastest, opts.timers ?? realTimers);
  }

  /** The actions of every robot for this tick (see the file's head for missed ticks). */
  tick(observations: ReadonlyMap<string, RobotObservation>, budgetMs = this.budgetMs): Promise<TickAnswer> {
    if (this.failure) return Promise.reject(new Error(`the policy runtime failed: ${this.failure}`));
    if (this.inFlight) {
      this.ticks.busy++;
      return Promise.resolve({ actions: new Map(), missed: 'busy' });
    }
    const rows = new Map<string, number[][]>();
    const robots = new Map<string, { model: string; row: number }>();
    for (const [robot, o] of observations) {
      const model = this.models.get(o.model);
      if (!model) throw new Error(`robot ${robot}: no model '${o.model}' in this runtime`);
      if (o.obs.length !== model.n) throw new Error(`robot ${robot}: model '${o.model}' takes ${model.n} observations, got ${o.obs.length}`);
      const list = rows.get(o.model) ?? rows.set(o.model, []).get(o.model)!;
      robots.set(robot, { model: o.model, row: list.length });
      list.push(Array.from(o.obs));
    }
    if (robots.size === 0) return Promise.resolve({ actions: new Map() });
    const batches = [...rows].map(([model, list]) => ({ model, rows: list.length, obs: Float32Array.from(list.flat()) }));
    const id = this.nextId++;
    return new Promise<TickAnswer>((resolve) => {
      const timer = this.timers.after(budgetMs, () => {
        if (this.inFlight?.id !== id) return;
        this.inFlight = undefined;
        this.ticks.budget++;
        resolve({ actions: new Map(), missed: 'budget' });
      });
      this.inFlight = { id, resolve, timer, robots };
      this.worker.postMessage({ id, batches } satisfies ToInference, batches.map((b) => b.obs.buffer as ArrayBuffer));
    });
  }

  private answer(m: ToRuntime): void {
    if (m.type === 'ready') return;
    if (m.type === 'failed') return this.fail(m.message);
    const flight = this.inFlight;
    // A late answer to a tick already given up: its robots got their zero command then.
    if (!flight || flight.id !== m.id) return;
    flight.timer.cancel();
    this.inFlight = undefined;
    this.ticks.answered++;
    const byModel = new Map(m.batches.map((b) => [b.model, b.actions]));
    const actions = new Map<string, Float32Array>();
    for (const [robot, { model, row }] of flight.robots) {
      const width = this.models.get(model)!.m;
      actions.set(robot, byModel.get(model)!.slice(row * width, (row + 1) * width));
    }
    flight.resolve({ actions });
  }

  private fail(message: string): void {
    this.failure ??= message;
    const flight = this.inFlight;
    if (!flight) return;
    flight.timer.cancel();
    this.inFlight = undefined;
    // Robots get no actions; the caller learns of the failure at the next tick.
    flight.resolve({ actions: new Map(), missed: 'budget' });
  }

  async close(): Promise<void> {
    this.failure ??= 'closed';
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
