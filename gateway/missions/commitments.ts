// The fleet-wide schedule a check runs against: what every approved, running or paused mission
// will still do, read from the store (its plan, the devices its check bound, the steps that are
// over). See docs/architecture.md, "Commitments".
import type { Commitment } from '../../planners/commitments.ts';
import { isStepFinal, type MissionStatus } from '../../planners/mission.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { Store } from '../store/index.ts';
import { LIST_LIMIT_MAX, type Mission } from '../store/missions.ts';

/** The missions whose work is committed: approved and not yet over. */
export const COMMITTED: readonly MissionStatus[] = ['approved', 'running', 'paused'];

/** Every committed mission's remaining work, oldest mission first; `except` (the mission being checked) left out. */
export function commitmentsOf(store: Store, except?: string): Commitment[] {
  const missions: Mission[] = [];
  for (let page = store.missions.list({ status: [...COMMITTED], limit: LIST_LIMIT_MAX }); page.length > 0; ) {
    missions.push(...page);
    page = page.length < LIST_LIMIT_MAX ? [] : store.missions.list({ status: [...COMMITTED], limit: LIST_LIMIT_MAX, before: page.at(-1)!.id });
  }
  return missions
    .filter((m) => m.id !== except)
    .reverse()
    .map((m) => ({
      missionId: m.id,
      plan: m.plan,
      assignments: (m.report as CheckReport | null)?.assignments ?? {},
      over: new Set(m.steps.filter((s) => isStepFinal(s.status)).map((s) => s.id)),
    }));
}
