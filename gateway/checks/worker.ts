// A check worker (pool.ts): gets the site once, then checks one job at a time and answers with
// the report and its passes. It holds no state between checks: the pool may end it at any time.
// It runs at the lowest CPU priority, and holds its check while a STOP is handled (pool.ts, stepAside).
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { onStepAside } from '../../sim/step-aside.ts';
import { indexSite, type Site } from '../../planners/site.ts';
import type { NavGraph } from '../../planners/route.ts';
import { runCheck, type CheckJob } from './checker.ts';
import { STEP_ASIDE_HELD, STEP_ASIDE_PRESSES, type ToPool, type ToWorker, type WorkerStart } from './pool.ts';

const start = workerData as WorkerStart;

// Checks are background work: the event loop (STOP, the device masters, the broker) comes first.
// On Linux this sets this thread's priority alone (19 unless PHYGATE_CHECK_NICE says otherwise).
// Where it is not allowed, checks run as they are.
let nice: number | null = null;
try {
  os.setPriority(start.nice);
  nice = os.getPriority();
} catch {
  // not permitted here
}

const signal = new Int32Array(start.signal);
onStepAside(() => {
  if (Atomics.load(signal, STEP_ASIDE_PRESSES) === 0) return;
  Atomics.add(signal, STEP_ASIDE_HELD, 1);
  // The pool ends every hold within STEP_ASIDE_MAX_MS; the timed wait only rechecks.
  for (let v = Atomics.load(signal, STEP_ASIDE_PRESSES); v !== 0; v = Atomics.load(signal, STEP_ASIDE_PRESSES)) Atomics.wait(signal, STEP_ASIDE_PRESSES, v, 50);
  Atomics.sub(signal, STEP_ASIDE_HELD, 1);
});
const site = { index: indexSite(start.site as Site), graph: start.graph as NavGraph, worldHash: start.worldHash };
const port = parentPort!;
const send = (m: ToPool) => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  try {
    const answer = runCheck(site, m.job as CheckJob);
    send(m.json ? { type: 'json', id: m.id, json: JSON.stringify(answer.report) } : { type: 'answer', id: m.id, answer });
  } catch (err) {
    send({ type: 'failed', id: m.id, message: (err as Error).stack ?? String(err) });
  }
});
send({ type: 'ready', nice });
