// Who the token belongs to: the tablet shows it and decides which buttons to offer by the role.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { WhoamiSchema } from '../api/schemas.ts';
import { refusals, TOKEN_REFUSALS } from '../api/refusals.ts';

export const whoamiRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/v1/whoami',
    {
      config: { role: 'viewer' },
      schema: { tags: ['auth'], operationId: 'whoami', summary: "The token's name and role", response: { 200: WhoamiSchema, ...refusals(...TOKEN_REFUSALS) } },
    },
    async (req) => ({ name: req.principal!.name, role: req.principal!.role }),
  );
};
