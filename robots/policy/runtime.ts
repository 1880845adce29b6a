// The policy runtime: the models robots are driven by, run in a worker thread, batched. At each
// tick the caller hands in every policy-driven robot's observation; the runtime groups them by
// model, runs one batch per model in the worker, and answers each robot's actions in physical
// units (the description's scales and limits applied). A tick the worker does not answer within
// its budget, or one asked while the previous is still running, is missed: no robot gets actions
// from it, and the shield turns that into a zero command.
//
// Started with `shields`, the worker also decides each shielded robot's command (the shield's
// limits and look-ahead against the walls and zones, Shield.decide) right after its inference, so
// the look-ahead's collision queries never hold the event loop STOP is handled on. The robot's own
// shield on the event loop still holds (STOP, stale) before and after, and records the decision.
import { Worker } from 'node:worker_threads';
import type { AmrLimits, AmrState } from './kinematics.ts';
import type { LoadedPolicy } from './loader.ts';
import type { Footprint, ShieldDecision, ShieldSite } from './shield.ts';
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

/** The shields the worker decides with: one per profile (a robot's limits and footprint), on one world. */
export interface WorkerShields {
  /** The zones, as the shield reads them (no walls: those come from `walls`). */
  site: Omit<ShieldSite, 'walls'>;
  /**
   * Where the worker gets the walls: a module (file URL) exporting `createWalls(data)`, which
   * resolves to the shield's `Walls`, and its data (e.g. the world's obstacles). The caller names
   * it, so this layer needs no simulator of its own.
   */
  walls?: { module: string; data: unknown };
  profiles: { id: string; limits: AmrLimits; footprint: Footprint; tickS: number }[];
}

export interface InferenceStart {
  models: InferenceModel[];
  shields?: WorkerShields;
}

/** Per row of a batch: the shield profile to decide with ('' for none) and the robot's state (5 numbers a row: x, y, theta, v, omega). */
export interface BatchShield {
  profiles: string[];
  states: Float64Array;
}

export type ToInference = { id: number; batches: { model: string; rows: number; obs: Float32Array; shield?: BatchShield }[] };
export type ToRuntime =
  | { type: 'ready' }
  | { type: 'actions'; id: number; batches: { model: string; actions: Float32Array; decisions?: (ShieldDecision | null)[] }[] }
  | { type: 'failed'; id?: number; message: string };

export interface RobotObservation {
  /** Which model drives this robot (an id given to PolicyRuntime.start). */
  model: string;
  /** The control's observations, in physical units and the contract's order. */
  obs: ArrayLike<number>;
  /** Decide the robot's command in the worker with this shield profile, from this state (needs `shields` at start). */
  shield?: { profile: string; state: AmrState };
}

export interface TickAnswer {
  /** Each robot's actions in physical units; empty when the tick was missed. */
  actions: Map<string, Float32Array>;
  /** The worker's shield decision for each robot that asked for one. */
  decisions?: Map<string, ShieldDecision>;
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
    /** The shield profiles the worker has. */
    private readonly profiles: ReadonlySet<string>,
  ) {
    worker.on('message', (m: ToRuntime) => this.answer(m));
    worker.on('error', (err) => this.fail(err.stack ?? String(err)));
    worker.on('exit', (code) => this.fail(`the inference worker exited with code ${code}`));
  }

  /** Starts the worker and one session per model; rejects if any model's session cannot be made. */
  static async start(policies: ReadonlyMap<string, LoadedPolicy>, opts: { budgetMs?: number; timers?: BudgetTimers; shields?: WorkerShields } = {}): Promise<PolicyRuntime> {
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
    const worker = new Worker(WORKER, { workerData: { models, ...(opts.shields ? { shields: opts.shields } : {}) } satisfies InferenceStart, execArgv: workerExecArgv() });
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
    return new PolicyRuntime(worker, new Map(models.map((m) => [m.id, m])), opts.budgetMs ?? 500 / fastest, opts.timers ?? realTimers, new Set(opts.shields?.profiles.map((p) => p.id)));
  }

  /** The actions of every robot for this tick (see the file's head for missed ticks). */
  tick(observations: ReadonlyMap<string, RobotObservation>, budgetMs = this.budgetMs): Promise<TickAnswer> {
    if (this.failure) return Promise.reject(new Error(`the policy runtime failed: ${this.failure}`));
    if (this.inFlight) {
      this.ticks.busy++;
      return Promise.resolve({ actions: new Map(), missed: 'busy' });
    }
    const rows = new Map<string, RobotObservation[]>();
    const robots = new Map<string, { model: string; row: number }>();
    for (const [robot, o] of observations) {
      const model = this.models.get(o.model);
      if (!model) throw new Error(`robot ${robot}: no model '${o.model}' in this runtime`);
      if (o.obs.length !== model.n) throw new Error(`robot ${robot}: model '${o.model}' takes ${model.n} observations, got ${o.obs.length}`);
      if (o.shield && !this.profiles.has(o.shield.profile)) throw new Error(`robot ${robot}: no shield profile '${o.shield.profile}' in this runtime`);
      const list = rows.get(o.model) ?? rows.set(o.model, []).get(o.model)!;
      robots.set(robot, { model: o.model, row: list.length });
      list.push(o);
    }
    if (robots.size === 0) return Promise.resolve({ actions: new Map() });
    const batches = [...rows].map(([model, list]) => {
      const n = this.models.get(model)!.n;
      const obs = new Float32Array(list.length * n);
      list.forEach((o, i) => obs.set(Array.from(o.obs), i * n));
      if (!list.some((o) => o.shield)) return { model, rows: list.length, obs };
      const states = new Float64Array(list.length * 5);
      list.forEach((o, i) => {
        const st = o.shield?.state;
        if (st) states.set([st.x, st.y, st.theta, st.v, st.omega], i * 5);
      });
      return { model, rows: list.length, obs, shield: { profiles: list.map((o) => o.shield?.profile ?? ''), states } };
    });
    const id = this.nextId++;
    return new Promise<TickAnswer>((resolve) => {
      const timer = this.timers.after(budgetMs, () => {
        if (this.inFlight?.id !== id) return;
        this.inFlight = undefined;
        this.ticks.budget++;
        resolve({ actions: new Map(), missed: 'budget' });
      });
      this.inFlight = { id, resolve, timer, robots };
      this.worker.postMessage({ id, batches } satisfies ToInference, batches.flatMap((b) => [b.obs.buffer as ArrayBuffer, ...(b.shield ? [b.shield.states.buffer as ArrayBuffer] : [])]));
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
    const byModel = new Map(m.batches.map((b) => [b.model, b]));
    const actions = new Map<string, Float32Array>();
    const decisions = new Map<string, ShieldDecision>();
    for (const [robot, { model, row }] of flight.robots) {
      const width = this.models.get(model)!.m;
      const batch = byModel.get(model)!;
      actions.set(robot, batch.actions.slice(row * width, (row + 1) * width));
      const decision = batch.decisions?.[row];
      if (decision) decisions.set(robot, decision);
    }
    flight.resolve(decisions.size > 0 ? { actions, decisions } : { actions });
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
