// A mission as API clients see it: the zod schemas its answers are serialized with (and the
// OpenAPI description generated from), and the functions that build them from the store's missions.
import { z } from 'zod';
import { MISSION_STATUSES, STEP_STATUSES } from '../../planners/mission.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { Mission, MissionEvent, MissionStep } from '../store/missions.ts';
import type { RehearsalRecord } from '../store/rehearsals.ts';

const Time = z.string().describe('ISO-8601');

export const MissionStepViewSchema = z
  .object({
    id: z.string(),
    action: z.string(),
    device: z
      .string()
      .nullable()
      .describe("the device the step was dispatched to; before that, the one the check's report assigned to its role (`$role` resolved); null when no device has the role"),
    status: z.enum(STEP_STATUSES),
    startedAt: Time.nullable().describe('when it was first dispatched'),
    endedAt: Time.nullable().describe('when it succeeded, failed or was cancelled'),
    reason: z.string().nullable().describe('why it failed, was cancelled or is blocked; null otherwise'),
  })
  .describe('One plan step as it runs');

/** What a mission's status owes its reader: who approved it, and why it is where it is. */
const story = {
  approvedBy: z.string().nullable().describe(`who approved it (a token name; \`policy:when-pass\` when the site's policy did)`),
  approvedAt: Time.nullable(),
  reason: z
    .string()
    .nullable()
    .describe('why it failed, was cancelled or is paused (`<status> by <who>` when no reason was given); null in other statuses'),
  reasonStep: z.string().nullable().describe('the step the reason is about (the step that failed), when there is one'),
  endedAt: Time.nullable().describe('when it reached its final status (succeeded, failed, cancelled, rejected)'),
};

const PlaceSchema = z.object({ x: z.number(), y: z.number() }).describe('site coordinates, metres');

export const RehearsalViewSchema = z
  .object({
    id: z.string(),
    status: z.enum(['running', 'succeeded', 'failed']).describe('succeeded: the mission succeeded on the rehearsal fleet and no robots came too close'),
    planHash: z.string().describe('the plan hash it rehearsed; `rehearsal: required` lets only this hash be approved'),
    requestedBy: z.string(),
    startedAt: Time,
    endedAt: Time.nullable(),
    fleet: z.enum(['virtual']).nullable().describe('what it ran on: virtual devices in a world of their own (null while running)'),
    speed: z.number().nullable().describe('how many times faster than real time it ran'),
    outcome: z
      .enum(['succeeded', 'failed', 'cancelled', 'timed_out', 'not_started'])
      .nullable()
      .describe('how the mission ended on the rehearsal fleet; null while running'),
    reason: z.string().nullable().describe("the rehearsal mission's reason when it did not succeed"),
    makespanS: z.number().nullable().describe('simulated seconds from approval to the end, on the rehearsal fleet'),
    checkMakespanS: z.number().nullable().describe("the check's makespan, to compare with"),
    minSeparation: z
      .object({
        robots: z.tuple([z.string(), z.string()]),
        distanceM: z.number().describe('centre to centre'),
        gapM: z.number().describe('distanceM less the radii of both footprint discs; below 0 they overlap'),
        at: PlaceSchema,
        near: z.string().describe('the nearest node'),
        tS: z.number().describe('simulated seconds into the rehearsal'),
      })
      .nullable()
      .describe('the closest any two robots came'),
    problems: z.array(
      z.object({
        code: z.string().describe('ROBOTS_TOO_CLOSE, STEP_FAILED, REHEARSAL_TIMEOUT (errors), SLOWER_THAN_CHECKED (a warning)'),
        severity: z.enum(['error', 'warning']),
        message: z.string(),
        robots: z.array(z.string()).optional(),
        at: PlaceSchema.optional(),
        near: z.string().optional(),
        step: z.string().optional(),
      }),
    ),
  })
  .describe("The mission's newest rehearsal: its plan run on a simulated fleet before the real one");

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

/** What the full view and the list line both start with (headOf). */
const head = {
  id: z.string(),
  status: z.enum(MISSION_STATUSES),
  name: z.string().nullable(),
  priority: z.number(),
  planHash: z.string(),
  createdAt: Time,
  updatedAt: Time,
};

export const MissionViewSchema = z
  .object({
    ...head,
    worldHash: z.string(),
    createdBy: z.string(),
    ...story,
    steps: z.array(MissionStepViewSchema).describe('in plan order'),
    report: z.unknown().describe("the check report the mission runs by (POST /v1/plans/check's shape): the approval's check once approved, else the submit's"),
    plan: z.unknown().describe('the plan as checked (GET /v1/schemas/plan.json)'),
    rehearsal: RehearsalViewSchema.nullable()
      .optional()
      .describe('its newest rehearsal (POST /v1/missions/{id}/rehearse); null when it was never rehearsed. In the answers of GET /v1/missions/{id}, rehearse and approve'),
  })
  .describe('A mission with its plan, check report and steps');

export const MissionSummarySchema = z
  .object({
    ...head,
    verdict: z.enum(['pass', 'warn', 'fail']),
    makespanS: z.number(),
    ...story,
    steps: z.array(MissionStepViewSchema),
  })
  .describe('One mission in a list: enough to pick one, without the plan and report');

export const MissionEventViewSchema = z.object({
  seq: z.number().int().describe('rising over every mission; page with afterSeq'),
  at: Time,
  type: z.string().describe('`mission.<status>` or `step.<status>`'),
  actor: z.string().describe("who did it: a token name, `executor`, or `stop:<token name>`"),
  data: z.unknown().describe('what came with it: `{step, device?, reason?}` for steps, `{reason?, step?}` for failed, paused and cancelled missions'),
});

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
    report: m.report,
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
function headOf(m: Mission): { [K in keyof typeof head]: z.infer<(typeof head)[K]> } {
  return { id: m.id, status: m.status, name: m.name, priority: m.priority, planHash: m.planHash, createdAt: m.createdAt, updatedAt: m.updatedAt };
}

export function missionEventView(e: MissionEvent): z.infer<typeof MissionEventViewSchema> {
  return { seq: e.seq, at: e.at, type: e.type, actor: e.actor, data: e.data };
}
