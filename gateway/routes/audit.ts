// The request audit log (admin): who changed what and who was refused, with the chain checked.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AUDIT_PAGE, AUDIT_PAGE_MAX, type AuditStore } from '../store/audit.ts';

export const auditRoutes: FastifyPluginAsyncZod<{ audit: AuditStore }> = async (app, { audit }) => {
  app.get(
    '/v1/audit',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'The request audit log, oldest first, with the hash chain verified (admin)',
        description:
          'One entry per state-changing request (every method but GET, HEAD and OPTIONS), whether it succeeded or was refused (401 and 403 included): `actor` (the token name, or `anonymous`), `role`, `method`, `path`, `status`, the error `code` of a 4xx/5xx, `requestId`, and the chain fields `prevHash` and `hash`. Page with `afterSeq` (the last `seq` seen). `chain` is the check of the whole log: `{ok: true, rows}`, or `{ok: false, seq, reason}` naming the first row that was tampered with.',
        querystring: z.strictObject({
          afterSeq: z.coerce.number().int().min(0).default(0).describe('the next page starts after this seq'),
          limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(AUDIT_PAGE),
        }),
      },
    },
    async (req) => ({ entries: audit.list({ afterSeq: req.query.afterSeq, limit: req.query.limit }), chain: audit.verify() }),
  );
};
