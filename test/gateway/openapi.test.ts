// The OpenAPI description against the gateway that serves it. The description is a valid OpenAPI
// 3.1 document; every operation has an operationId and an example, and every example matches its
// schema. Then the table below calls every operation once for each status it answers, and each
// answer must match the schema documented for that operation, status and content type.
// The rule: an operation's documented statuses are exactly those the table reaches. A documented
// status no request reaches fails the test, and so does a status reached that is not documented.
// Statuses any path answers whatever the operation (404 and 405 for a path or method that does
// not exist, 503 while the gateway shuts down) are said once in the description's text, not per
// operation.
import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020Module, { type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { InjectOptions } from 'fastify';
import t from 'tap';
import type { Checker, CheckJob } from '../../gateway/checks/checker.ts';
import { CheckPool } from '../../gateway/checks/pool.ts';
import { EventHub } from '../../gateway/events.ts';
import { Executor } from '../../gateway/executor.ts';
import { StopService } from '../../gateway/stop.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { until } from '../helpers/wait.ts';
import { appFor, canonicalPlan, failingPlan } from './harness.ts';
import { standInPorts } from './stand-in-ports.ts';

// ajv and ajv-formats are CommonJS; their class and plugin are also their `default` property.
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

type Media = { schema?: object; example?: unknown; examples?: Record<string, { value: unknown }> };
type Answer = { description?: string; content?: Record<string, Media> };
type Op = { operationId?: string; requestBody?: { content: Record<string, Media> }; responses: Record<string, Answer> };
type Doc = { paths: Record<string, Record<string, Op>>; info: { description?: string } };

const BODY_LIMIT = 64 * 1024;

/** Checks run in a real worker pool; `tight` sends them to a second one whose budget no check keeps (CHECK_TIMEOUT). */
class TwoBudgets implements Checker {
  tight = false;
  private readonly normal: CheckPool;
  private readonly short: CheckPool;
  constructor(site: LoadedSite) {
    this.normal = new CheckPool({ site, size: 1, budgetMs: 120_000 });
    this.short = new CheckPool({ site, size: 3, budgetMs: 1 });
  }
  private get pool(): CheckPool {
    return this.tight ? this.short : this.normal;
  }
  check = (job: CheckJob) => this.pool.check(job);
  checkJson = (job: CheckJob) => this.pool.checkJson(job);
  close = async () => {
    await Promise.all([this.normal.close(), this.short.close()]);
  };
}

t.test('the OpenAPI description is valid, and every operation answers each documented status, and only those, as documented', async (t) => {
  let budgets!: TwoBudgets;
  let executor!: Executor;
  const hub = new EventHub();
  const h = await appFor(t, {
    config: { PHYGATE_RATE_LIMIT: 1_000_000, PHYGATE_RATE_LIMIT_ANONYMOUS: 1, PHYGATE_EVENT_STREAMS_PER_TOKEN: 1, PHYGATE_BODY_LIMIT: BODY_LIMIT },
    hub,
    checker: (site) => (budgets = new TwoBudgets(site)),
    floor: ({ store, fleet, site }) => {
      const clock = new FakeClock();
      const stops = new StopService({ store, site, fleet, hub });
      executor = new Executor({ store, site, fleet, ports: standInPorts(site, () => clock.now()).ports, stops, clock, hub });
      t.teardown(() => {
        executor.close();
        stops.close();
      });
      return { runner: executor, stops, traffic: executor.traffic };
    },
  });
  t.teardown(() => budgets.close());

  const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json() as Doc;
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'a valid OpenAPI document');

  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  // By the schema's text: the same schema under many operations (an error body, a mission) is compiled once.
  const validators = new Map<string, ValidateFunction>();
  const validate = (schema: object, value: unknown): string | undefined => {
    const key = JSON.stringify(schema);
    let v = validators.get(key);
    if (!v) validators.set(key, (v = ajv.compile(schema)));
    return v(value) ? undefined : ajv.errorsText(v.errors);
  };

  // Operations by id, each with its method and path.
  const ops = new Map<string, Op & { method: string; path: string }>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      t.ok(op.operationId, `${method.toUpperCase()} ${path} has an operationId`);
      t.notOk(ops.has(op.operationId!), `${op.operationId} names one operation`);
      ops.set(op.operationId!, { ...op, method: method.toUpperCase(), path });
    }
  }

  t.test('every operation has an example, and every example matches its schema', async (t) => {
    for (const [id, op] of ops) {
      const media = [...Object.values(op.requestBody?.content ?? {}), ...Object.values(op.responses).flatMap((a) => Object.values(a.content ?? {}))];
      let examples = 0;
      for (const m of media) {
        const values = [...('example' in m ? [m.example] : []), ...Object.values(m.examples ?? {}).map((e) => e.value)];
        for (const value of values) {
          examples++;
          if (m.schema) t.equal(validate(m.schema, value), undefined, `${id}: its example matches its schema`);
        }
      }
      t.ok(examples > 0, `${id} has an example`);
    }
  });

  // ---- Requests ------------------------------------------------------------------------------

  const auth = (role: 'viewer' | 'agent' | 'operator' | 'admin') => h.auth(role);
  const json = (role: Parameters<typeof auth>[0], body: unknown) => ({ headers: { ...auth(role), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  const MCP_ACCEPT = { accept: 'application/json, text/event-stream' };
  const missionPath = (id: string, rest = '') => `/v1/missions/${id}${rest}`;

  /** A request each operation takes, for the refusals that do not depend on what it asks (401, 403, 413, 415, 429). */
  const plain: Record<string, { method: InjectOptions['method']; url: string; body?: unknown; headers?: Record<string, string> }> = {
    'health.read': { method: 'GET', url: '/healthz' },
    whoami: { method: 'GET', url: '/v1/whoami' },
    'site.read': { method: 'GET', url: '/v1/site' },
    'schemas.plan': { method: 'GET', url: '/v1/schemas/plan.json' },
    'issueCodes.list': { method: 'GET', url: '/v1/issue-codes' },
    'robots.list': { method: 'GET', url: '/v1/robots' },
    'robots.get': { method: 'GET', url: '/v1/robots/amr-1' },
    'metrics.read': { method: 'GET', url: '/v1/metrics' },
    'traffic.read': { method: 'GET', url: '/v1/traffic' },
    'plans.check': { method: 'POST', url: '/v1/plans/check', body: { plan: canonicalPlan() } },
    'missions.submit': { method: 'POST', url: '/v1/missions', body: { plan: canonicalPlan() } },
    'missions.list': { method: 'GET', url: '/v1/missions' },
    'missions.get': { method: 'GET', url: missionPath('m_none') },
    'missions.events': { method: 'GET', url: missionPath('m_none', '/events') },
    'missions.planSvg': { method: 'GET', url: missionPath('m_none', '/plan.svg') },
    'missions.approve': { method: 'POST', url: missionPath('m_none', '/approve'), body: { planHash: 'a'.repeat(64) } },
    'missions.cancel': { method: 'POST', url: missionPath('m_none', '/cancel'), body: {} },
    'missions.pause': { method: 'POST', url: missionPath('m_none', '/pause'), body: {} },
    'missions.resume': { method: 'POST', url: missionPath('m_none', '/resume'), body: {} },
    'missions.rehearse': { method: 'POST', url: missionPath('m_none', '/rehearse'), body: {} },
    'events.stream': { method: 'GET', url: '/v1/events' },
    'stop.press': { method: 'POST', url: '/v1/stop', body: {} },
    'stop.list': { method: 'GET', url: '/v1/stop' },
    'stop.history': { method: 'GET', url: '/v1/stop/history' },
    'stop.release': { method: 'POST', url: '/v1/stop/release', body: { ack: true } },
    'mcp.call': { method: 'POST', url: '/mcp', body: { jsonrpc: '2.0', id: 1, method: 'tools/list' }, headers: MCP_ACCEPT },
    'audit.list': { method: 'GET', url: '/v1/audit' },
    'tokens.revoke': { method: 'DELETE', url: '/v1/tokens/t_none' },
  };
  t.same(Object.keys(plain).sort(), [...ops.keys()].sort(), 'the table knows every operation described, and describes no other');

  const as = (id: string, headers: Record<string, string>, body?: { payload: string; type: string }): InjectOptions => {
    const r = plain[id]!;
    const payload = body ?? (r.body === undefined ? undefined : { payload: JSON.stringify(r.body), type: 'application/json' });
    return {
      method: r.method,
      url: r.url,
      headers: { ...r.headers, ...headers, ...(payload ? { 'content-type': payload.type } : {}) },
      ...(payload ? { payload: payload.payload } : {}),
    };
  };
  let address = 0;
  /** Without a token, from an address of its own (the anonymous budget is one request). */
  const anonymous = (id: string): InjectOptions => ({ ...as(id, {}), remoteAddress: `10.1.${Math.floor(++address / 250)}.${address % 250}` });
  /** Without a token, from an address whose budget is spent. */
  const spent = (id: string): InjectOptions => ({ ...as(id, {}), remoteAddress: '10.9.9.9' });
  await h.app.inject({ method: 'GET', url: '/v1/whoami', remoteAddress: '10.9.9.9' });

  const BEHIND_TOKEN = [...ops.keys()].filter((id) => id !== 'health.read');
  const RATE_LIMITED = BEHIND_TOKEN.filter((id) => id !== 'stop.press');
  const ABOVE_VIEWER = ['plans.check', 'missions.submit', 'missions.approve', 'missions.cancel', 'missions.pause', 'missions.resume', 'missions.rehearse', 'stop.release', 'audit.list', 'tokens.revoke'];
  const READ_BODIES = ['plans.check', 'missions.submit', 'missions.approve', 'missions.cancel', 'missions.pause', 'missions.resume', 'missions.rehearse', 'stop.release', 'mcp.call'];
  const WITH_PATH_ID = ['robots.get', 'missions.get', 'missions.events', 'missions.planSvg', 'missions.approve', 'missions.cancel', 'missions.pause', 'missions.resume', 'missions.rehearse', 'tokens.revoke'];
  const LONG_ID = 'x'.repeat(101);

  type Case = [op: string, status: number, request: InjectOptions | (() => InjectOptions | Promise<InjectOptions>)];
  const cases: Case[] = [
    ...BEHIND_TOKEN.map((id): Case => [id, 401, () => anonymous(id)]),
    ...RATE_LIMITED.map((id): Case => [id, 429, () => spent(id)]),
    ...ABOVE_VIEWER.map((id): Case => [id, 403, () => as(id, auth('viewer'))]),
    ...READ_BODIES.map((id): Case => [id, 413, () => as(id, auth('admin'), { payload: JSON.stringify({ pad: 'x'.repeat(BODY_LIMIT) }), type: 'application/json' })]),
    ...READ_BODIES.map((id): Case => [id, 415, () => as(id, auth('admin'), { payload: 'stop', type: 'text/plain' })]),
    ...WITH_PATH_ID.map((id): Case => [id, 400, () => ({ ...as(id, auth('admin')), url: plain[id]!.url.replace(/m_none|t_none|amr-1/, LONG_ID) })]),
    ...WITH_PATH_ID.filter((id) => id !== 'tokens.revoke').map((id): Case => [id, 404, () => ({ ...as(id, auth('admin')), url: plain[id]!.url.replace('amr-1', 'amr-99') })]),
    ['tokens.revoke', 404, () => as('tokens.revoke', auth('admin'))],
  ];
  // Everything a viewer may read, read.
  for (const id of ['health.read', 'whoami', 'site.read', 'schemas.plan', 'issueCodes.list', 'robots.list', 'robots.get', 'metrics.read', 'traffic.read', 'missions.list', 'stop.list', 'stop.history']) {
    cases.push([id, 200, () => as(id, auth('viewer'))]);
  }
  cases.push(
    ['audit.list', 200, () => as('audit.list', auth('admin'))],
    ['audit.list', 400, { method: 'GET', url: '/v1/audit?limit=0', headers: auth('admin') }],
    ['missions.list', 400, { method: 'GET', url: '/v1/missions?status=nope', headers: auth('viewer') }],
    ['stop.history', 400, { method: 'GET', url: '/v1/stop/history?limit=0', headers: auth('viewer') }],
    ['tokens.revoke', 200, () => ({ method: 'DELETE', url: `/v1/tokens/${h.store.tokens.create('viewer', 'to-revoke').id}`, headers: auth('admin') })],
    ['plans.check', 200, { method: 'POST', url: '/v1/plans/check', ...json('agent', { plan: canonicalPlan() }) }],
    ['plans.check', 400, { method: 'POST', url: '/v1/plans/check', ...json('agent', { plan: {} }) }],
    ['missions.submit', 422, { method: 'POST', url: '/v1/missions', ...json('agent', { plan: failingPlan() }) }],
    ['missions.submit', 400, { method: 'POST', url: '/v1/missions', ...json('agent', { plan: {} }) }],
    ['mcp.call', 200, () => as('mcp.call', auth('viewer'))],
    ['mcp.call', 202, () => as('mcp.call', auth('viewer'), { payload: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), type: 'application/json' })],
    ['mcp.call', 400, () => as('mcp.call', auth('viewer'), { payload: JSON.stringify({ hello: 1 }), type: 'application/json' })],
    ['mcp.call', 406, () => ({ ...as('mcp.call', auth('viewer')), headers: { ...auth('viewer'), accept: 'application/json', 'content-type': 'application/json' } })],
    ['stop.press', 404, { method: 'POST', url: '/v1/stop', ...json('viewer', { scope: 'zone:nowhere' }) }],
  );

  // A mission's whole life: submitted (and again, idempotently), read, approved, running, paused,
  // resumed, held by a STOP, cancelled; and the refusals each step of it meets.
  const submit = async (key?: string) => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/missions', ...json('agent', { plan: canonicalPlan() }), ...(key ? { headers: { ...auth('agent'), 'content-type': 'application/json', 'idempotency-key': key } } : {}) });
    return res.json() as { id: string; planHash: string; status: string };
  };
  const first = await submit('key-1');
  const running = await submit();
  const late = await submit();
  const status = (id: string) => h.store.missions.get(id)!.status;
  cases.push(
    ['missions.submit', 201, () => ({ method: 'POST', url: '/v1/missions', ...json('agent', { plan: canonicalPlan() }) })],
    ['missions.submit', 200, () => ({ method: 'POST', url: '/v1/missions', payload: JSON.stringify({ plan: canonicalPlan() }), headers: { ...auth('agent'), 'content-type': 'application/json', 'idempotency-key': 'key-1' } })],
    ['missions.get', 200, { method: 'GET', url: missionPath(first.id), headers: auth('viewer') }],
    ['missions.events', 200, { method: 'GET', url: missionPath(first.id, '/events'), headers: auth('viewer') }],
    ['missions.events', 400, { method: 'GET', url: missionPath(first.id, '/events?limit=0'), headers: auth('viewer') }],
    ['missions.planSvg', 200, { method: 'GET', url: missionPath(first.id, '/plan.svg'), headers: auth('viewer') }],
    ['missions.approve', 400, { method: 'POST', url: missionPath(first.id, '/approve'), ...json('operator', { planHash: 'x' }) }],
    ['missions.approve', 409, { method: 'POST', url: missionPath(first.id, '/approve'), ...json('operator', { planHash: 'b'.repeat(64) }) }],
    ['missions.cancel', 400, { method: 'POST', url: missionPath(first.id, '/cancel'), ...json('operator', { reason: 5 }) }],
    ['missions.rehearse', 400, { method: 'POST', url: missionPath(first.id, '/rehearse'), ...json('operator', { x: 1 }) }],
    ['missions.rehearse', 202, { method: 'POST', url: missionPath(first.id, '/rehearse'), ...json('operator', {}) }],
    ['missions.pause', 400, { method: 'POST', url: missionPath(first.id, '/pause'), ...json('operator', { x: 1 }) }],
    ['missions.resume', 400, { method: 'POST', url: missionPath(first.id, '/resume'), ...json('operator', { x: 1 }) }],
    ['stop.release', 400, { method: 'POST', url: '/v1/stop/release', ...json('operator', { ack: false }) }],
    // Approving while every robot is offline: the check at approval fails.
    [
      'missions.approve',
      422,
      () => {
        for (const d of h.site.index.site.devices) if (d.kind === 'amr') h.fleet.update(d.id, { online: false });
        return { method: 'POST', url: missionPath(first.id, '/approve'), ...json('operator', { planHash: first.planHash }) };
      },
    ],
    [
      'missions.approve',
      200,
      () => {
        for (const d of h.site.index.site.devices) if (d.kind === 'amr') h.fleet.update(d.id, { online: true });
        return { method: 'POST', url: missionPath(running.id, '/approve'), ...json('operator', { planHash: running.planHash }) };
      },
    ],
    [
      'missions.pause',
      200,
      async () => {
        await until('the mission runs', () => status(running.id) === 'running');
        return { method: 'POST', url: missionPath(running.id, '/pause'), ...json('operator', {}) };
      },
    ],
    ['missions.resume', 200, { method: 'POST', url: missionPath(running.id, '/resume'), ...json('operator', {}) }],
    ['stop.press', 200, { method: 'POST', url: '/v1/stop', ...json('viewer', { scope: 'all', reason: 'contract test' }) }],
    [
      'missions.resume',
      409,
      async () => {
        await until('the STOP pauses the mission', () => status(running.id) === 'paused');
        return { method: 'POST', url: missionPath(running.id, '/resume'), ...json('operator', {}) };
      },
    ],
    ['stop.release', 200, { method: 'POST', url: '/v1/stop/release', ...json('operator', { ack: true, note: 'clear' }) }],
    ['missions.cancel', 200, { method: 'POST', url: missionPath(running.id, '/cancel'), ...json('operator', { reason: 'done testing' }) }],
    ['missions.cancel', 409, { method: 'POST', url: missionPath(running.id, '/cancel'), ...json('operator', {}) }],
    ['missions.pause', 409, { method: 'POST', url: missionPath(running.id, '/pause'), ...json('operator', {}) }],
    ['missions.rehearse', 409, { method: 'POST', url: missionPath(running.id, '/rehearse'), ...json('operator', {}) }],
  );

  // ---- Calling ---------------------------------------------------------------------------------

  const reached = new Set<string>();
  const check = (id: string, status: number, type: string | undefined, payload: string) => {
    const op = ops.get(id)!;
    const answer = op.responses[String(status)];
    if (!t.ok(answer, `${id} ${status} is documented`)) return;
    reached.add(`${id} ${status}`);
    const content = answer!.content ?? {};
    if (Object.keys(content).length === 0) return t.equal(payload, '', `${id} ${status}: no body, as documented`);
    const mediaType = (type ?? '').split(';')[0]!.trim();
    const media = content[mediaType];
    if (!t.ok(media, `${id} ${status}: its content type '${mediaType}' is documented (${Object.keys(content).join(', ')})`)) return;
    const value = mediaType.endsWith('json') ? JSON.parse(payload) : payload;
    t.equal(validate(media!.schema!, value), undefined, `${id} ${status}: the answer matches its schema`);
  };

  for (const [id, status, request] of cases) {
    const res = await h.app.inject(typeof request === 'function' ? await request() : request);
    if (!t.equal(res.statusCode, status, `${id} answers ${status}`)) t.comment(res.payload.slice(0, 500));
    check(id, res.statusCode, res.headers['content-type'] as string | undefined, res.payload);
  }

  // Past the check budget, the three operations that check, at once: a check past its budget ends
  // its worker, and each new one takes a while to start.
  budgets.tight = true;
  const timedOut = await Promise.all(
    (
      [
        ['plans.check', { method: 'POST', url: '/v1/plans/check', ...json('agent', { plan: canonicalPlan() }) }],
        ['missions.submit', { method: 'POST', url: '/v1/missions', ...json('agent', { plan: canonicalPlan() }) }],
        ['missions.approve', { method: 'POST', url: missionPath(late.id, '/approve'), ...json('operator', { planHash: late.planHash }) }],
      ] as const
    ).map(async ([id, request]) => [id, await h.app.inject(request)] as const),
  );
  budgets.tight = false;
  for (const [id, res] of timedOut) {
    t.equal(res.statusCode, 503, `${id} answers 503`);
    check(id, res.statusCode, res.headers['content-type'] as string | undefined, res.payload);
  }

  // The event stream never ends, so it is read over a socket: its head, then one more stream for the same token is one too many.
  const base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const stream = new AbortController();
  const res = await fetch(`${base}/v1/events`, { headers: auth('viewer'), signal: stream.signal });
  const reader = res.body!.getReader();
  const head = new TextDecoder().decode((await reader.read()).value);
  t.equal(res.status, 200, 'events.stream answers 200');
  check('events.stream', res.status, res.headers.get('content-type') ?? undefined, head);
  const second = await h.app.inject({ method: 'GET', url: '/v1/events', headers: auth('viewer') });
  t.equal(second.statusCode, 429, 'a second stream for the token: 429');
  t.equal(second.json().code, 'TOO_MANY_STREAMS');
  check('events.stream', second.statusCode, second.headers['content-type'] as string, second.payload);
  stream.abort();
  await reader.cancel().catch(() => undefined);

  const documented = [...ops].flatMap(([id, op]) => Object.keys(op.responses).map((s) => `${id} ${s}`));
  t.same(documented.filter((d) => !reached.has(d)).sort(), [], 'every documented status was reached');
  t.ok(doc.info.description?.includes('405'), 'the statuses of every path are said in the description');
});
