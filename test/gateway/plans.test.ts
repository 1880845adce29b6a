// POST /v1/plans/check: a well-formed plan always gets a report (200); a malformed request is a
// precise 4xx with `{code, message, details?}`, never a 5xx. Plus the documents an agent reads:
// the plan JSON Schema, the issue codes and the OpenAPI description.
import t from 'tap';
import { ERRORS, type ErrorCode } from '../../gateway/errors.ts';
import { PlanSchema, planHash, type PlanInput } from '../../planners/plan.ts';
import { appFor, canonicalPlan, failingPlan, type TestApp } from './harness.ts';

const check = (h: TestApp, payload: unknown, headers: Record<string, string> = {}) =>
  h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: { ...h.auth('agent'), ...headers }, payload: payload as object });

/** A raw body with an explicit content type, sent as is. */
const checkRaw = (h: TestApp, body: string | undefined, contentType?: string) =>
  h.app.inject({
    method: 'POST',
    url: '/v1/plans/check',
    headers: { ...h.auth('agent'), ...(contentType ? { 'content-type': contentType } : {}) },
    ...(body === undefined ? {} : { payload: body }),
  });

interface Problem {
  path: string;
  message: string;
}

/** One AMR step on amr-1 by name, so `assume` about amr-1 decides the verdict. */
const amr1Plan = (): PlanInput => ({
  schema: 'phygate.plan/v1',
  steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }],
});

t.test('the canonical plan passes: a report with verdict, planHash and a courier from the fleet', async (t) => {
  const h = await appFor(t);
  const res = await check(h, { plan: canonicalPlan() });
  t.equal(res.statusCode, 200);
  const report = res.json();
  t.equal(report.verdict, 'pass');
  t.match(report.planHash, /^[0-9a-f]{64}$/);
  t.equal(report.planHash, planHash(PlanSchema.parse(canonicalPlan())), 'sha256 of the canonical plan');
  t.match(report.worldHash, /^[0-9a-f]{64}$/);
  t.equal(report.worldHash, h.site.worldHash, 'the hash of the loaded site');
  t.ok(['amr-1', 'amr-2', 'amr-3'].includes(report.assignments.courier), `courier is an AMR (got ${report.assignments.courier})`);
  t.same(report.issues, []);
  t.same(
    report.steps.map((s: { id: string }) => s.id).sort(),
    ['carry', 'fetch', 'load', 'mill'],
    'every step is scheduled',
  );
  t.ok(report.makespanS > 0, 'a positive makespan');
  const load = report.steps.find((s: { id: string }) => s.id === 'load');
  for (const dep of ['mill', 'fetch']) {
    const d = report.steps.find((s: { id: string }) => s.id === dep);
    t.ok(load.startS >= d.endS, `load starts after ${dep} ends`);
  }
});

t.test('the planHash does not depend on key order or on writing defaults out', async (t) => {
  const h = await appFor(t);
  const plan = canonicalPlan();
  const reordered = Object.fromEntries(Object.entries(plan).reverse());
  const { priority: _p, ...withoutPriority } = plan;
  const hashes = await Promise.all([plan, reordered, withoutPriority].map(async (p) => (await check(h, { plan: p })).json().planHash));
  t.equal(hashes[1], hashes[0], 'keys in another order');
  t.equal(hashes[2], hashes[0], 'priority 5 left to its default');
  const changed = await check(h, { plan: { ...plan, priority: 6 } });
  t.not(changed.json().planHash, hashes[0], 'a different plan hashes differently');
});

t.test('checking moves nothing: the fleet is the same afterwards', async (t) => {
  const h = await appFor(t);
  const before = JSON.stringify(h.fleet.list());
  t.equal((await check(h, { plan: canonicalPlan(), assume: { 'amr-1': { online: false, soc: 0.1, at: 'dock-b' } } })).statusCode, 200);
  t.equal(JSON.stringify(h.fleet.list()), before);
  t.equal(h.store.missions.list().length, 0, 'and no mission is stored');
});

t.test('a well-formed plan that cannot work is 200 with verdict fail and every issue', async (t) => {
  const h = await appFor(t);
  const res = await check(h, { plan: failingPlan() });
  t.equal(res.statusCode, 200);
  const report = res.json();
  t.equal(report.verdict, 'fail');
  t.match(report.issues, [
    { code: 'UNKNOWN_PROGRAM', severity: 'error', step: 'mill', device: 'cnc-1', message: /no-such-program/, hint: /bracket-v2/ },
    { code: 'UNKNOWN_LOCATION', severity: 'error', step: 'go', message: /dock-z/, hint: /dock-a/ },
  ]);
  t.equal(report.issues.length, 2, 'exactly those two');
});

t.test('assume: an AMR assumed offline gives DEVICE_OFFLINE; the same plan passes without it', async (t) => {
  const h = await appFor(t);
  const live = await check(h, { plan: amr1Plan() });
  t.equal(live.json().verdict, 'pass', 'amr-1 is online in the live fleet');
  const res = await check(h, { plan: amr1Plan(), assume: { 'amr-1': { online: false } } });
  t.equal(res.statusCode, 200);
  t.equal(res.json().verdict, 'fail');
  t.match(res.json().issues, [{ code: 'DEVICE_OFFLINE', severity: 'error', step: 'go', device: 'amr-1', hint: String }]);
});

t.test('assume: a low battery gives BATTERY_LOW', async (t) => {
  const h = await appFor(t);
  const res = await check(h, { plan: amr1Plan(), assume: { 'amr-1': { soc: 0.2 } } });
  t.equal(res.statusCode, 200);
  t.equal(res.json().verdict, 'fail');
  t.match(res.json().issues, [{ code: 'BATTERY_LOW', step: 'go' }]);
});

t.test('assume: naming a device or place the site does not have is 400 with its path', async (t) => {
  const h = await appFor(t);
  const res = await check(h, { plan: canonicalPlan(), assume: { 'amr-9': { online: false } } });
  t.equal(res.statusCode, 400);
  t.equal(res.json().code, 'VALIDATION_FAILED');
  t.match(res.json().details.problems, [{ path: 'assume.amr-9', message: /amr-9/ }]);

  const at = await check(h, { plan: canonicalPlan(), assume: { 'amr-1': { at: 'dock-z' } } });
  t.equal(at.statusCode, 400);
  t.match(at.json().details.problems, [{ path: 'assume.amr-1.at', message: /dock-z/ }]);

  const soc = await check(h, { plan: canonicalPlan(), assume: { 'amr-1': { soc: 1.5 } } });
  t.equal(soc.statusCode, 400, 'soc out of 0..1');
  t.ok(soc.json().details.problems.some((p: Problem) => p.path === 'assume.amr-1.soc'), 'path assume.amr-1.soc');
});

t.test('malformed plans are 400 VALIDATION_FAILED with the path of each problem', async (t) => {
  const h = await appFor(t);
  const plan = canonicalPlan();
  const steps = plan.steps;
  const many = Array.from({ length: 201 }, (_, i) => ({ id: `w${i}`, action: 'wait', device: 'amr-1', params: { seconds: 1 } }));
  const cases: Record<string, { body: unknown; path: string }> = {
    'a string priority': { body: { plan: { ...plan, priority: 'high' } }, path: 'plan.priority' },
    'priority above 10': { body: { plan: { ...plan, priority: 11 } }, path: 'plan.priority' },
    'an unknown top-level field': { body: { plan: { ...plan, stepz: [] } }, path: 'plan.stepz' },
    'an unknown field next to plan': { body: { plan, asume: {} }, path: 'asume' },
    'an unknown action': { body: { plan: { ...plan, steps: [{ id: 'x', action: 'fly', device: 'amr-1', params: {} }] } }, path: 'plan.steps.0.action' },
    'more than 200 steps': { body: { plan: { ...plan, steps: many } }, path: 'plan.steps' },
    'no steps': { body: { plan: { ...plan, steps: [] } }, path: 'plan.steps' },
    'a wrong schema id': { body: { plan: { ...plan, schema: 'phygate.plan/v2' } }, path: 'plan.schema' },
    'a bad step id': { body: { plan: { ...plan, steps: [{ ...steps[0]!, id: 'Mill!' }] } }, path: 'plan.steps.0.id' },
    'an unknown param': { body: { plan: { ...plan, steps: [{ ...steps[0]!, params: { program: 'bracket-v2', speed: 2 } }] } }, path: 'plan.steps.0.params.speed' },
    'a deadline that is not a date': { body: { plan: { ...plan, deadline: 'tomorrow' } }, path: 'plan.deadline' },
    'no plan at all': { body: {}, path: 'plan' },
  };
  for (const [what, { body, path }] of Object.entries(cases)) {
    const res = await check(h, body);
    t.equal(res.statusCode, 400, `${what}: 400`);
    const json = res.json();
    t.equal(json.code, 'VALIDATION_FAILED', `${what}: code`);
    const paths = (json.details?.problems ?? []).map((p: Problem) => p.path);
    t.ok(paths.includes(path), `${what}: a problem at ${path} (got ${JSON.stringify(paths)})`);
    t.ok(json.details.problems.every((p: Problem) => typeof p.message === 'string' && p.message.length > 0), `${what}: every problem has a message`);
  }
});

t.test('bodies that are not a JSON object are 4xx, never 5xx', async (t) => {
  const h = await appFor(t);
  const truncated = await checkRaw(h, '{"plan": {', 'application/json');
  t.equal(truncated.statusCode, 400, 'truncated JSON');
  t.equal(truncated.json().code, 'INVALID_JSON');

  const array = await checkRaw(h, JSON.stringify([{ plan: canonicalPlan() }]), 'application/json');
  t.equal(array.statusCode, 400, 'a JSON array');
  t.equal(array.json().code, 'VALIDATION_FAILED');

  for (const literal of ['null', '42', '"plan"', 'true']) {
    const res = await checkRaw(h, literal, 'application/json');
    t.equal(res.statusCode, 400, `JSON ${literal}`);
  }

  const missing = await checkRaw(h, undefined);
  t.equal(missing.statusCode, 400, 'no body, no content type');
  t.equal(missing.json().code, 'VALIDATION_FAILED');

  const empty = await checkRaw(h, '', 'application/json');
  t.equal(empty.statusCode, 400, 'an empty body declared as JSON');
  t.equal(empty.json().code, 'INVALID_JSON');
});

t.test('a body that is not declared as JSON is 415 UNSUPPORTED_MEDIA_TYPE', async (t) => {
  const h = await appFor(t);
  const body = JSON.stringify({ plan: canonicalPlan() });
  for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/xml', 'application/x-www-form-urlencoded']) {
    const res = await checkRaw(h, body, type);
    t.equal(res.statusCode, 415, `${type}: 415 (got ${res.statusCode} ${res.body.slice(0, 120)})`);
    t.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE', `${type}: code`);
  }
});

t.test('a body over 256 KiB is 413 BODY_TOO_LARGE; one under it is read', async (t) => {
  const h = await appFor(t);
  const pad = (bytes: number) => JSON.stringify({ plan: { ...canonicalPlan(), goal: 'x'.repeat(bytes) } });
  const big = pad(256 * 1024 + 1);
  t.ok(Buffer.byteLength(big) > 256 * 1024, 'the body is over the limit');
  const res = await checkRaw(h, big, 'application/json');
  t.equal(res.statusCode, 413);
  t.equal(res.json().code, 'BODY_TOO_LARGE');

  const under = await checkRaw(h, pad(200 * 1024), 'application/json');
  t.equal(under.statusCode, 400, 'under the limit the body is parsed and validated');
  t.match(under.json().details.problems, [{ path: 'plan.goal' }], 'the over-long goal is what fails');
});

t.test('the body limit comes from PHYGATE_BODY_LIMIT', async (t) => {
  const h = await appFor(t, { config: { PHYGATE_BODY_LIMIT: 512 } });
  const body = JSON.stringify({ plan: canonicalPlan() });
  t.ok(Buffer.byteLength(body) > 512, 'the canonical plan is bigger than 512 bytes');
  const res = await checkRaw(h, body, 'application/json');
  t.equal(res.statusCode, 413);
  t.equal(res.json().code, 'BODY_TOO_LARGE');
});

t.test('GET /v1/site: stations with coordinates, the graph, and the world as the checker sees it', async (t) => {
  const h = await appFor(t);
  const res = await h.app.inject({ method: 'GET', url: '/v1/site', headers: h.auth('viewer') });
  t.equal(res.statusCode, 200);
  const site = res.json();
  t.match(site.stations.find((s: { id: string }) => s.id === 'dock-a'), { node: 'dock-a', x: Number, y: Number, theta: Number });
  t.ok(site.world.obstacles.length > 10, 'the obstacles of world.sdf');
  t.ok(site.world.obstacles.some((o: { model: string }) => /shelf_rack/.test(o.model)), 'shelves among them');
  t.match(site.world.obstacles[0], { model: String, shape: { kind: /box|circle/ }, x: Number, y: Number, yaw: Number });
  t.same(
    site.world.ignored.map((i: { path: string }) => i.path).filter((p: string) => !/ground_plane/.test(p)),
    [],
    'the demo world has nothing unread but its ground plane',
  );
});

t.test('GET /v1/schemas/plan.json is the JSON Schema of the plan', async (t) => {
  const h = await appFor(t);
  const res = await h.app.inject({ method: 'GET', url: '/v1/schemas/plan.json', headers: h.auth('viewer') });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^application\/schema\+json/);
  const schema = res.json();
  t.match(schema.$schema, /json-schema\.org/);
  t.equal(schema.type, 'object');
  t.ok(schema.properties?.steps, 'properties.steps');
  t.equal(schema.properties.steps.maxItems, 200);
  t.equal(schema.properties.steps.minItems, 1);
  t.equal(schema.properties.schema.const, 'phygate.plan/v1');
  t.equal(schema.additionalProperties, false, 'unknown top-level fields are rejected');
  t.same([...schema.required].sort(), ['schema', 'steps'], 'only schema and steps are required');
});

t.test('GET /v1/issue-codes lists exactly the stable issue codes of plan-format.md', async (t) => {
  const h = await appFor(t);
  const res = await h.app.inject({ method: 'GET', url: '/v1/issue-codes', headers: h.auth('viewer') });
  t.equal(res.statusCode, 200);
  const codes = res.json() as Record<string, { severity: string; when: string }>;
  const documented: Record<string, 'error' | 'warning'> = {
    UNKNOWN_DEVICE: 'error',
    UNKNOWN_ROLE: 'error',
    ROLE_UNASSIGNABLE: 'error',
    UNSUPPORTED_ACTION: 'error',
    UNKNOWN_LOCATION: 'error',
    UNKNOWN_PROGRAM: 'error',
    DUPLICATE_STEP: 'error',
    UNKNOWN_DEPENDENCY: 'error',
    DEPENDENCY_CYCLE: 'error',
    UNREACHABLE: 'error',
    KEEP_OUT: 'error',
    CARGO_FULL: 'error',
    CARGO_EMPTY: 'error',
    OUT_OF_REACH: 'error',
    NOT_AT_STATION: 'error',
    ROBOT_CONFLICT: 'warning',
    DEADLOCK: 'error',
    BATTERY_LOW: 'error',
    DEADLINE_MISSED: 'warning',
    PARTS_SHORT: 'warning',
    DEVICE_OFFLINE: 'error',
    DEVICE_WRONG_MAP: 'error',
    DEVICE_UNSUPPORTED_ACTION: 'error',
    DEVICE_LIMITS: 'error',
    SPEED_LIMIT: 'warning',
    DEVICE_BUSY: 'warning',
    MAKE_WAY: 'warning',
  };
  t.same(Object.keys(codes).sort(), Object.keys(documented).sort());
  for (const [code, severity] of Object.entries(documented)) t.equal(codes[code]?.severity, severity, `${code} is ${severity}`);
});

t.test('/openapi.json is an OpenAPI 3 description of the API', async (t) => {
  const h = await appFor(t);
  const res = await h.app.inject({ method: 'GET', url: '/openapi.json' });
  t.equal(res.statusCode, 200);
  const doc = res.json();
  t.match(doc.openapi, /^3\.\d+\.\d+$/);
  t.match(doc.info, { title: String, version: String });
  t.ok(doc.paths['/v1/plans/check']?.post, 'POST /v1/plans/check');
  t.ok(doc.paths['/v1/missions']?.post, 'POST /v1/missions');
  t.ok(doc.paths['/v1/missions']?.get, 'GET /v1/missions');
  t.ok(doc.paths['/v1/missions/{id}/approve']?.post, 'POST /v1/missions/{id}/approve');
  t.match(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
  const checkBody = doc.paths['/v1/plans/check'].post.requestBody?.content?.['application/json']?.schema;
  t.ok(checkBody?.properties?.plan, 'the check body schema describes plan');
  t.same(doc.paths['/healthz'].get.security, [], '/healthz is documented as needing no token');
});

t.test('every 4xx is {code, message, details?} and its status is the registered one', async (t) => {
  const h = await appFor(t, { config: { PHYGATE_BODY_LIMIT: 4096 } });
  const responses = [
    await h.app.inject({ method: 'GET', url: '/v1/site' }),
    await h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: h.auth('viewer'), payload: { plan: canonicalPlan() } }),
    await check(h, { plan: { ...canonicalPlan(), priority: 'x' } }),
    await checkRaw(h, '{', 'application/json'),
    await checkRaw(h, 'x'.repeat(5000), 'application/json'),
    await checkRaw(h, '<plan/>', 'application/xml'),
    await h.app.inject({ method: 'GET', url: '/v1/missions/m_nope', headers: h.auth('viewer') }),
    await h.app.inject({ method: 'GET', url: '/v1/robots/amr-9', headers: h.auth('viewer') }),
    await h.app.inject({ method: 'GET', url: '/v1/nothing-here', headers: h.auth('viewer') }),
    await h.app.inject({ method: 'POST', url: '/v1/missions/m_nope/approve', headers: h.auth('operator'), payload: { planHash: 'nope' } }),
  ];
  const seen = new Set<string>();
  for (const res of responses) {
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `4xx (got ${res.statusCode})`);
    t.match(res.headers['content-type'], /^application\/json/);
    const body = res.json() as { code: ErrorCode; message: string; details?: unknown };
    t.ok(body.code in ERRORS, `${body.code} is a registered code`);
    t.equal(res.statusCode, ERRORS[body.code].status, `${body.code} has status ${ERRORS[body.code]?.status}`);
    t.ok(typeof body.message === 'string' && body.message.length > 0, `${body.code} has a message`);
    t.same(Object.keys(body).filter((k) => !['code', 'message', 'details'].includes(k)), [], `${body.code}: nothing else`);
    seen.add(body.code);
  }
  t.same([...seen].sort(), ['BODY_TOO_LARGE', 'FORBIDDEN', 'INVALID_JSON', 'NOT_FOUND', 'UNAUTHORIZED', 'UNSUPPORTED_MEDIA_TYPE', 'VALIDATION_FAILED']);
});

t.test('an unknown route is 404 NOT_FOUND, with or without a token', async (t) => {
  const h = await appFor(t);
  for (const headers of [{}, h.auth('admin')]) {
    const res = await h.app.inject({ method: 'GET', url: '/v1/plans?x=1', headers });
    t.equal(res.statusCode, 404);
    t.match(res.json(), { code: 'NOT_FOUND', message: /GET \/v1\/plans$/ }, 'names the route without the query');
  }
  const res = await h.app.inject({ method: 'DELETE', url: '/v1/site', headers: h.auth('admin') });
  t.equal(res.statusCode, 405, 'an unknown method on a known path is 405, not 404');
  t.same(res.json(), { code: 'METHOD_NOT_ALLOWED', message: 'DELETE is not allowed on /v1/site; it takes GET, HEAD', details: { allowed: ['GET', 'HEAD'] } });
  t.equal(res.headers.allow, 'GET, HEAD');
  const missions = await h.app.inject({ method: 'DELETE', url: '/v1/missions?status=pending', headers: h.auth('admin') });
  t.match(missions, { statusCode: 405, headers: { allow: 'GET, HEAD, POST' } }, 'DELETE /v1/missions: 405 with what it takes');
  const param = await h.app.inject({ method: 'PUT', url: '/v1/missions/m_123/approve', headers: h.auth('admin') });
  t.match(param.json(), { code: 'METHOD_NOT_ALLOWED', details: { allowed: ['POST'] } }, 'a path with a parameter too');
  const robot = await h.app.inject({ method: 'GET', url: '/v1/robots/amr-9', headers: h.auth('viewer') });
  t.equal(robot.statusCode, 404, 'an unknown device');
  t.match(robot.json(), { code: 'NOT_FOUND', details: { known: ['amr-1', 'amr-2', 'amr-3', 'arm-1', 'cnc-1', 'printer-1', 'conveyor-1'] } });
});

t.test('an internal failure is 500 INTERNAL without the internals', async (t) => {
  const h = await appFor(t);
  h.store.close(); // every store call now throws "The database connection is not open"
  const res = await h.app.inject({ method: 'GET', url: '/v1/missions', headers: h.auth('viewer') });
  t.equal(res.statusCode, 500);
  t.same(res.json(), { code: 'INTERNAL', message: ERRORS.INTERNAL.message });
  t.notMatch(res.body, /database|sqlite|stack/i, 'nothing of the cause leaks');
});

t.test('the live robots are listed with their kind and state', async (t) => {
  const h = await appFor(t);
  const res = await h.app.inject({ method: 'GET', url: '/v1/robots', headers: h.auth('viewer') });
  t.equal(res.statusCode, 200);
  const robots = res.json().robots as { id: string; kind: string; online: boolean }[];
  t.same(robots.map((r) => r.id), ['amr-1', 'amr-2', 'amr-3', 'arm-1', 'cnc-1', 'printer-1', 'conveyor-1']);
  t.ok(robots.every((r) => r.online), 'the parked fleet is online');
  h.fleet.update('amr-2', { online: false, soc: 0.42 });
  const one = await h.app.inject({ method: 'GET', url: '/v1/robots/amr-2', headers: h.auth('viewer') });
  t.match(one.json(), { id: 'amr-2', kind: 'amr', online: false, soc: 0.42, at: 'dock-b' }, 'reflects the registry as it is now');
});

t.test('first-hour errors (#18): a bare plan is told to be wrapped; 415 names the type sent; INVALID_JSON says where; PLAN_REJECTED carries the report once', async (t) => {
  const h = await appFor(t);
  const bare = await h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: h.auth('agent'), payload: canonicalPlan() });
  t.equal(bare.statusCode, 400);
  t.match(bare.json(), { code: 'VALIDATION_FAILED', message: 'the body is a bare plan: send it wrapped as {"plan": <the plan>}', details: { problems: [{ path: 'plan' }] } });
  const other = await h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: h.auth('agent'), payload: { plan: canonicalPlan(), extra: 1 } });
  t.equal(other.json().message, ERRORS.VALIDATION_FAILED.message, 'an unknown field beside the plan is not called a bare plan');

  const text = await h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: { ...h.auth('agent'), 'content-type': 'text/plain' }, payload: 'hello' });
  t.equal(text.statusCode, 415);
  t.same(text.json(), { code: 'UNSUPPORTED_MEDIA_TYPE', message: "Content-Type 'text/plain' is not taken here: send the body as JSON with Content-Type: application/json", details: { contentType: 'text/plain' } });

  const broken = await h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: { ...h.auth('agent'), 'content-type': 'application/json' }, payload: '{"plan":\n  {"schema": "phygate.plan/v1",, "steps": []}}' });
  t.equal(broken.statusCode, 400);
  t.match(broken.json(), { code: 'INVALID_JSON', message: /^the body is not valid JSON at line 2, column 32 \(character 40\): /, details: { position: 40, line: 2, column: 32 } });
  const poisoned = await h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: { ...h.auth('agent'), 'content-type': 'application/json' }, payload: '{"__proto__": {"x": 1}}' });
  t.match(poisoned, { statusCode: 400 });
  t.match(poisoned.json(), { code: 'INVALID_JSON', message: /__proto__/ }, 'a prototype key is still refused, and says so');

  const rejected = await h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan: failingPlan() } });
  t.equal(rejected.statusCode, 422);
  const body = rejected.json();
  t.equal(body.code, 'PLAN_REJECTED');
  t.equal(body.details.report.verdict, 'fail', 'the report is in details.report');
  t.equal(body.details.mission.status, 'rejected');
  t.notOk('report' in body.details.mission, 'and not again inside the mission');
});
