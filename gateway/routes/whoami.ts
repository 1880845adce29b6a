// Who the token belongs to: the tablet shows it and decides which buttons to offer by the role.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLES } from '../auth/roles.ts';

export const WhoamiSchema = z.object({
  name: z.string().describe("the token's name"),
  role: z.enum(ROLES).describe('what the token may do: viewer < agent < operator < admin'),
});

export const whoamiRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/v1/whoami',
    {
      config: { role: 'viewer' },
      schema: { tags: ['auth'], summary: "The token's name and role", response: { 200: WhoamiSchema } },
    },
    async (req) => ({ name: req.principal!.name, role: req.principal!.role }),
  );
};
