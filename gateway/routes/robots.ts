// Devices and what is known of their state right now.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DropCounter } from '../../robots/drops.ts';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { refusals, TOKEN_REFUSALS } from '../api/refusals.ts';
import { RobotListSchema, RobotSchema, type Robot } from '../api/schemas.ts';
import { ApiError } from '../errors.ts';
import { restConfig } from '../use-cases.ts';

/** One device of the site with its live state and its dropped messages, as the API shows it. */
export function robotView(site: LoadedSite, fleet: FleetRegistry, drops: Pick<DropCounter, 'of'> | undefined, id: string): Robot {
  const device = site.index.device(id)!;
  // The fleet's interfaces have no index signature, so they are not the loose schema's type;
  // the serializer checks the shape.
  return { kind: device.kind, ...fleet.get(id)!, dropped: drops?.of(id) ?? {} } as Robot;
}

export const robotRoutes: FastifyPluginAsyncZod<{ site: LoadedSite; fleet: FleetRegistry; drops?: Pick<DropCounter, 'of'> }> = async (app, { site, fleet, drops }) => {
  // `dropped`: how many of the device's messages were not acted on, by reason (robots/drops.ts).
  const view = (id: string) => robotView(site, fleet, drops, id);
  app.get(
    '/v1/robots',
    {
      config: restConfig('robots.list'),
      schema: {
        tags: ['robots'],
        summary: 'Every device of the site with its live state',
        description: 'Each as GET /v1/robots/{id} answers it, with `dropped` and, for an AMR driven by a learned policy, `policy` (POLICY.md).',
        response: { 200: RobotListSchema, ...refusals(...TOKEN_REFUSALS) },
      },
    },
    async () => ({ robots: site.index.site.devices.map((d) => view(d.id)) }),
  );
  app.get(
    '/v1/robots/:id',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['robots'],
        summary: 'One device with its live state',
        description: "`dropped`: how many of the device's messages the gateway did not act on, by reason (`schema`, `headerId-backwards`, `headerId-jump`, `clock-skew`, `other-vehicle`, `seq`, `unknown-command`). `policy` (an AMR driven by a learned policy): its `name`, `version`, `sha256`, and the safety shield's `interventions` in total and `byReason` (POLICY.md). `unavailable`: why the gateway does not use the device, whatever it reports (e.g. its policy has no passing certificate for this floor); such a device is offline to every check",
        operationId: 'robots.get',
        params: z.object({ id: z.string() }),
        response: { 200: RobotSchema, ...refusals(...TOKEN_REFUSALS, 'VALIDATION_FAILED', 'NOT_FOUND') },
      },
    },
    async (req) => {
      if (!site.index.device(req.params.id)) {
        throw new ApiError('NOT_FOUND', `no device '${req.params.id}'`, { known: site.index.site.devices.map((d) => d.id) });
      }
      return view(req.params.id);
    },
  );
};
