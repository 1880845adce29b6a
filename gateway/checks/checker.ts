// Where the gateway's plan checks run. A check is pure (planners/ and sim/), and a big plan may
// take a while; run on the event loop it would hold back everything else, STOP included. The
// gateway runs them in worker threads (pool.ts); the in-thread checker is for code that drives
// the mission use cases on fake time (the executor's tests) and for tools without a gateway.
import { passesOf, withPasses, type Pass } from '../../planners/check.ts';
import type { Commitment } from '../../planners/commitments.ts';
import type { Assume, FleetState } from '../../planners/fleet.ts';
import type { Plan } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import { checkInSim } from '../../sim/checker.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';

/** What a check needs of a site. */
export type CheckSite = Pick<LoadedSite, 'index' | 'graph' | 'worldHash'>;

/** One check: everything but the site, which a checker has from its start. */
export interface CheckJob {
  plan: Plan;
  fleet: FleetState;
  assume?: Assume;
  now: Date;
  committed?: readonly Commitment[];
  keep?: Readonly<Record<string, string>>;
  holds?: ReadonlyMap<string, readonly string[]>;
}

export interface Checker {
  /** The report of `job` on this checker's site; passesOf(report) gives its schedule, as for an in-thread check. */
  check(job: CheckJob): Promise<CheckReport>;
  /** The report of `job` as JSON (what POST /v1/plans/check answers): a worker sends the text, not the report to copy and serialize on the event loop. */
  checkJson?(job: CheckJob): Promise<string>;
  /** A STOP is being handled: running checks wait until the returned function is called (pool.ts). */
  stepAside?(): () => void;
  close(): Promise<void>;
}

/** What a check answers across a thread boundary: the report, and the passes a copy of it would lose. */
export interface CheckAnswer {
  report: CheckReport;
  passes?: readonly Pass[];
}

/** Runs a check where it is called (the worker's half, and the in-thread checker). */
export function runCheck(site: CheckSite, job: CheckJob): CheckAnswer {
  const report = checkInSim({ site: site.index, graph: site.graph, worldHash: site.worldHash, ...job });
  const passes = passesOf(report);
  return { report, ...(passes ? { passes } : {}) };
}

/** The report of an answer, with its passes attached again. */
export function reportOf(answer: CheckAnswer): CheckReport {
  return withPasses(answer.report, answer.passes);
}

/** Checks on the calling thread: each check blocks it until done. */
export function inThreadChecker(site: CheckSite): Checker {
  return {
    check: async (job) => reportOf(runCheck(site, job)),
    close: async () => {},
  };
}
