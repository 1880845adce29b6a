// A mission as API clients see it: the functions that build its answers from the store's missions
// (their schemas are in gateway/api/schemas.ts).
import type { z } from 'zod';
import type { CheckReport } from '../../planners/report.ts';
import { missionHead, MissionEventViewSchema, MissionStepViewSchema, MissionSummarySchema, MissionViewSchema, RehearsalViewSchema, type Report } from '../api/schemas.ts';
import type { Mission, MissionEvent, MissionStep } from '../store/missions.ts';
import type { RehearsalRecord } from '../store/rehearsals.ts';

/** A rehearsal as API clients see it. */
export function rehearsalView(r: RehearsalRecord): z.infer<typeof RehearsalViewSchema> {
  const x = r.result;
  return {
    id: r.id,
    status: r.status,
    planHash: r.planHash,
    requestedBy: r.requestedBy,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    fleet: x?.fleet ?? null,
    speed: x?.speed ?? null,
    outcome: x?.outcome ?? null,
    reason: x?.reason ?? null,
    makespanS: x?.makespanS ?? null,
    checkMakespanS: x?.checkMakespanS ?? null,
    minSeparation: x?.minSeparation ?? null,
    problems: x?.problems ?? [],
  };
}

/** A step with its device resolved: the one it was dispatched to, else the one the check assigned. */
function stepView(s: MissionStep, report: CheckReport | null): z.infer<typeof MissionStepViewSchema> {
  const planned = s.device.startsWith('$') ? (report?.assignments?.[s.device.slice(1)] ?? null) : s.device;
  return { id: s.id, action: s.action, device: s.dispatchedTo ?? planned, status: s.status, startedAt: s.startedAt, endedAt: s.endedAt, reason: s.reason };
}

function storyOf(m: Mission) {
  return { approvedBy: m.approvedBy, approvedAt: m.approvedAt, reason: m.reason, reasonStep: m.reasonStep, endedAt: m.endedAt };
}

/** The full mission as an API client sees it; with `rehearsal` (the newest, or null for none), that too. */
export function missionView(m: Mission, rehearsal?: RehearsalRecord | null): z.infer<typeof MissionViewSchema> {
  const report = m.report as CheckReport | null;
  return {
    ...headOf(m),
    worldHash: m.worldHash,
    createdBy: m.createdBy,
    ...storyOf(m),
    steps: m.steps.map((s) => stepView(s, report)),
    report: m.report as Report,
    plan: m.plan,
    ...(rehearsal === undefined ? {} : { rehearsal: rehearsal && rehearsalView(rehearsal) }),
  };
}

/** One line per mission in a list. */
export function missionSummary(m: Mission): z.infer<typeof MissionSummarySchema> {
  const report = m.report as CheckReport;
  return {
    ...headOf(m),
    verdict: report.verdict,
    makespanS: report.makespanS,
    ...storyOf(m),
    steps: m.steps.map((s) => stepView(s, report)),
  };
}

/** The fields of `head`, from the mission. */
function headOf(m: Mission): { [K in keyof typeof missionHead]: z.infer<(typeof missionHead)[K]> } {
  return { id: m.id, status: m.status, name: m.name, priority: m.priority, planHash: m.planHash, createdAt: m.createdAt, updatedAt: m.updatedAt };
}

export function missionEventView(e: MissionEvent): z.infer<typeof MissionEventViewSchema> {
  return { seq: e.seq, at: e.at, type: e.type, actor: e.actor, data: e.data };
}
