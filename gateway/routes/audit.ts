// The request audit log (admin): who changed what and who was refused, with the chain checked
// as far as it was read (a read costs what it returns, however long the log is).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { refusals, TOKEN_REFUSALS } from '../api/refusals.ts';
import { AuditPageSchema } from '../api/schemas.ts';
import { AUDIT_PAGE, AUDIT_PAGE_MAX, type AuditStore } from '../store/audit.ts';

export const auditRoutes: FastifyPluginAsyncZod<{ audit: AuditStore }> = async (app, { audit }) => {
  app.get(
    '/v1/audit',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'The request audit log, oldest first, with the hash chain verified incrementally (admin)',
        description:
          'One entry per state-changing request (every method but GET, HEAD and OPTIONS), whether it succeeded or was refused (401 and 403 included): `actor` (the token name, or `anonymous`), `role`, `method`, `path`, `status`, the error `code` of a 4xx/5xx, `requestId`, the `operation` of a use case (e.g. `missions.approve`, also for a tool call over MCP, which is `POST /mcp`), and the chain fields `prevHash` and `hash`. Page with `afterSeq` (the last `seq` seen). Refused requests without a valid token are gathered: one row per address, method, route, status and code a minute, with `count` and `address`. `chain` is the incremental check of the hash chain: each read verifies as many rows as it returns, from where the last read stopped (a checkpoint kept in the database), and answers `{ok: true, rows, pending}` (`rows` verified from the first, `pending` after them not yet), or `{ok: false, seq, reason}` naming the first row that does not verify. Rows verified once are not verified again by reads; `phygate audit verify` recomputes the whole chain.',
        querystring: z.strictObject({
          afterSeq: z.coerce.number().int().min(0).default(0).describe('the next page starts after this seq'),
          limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(AUDIT_PAGE),
        }),
        operationId: 'audit.list',
        response: { 200: AuditPageSchema, ...refusals(...TOKEN_REFUSALS, 'FORBIDDEN', 'VALIDATION_FAILED') },
      },
    },
    async (req) => {
      const entries = audit.list({ afterSeq: req.query.afterSeq, limit: req.query.limit });
      // As much checking as reading: a log of a million rows costs a page per read, never the whole table.
      return { entries, chain: audit.verifyIncrementally(entries.length) };
    },
  );
};
