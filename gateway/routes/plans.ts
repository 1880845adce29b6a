// Checking a plan: nothing moves, the answer is a report an agent can act on.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AssumeSchema } from '../../planners/fleet.ts';
import { PlanSchema } from '../../planners/plan.ts';
import { BODY_REFUSALS, refusals, TOKEN_REFUSALS } from '../api/refusals.ts';
import { CheckReportSchema, PLAN_EXAMPLE } from '../api/schemas.ts';
import type { MissionService } from '../missions/service.ts';
import { restConfig } from '../use-cases.ts';

export const CheckRequestSchema = z.strictObject({
  plan: PlanSchema,
  assume: AssumeSchema.optional().describe('what-if overrides of the fleet state, per device'),
}).meta({ examples: [{ plan: PLAN_EXAMPLE }, { plan: PLAN_EXAMPLE, assume: { 'amr-1': { soc: 0.3 } } }] });

export const planRoutes: FastifyPluginAsyncZod<{ missions: MissionService }> = async (app, { missions }) => {
  app.post(
    '/v1/plans/check',
    {
      config: restConfig('plans.check'),
      schema: {
        tags: ['plans'],
        summary: 'Check a plan in simulation; nothing moves',
        description: 'A malformed plan gets 400 with `{path, message}` problems; a well-formed one always gets a report (200), verdict fail when any issue is an error.',
        body: CheckRequestSchema,
        response: { 200: CheckReportSchema, ...refusals(...TOKEN_REFUSALS, 'FORBIDDEN', ...BODY_REFUSALS, 'CHECK_TIMEOUT') },
      },
    },
    // The report's JSON is made in the check's worker; it is sent as it is (Fastify does not
    // serialize a string sent as JSON), so the type is the schema's, not the string's.
    async (req, reply) => reply.type('application/json; charset=utf-8').send((await missions.checkJson(req.body.plan, req.body.assume)) as never),
  );
};
