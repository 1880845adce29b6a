// Who may call what: every route but the public ones needs a bearer token, and each route names
// the least role it needs (viewer < agent < operator < admin).
import type { LightMyRequestResponse } from 'fastify';
import t, { type Test } from 'tap';
import { ROLES, type Role } from '../../gateway/auth/roles.ts';
import { appFor, canonicalPlan, type TestApp, type TestAppOptions } from './harness.ts';

interface RouteCase {
  method: 'GET' | 'POST' | 'DELETE';
  /** `:id` stands for the id of a mission awaiting approval (no token has it: DELETE /v1/tokens/:id is a 404 for those allowed). */
  url: string;
  role: Role;
  body?: (planHash: string) => object;
  /** A stream that never ends by itself (Server-Sent Events): read up to the headers, then closed. */
  stream?: boolean;
}

/** The API surface and the least role each route needs. */
const ROUTES: RouteCase[] = [
  { method: 'GET', url: '/v1/whoami', role: 'viewer' },
  { method: 'GET', url: '/v1/site', role: 'viewer' },
  { method: 'GET', url: '/v1/schemas/plan.json', role: 'viewer' },
  { method: 'GET', url: '/v1/issue-codes', role: 'viewer' },
  { method: 'GET', url: '/v1/robots', role: 'viewer' },
  { method: 'GET', url: '/v1/robots/amr-1', role: 'viewer' },
  { method: 'GET', url: '/v1/metrics', role: 'viewer' },
  { method: 'GET', url: '/v1/missions', role: 'viewer' },
  { method: 'GET', url: '/v1/missions/:id', role: 'viewer' },
  { method: 'GET', url: '/v1/missions/:id/plan.svg', role: 'viewer' },
  { method: 'GET', url: '/v1/missions/:id/events', role: 'viewer' },
  { method: 'GET', url: '/v1/events', role: 'viewer', stream: true },
  { method: 'GET', url: '/v1/stop', role: 'viewer' },
  { method: 'GET', url: '/v1/stop/history', role: 'viewer' },
  { method: 'POST', url: '/v1/stop', role: 'viewer', body: () => ({ scope: 'all', reason: 'auth test' }) },
  { method: 'POST', url: '/v1/stop/release', role: 'operator', body: () => ({ ack: true }) },
  { method: 'POST', url: '/v1/plans/check', role: 'agent', body: () => ({ plan: canonicalPlan() }) },
  { method: 'POST', url: '/v1/missions', role: 'agent', body: () => ({ plan: canonicalPlan() }) },
  { method: 'POST', url: '/v1/missions/:id/rehearse', role: 'operator', body: () => ({}) },
  { method: 'POST', url: '/v1/missions/:id/approve', role: 'operator', body: (planHash) => ({ planHash }) },
  { method: 'POST', url: '/v1/missions/:id/cancel', role: 'operator', body: () => ({ reason: 'auth test' }) },
  { method: 'POST', url: '/v1/missions/:id/pause', role: 'operator', body: () => ({}) },
  { method: 'POST', url: '/v1/missions/:id/resume', role: 'operator', body: () => ({}) },
  { method: 'GET', url: '/v1/audit', role: 'admin' },
  { method: 'DELETE', url: '/v1/tokens/:id', role: 'admin' },
  // The MCP server: any token connects, each tool needs its own role (mcp.test.ts).
  { method: 'POST', url: '/mcp', role: 'viewer', body: () => ({ jsonrpc: '2.0', id: 1, method: 'ping' }) },
];

const label = (r: RouteCase) => `${r.method} ${r.url}`;
const roleBelow = (role: Role): Role | undefined => ROLES[ROLES.indexOf(role) - 1];
const rolesFrom = (role: Role): Role[] => ROLES.slice(ROLES.indexOf(role));

interface Fixture {
  h: TestApp;
  missionId: string;
  send(route: RouteCase, headers: Record<string, string>): Promise<LightMyRequestResponse>;
}

/** An app with one mission awaiting approval, for the `:id` routes. */
async function fixture(t: Test, opts: TestAppOptions = {}): Promise<Fixture> {
  const h = await appFor(t, opts);
  const res = await h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan: canonicalPlan() } });
  if (res.statusCode !== 201) throw new Error(`setup: submit answered ${res.statusCode} ${res.body.slice(0, 300)}`);
  const mission = res.json() as { id: string; planHash: string };
  return {
    h,
    missionId: mission.id,
    send: async (route, headers) => {
      const request = { method: route.method, url: route.url.replace(':id', mission.id), headers, ...(route.body ? { payload: route.body(mission.planHash) } : {}) };
      if (!route.stream) return h.app.inject(request);
      const res = await h.app.inject({ ...request, payloadAsStream: true });
      const stream = res.stream();
      if (res.statusCode === 200) {
        stream.destroy();
        return { ...res, body: '', json: () => ({}) } as unknown as LightMyRequestResponse;
      }
      let body = '';
      for await (const chunk of stream) body += String(chunk);
      return { ...res, body, json: () => JSON.parse(body) } as unknown as LightMyRequestResponse;
    },
  };
}

t.test('the route table covers every route the API describes', async (t) => {
  const h = await appFor(t);
  const res = await h.app.inject({ method: 'GET', url: '/openapi.json' });
  t.equal(res.statusCode, 200);
  const doc = res.json() as { paths: Record<string, Record<string, unknown>> };
  const described = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace('{id}', ':id')}`))
    .filter((r) => r !== 'GET /healthz')
    .sort();
  const tabled = ROUTES.map((r) => `${r.method} ${r.url.replace('/amr-1', '/:id')}`).sort();
  t.same(tabled, described, 'a route added without a row in this table fails here');
});

/**
 * Every route the app serves, as `METHOD /path`, read from Fastify's route tree (HEAD, which
 * Fastify adds to every GET, left out).
 */
function servedRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([\s│├└─]*?)([^\s│├└─].*?) \(([A-Z, ]+)\)\s*$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + m[2]!;
    stack[depth] = path;
    for (const method of m[3]!.split(', ')) if (method !== 'HEAD') out.push(`${method} ${path}`);
  }
  return out.sort();
}

/** Routes outside the API, which hold no data: the liveness probe, the API's description, the tablet's page and assets. */
const PUBLIC_PAGES = [/^GET \/$/, /^GET \/healthz$/, /^GET \/openapi\.json$/, /^GET \/docs(\/.*)?$/, /^GET \/tablet\/:file$/];

t.test('every route the app serves is in the table, or is a public page outside /v1/', async (t) => {
  const h = await appFor(t);
  const served = servedRoutes(h.app.printRoutes({ commonPrefix: false }));
  t.ok(served.includes('POST /v1/missions/:id/approve') && served.includes('GET /'), 'the route tree is read');
  const tabled = new Set(ROUTES.map((r) => `${r.method} ${r.url.replace('/amr-1', '/:id')}`));
  t.same(served.filter((r) => r.includes(' /v1/') && !tabled.has(r)), [], 'every /v1/ route is in the table');
  const pages = served.filter((r) => !r.includes(' /v1/') && !tabled.has(r));
  t.same(pages.filter((r) => !PUBLIC_PAGES.some((p) => p.test(r))), [], 'nothing else outside /v1/ but the tabled /mcp');
  for (const page of pages.filter((r) => !r.includes('*') && !r.includes(':'))) {
    const res = await h.app.inject({ method: 'GET', url: page.slice(4) });
    t.not(res.statusCode, 401, `${page} needs no token`);
  }
});

t.test('without a token every route answers 401 UNAUTHORIZED and changes nothing', async (t) => {
  const { h, missionId, send } = await fixture(t);
  for (const route of ROUTES) {
    const res = await send(route, {});
    t.equal(res.statusCode, 401, label(route));
    t.match(res.json(), { code: 'UNAUTHORIZED', message: String }, `${label(route)}: body`);
  }
  t.equal(h.store.missions.list().length, 1, 'no mission was created');
  t.equal(h.store.missions.get(missionId)!.status, 'awaiting_approval', 'the mission was neither approved nor cancelled');
  t.same(h.store.stops.recent(), [], 'no stop was pressed');
});

t.test('a garbage token or another scheme is 401 on every route', async (t) => {
  // More requests without a valid token than one address may make in a minute (rate-limit.cases.ts).
  const { h, send } = await fixture(t, { config: { PHYGATE_RATE_LIMIT_ANONYMOUS: 10_000 } });
  const bad: Record<string, string> = {
    'garbage bearer token': 'Bearer not-a-token',
    'unknown pgt_ token': 'Bearer pgt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'Basic scheme': `Basic ${Buffer.from('admin:secret').toString('base64')}`,
    'Basic scheme carrying a real token': `Basic ${h.tokens.admin}`,
    'a real token without a scheme': h.tokens.admin,
    'Bearer with nothing after it': 'Bearer ',
    'two tokens': `Bearer ${h.tokens.admin} ${h.tokens.admin}`,
  };
  for (const [what, authorization] of Object.entries(bad)) {
    for (const route of ROUTES) {
      const res = await send(route, { authorization });
      t.equal(res.statusCode, 401, `${what}: ${label(route)}`);
      t.equal(res.json().code, 'UNAUTHORIZED', `${what}: ${label(route)}: code`);
    }
  }
  t.equal(h.store.missions.list().length, 1, 'no mission was created');
});

t.test('the role just below the required one is 403 FORBIDDEN; the required role and above get through', async (t) => {
  for (const route of ROUTES) {
    await t.test(`${label(route)} needs ${route.role}`, async (t) => {
      // A fresh app per route, so an approve or cancel by one role does not change what the next sees.
      const { h, missionId, send } = await fixture(t);
      const below = roleBelow(route.role);
      if (below) {
        const res = await send(route, { authorization: `Bearer ${h.tokens[below]}` });
        t.equal(res.statusCode, 403, `${below} is refused`);
        t.match(res.json(), { code: 'FORBIDDEN', message: new RegExp(`'${route.role}'.*'${below}-test'`) }, 'the message names the role needed and the token');
        t.equal(h.store.missions.list().length, 1, `${below}: no mission was created`);
        t.equal(h.store.missions.get(missionId)!.status, 'awaiting_approval', `${below}: the mission did not move`);
      }
      for (const role of rolesFrom(route.role)) {
        const res = await send(route, { authorization: `Bearer ${h.tokens[role]}` });
        t.not(res.statusCode, 401, `${role}: not 401`);
        t.not(res.statusCode, 403, `${role}: not 403`);
        t.ok(res.statusCode < 500, `${role}: not a 5xx (got ${res.statusCode} ${res.body.slice(0, 200)})`);
      }
    });
  }
});

t.test('the scheme name is case-insensitive, as RFC 7235 says', async (t) => {
  const h = await appFor(t);
  for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
    const res = await h.app.inject({ method: 'GET', url: '/v1/site', headers: { authorization: `${scheme} ${h.tokens.viewer}` } });
    t.equal(res.statusCode, 200, scheme);
  }
});

t.test('GET /v1/whoami names the token and its role', async (t) => {
  const h = await appFor(t);
  for (const role of ROLES) {
    const res = await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: h.auth(role) });
    t.equal(res.statusCode, 200, role);
    t.same(res.json(), { name: `${role}-test`, role });
  }
});

t.test('/healthz, /openapi.json, /docs and the tablet page need no token', async (t) => {
  const h = await appFor(t);
  const health = await h.app.inject({ method: 'GET', url: '/healthz' });
  t.equal(health.statusCode, 200);
  t.match(health.json(), { status: 'ok', site: 'demo', uptimeS: Number });
  const withGarbage = await h.app.inject({ method: 'GET', url: '/healthz', headers: { authorization: 'Bearer garbage' } });
  t.equal(withGarbage.statusCode, 200, 'a bad token does not break a public route');
  t.equal((await h.app.inject({ method: 'GET', url: '/openapi.json' })).statusCode, 200);
  const docs = await h.app.inject({ method: 'GET', url: '/docs' });
  t.equal(docs.statusCode, 200);
  t.match(docs.headers['content-type'], /text\/html/);
  const tablet = await h.app.inject({ method: 'GET', url: '/' });
  t.equal(tablet.statusCode, 200);
  t.match(tablet.headers['content-type'], /text\/html/);
});

t.test('PHYGATE_ADMIN_TOKEN from the config is accepted as admin', async (t) => {
  const adminToken = 'env-admin-token-0123456789';
  const { h, missionId } = await fixture(t, { config: { PHYGATE_ADMIN_TOKEN: adminToken } });
  const auth = { authorization: `Bearer ${adminToken}` };
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/site', headers: auth })).statusCode, 200, 'a viewer route');
  const cancel = await h.app.inject({ method: 'POST', url: `/v1/missions/${missionId}/cancel`, headers: auth, payload: {} });
  t.equal(cancel.statusCode, 200, 'an operator route');
  t.equal(cancel.json().status, 'cancelled');
  const events = h.store.missions.events(missionId);
  t.equal(events.at(-1)!.actor, 'env:PHYGATE_ADMIN_TOKEN', 'the audit trail names the env token');

  const near = await h.app.inject({ method: 'GET', url: '/v1/site', headers: { authorization: `Bearer ${adminToken}x` } });
  t.equal(near.statusCode, 401, 'a token that only starts like the admin token is refused');
});

t.test('without PHYGATE_ADMIN_TOKEN no fixed string is an admin token', async (t) => {
  const h = await appFor(t);
  for (const guess of ['undefined', 'null', '', 'admin']) {
    const res = await h.app.inject({ method: 'GET', url: '/v1/site', headers: { authorization: `Bearer ${guess}` } });
    t.equal(res.statusCode, 401, JSON.stringify(guess));
  }
});

t.test('a revoked token is 401', async (t) => {
  const h = await appFor(t);
  const made = h.store.tokens.create('operator', 'tablet-revoked');
  const auth = { authorization: `Bearer ${made.token}` };
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/missions', headers: auth })).statusCode, 200, 'works before revocation');
  t.ok(h.store.tokens.revoke(made.id), 'revoked');
  const res = await h.app.inject({ method: 'GET', url: '/v1/missions', headers: auth });
  t.equal(res.statusCode, 401, 'refused after revocation, without a restart');
  t.equal(res.json().code, 'UNAUTHORIZED');
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/missions', headers: h.auth('viewer') })).statusCode, 200, 'other tokens still work');
});
