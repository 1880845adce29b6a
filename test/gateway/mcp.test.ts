// The MCP server over Streamable HTTP, driven by the official SDK's client against a real gateway
// listening on a free port: the tools and their schemas, a check, a rejected plan answered as a
// result the agent can act on, roles refused exactly as REST refuses them, STOP from any role with
// its audit row naming the operation, and 401 without a token.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import t, { type Test } from 'tap';
import type { Role } from '../../gateway/auth/roles.ts';
import { inThreadChecker } from '../../gateway/checks/checker.ts';
import { until } from '../helpers/wait.ts';
import { appFor, canonicalPlan, failingPlan, type TestApp } from './harness.ts';

/** A gateway listening on a free port of 127.0.0.1, closed when `t` ends. */
async function listening(t: Test): Promise<{ h: TestApp; url: URL }> {
  const h = await appFor(t);
  const address = await h.app.listen({ port: 0, host: '127.0.0.1' });
  return { h, url: new URL('/mcp', address) };
}

/** An MCP client connected to the gateway with the token of `role`, closed when `t` ends. */
async function connect(t: Test, url: URL, token: string): Promise<Client> {
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  t.teardown(() => client.close());
  // Listed first, so the client checks every structured result against its tool's output schema.
  await client.listTools();
  return client;
}

const as = (h: TestApp, role: Role) => h.tokens[role];
const call = async (client: Client, name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult;
const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
/** A refusal's API error body: the last text of a tool error. */
const refusal = (r: CallToolResult): unknown => {
  if (!r.isError) return { notAnError: r.structuredContent };
  const last = r.content.at(-1);
  return last?.type === 'text' ? JSON.parse(last.text) : undefined;
};

const TOOLS = ['approve_mission', 'cancel_mission', 'check_plan', 'get_mission', 'get_site', 'list_missions', 'list_robots', 'pause_mission', 'rehearse_mission', 'release_stop', 'resume_mission', 'stop', 'submit_mission'];

t.test('the tools are listed with input and output schemas', async (t) => {
  const { h, url } = await listening(t);
  const client = await connect(t, url, as(h, 'viewer'));
  const { tools } = await client.listTools();
  t.same(tools.map((x) => x.name).sort(), TOOLS, 'every use case is a tool');
  for (const tool of tools) {
    t.equal(tool.inputSchema.type, 'object', `${tool.name}: input schema`);
    t.equal(tool.outputSchema?.type, 'object', `${tool.name}: output schema`);
  }
  const check = tools.find((x) => x.name === 'check_plan')!;
  t.same(check.inputSchema.required, ['plan'], 'check_plan needs a plan');
  t.ok((check.inputSchema.properties as Record<string, { properties?: Record<string, unknown> }>).plan!.properties!.steps, "the plan's schema is PlanSchema's, with steps");
  const site = await call(client, 'get_site');
  t.notOk(site.isError, 'a viewer reads the site');
  t.same((site.structuredContent as { stations: { id: string }[] }).stations.map((s) => s.id), h.site.index.site.stations.map((s) => s.id), "the site's stations");
  const robots = await call(client, 'list_robots');
  t.same((robots.structuredContent as { robots: { id: string }[] }).robots.map((r) => r.id), h.site.index.site.devices.map((d) => d.id), 'every device');
});

t.test('check_plan on the canonical plan answers a structured report', async (t) => {
  const { h, url } = await listening(t);
  const client = await connect(t, url, as(h, 'agent'));
  const r = await call(client, 'check_plan', { plan: canonicalPlan() });
  t.notOk(r.isError, text(r));
  const report = r.structuredContent as { verdict: string; planHash: string; assignments: Record<string, string> };
  t.equal(report.verdict, 'pass');
  t.match(report.planHash, /^[0-9a-f]{64}$/);
  t.match(report.assignments, { courier: /^amr-/ }, 'the role is bound to an AMR');
  t.equal(h.store.missions.list().length, 0, 'a check stores nothing');
  const audit = h.store.audit.list().filter((e) => e.operation === 'plans.check');
  t.equal(audit.length, 1, 'one row for the check');
  t.match(audit, [{ actor: 'agent-test', method: 'POST', path: '/mcp', status: 200, operation: 'plans.check' }], 'the check is audited as REST audits it');
  t.equal(h.store.audit.list().filter((e) => e.path === '/mcp' && !e.operation).length, 0, 'the MCP requests themselves leave no row of their own');
});

t.test('a failing plan comes back as a result with its issues and hints, not an error', async (t) => {
  const { h, url } = await listening(t);
  const client = await connect(t, url, as(h, 'agent'));
  const r = await call(client, 'submit_mission', { plan: failingPlan() });
  t.notOk(r.isError, 'a normal tool result');
  const out = r.structuredContent as { accepted: boolean; mission: { id: string; status: string }; issues: { code: string; hint: string; severity: string }[] };
  t.equal(out.accepted, false);
  t.equal(out.mission.status, 'rejected');
  t.ok(out.issues.some((i) => i.code === 'UNKNOWN_STATION' || i.code === 'UNKNOWN_PROGRAM'), `the issues name what is wrong (${out.issues.map((i) => i.code).join(', ')})`);
  t.ok(out.issues.filter((i) => i.severity === 'error').every((i) => i.hint.length > 0), 'each error has a hint');
  for (const i of out.issues) t.ok(text(r).includes(i.hint), `the text carries the hint of ${i.code}`);
  t.equal(h.store.missions.get(out.mission.id)!.status, 'rejected', 'stored as rejected, as REST stores it');
  t.equal(h.store.audit.list().filter((e) => e.operation === 'missions.submit').length, 1, 'one row for the submit');
  t.match(h.store.audit.list().filter((e) => e.operation === 'missions.submit'), [{ status: 422, code: 'PLAN_REJECTED' }], 'audited as the 422 REST answers');
  // Bad input is refused by the schema before anything runs.
  const bad = await call(client, 'submit_mission', { plan: { schema: 'nope' } });
  t.ok(bad.isError, 'a malformed plan is a tool error');
  t.match(text(bad), /schema|steps/, 'that says which field');
});

t.test('approve: a viewer or an agent is refused with FORBIDDEN, an operator approves', async (t) => {
  const { h, url } = await listening(t);
  const agent = await connect(t, url, as(h, 'agent'));
  const submitted = await call(agent, 'submit_mission', { plan: canonicalPlan() });
  const { mission } = submitted.structuredContent as { accepted: boolean; mission: { id: string; planHash: string; status: string } };
  t.equal(mission.status, 'awaiting_approval');
  for (const role of ['viewer', 'agent'] as const) {
    const client = role === 'agent' ? agent : await connect(t, url, as(h, role));
    const r = await call(client, 'approve_mission', { id: mission.id, planHash: mission.planHash });
    t.ok(r.isError, `${role}: refused`);
    t.match(refusal(r), { code: 'FORBIDDEN', message: new RegExp(`'operator'.*'${role}-test'`) }, `${role}: REST's code and message`);
    t.equal(h.store.missions.get(mission.id)!.status, 'awaiting_approval', `${role}: the mission did not move`);
  }
  const operator = await connect(t, url, as(h, 'operator'));
  const r = await call(operator, 'approve_mission', { id: mission.id, planHash: mission.planHash });
  t.notOk(r.isError, text(r));
  t.match(r.structuredContent, { id: mission.id, status: 'approved', approvedBy: 'operator-test' });
  t.equal(h.store.missions.get(mission.id)!.status, 'approved');
  const rows = h.store.audit.list().filter((e) => e.operation === 'missions.approve');
  t.equal(rows.length, 3, 'three tries, three rows');
  t.match(
    rows,
    [
      { actor: 'viewer-test', status: 403, code: 'FORBIDDEN' },
      { actor: 'agent-test', status: 403, code: 'FORBIDDEN' },
      { actor: 'operator-test', status: 200, code: null },
    ],
    'each try is audited with the operation',
  );
  // Other refusals keep REST's codes too.
  const again = await call(operator, 'approve_mission', { id: mission.id, planHash: mission.planHash });
  t.match(refusal(again), { code: 'INVALID_TRANSITION' });
  const missing = await call(operator, 'get_mission', { id: 'no-such-mission' });
  t.ok(missing.isError);
  t.match(refusal(missing), { code: 'NOT_FOUND' });
  t.ok(h.store.audit.verify().ok, 'the chain verifies with operation rows in it');
});

t.test('rehearse_mission: an agent is refused, an operator starts a rehearsal that get_mission shows when it ends', async (t) => {
  const { h, url } = await listening(t);
  const agent = await connect(t, url, as(h, 'agent'));
  const plan = { schema: 'phygate.plan/v1', name: 'park', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'park-1' } }] };
  const { mission } = (await call(agent, 'submit_mission', { plan })).structuredContent as { mission: { id: string } };
  t.match(refusal(await call(agent, 'rehearse_mission', { id: mission.id })), { code: 'FORBIDDEN' });
  const operator = await connect(t, url, as(h, 'operator'));
  const r = await call(operator, 'rehearse_mission', { id: mission.id });
  t.notOk(r.isError, text(r));
  t.match(r.structuredContent, { id: mission.id, status: 'awaiting_approval', rehearsal: { status: 'running', requestedBy: 'operator-test' } });
  const ended = await until('the rehearsal to end', async () => {
    const m = (await call(operator, 'get_mission', { id: mission.id })).structuredContent as { rehearsal: { status: string; outcome: string } };
    return m.rehearsal.status !== 'running' ? m.rehearsal : undefined;
  });
  t.match(ended, { status: 'succeeded', outcome: 'succeeded' });
  const rows = h.store.audit.list().filter((e) => e.operation === 'missions.rehearse');
  t.match(rows, [{ actor: 'agent-test', status: 403, code: 'FORBIDDEN' }, { actor: 'operator-test', status: 202, code: null }], 'both tries audited with the operation');
});

t.test('STOP from a viewer token works through StopService and is audited with its operation', async (t) => {
  const { h, url } = await listening(t);
  const viewer = await connect(t, url, as(h, 'viewer'));
  const r = await call(viewer, 'stop', { reason: 'mcp test' });
  t.notOk(r.isError, text(r));
  t.match(r.structuredContent, { scope: 'all', reason: 'mcp test', createdBy: 'viewer-test', told: Array });
  t.equal(h.store.stops.active().length, 1, 'latched');
  t.equal(h.store.audit.list().filter((e) => e.operation === 'stop.press').length, 1, 'one row for the press');
  t.match(h.store.audit.list().filter((e) => e.operation === 'stop.press'), [{ actor: 'viewer-test', role: 'viewer', method: 'POST', path: '/mcp', status: 200 }]);
  const unknown = await call(viewer, 'stop', { scope: 'zone:nowhere' });
  t.match(refusal(unknown), { code: 'NOT_FOUND' }, 'a scope that names nothing is refused, as REST refuses it');
  const release = await call(viewer, 'release_stop', { ack: true });
  t.match(refusal(release), { code: 'FORBIDDEN' }, 'a viewer may not release');
  const operator = await connect(t, url, as(h, 'operator'));
  const released = await call(operator, 'release_stop', { ack: true, note: 'floor is clear' });
  t.notOk(released.isError, text(released));
  t.equal((released.structuredContent as { released: unknown[] }).released.length, 1);
  t.equal(h.store.stops.active().length, 0, 'released');
});

t.test('a viewer out of request budget can still STOP over MCP', async (t) => {
  const h = await appFor(t, { config: { PHYGATE_RATE_LIMIT: 3 } });
  const url = new URL('/mcp', await h.app.listen({ port: 0, host: '127.0.0.1' }));
  const client = await connect(t, url, as(h, 'viewer'));
  let limited: unknown;
  for (let i = 0; i < 10 && !limited; i++) await client.listTools().catch((err: unknown) => (limited = err));
  t.match(String(limited), /429|RATE_LIMITED/, 'other MCP requests count against the budget');
  const r = await call(client, 'stop', {});
  t.notOk(r.isError, text(r));
  t.equal(h.store.stops.active().length, 1, 'the STOP went through');
});

t.test('without a token /mcp is 401', async (t) => {
  const { url } = await listening(t);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  t.equal(res.status, 401);
  t.match(await res.json(), { code: 'UNAUTHORIZED' });
  t.match(res.headers.get('www-authenticate'), /^Bearer/);
});

t.test('resources and the prompt', async (t) => {
  const { h, url } = await listening(t);
  const client = await connect(t, url, as(h, 'agent'));
  const { resources } = await client.listResources();
  t.same(resources.map((r) => r.uri).sort(), ['phygate://issue-codes', 'phygate://plan-format', 'phygate://site']);
  const format = await client.readResource({ uri: 'phygate://plan-format' });
  t.match((format.contents[0] as { text: string }).text, /phygate\.plan\/v1/);
  const codes = await client.readResource({ uri: 'phygate://issue-codes' });
  t.ok('UNKNOWN_PROGRAM' in JSON.parse((codes.contents[0] as { text: string }).text), 'the issue codes');
  const submitted = await call(client, 'submit_mission', { plan: canonicalPlan() });
  const id = (submitted.structuredContent as { mission: { id: string } }).mission.id;
  const mission = await client.readResource({ uri: `phygate://missions/${id}` });
  t.match(JSON.parse((mission.contents[0] as { text: string }).text), { id, status: 'awaiting_approval' });
  await t.rejects(client.readResource({ uri: 'phygate://missions/no-such-mission' }), { code: -32602, message: /phygate:\/\/missions\/no-such-mission not found: no mission 'no-such-mission'/ }, 'a mission that does not exist: invalid params, as an unknown URI, not an internal error');
  const prompt = await client.getPrompt({ name: 'write_plan', arguments: { goal: 'bring brackets to shelf-2' } });
  const words = (prompt.messages[0]!.content as { text: string }).text;
  t.match(words, /bring brackets to shelf-2/);
  for (const st of h.site.index.site.stations) t.ok(words.includes(st.id), `the prompt names station ${st.id}`);
});

t.test('REST writes the same operation in its audit rows, so both doors read alike', async (t) => {
  const { h, url } = await listening(t);
  const res = await h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan: canonicalPlan() } });
  t.equal(res.statusCode, 201);
  const { id, planHash } = res.json() as { id: string; planHash: string };
  const refused = await h.app.inject({ method: 'POST', url: `/v1/missions/${id}/approve`, headers: h.auth('agent'), payload: { planHash } });
  t.equal(refused.statusCode, 403);
  const operator = await connect(t, url, as(h, 'operator'));
  t.notOk((await call(operator, 'approve_mission', { id, planHash })).isError);
  t.same(
    h.store.audit.list().filter((e) => e.operation).map((e) => ({ operation: e.operation, method: e.method, path: e.path, status: e.status, code: e.code })),
    [
      { operation: 'missions.submit', method: 'POST', path: '/v1/missions', status: 201, code: null },
      { operation: 'missions.approve', method: 'POST', path: `/v1/missions/${id}/approve`, status: 403, code: 'FORBIDDEN' },
      { operation: 'missions.approve', method: 'POST', path: '/mcp', status: 200, code: null },
    ],
  );
});

t.test('a STOP over MCP holds the running checks until its answer is out, as POST /v1/stop does', async (t) => {
  // The in-thread checker with a counting stepAside: the pool's own is tested in check-pool.test.ts.
  let held = 0;
  let letGo = 0;
  const h = await appFor(t, { checker: (site) => ({ ...inThreadChecker(site), stepAside: () => (held++, () => void letGo++) }) });
  const url = new URL('/mcp', await h.app.listen({ port: 0, host: '127.0.0.1' }));
  const client = await connect(t, url, as(h, 'agent'));
  t.notOk((await call(client, 'check_plan', { plan: canonicalPlan() })).isError);
  t.equal(held, 0, 'other tool calls do not');
  t.notOk((await call(client, 'stop', { reason: 'hold the checks' })).isError);
  t.equal(held, 1, 'the STOP call held them');
  await until('the checks let go once the answer is out', () => letGo === 1);
});

t.test('requests to /mcp without a valid token count against the address budget', async (t) => {
  const h = await appFor(t, { config: { PHYGATE_RATE_LIMIT_ANONYMOUS: 3 } });
  const url = new URL('/mcp', await h.app.listen({ port: 0, host: '127.0.0.1' }));
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-token' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'stop' } }) });
    statuses.push(res.status);
    await res.arrayBuffer();
  }
  t.same(statuses.slice(0, 3), [401, 401, 401], 'refused for the token first');
  t.ok(statuses.slice(3).every((s) => s === 429), `then rate-limited, a stop call too (${statuses.join(', ')})`);
});
