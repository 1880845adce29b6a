// GET /v1/events: the live stream (Server-Sent Events) the tablet and scripts consume. It opens
// with a `snapshot` of every device, then sends every event the hub carries: `device` events as
// states change, `traffic`, `mission`, `step`, `stop`, …
import type { FastifyPluginAsync } from 'fastify';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { z } from 'zod';
import { refusals, TOKEN_REFUSALS } from '../api/refusals.ts';
import { ApiError } from '../errors.ts';
import type { EventHub, GatewayEvent } from '../events.ts';

export const HEARTBEAT_MS = 15_000;

/** How many streams may be open at once: per token and in all. Each holds a socket and a hub subscription. */
export interface StreamCaps {
  perToken: number;
  total: number;
}

export const eventRoutes: FastifyPluginAsync<{ site: LoadedSite; fleet: FleetRegistry; hub: EventHub; streams: StreamCaps }> = async (app, { site, fleet, hub, streams }) => {
  const open = new Set<() => void>();
  /** Open streams per token id. */
  const perToken = new Map<string, number>();
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
          'text/event-stream. The first event is `snapshot` ({devices: [...]}); then `device` events carry one device\'s state, at most one per device every 200 ms (the latest state always arrives), and `traffic` events the shape of GET /v1/traffic, at most one every 200 ms, as it changes; `alert` events ({code, deviceId, message, mapId?, problems?}) when a VDA 5050 vehicle reports another map than the site\'s (DEVICE_WRONG_MAP), the site\'s again (DEVICE_MAP_OK), or publishes a factsheet that falls short of the site (FACTSHEET_MISMATCH); mission, step, rehearsal ({id, missionId, status}, when one starts and ends) and STOP events follow as they happen. Comment lines keep the connection alive every 15 s. Browsers\' EventSource cannot send headers: pass the token as `?access_token=`. At most PHYGATE_EVENT_STREAMS_PER_TOKEN streams per token (8) and PHYGATE_EVENT_STREAMS in all (256) are open at once: one more is 429 `TOO_MANY_STREAMS`; a stream closed frees its place.',
        operationId: 'events.stream',
        response: {
          200: {
            description: 'Server-Sent Events, until the client closes the stream',
            content: { 'text/event-stream': { schema: z.string().meta({ examples: ['retry: 2000\n\nid: 0\nevent: snapshot\ndata: {"devices":[{"kind":"amr","id":"amr-1","online":true,"state":"idle"}]}\n\n'] }) } },
          },
          ...refusals(...TOKEN_REFUSALS, 'TOO_MANY_STREAMS'),
        },
      },
    },
    async (req, reply) => {
      const who = req.principal!.id;
      const mine = perToken.get(who) ?? 0;
      if (mine >= streams.perToken) throw new ApiError('TOO_MANY_STREAMS', `token '${req.principal!.name}' has ${mine} event streams open, the most one token may; close one first`);
      if (open.size >= streams.total) throw new ApiError('TOO_MANY_STREAMS', `${open.size} event streams are open, the most this gateway serves; close one first`);
      perToken.set(who, mine + 1);
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
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        const left = (perToken.get(who) ?? 1) - 1;
        if (left > 0) perToken.set(who, left);
        else perToken.delete(who);
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(end);
        if (!res.writableEnded) res.end();
      };
      open.add(end);
      req.raw.on('close', end);
      res.on('close', end);
      // A client gone before the handler ran has no 'close' left to send: its place would be held for good.
      if (req.raw.destroyed || res.destroyed) end();
    },
  );
};

/** Device changes in the registry become throttled `device` events. */
export function streamFleet(site: LoadedSite, fleet: FleetRegistry, hub: EventHub): () => void {
  return fleet.onChange((state) => hub.publishThrottled(`device:${state.id}`, 'device', { kind: site.index.device(state.id)?.kind, ...state }));
}
