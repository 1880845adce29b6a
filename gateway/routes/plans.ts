// Checking a plan: nothing moves, the answer is a report an agent can act on.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AssumeSchema } from '../../planners/fleet.ts';
import { PlanSchema } from '../../planners/plan.ts';
import type { MissionService } from '../missions/service.ts';
import { restConfig } from '../use-cases.ts';

export const CheckRequestSchema = z.strictObject({
  plan: PlanSchema,
  assume: AssumeSchema.optional().describe('what-if overrides of the fleet state, per device'),
});

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
      },
    },
    // The report's JSON is made in the check's worker; it is sent as it is.
    async (req, reply) => reply.type('application/json; charset=utf-8').send(await missions.checkJson(req.body.plan, req.body.assume)),
  );
};
