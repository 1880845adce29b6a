// A check worker (pool.ts): gets the site once, then checks one job at a time and answers with
// the report and its passes. It holds no state between checks: the pool may end it at any time.
import { parentPort, workerData } from 'node:worker_threads';
import { indexSite, type Site } from '../../planners/site.ts';
import type { NavGraph } from '../../planners/route.ts';
import { runCheck, type CheckJob } from './checker.ts';
import type { ToPool, ToWorker, WorkerStart } from './pool.ts';

const start = workerData as WorkerStart;
const site = { index: indexSite(start.site as Site), graph: start.graph as NavGraph, worldHash: start.worldHash };
const port = parentPort!;
const send = (m: ToPool) => port.postMessage(m);

port.on('message', (m: ToWorker) => {
  try {
    send({ type: 'answer', id: m.id, answer: runCheck(site, m.job as CheckJob) });
  } catch (err) {
    send({ type: 'failed', id: m.id, message: (err as Error).stack ?? String(err) });
  }
});
send({ type: 'ready' });
