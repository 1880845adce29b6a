// The check pool: plan checks run in worker threads, so no check, however big, holds back the
// event loop — STOP, the device masters, the embedded broker and every other request go on while
// it runs. See docs/architecture.md, "Checks off the event loop".
//
// Each worker gets the site once, when it starts (its graph is the big part); a check sends the
// plan and what it runs against (fleet, commitments, holds, now) and gets the report back with its
// passes, which the structured copy of the report would lose (planners/check.ts keeps them in a
// WeakMap by report). Workers start when checks wait for one, up to `size`. A check that runs past
// its budget has its worker ended — a check cannot be interrupted otherwise — and replaced; the
// request gets CHECK_TIMEOUT and nothing was written, since writing happens after a check answers.
import { Worker } from 'node:worker_threads';
import type { CheckReport } from '../../planners/report.ts';
import { workerExecArgv } from '../../robots/worker-options.ts';
import { ApiError } from '../errors.ts';
import { reportOf, type CheckAnswer, type CheckJob, type Checker, type CheckSite } from './checker.ts';

/** What a worker is started with (workerData). */
export interface WorkerStart {
  site: unknown;
  graph: unknown;
  worldHash: string;
  /** The pool's step-aside signal (STEP_ASIDE_*), shared with every worker. */
  signal: SharedArrayBuffer;
  /** The CPU niceness the worker sets for its own thread. */
  nice: number;
}

/** Int32 slots of the step-aside signal: STOPs being handled now, and workers holding their check for them. */
export const STEP_ASIDE_PRESSES = 0;
export const STEP_ASIDE_HELD = 1;
/** The longest one STOP holds the checks, ms, should its request never end. */
export const STEP_ASIDE_MAX_MS = 250;
/** `json`: answer the report as its JSON text only (checkJson). */
export type ToWorker = { id: number; job: CheckJob; json?: boolean };
export type ToPool = { type: 'ready'; nice: number | null } | { type: 'answer'; id: number; answer: CheckAnswer } | { type: 'json'; id: number; json: string } | { type: 'failed'; id: number; message: string };

export interface CheckPoolOptions {
  site: CheckSite;
  /** Workers at most (PHYGATE_CHECK_WORKERS). */
  size: number;
  /** How long one check may run, ms (PHYGATE_CHECK_BUDGET_MS). */
  budgetMs: number;
  /**
   * CPU niceness of the worker threads, 0–19 (PHYGATE_CHECK_NICE). Default 19, the lowest
   * priority: the event loop (STOP, the device masters, the broker) comes first.
   */
  nice?: number;
  /** The longest one STOP holds the checks, ms (STEP_ASIDE_MAX_MS unless a test says otherwise). */
  stepAsideMaxMs?: number;
  /** Where worker failures are logged. */
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

interface Waiting {
  job: CheckJob;
  json: boolean;
  resolve: (answer: CheckReport | string) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  running?: { id: number; waiting: Waiting; timer: NodeJS.Timeout };
}

const WORKER = new URL('./worker.mjs', import.meta.url);

export class CheckPool implements Checker {
  private readonly slots = new Set<Slot>();
  private readonly queue: Waiting[] = [];
  private readonly start: WorkerStart;
  private nextId = 1;
  private closed = false;
  /** Checks that ran past the budget, since the start. */
  timeouts = 0;
  /** The niceness the last worker to start runs at (null: it was not allowed to set one). */
  workerNice: number | null | undefined;
  /** Times checks were told to step aside (STOPs pressed), since the start. */
  stepAsides = 0;
  private readonly signal = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));

  constructor(private readonly opts: CheckPoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 1) throw new Error(`a check pool needs at least one worker, not ${opts.size}`);
    this.start = { site: opts.site.index.site, graph: opts.site.graph, worldHash: opts.site.worldHash, signal: this.signal.buffer as SharedArrayBuffer, nice: opts.nice ?? 19 };
  }

  check(job: CheckJob): Promise<CheckReport> {
    return this.enqueue(job, false) as Promise<CheckReport>;
  }

  checkJson(job: CheckJob): Promise<string> {
    return this.enqueue(job, true) as Promise<string>;
  }

  private enqueue(job: CheckJob, json: boolean): Promise<CheckReport | string> {
    if (this.closed) return Promise.reject(new ApiError('UNAVAILABLE', 'the gateway is shutting down; no more checks'));
    return new Promise((resolve, reject) => {
      this.queue.push({ job, json, resolve, reject });
      this.pump();
    });
  }

  /**
   * A STOP is being handled: every running check waits at its next simulation event (a few ms of
   * work at most) until the returned function is called — when the STOP's answer is out — or
   * STEP_ASIDE_MAX_MS have passed, whichever is first. The workers already run at the lowest CPU
   * priority (unless PHYGATE_CHECK_NICE says otherwise); this keeps them off the CPU, the caches
   * and the collector altogether while the STOP's messages go out. Checks only wait: none is
   * changed or ended by it.
   */
  stepAside(): () => void {
    this.stepAsides++;
    Atomics.add(this.signal, STEP_ASIDE_PRESSES, 1);
    let done = false;
    const resume = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      Atomics.sub(this.signal, STEP_ASIDE_PRESSES, 1);
      Atomics.notify(this.signal, STEP_ASIDE_PRESSES);
    };
    const timer = setTimeout(resume, this.opts.stepAsideMaxMs ?? STEP_ASIDE_MAX_MS);
    timer.unref();
    return resume;
  }

  /** Workers holding their check for a STOP right now. */
  get held(): number {
    return Atomics.load(this.signal, STEP_ASIDE_HELD);
  }

  /** Checks running now (workers busy). */
  get running(): number {
    return [...this.slots].filter((s) => s.running).length;
  }

  /** Workers started and not ended. */
  get workers(): number {
    return this.slots.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.queue.splice(0)) w.reject(new ApiError('UNAVAILABLE', 'the gateway is shutting down; the check did not run'));
    const slots = [...this.slots];
    this.slots.clear();
    for (const s of slots) {
      if (s.running) {
        clearTimeout(s.running.timer);
        s.running.waiting.reject(new ApiError('UNAVAILABLE', 'the gateway is shutting down; the check was stopped'));
      }
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  /** Gives waiting checks to ready workers, and starts workers while checks wait for one. */
  /**
   * Starts one worker now, before any check asks for it: a worker takes seconds to load the
   * checker, and the first plan an agent sends should not wait for that (the gateway calls this
   * at start).
   */
  warm(): void {
    if (!this.closed && this.slots.size === 0) this.spawn();
  }

  private pump(): void {
    if (this.closed) return;
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.ready && !slot.running) this.run(slot, this.queue.shift()!);
    }
    const starting = [...this.slots].filter((s) => !s.ready).length;
    for (let n = starting; n < this.queue.length && this.slots.size < this.opts.size; n++) this.spawn();
  }

  private run(slot: Slot, waiting: Waiting): void {
    const id = this.nextId++;
    const timer = setTimeout(() => this.overBudget(slot), this.opts.budgetMs);
    slot.running = { id, waiting, timer };
    try {
      slot.worker.postMessage({ id, job: waiting.job, ...(waiting.json ? { json: true } : {}) } satisfies ToWorker);
    } catch (err) {
      // A job that cannot be copied to the worker (never one the routes build) is the caller's bug.
      clearTimeout(timer);
      slot.running = undefined;
      waiting.reject(err as Error);
      this.pump();
    }
  }

  private spawn(): void {
    const slot: Slot = { worker: new Worker(WORKER, { workerData: this.start, execArgv: workerExecArgv() }), ready: false };
    this.slots.add(slot);
    slot.worker.on('message', (m: ToPool) => {
      if (m.type === 'ready') {
        slot.ready = true;
        this.workerNice = m.nice;
        return this.pump();
      }
      const running = slot.running;
      if (!running || running.id !== m.id) return;
      clearTimeout(running.timer);
      slot.running = undefined;
      if (m.type === 'answer') running.waiting.resolve(reportOf(m.answer));
      else if (m.type === 'json') running.waiting.resolve(m.json);
      else {
        this.opts.log?.error({ error: m.message }, 'a plan check failed in its worker');
        running.waiting.reject(new Error(`the check failed: ${m.message}`));
      }
      this.pump();
    });
    // A worker that dies (out of memory, a crash while loading) fails its check and is replaced.
    const gone = (why: string) => {
      if (!this.slots.delete(slot)) return;
      this.opts.log?.error({ why }, 'a check worker ended unexpectedly');
      if (slot.running) {
        clearTimeout(slot.running.timer);
        slot.running.waiting.reject(new Error(`the check worker ended: ${why}`));
      } else if (!slot.ready && ![...this.slots].some((s) => s.ready)) {
        // It never started, and no worker has: the checks waiting would wait for ever on the next one too.
        for (const w of this.queue.splice(0)) w.reject(new Error(`a check worker could not start: ${why}`));
      }
      this.pump();
    };
    slot.worker.on('error', (err) => gone(err.stack ?? String(err)));
    slot.worker.on('exit', (code) => gone(`exit code ${code}`));
  }

  private overBudget(slot: Slot): void {
    const running = slot.running;
    if (!running || !this.slots.delete(slot)) return;
    slot.running = undefined;
    this.timeouts++;
    void slot.worker.terminate();
    this.opts.log?.warn({ budgetMs: this.opts.budgetMs, steps: running.waiting.job.plan.steps.length }, 'a plan check ran past its budget: its worker was ended');
    running.waiting.reject(
      new ApiError('CHECK_TIMEOUT', `the check ran past its budget of ${this.opts.budgetMs} ms and was stopped; nothing was stored. Split the plan, or check it again when the gateway is less busy`, {
        budgetMs: this.opts.budgetMs,
        reason: 'budget',
      }),
    );
    this.pump();
  }
}
