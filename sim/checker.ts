// The plan checker: the static checks of planners/ with the plan run in the simulator.
import { checkPlan, type CheckInput } from '../planners/check.ts';
import type { Assume, FleetState } from '../planners/fleet.ts';
import type { Plan } from '../planners/plan.ts';
import type { CheckReport } from '../planners/report.ts';
import { parkedFleetState } from './parked-fleet.ts';
import type { LoadedSite } from './site-folder.ts';
import { simulatePlan } from './simulate.ts';

/** Check a plan: every static issue, then the run in simulated time. Pure and deterministic. */
export function checkInSim(input: Omit<CheckInput, 'simulate'>): CheckReport {
  return checkPlan({ ...input, simulate: simulatePlan });
}

export interface CheckOnSiteOptions {
  /** The fleet's state; default: every device online and parked at home, AMRs at 90 %. */
  fleet?: FleetState;
  assume?: Assume;
  /** Wall-clock start, for the deadline; default now. */
  now?: Date;
}

/** Check a plan against a loaded site folder (what `phygate check` does). */
export function checkOnSite(site: LoadedSite, plan: Plan, opts: CheckOnSiteOptions = {}): CheckReport {
  const now = opts.now ?? new Date();
  return checkInSim({
    site: site.index,
    graph: site.graph,
    worldHash: site.worldHash,
    plan,
    fleet: opts.fleet ?? parkedFleetState(site.index, now),
    ...(opts.assume ? { assume: opts.assume } : {}),
    now,
  });
}
