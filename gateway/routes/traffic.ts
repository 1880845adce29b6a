// Traffic at run time: the nodes each AMR holds, the route it drives and how far it may go, and,
// for a robot that waits, whom it waits for and why (gateway/execution/traffic.ts).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { refusals, TOKEN_REFUSALS } from '../api/refusals.ts';
import { TrafficSchema } from '../api/schemas.ts';
import type { TrafficDeviceView } from '../execution/traffic.ts';

export const trafficRoutes: FastifyPluginAsyncZod<{ traffic: { view(): TrafficDeviceView[] } }> = async (app, { traffic }) => {
  app.get(
    '/v1/traffic',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['robots'],
        summary: 'Which AMR holds which node, the route each drives, and who waits for whom',
        operationId: 'traffic.read',
        response: { 200: TrafficSchema, ...refusals(...TOKEN_REFUSALS) },
      },
    },
    async () => ({ devices: traffic.view() }),
  );
};
