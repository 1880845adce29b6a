// STOP: press it (any role, never rate-limited), see what is active, release it (operator).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SCOPE_PATTERN, type StopService } from '../stop.ts';

export const stopRoutes: FastifyPluginAsyncZod<{ stops: StopService }> = async (app, { stops }) => {
  app.post(
    '/v1/stop',
    {
      // Any token may stop the floor, however many requests it has made: STOP is never rate-limited.
      config: { role: 'viewer', rateLimit: false },
      schema: {
        tags: ['stop'],
        summary: 'STOP: every device in the scope stops at once; latched until an operator releases it',
        description:
          'Any authenticated role. Stored before anything is sent, so it is latched even if a device cannot be reached; then every device in the scope is told at once: AMRs get VDA 5050 `startPause` + `cancelOrder` (QoS 1), machines `stop`. `scope` is `all`, `zone:<id>` (AMRs whose pose is in the zone, machines whose station is) or `device:<id>`. `told` says for each device whether the broker confirmed the message within a second (`sent`), not yet (`unconfirmed`), or it failed (`failed`). A device that connects while the stop is active is told again; the stop survives a restart. Never rate-limited.',
        body: z.strictObject({
          scope: z.string().regex(SCOPE_PATTERN, "'all', 'zone:<id>' or 'device:<id>'"),
          reason: z.string().min(1).max(500),
        }),
      },
    },
    async (req) => {
      const { stop, told } = await stops.stop({ scope: req.body.scope, reason: req.body.reason, actor: req.principal!.name });
      return { ...stop, told };
    },
  );

  app.get(
    '/v1/stop',
    { config: { role: 'viewer' }, schema: { tags: ['stop'], summary: 'The STOPs that are active (latched), oldest first' } },
    async () => {
      const active = stops.active();
      return { active: active.length > 0, stops: active };
    },
  );

  app.post(
    '/v1/stop/release',
    {
      config: { role: 'operator' },
      schema: {
        tags: ['stop'],
        summary: 'Release every active STOP (operator); missions stay paused until resumed',
        description:
          '`ack` must be `true`: the operator confirms the floor is safe. Every active stop is released at once and the AMRs get `stopPause`; their orders were cancelled by the stop, so nothing moves until a mission is resumed. With no stop active this releases nothing (`released: []`).',
        body: z.strictObject({ ack: z.literal(true), note: z.string().min(1).max(500).optional() }),
      },
    },
    async (req) => {
      const { released, resumed } = await stops.release({ actor: req.principal!.name, ack: req.body.ack, ...(req.body.note === undefined ? {} : { note: req.body.note }) });
      return { active: false, released, resumed };
    },
  );
};
