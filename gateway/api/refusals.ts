// The error answers a route documents: every error has the one shape of gateway/errors.ts, and
// each status lists the codes the route answers with it. The list is documentation: the
// serializer takes any known code (a code a route forgot to list still reaches the client as it
// is, not as a 500), and the contract test (test/gateway/openapi.test.ts) checks that every listed
// status is answered and every answered one listed.
import { ERRORS, ErrorBodySchema, type ErrorCode } from '../errors.ts';

/** What any route behind a token may answer: no valid token, an expired one, over its budget. */
export const TOKEN_REFUSALS = ['UNAUTHORIZED', 'TOKEN_EXPIRED', 'RATE_LIMITED'] as const satisfies readonly ErrorCode[];

/** What a route that reads a JSON body may answer about it. */
export const BODY_REFUSALS = ['VALIDATION_FAILED', 'INVALID_JSON', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'] as const satisfies readonly ErrorCode[];

/** The `response` entries for these codes: one per status, its `code` documented as the codes of that status. */
export function refusals<C extends ErrorCode>(...codes: readonly C[]): Record<(typeof ERRORS)[C]['status'], typeof ErrorBodySchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      ErrorBodySchema.extend({ code: ErrorBodySchema.shape.code.meta({ enum: list }) })
        .describe(list.map((c) => `\`${c}\`: ${ERRORS[c].message}`).join('; '))
        .meta({ examples: [{ code: list[0], message: ERRORS[list[0]!].message }] }),
    ]),
  ) as Record<(typeof ERRORS)[C]['status'], typeof ErrorBodySchema>;
}
