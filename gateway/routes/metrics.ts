// Counters for a monitoring system, in Prometheus' text format: what the device masters dropped,
// per device and reason (robots/drops.ts). Every device of the site has a series for every reason,
// zero until something is dropped, so a rate over them needs no series to appear first.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { DROP_REASONS, UNKNOWN_DEVICE, type DropCounter } from '../../robots/drops.ts';
import { z } from 'zod';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { refusals, TOKEN_REFUSALS } from '../api/refusals.ts';

/** A label value as the text format writes it: backslash, double quote and newline escaped. */
const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function metricsText(site: LoadedSite, drops: Pick<DropCounter, 'list'> | undefined): string {
  const counts = new Map<string, number>();
  for (const c of drops?.list() ?? []) counts.set(`${c.device}\n${c.reason}`, c.count);
  const lines = [
    '# HELP phygate_mqtt_messages_dropped_total MQTT messages from devices (or anyone on the broker) the gateway did not act on, by device and reason.',
    '# TYPE phygate_mqtt_messages_dropped_total counter',
  ];
  const series = (device: string, reason: string) =>
    lines.push(`phygate_mqtt_messages_dropped_total{device="${label(device)}",reason="${label(reason)}"} ${counts.get(`${device}\n${reason}`) ?? 0}`);
  for (const d of site.index.site.devices) for (const reason of DROP_REASONS) if (reason !== 'unknown-device') series(d.id, reason);
  series(UNKNOWN_DEVICE, 'unknown-device');
  return `${lines.join('\n')}\n`;
}

export const metricsRoutes: FastifyPluginAsyncZod<{ site: LoadedSite; drops?: Pick<DropCounter, 'list'> }> = async (app, { site, drops }) => {
  app.get(
    '/v1/metrics',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['metrics'],
        summary: 'Counters in the Prometheus text format',
        description:
          '`phygate_mqtt_messages_dropped_total{device, reason}`: MQTT messages the gateway did not act on, per device of the site and reason ' +
          `(${DROP_REASONS.map((r) => `\`${r}\``).join(', ')}); messages from no device of the site are counted under device \`${UNKNOWN_DEVICE}\`.`,
        operationId: 'metrics.read',
        response: {
          200: {
            description: 'the Prometheus text format, version 0.0.4',
            content: { 'text/plain': { schema: z.string().meta({ examples: ['phygate_mqtt_messages_dropped_total{device="amr-1",reason="schema"} 0\n'] }) } },
          },
          ...refusals(...TOKEN_REFUSALS),
        },
      },
    },
    async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(metricsText(site, drops)),
  );
};
