// The shop floor as agents and the tablet see it, and the plan format they write against.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { planJsonSchema } from '../../planners/plan.ts';
import { ISSUE_CODES } from '../../planners/report.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { refusals, TOKEN_REFUSALS } from '../api/refusals.ts';
import { IssueCodesSchema, SiteViewSchema, type SiteView } from '../api/schemas.ts';
import { restConfig } from '../use-cases.ts';

/**
 * The site as GET /v1/site and the MCP tool get_site answer it. `timeScale`: how many times
 * faster than real time the floor runs (the virtual fleet's speed; 1 with real hardware).
 */
export function siteView(site: LoadedSite, timeScale = 1): SiteView {
  const { index, worldHash } = site;
  const s = index.site;
  return {
    id: s.id,
    name: s.name,
    mapId: s.mapId,
    worldHash,
    stations: s.stations.map((st) => {
      const node = index.node(st.node)!;
      return { id: st.id, kind: st.kind, node: st.node, x: node.x, y: node.y, theta: st.theta };
    }),
    nodes: s.nodes,
    edges: s.edges,
    zones: s.zones,
    devices: s.devices,
    policies: s.policies,
    // Times in reports are real robots' times; the floor runs this many times faster (the virtual fleet's speed).
    timeScale,
    // The world seen from above, as the checker sees it, and what of it the checker did not read.
    world: {
      obstacles: site.world.obstacles.map((o) => ({ model: o.model, shape: o.shape, x: o.x, y: o.y, yaw: o.yaw, static: o.static })),
      ignored: site.world.ignored,
    },
  };
}

export const siteRoutes: FastifyPluginAsyncZod<{ site: LoadedSite; timeScale: number }> = async (app, { site, timeScale }) => {
  // The site never changes while the gateway runs: build the answers once.
  const view = siteView(site, timeScale);
  const planSchema = planJsonSchema();

  const siteExample = SiteViewSchema.meta({ examples: [view] });
  app.get(
    '/v1/site',
    { config: restConfig('site.read'), schema: { tags: ['site'], summary: 'Stations, nav graph, zones, devices and policies of the site', response: { 200: siteExample, ...refusals(...TOKEN_REFUSALS) } } },
    async () => view,
  );
  app.get(
    '/v1/schemas/plan.json',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['site'],
        operationId: 'schemas.plan',
        summary: 'JSON Schema of plan format v1',
        response: {
          200: { description: 'a JSON Schema (draft 2020-12)', content: { 'application/schema+json': { schema: z.looseObject({}).meta({ examples: [{ $schema: 'https://json-schema.org/draft/2020-12/schema', title: 'phygate plan v1', type: 'object' }] }) } } },
          ...refusals(...TOKEN_REFUSALS),
        },
      },
    },
    async (_req, reply) => reply.type('application/schema+json').send(planSchema),
  );
  app.get(
    '/v1/issue-codes',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['site'],
        operationId: 'issueCodes.list',
        summary: 'The issue codes a check report may contain',
        response: { 200: IssueCodesSchema, ...refusals(...TOKEN_REFUSALS) },
      },
    },
    async () => ISSUE_CODES,
  );
};
