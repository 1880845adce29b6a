// Missions: submit a plan, list and read missions and their event log, approve exactly what was
// checked, cancel, pause and resume.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MISSION_STATUSES } from '../../planners/mission.ts';
import { PlanSchema } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import { renderPlanSvg } from '../../sim/plan-svg.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { BODY_REFUSALS, refusals, TOKEN_REFUSALS } from '../api/refusals.ts';
import { MissionEventPageSchema, MissionListSchema, MissionViewSchema, PLAN_EXAMPLE } from '../api/schemas.ts';
import { ApiError, type ErrorCode } from '../errors.ts';
import type { MissionService } from '../missions/service.ts';
import { missionEventView, missionSummary, missionView } from '../missions/view.ts';
import type { RehearsalService } from '../rehearsal/service.ts';
import type { Mission } from '../store/missions.ts';
import { restConfig } from '../use-cases.ts';
import { EVENTS_LIMIT_MAX, EVENTS_PAGE } from '../store/missions.ts';

const MissionIdParams = z.object({ id: z.string().min(1).max(100) });

// Read from `status=a,b`; described as what it is: an array of statuses, comma-separated (form, not exploded).
const statusList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.enum(MISSION_STATUSES)).min(1))
  .meta({ type: 'array', items: { type: 'string', enum: [...MISSION_STATUSES] }, minItems: 1 });

/** What a route that changes one mission answers (besides what its body may be refused for). */
const changesMission = <C extends ErrorCode>(...conflicts: C[]) => ({
  200: MissionViewSchema,
  ...refusals<(typeof TOKEN_REFUSALS)[number] | 'FORBIDDEN' | (typeof BODY_REFUSALS)[number] | 'NOT_FOUND' | C>(...TOKEN_REFUSALS, 'FORBIDDEN', ...BODY_REFUSALS, 'NOT_FOUND', ...conflicts),
});

export const missionRoutes: FastifyPluginAsyncZod<{ missions: MissionService; rehearsals: RehearsalService; site: LoadedSite }> = async (app, { missions, rehearsals, site }) => {
  /** One mission with its newest rehearsal. */
  const full = (m: Mission) => missionView(m, missions.rehearsalOf(m.id));

  app.post(
    '/v1/missions',
    {
      config: restConfig('missions.submit'),
      schema: {
        tags: ['missions'],
        summary: 'Check a plan and store it as a mission',
        description:
          'A failing plan is stored as `rejected` and answered with 422 and its report. A passing one is `awaiting_approval` (or `approved`, by site policy), 201. Send an `Idempotency-Key` header to make retries safe: the same key and body return the same mission (200), the same key with another body is 422. Keys belong to the token that sends them: another token sending the same key makes its own mission and never sees this one.',
        body: z.strictObject({ plan: PlanSchema }).meta({ examples: [{ plan: PLAN_EXAMPLE }] }),
        headers: z.object({ 'idempotency-key': z.string().min(1).max(200).optional() }),
        response: {
          200: MissionViewSchema.describe('an Idempotency-Key replay: the mission made before (header `idempotent-replayed: true`)'),
          201: MissionViewSchema.describe('the mission, `awaiting_approval` (or `approved`, by site policy)'),
          ...refusals(...TOKEN_REFUSALS, 'FORBIDDEN', ...BODY_REFUSALS, 'PLAN_REJECTED', 'IDEMPOTENCY_CONFLICT', 'CHECK_TIMEOUT'),
        },
      },
    },
    async (req, reply) => {
      const { mission, created } = await missions.submit(req.body.plan, req.principal!.name, req.headers['idempotency-key'], req.principal!.id);
      reply.header('location', `/v1/missions/${mission.id}`);
      if (!created) reply.header('idempotent-replayed', 'true');
      if (mission.status === 'rejected') {
        // Stored as rejected, so the agent can refer to it; the report says what to change.
        // The report once: in details.report, not again inside the mission.
        const { report: _, ...rejected } = missionView(mission);
        const e = new ApiError('PLAN_REJECTED', undefined, { report: mission.report, mission: rejected });
        return reply.code(422).send(e.body());
      }
      return reply.code(created ? 201 : 200).send(missionView(mission));
    },
  );

  app.get(
    '/v1/missions',
    {
      config: restConfig('missions.list'),
      schema: {
        tags: ['missions'],
        summary: 'Missions, newest first',
        querystring: z
          .strictObject({
            status: statusList.optional().describe('comma-separated statuses, e.g. awaiting_approval,running'),
            limit: z.coerce.number().int().min(1).max(500).default(50),
            before: z.string().min(1).max(100).optional().describe('a mission id: the next page starts after it'),
          })
          .meta({ style: 'form', explode: false }),
        response: { 200: MissionListSchema, ...refusals(...TOKEN_REFUSALS, 'VALIDATION_FAILED') },
      },
    },
    async (req) => {
      const list = missions.list({ limit: req.query.limit, ...(req.query.status ? { status: req.query.status } : {}), ...(req.query.before ? { before: req.query.before } : {}) });
      return {
        missions: list.map(missionSummary),
        next: list.length === req.query.limit ? list[list.length - 1]!.id : null,
      };
    },
  );

  app.get(
    '/v1/missions/:id',
    {
      config: restConfig('missions.get'),
      schema: {
        tags: ['missions'],
        summary: 'One mission with its plan, report and steps',
        description:
          "Where the mission and each step are, and why: each step's device, start, end and the reason it failed, was cancelled or is blocked; who approved the mission, when it ended and the reason it failed, was cancelled or is paused.",
        params: MissionIdParams,
        response: { 200: MissionViewSchema, ...refusals(...TOKEN_REFUSALS, 'VALIDATION_FAILED', 'NOT_FOUND') },
      },
    },
    async (req) => full(missions.get(req.params.id)),
  );

  app.get(
    '/v1/missions/:id/events',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['missions'],
        summary: "The mission's event log, oldest first",
        description:
          'Every change of the mission and its steps as it was recorded, in the same transaction as the change: `mission.<status>` and `step.<status>` events with who did it and what came with it (a step\'s device, the reason it failed). Page with `afterSeq` (the last `seq` seen; `next` when the page was full).',
        params: MissionIdParams,
        querystring: z.strictObject({
          afterSeq: z.coerce.number().int().min(0).default(0).describe('the page starts after this seq'),
          limit: z.coerce.number().int().min(1).max(EVENTS_LIMIT_MAX).default(EVENTS_PAGE),
        }),
        operationId: 'missions.events',
        response: { 200: MissionEventPageSchema, ...refusals(...TOKEN_REFUSALS, 'VALIDATION_FAILED', 'NOT_FOUND') },
      },
    },
    async (req) => {
      const events = missions.events(req.params.id, req.query.afterSeq, req.query.limit);
      return { events: events.map(missionEventView), next: events.length === req.query.limit ? events.at(-1)!.seq : null };
    },
  );

  app.get(
    '/v1/missions/:id/plan.svg',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['missions'],
        summary: "The mission's checked plan drawn on the floor plan (SVG)",
        description:
          'What an operator looks at before approving: obstacles, zones, the nav graph and stations, each robot\'s routes with the step ids, where robots would wait for each other (`ROBOT_CONFLICT`) or get stuck (`DEADLOCK`), and a legend with the verdict, makespan and planHash. Drawn from the stored report.',
        operationId: 'missions.planSvg',
        params: MissionIdParams,
        response: {
          200: { description: 'an SVG picture', content: { 'image/svg+xml': { schema: z.string().meta({ examples: ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 20">…</svg>'] }) } } },
          ...refusals(...TOKEN_REFUSALS, 'VALIDATION_FAILED', 'NOT_FOUND'),
        },
      },
    },
    async (req, reply) => {
      const m = missions.get(req.params.id);
      const svg = renderPlanSvg({
        site: site.index,
        obstacles: site.world.obstacles,
        report: m.report as CheckReport,
        title: `${m.name ?? m.id} · ${m.status.replaceAll('_', ' ')}`,
      });
      return reply.type('image/svg+xml; charset=utf-8').header('cache-control', 'no-store').send(svg);
    },
  );

  app.post(
    '/v1/missions/:id/approve',
    {
      config: restConfig('missions.approve'),
      schema: {
        tags: ['missions'],
        summary: 'Approve exactly the plan that was checked',
        description: 'The planHash must be the one in the mission\'s report. The plan is checked again against the fleet as it is now; a plan that now fails is not approved (422 with the new report).',
        params: MissionIdParams,
        body: z.strictObject({ planHash: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest') }).meta({ examples: [{ planHash: 'a3f1c2d4e5b6a7980123456789abcdef0123456789abcdef0123456789abcdef' }] }),
        response: changesMission('INVALID_TRANSITION', 'PLAN_HASH_MISMATCH', 'REPORT_CHANGED', 'SCHEDULE_CHANGED', 'REHEARSAL_REQUIRED', 'PLAN_REJECTED', 'CHECK_TIMEOUT'),
      },
    },
    async (req) => full(await missions.approve(req.params.id, req.body.planHash, req.principal!.name)),
  );

  app.post(
    '/v1/missions/:id/rehearse',
    {
      config: { ...restConfig('missions.rehearse'), bodyOptional: true },
      schema: {
        tags: ['missions'],
        summary: 'Rehearse the plan on a simulated fleet before approving it',
        description:
          "Runs the plan of a mission awaiting approval on a rehearsal fleet: virtual devices in a world of their own (their own broker and store), starting where the real robots stand, at PHYGATE_REHEARSAL_SPEED times real time; or, with PHYGATE_REHEARSAL_FLEET=gazebo, the robots of a Gazebo simulation over ROS 2 in a ROS domain of their own, at real time. The real fleet is never commanded. Answers 202 at once with the mission and its `rehearsal` running; when it ends, GET /v1/missions/{id} has the outcome, the makespan against the check's, the closest the robots came and the problems (robots too close, naming them and the place; a failed step), and a `rehearsal` event is sent. One rehearsal runs at a time (REHEARSAL_BUSY). Under the site's `rehearsal: required` an approval waits for a successful rehearsal of the same plan hash.",
        params: MissionIdParams,
        body: z.strictObject({}).nullish(),
        response: { 202: MissionViewSchema, ...refusals(...TOKEN_REFUSALS, 'FORBIDDEN', ...BODY_REFUSALS, 'NOT_FOUND', 'INVALID_TRANSITION', 'REHEARSAL_BUSY') },
      },
    },
    async (req, reply) => {
      rehearsals.start(req.params.id, req.principal!.name);
      return reply.code(202).send(full(missions.get(req.params.id)));
    },
  );

  app.post(
    '/v1/missions/:id/cancel',
    {
      config: restConfig('missions.cancel'),
      schema: {
        tags: ['missions'],
        summary: 'Cancel a mission that has not finished',
        description: "The `reason` becomes the mission's `reason`; without one it is `cancelled by <token name>`.",
        params: MissionIdParams,
        body: z.strictObject({ reason: z.string().max(500).optional() }).nullish().meta({ examples: [{ reason: 'the order was withdrawn' }] }),
        response: changesMission('INVALID_TRANSITION'),
      },
    },
    async (req) => missionView(missions.cancel(req.params.id, req.principal!.name, req.body?.reason)),
  );

  app.post(
    '/v1/missions/:id/pause',
    {
      config: restConfig('missions.pause'),
      schema: {
        tags: ['missions'],
        summary: 'Pause a running mission: no new steps start, its AMRs pause (VDA 5050 startPause)',
        params: MissionIdParams,
        body: z.strictObject({}).nullish().meta({ examples: [{}] }),
        response: changesMission('INVALID_TRANSITION'),
      },
    },
    async (req) => missionView(missions.pause(req.params.id, req.principal!.name)),
  );

  app.post(
    '/v1/missions/:id/resume',
    {
      config: restConfig('missions.resume'),
      schema: {
        tags: ['missions'],
        summary: 'Resume a paused mission (after a pause, a STOP or a gateway restart)',
        description: 'Its AMRs go on (stopPause), held orders and commands go out, and steps start again. Refused with STOP_ACTIVE while a STOP covers one of its devices.',
        params: MissionIdParams,
        body: z.strictObject({}).nullish().meta({ examples: [{}] }),
        response: changesMission('INVALID_TRANSITION', 'STOP_ACTIVE'),
      },
    },
    async (req) => missionView(await missions.resume(req.params.id, req.principal!.name)),
  );
};
