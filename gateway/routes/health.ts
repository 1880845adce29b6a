// Liveness for load balancers and scripts: the one route that needs no token.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { HealthSchema } from '../api/schemas.ts';

export const healthRoutes: FastifyPluginAsyncZod<{ site: LoadedSite }> = async (app, { site }) => {
  const started = Date.now();
  app.get('/healthz', { config: { role: 'public' }, schema: { tags: ['health'], operationId: 'health.read', summary: 'Is the gateway up? (no token needed)', security: [], response: { 200: HealthSchema } } }, async () => ({
    status: 'ok' as const,
    site: site.index.site.id,
    uptimeS: Math.round((Date.now() - started) / 1000),
  }));
};
