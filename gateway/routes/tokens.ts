// Revoking access tokens (admin). A revoked token is refused from its next request on: every
// request looks its token up in the store, so no running gateway keeps accepting it.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { refusals, TOKEN_REFUSALS } from '../api/refusals.ts';
import { TokenRecordSchema } from '../api/schemas.ts';
import { ApiError } from '../errors.ts';
import type { TokenStore } from '../store/tokens.ts';

export const tokenRoutes: FastifyPluginAsyncZod<{ tokens: TokenStore; now: () => Date }> = async (app, { tokens, now }) => {
  app.delete(
    '/v1/tokens/:id',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke a token (admin): refused (401) from its next request on',
        description:
          'Answers the token\'s record with `revokedAt`. A token revoked before keeps its first `revokedAt` (200 again). An id the store does not know is 404 `NOT_FOUND`. The admin token from `PHYGATE_ADMIN_TOKEN` has no id: unset the variable instead. Also from the command line: `phygate token revoke <id|name>`.',
        params: z.object({ id: z.string().min(1).max(100) }),
        operationId: 'tokens.revoke',
        response: { 200: TokenRecordSchema, ...refusals(...TOKEN_REFUSALS, 'FORBIDDEN', 'VALIDATION_FAILED', 'NOT_FOUND') },
      },
    },
    async (req) => {
      if (!tokens.get(req.params.id)) throw new ApiError('NOT_FOUND', `no token '${req.params.id}'`);
      const revoked = tokens.revoke(req.params.id, now());
      const record = tokens.get(req.params.id)!;
      req.log.info({ token: record.id, name: record.name, actor: req.principal!.name, revokedNow: revoked }, 'token revoked');
      return record;
    },
  );
};
