// A mission as API clients see it: the zod schemas its answers are serialized with (and the
// OpenAPI description generated from), and the functions that build them from the store's missions.
import { z } from 'zod';
import { MISSION_STATUSES, STEP_STATUSES } from '../../planners/mission.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { Mission, MissionEvent, MissionStep } from '../store/missions.ts';

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

/** The full mission as an API client sees it. */
export function missionView(m: Mission): z.infer<typeof MissionViewSchema> {
  const report = m.report as CheckReport | null;
  return {
    ...headOf(m),
    worldHash: m.worldHash,
    createdBy: m.createdBy,
    ...storyOf(m),
    steps: m.steps.map((s) => stepView(s, report)),
    report: m.report,
    plan: m.plan,
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
