// GET /v1/events: the live stream (Server-Sent Events) the tablet and scripts consume. It opens
// with a `snapshot` of every device, then sends every event the hub carries: `device` events as
// states change, `traffic`, `mission`, `step`, `stop`, …
import type { FastifyPluginAsync } from 'fastify';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import type { EventHub, GatewayEvent } from '../events.ts';

export const HEARTBEAT_MS = 15_000;

export const eventRoutes: FastifyPluginAsync<{ site: LoadedSite; fleet: FleetRegistry; hub: EventHub }> = async (app, { site, fleet, hub }) => {
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });
  app.get(
    '/v1/events',
    {
      config: { role: 'viewer', queryToken: true },
      schema: {
        tags: ['robots'],
        summary: 'Live events (Server-Sent Events): a snapshot of every device, then device state changes',
        description:
          'text/event-stream. The first event is `snapshot` ({devices: [...]}); then `device` events carry one device\'s state, at most one per device every 200 ms (the latest state always arrives), and `traffic` events the shape of GET /v1/traffic, at most one every 200 ms, as it changes; mission, step and STOP events follow as they happen. Comment lines keep the connection alive every 15 s. Browsers\' EventSource cannot send headers: pass the token as `?access_token=`.',
        produces: ['text/event-stream'],
      },
    },
    async (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const send = (e: GatewayEvent) => res.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
      res.write('retry: 2000\n\n');
      send({ id: 0, type: 'snapshot', data: { devices: site.index.site.devices.map((d) => ({ kind: d.kind, ...fleet.get(d.id)! })) } });
      const unsubscribe = hub.subscribe(send);
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      const end = () => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(end);
        if (!res.writableEnded) res.end();
      };
      open.add(end);
      req.raw.on('close', end);
    },
  );
};

/** Device changes in the registry become throttled `device` events. */
export function streamFleet(site: LoadedSite, fleet: FleetRegistry, hub: EventHub): () => void {
  return fleet.onChange((state) => hub.publishThrottled(`device:${state.id}`, 'device', { kind: site.index.device(state.id)?.kind, ...state }));
}
