// The fleet-wide schedule a check runs against: what every approved, running or paused mission
// will still do, read from the store (its plan, the devices its check bound, the steps that are
// over, the routes its check planned, the robots it moves out of the way). See docs/architecture.md, "Commitments".
import type { Commitment } from '../../planners/commitments.ts';
import { stepsToRun } from '../../planners/make-way.ts';
import { isStepFinal, type MissionStatus } from '../../planners/mission.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { Store } from '../store/index.ts';

/** The missions whose work is committed: approved and not yet over. */
export const COMMITTED: readonly MissionStatus[] = ['approved', 'running', 'paused'];

/** Every committed mission's remaining work, oldest mission first; `except` (the mission being checked) left out. */
export function commitmentsOf(store: Store, except?: string): Commitment[] {
  return store.missions
    .all([...COMMITTED])
    .filter((m) => m.id !== except)
    .reverse()
    .map((m) => {
      const report = m.report as CheckReport | null;
      return {
        missionId: m.id,
        // The robots its check moved out of the way are moved by it too: their moves are its work.
        plan: { ...m.plan, steps: stepsToRun(m.plan, report) },
        assignments: report?.assignments ?? {},
        over: new Set(m.steps.filter((s) => isStepFinal(s.status)).map((s) => s.id)),
        routes: Object.fromEntries([
          ...(report?.steps ?? []).flatMap((s) => (s.route ? [[s.id, s.route]] : [])),
          ...(report?.moves ?? []).map((mv) => [mv.id, mv.route]),
        ]),
      };
    });
}
