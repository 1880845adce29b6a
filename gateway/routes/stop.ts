// STOP: press it (any role, never rate-limited, never refused over its body), see what is
// active, release it (operator).
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BODY_REFUSALS, refusals, TOKEN_REFUSALS } from '../api/refusals.ts';
import { ActiveStopsSchema, StopHistorySchema, StopPressAnswerSchema, StopReleaseAnswerSchema } from '../api/schemas.ts';
import { ApiError } from '../errors.ts';
import { DEFAULT_REASON, readStopBody, REASON_MAX, STOP_BODY_MAX, type StopBody } from '../stop-request.ts';
import type { StopService } from '../stop.ts';
import { restConfig } from '../use-cases.ts';

/** What the press's body says at best; the route reads any body (see stop-request.ts). Documentation only. */
const StopPressBody = z
  .object({
    scope: z
      .string()
      .optional()
      .describe(
        "`all` (the default), `zone:<id>`, `device:<id>` or a bare zone or device id; any case. A scope that names nothing on this site is 404 and nothing is stopped.",
      ),
    reason: z.string().optional().describe(`Why; default '${DEFAULT_REASON}', cut to ${REASON_MAX} characters.`),
  })
  .describe('Optional, as is every field: no body stops everything.')
  .meta({ examples: [{ scope: 'zone:paint-booth', reason: 'person in the booth' }] });

export const stopRoutes: FastifyPluginAsyncZod<{ stops: StopService }> = async (app, { stops }) => {
  await app.register(stopPress, { stops });

  app.get(
    '/v1/stop',
    {
      config: { role: 'viewer' },
      schema: { tags: ['stop'], operationId: 'stop.list', summary: 'The STOPs that are active (latched), oldest first', response: { 200: ActiveStopsSchema, ...refusals(...TOKEN_REFUSALS) } },
    },
    async () => {
      const active = stops.active();
      return { active: active.length > 0, stops: active };
    },
  );

  app.get(
    '/v1/stop/history',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['stop'],
        summary: 'The latest STOPs, released or not, newest first',
        description: 'Each with who pressed it (`createdBy`), when and why, and, once released, who released it, when and with what note (`releasedBy`, `releasedAt`, `releaseNote`; null while active).',
        operationId: 'stop.history',
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50).describe('how many, newest first (1–500)') }),
        response: { 200: StopHistorySchema, ...refusals(...TOKEN_REFUSALS, 'VALIDATION_FAILED') },
      },
    },
    async (req) => ({ stops: stops.history(req.query.limit) }),
  );

  app.post(
    '/v1/stop/release',
    {
      config: restConfig('stop.release'),
      schema: {
        tags: ['stop'],
        summary: 'Release every active STOP (operator); missions stay paused until resumed',
        description:
          '`ack` must be `true`: the operator confirms the floor is safe. Every active stop is released at once and the AMRs get `stopPause`; their orders were cancelled by the stop, so nothing moves until a mission is resumed. With no stop active this releases nothing (`released: []`).',
        body: z.strictObject({ ack: z.literal(true), note: z.string().min(1).max(500).optional() }).meta({ examples: [{ ack: true, note: 'aisle clear' }] }),
        response: { 200: StopReleaseAnswerSchema, ...refusals(...TOKEN_REFUSALS, 'FORBIDDEN', ...BODY_REFUSALS) },
      },
    },
    async (req) => {
      const { released, resumed } = await stops.release({ actor: req.principal!.name, ack: req.body.ack, ...(req.body.note === undefined ? {} : { note: req.body.note }) });
      return { active: false as const, released, resumed };
    },
  );
};

/**
 * POST /v1/stop in an encapsulated context of its own, so that its lenient reading of bodies
 * reaches no other route: those still refuse what is not JSON (415) or not valid (400).
 */
const stopPress: FastifyPluginAsyncZod<{ stops: StopService }> = async (app, { stops }) => {
  // Fastify answers 415 for a Content-Type it finds malformed before any parser runs, and a
  // parser for one type would leave the others refused. Without the header, a body goes to the
  // catch-all parser and a request without one straight to the handler; the type is kept for notes.
  const contentTypes = new WeakMap<FastifyRequest, string | undefined>();
  app.addHook('preParsing', async (req, _reply, payload) => {
    contentTypes.set(req, req.headers['content-type']);
    delete req.raw.headers['content-type'];
    return payload;
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => collect(payload, done));
  // readStopBody reads the body; a schema here would refuse it.
  app.setValidatorCompiler(() => (value) => ({ value }));

  app.post(
    '/v1/stop',
    {
      // Any token may stop the floor, however many requests it has made: STOP is never rate-limited.
      config: { ...restConfig('stop.press'), rateLimit: false, bodyOptional: true },
      schema: {
        tags: ['stop'],
        summary: 'STOP: every device in the scope stops at once; latched until an operator releases it',
        description: [
          `Any authenticated role; never rate-limited; never refused over its body. No body, any or no Content-Type, JSON that is not valid or not an object, missing, empty or odd fields: all stop, with \`scope\` \`all\` and \`reason\` \`${DEFAULT_REASON}\` unless the body gives them (a longer reason is cut to ${REASON_MAX} characters, unknown fields are ignored, a form body or a plain-text reason is read too, past ${STOP_BODY_MAX} bytes the body is not read).`,
          '`scope` is `all`, `zone:<id>` (AMRs whose pose is in the zone, machines whose station is), `device:<id>` or a bare zone or device id, in any case. Only a scope that names no zone or device of this site, or is not a string, is refused: 404 `NOT_FOUND` with `details.stopped: false` and the known `zones` and `devices`; nothing is stopped.',
          'Stored before anything is sent, so it is latched even if a device cannot be reached; then every device in the scope is told at once: AMRs get VDA 5050 `startPause` + `cancelOrder` (QoS 1), machines `stop`. The answer is the stored record plus `told`, which says for each device whether the broker confirmed the message within a second (`sent`), not yet (`unconfirmed`), or it failed (`failed`), and `notes`, what was made of the request (defaults used, fields ignored). A device that connects while the stop is active is told again; the stop survives a restart.',
        ].join(' '),
        body: StopPressBody,
        // Never refused over its body nor rate-limited: no token, or a scope that names nothing.
        response: { 200: StopPressAnswerSchema, ...refusals('UNAUTHORIZED', 'TOKEN_EXPIRED', 'NOT_FOUND') },
      },
    },
    async (req) => {
      // The type provider types the body by the schema; what arrives is what collect() made of it.
      const ask = readStopBody(req.body as unknown as StopBody | undefined, contentTypes.get(req));
      try {
        const { stop, told, notes } = await stops.stop({ scope: ask.scope, reason: ask.reason, actor: req.principal!.name });
        return { ...stop, told, notes: [...ask.notes, ...notes] };
      } catch (err) {
        if (err instanceof ApiError && err.code === 'NOT_FOUND') throw new ApiError('NOT_FOUND', err.message, { ...(err.details as object), notes: ask.notes });
        throw err;
      }
    },
  );
};

/**
 * Up to STOP_BODY_MAX bytes of the body; more is dropped, not refused. A client that goes away
 * mid-body still meant to stop: what arrived is read.
 */
function collect(payload: NodeJS.ReadableStream, done: (err: Error | null, body?: StopBody) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (cutOff?: StopBody['cutOff']) => {
    if (finished) return;
    finished = true;
    payload.removeListener('data', onData);
    done(null, { bytes: Buffer.concat(chunks), ...(cutOff ? { cutOff } : {}) });
  };
  const onData = (chunk: Buffer) => {
    const room = STOP_BODY_MAX - size;
    chunks.push(chunk.subarray(0, room));
    size += Math.min(chunk.length, room);
    if (chunk.length > room) finish('limit');
  };
  payload.on('data', onData);
  payload.on('end', () => finish());
  payload.on('error', () => finish('aborted'));
  payload.on('close', () => finish('aborted'));
}
