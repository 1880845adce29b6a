// Missions: submit a plan (checked and stored), read and list them with why they are where they
// are, their event log, approve exactly what was checked, cancel; idempotent retries; site
// approval policy; per-token rate limiting; what the log says.
import { Writable } from 'node:stream';
import t from 'tap';
import { EventHub } from '../../gateway/events.ts';
import type { MissionRunner } from '../../gateway/missions/service.ts';
import type { Store } from '../../gateway/store/index.ts';
import type { PlanInput } from '../../planners/plan.ts';
import { until } from '../helpers/wait.ts';
import { appFor, canonicalPlan, demoSiteCopy, failingPlan, type TestApp } from './harness.ts';

const submit = (h: TestApp, plan: PlanInput, headers: Record<string, string> = {}) =>
  h.app.inject({ method: 'POST', url: '/v1/missions', headers: { ...h.auth('agent'), ...headers }, payload: { plan } });

const approve = (h: TestApp, id: string, planHash: string) =>
  h.app.inject({ method: 'POST', url: `/v1/missions/${id}/approve`, headers: h.auth('operator'), payload: { planHash } });

const getMission = (h: TestApp, id: string) => h.app.inject({ method: 'GET', url: `/v1/missions/${id}`, headers: h.auth('viewer') });

const list = async (h: TestApp, query = '') => {
  const res = await h.app.inject({ method: 'GET', url: `/v1/missions${query}`, headers: h.auth('viewer') });
  return res;
};
const listIds = async (h: TestApp, query = '') => ((await list(h, query)).json().missions as { id: string }[]).map((m) => m.id);

/** Submits the canonical plan and returns the 201 body. */
async function submitted(h: TestApp): Promise<{ id: string; planHash: string; status: string }> {
  const res = await submit(h, canonicalPlan());
  if (res.statusCode !== 201) throw new Error(`setup: submit answered ${res.statusCode} ${res.body.slice(0, 300)}`);
  return res.json();
}

t.test('a passing plan becomes a mission awaiting approval: 201, Location, the planHash of its check', async (t) => {
  const h = await appFor(t);
  const checked = await h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: h.auth('agent'), payload: { plan: canonicalPlan() } });
  const res = await submit(h, canonicalPlan());
  t.equal(res.statusCode, 201);
  const m = res.json();
  t.match(m.id, /^m_[0-9A-Z]{26}$/);
  t.equal(m.status, 'awaiting_approval');
  t.equal(res.headers.location, `/v1/missions/${m.id}`);
  t.equal(m.planHash, checked.json().planHash, 'the hash the check reported');
  t.equal(m.worldHash, checked.json().worldHash);
  t.equal(m.createdBy, 'agent-test', 'the token that submitted it');
  t.equal(m.name, 'brackets-to-shelf');
  t.equal(m.priority, 5);
  t.notOk(res.headers['idempotent-replayed'], 'not a replay');

  const got = await getMission(h, m.id);
  t.equal(got.statusCode, 200);
  const full = got.json();
  t.match(full.report, { verdict: 'pass', planHash: m.planHash, assignments: { courier: /^amr-[123]$/ } }, 'with its report');
  t.same(
    full.steps.map((s: { id: string; status: string }) => ({ id: s.id, status: s.status })),
    [
      { id: 'mill', status: 'pending' },
      { id: 'fetch', status: 'pending' },
      { id: 'load', status: 'pending' },
      { id: 'carry', status: 'pending' },
    ],
    'its steps, in plan order, all pending',
  );
  t.match(full.plan, { schema: 'phygate.plan/v1', name: 'brackets-to-shelf', steps: Array }, 'and its plan');
  t.match(h.store.missions.events(m.id), [{ type: 'mission.created', actor: 'agent-test', data: { status: 'awaiting_approval', planHash: m.planHash } }]);
});

t.test('listing filters by status and pages newest first', async (t) => {
  const h = await appFor(t);
  const a = await submitted(h);
  const rejected = (await submit(h, failingPlan())).json().details.mission.id as string;
  const b = await submitted(h);

  t.same(await listIds(h), [b.id, rejected, a.id], 'newest first');
  t.same(await listIds(h, '?status=awaiting_approval'), [b.id, a.id]);
  t.same(await listIds(h, '?status=rejected'), [rejected]);
  t.same(await listIds(h, '?status=rejected,awaiting_approval'), [b.id, rejected, a.id], 'a comma-separated list');
  t.same(await listIds(h, '?status=running'), []);
  const summary = (await list(h, '?status=awaiting_approval')).json().missions[0];
  t.match(summary, { id: b.id, status: 'awaiting_approval', planHash: b.planHash, verdict: 'pass', makespanS: Number });
  t.notOk('plan' in summary, 'a summary leaves the plan out');

  const page1 = (await list(h, '?limit=2')).json();
  t.same(page1.missions.map((m: { id: string }) => m.id), [b.id, rejected]);
  t.equal(page1.next, rejected, 'a full page names where the next starts');
  const page2 = (await list(h, `?limit=2&before=${page1.next}`)).json();
  t.same(page2.missions.map((m: { id: string }) => m.id), [a.id]);
  t.equal(page2.next, null, 'the last page');
});

t.test('bad list queries are 400 with a query.* path', async (t) => {
  const h = await appFor(t);
  const cases: Record<string, RegExp> = {
    '?status=bogus': /^query\.status/,
    '?status=approved,bogus': /^query\.status/,
    '?limit=0': /^query\.limit$/,
    '?limit=501': /^query\.limit$/,
    '?limit=ten': /^query\.limit$/,
    '?statuz=approved': /^query\.statuz$/,
  };
  for (const [query, path] of Object.entries(cases)) {
    const res = await list(h, query);
    t.equal(res.statusCode, 400, query);
    t.equal(res.json().code, 'VALIDATION_FAILED', `${query}: code`);
    t.match(res.json().details.problems, [{ path, message: String }], `${query}: path`);
  }
});

t.test('a failing plan is 422 PLAN_REJECTED and stored as rejected', async (t) => {
  const h = await appFor(t);
  const res = await submit(h, failingPlan());
  t.equal(res.statusCode, 422);
  const body = res.json();
  t.equal(body.code, 'PLAN_REJECTED');
  t.equal(body.details.report.verdict, 'fail');
  t.same(body.details.report.issues.map((i: { code: string }) => i.code).sort(), ['UNKNOWN_LOCATION', 'UNKNOWN_PROGRAM']);
  const id = body.details.mission.id as string;
  t.equal(body.details.mission.status, 'rejected');
  t.equal(res.headers.location, `/v1/missions/${id}`, 'the agent can refer to it');
  t.equal((await getMission(h, id)).json().status, 'rejected');
  t.same(await listIds(h, '?status=rejected'), [id]);
  t.same(await listIds(h, '?status=awaiting_approval'), []);

  const approved = await approve(h, id, body.details.report.planHash);
  t.equal(approved.statusCode, 409, 'a rejected mission cannot be approved');
  t.equal(approved.json().code, 'INVALID_TRANSITION');
});

t.test('Idempotency-Key: the same key and body return the same mission once', async (t) => {
  const h = await appFor(t);
  const key = { 'idempotency-key': 'retry-1' };
  const first = await submit(h, canonicalPlan(), key);
  t.equal(first.statusCode, 201);
  t.notOk(first.headers['idempotent-replayed']);
  const again = await submit(h, canonicalPlan(), key);
  t.equal(again.statusCode, 200, 'a replay is 200, not 201');
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.equal(again.json().id, first.json().id, 'the same mission');
  t.equal(again.headers.location, first.headers.location);
  const reordered = Object.fromEntries(Object.entries(canonicalPlan()).reverse()) as PlanInput;
  const third = await submit(h, reordered, key);
  t.equal(third.json().id, first.json().id, 'the same plan with keys in another order is the same body');
  t.equal((await list(h)).json().missions.length, 1, 'only one mission exists');
  t.equal(h.store.missions.events(first.json().id).length, 1, 'and one created event');

  const other = await submit(h, canonicalPlan(), { 'idempotency-key': 'retry-2' });
  t.equal(other.statusCode, 201, 'another key is another mission');
  t.not(other.json().id, first.json().id);
});

t.test('Idempotency-Key: the same key with another body is 422 IDEMPOTENCY_CONFLICT', async (t) => {
  const h = await appFor(t);
  const key = { 'idempotency-key': 'retry-1' };
  const first = await submit(h, canonicalPlan(), key);
  const res = await submit(h, { ...canonicalPlan(), priority: 9 }, key);
  t.equal(res.statusCode, 422);
  t.match(res.json(), { code: 'IDEMPOTENCY_CONFLICT', message: /retry-1/, details: { missionId: first.json().id } });
  t.equal((await list(h)).json().missions.length, 1, 'nothing new is stored');
});

t.test('Idempotency-Key: replaying a rejected submission answers 422 again, with the same mission', async (t) => {
  const h = await appFor(t);
  const key = { 'idempotency-key': 'bad-1' };
  const first = await submit(h, failingPlan(), key);
  const again = await submit(h, failingPlan(), key);
  t.equal(again.statusCode, 422);
  t.equal(again.headers['idempotent-replayed'], 'true');
  t.equal(again.json().details.mission.id, first.json().details.mission.id);
  t.equal((await list(h)).json().missions.length, 1);
});

t.test("Idempotency-Key: keys are the token's own; another token's same key never reaches the first one's mission", async (t) => {
  const h = await appFor(t);
  const rival = h.store.tokens.create('agent', 'rival-agent');
  const asRival = (plan: PlanInput) => h.app.inject({ method: 'POST', url: '/v1/missions', headers: { authorization: `Bearer ${rival.token}`, 'idempotency-key': 'order-42' }, payload: { plan } });
  const mine = await submit(h, canonicalPlan(), { 'idempotency-key': 'order-42' });
  t.equal(mine.statusCode, 201);

  // The same key and the same body from another token: before, a replay of the first token's mission.
  const theirs = await asRival(canonicalPlan());
  t.equal(theirs.statusCode, 201, 'a mission of its own');
  t.notOk(theirs.headers['idempotent-replayed']);
  t.not(theirs.json().id, mine.json().id, 'never the other token\'s mission');
  t.equal(theirs.json().createdBy, 'rival-agent');
  const conflicting = await asRival({ ...canonicalPlan(), priority: 9 });
  t.equal(conflicting.statusCode, 422, "its own key with another body conflicts with its own mission");
  t.match(conflicting.json(), { code: 'IDEMPOTENCY_CONFLICT', details: { missionId: theirs.json().id } });
  t.notMatch(conflicting.body, mine.json().id, "the first token's mission is not named to it");

  const replay = await submit(h, canonicalPlan(), { 'idempotency-key': 'order-42' });
  t.equal(replay.statusCode, 200, 'the first token still replays its own');
  t.equal(replay.json().id, mine.json().id);
  t.equal(h.store.missions.get(mine.json().id)!.idempotencyKey, 'order-42', 'the key reads back as sent');
});

t.test('an Idempotency-Key longer than 200 characters is 400', async (t) => {
  const h = await appFor(t);
  const res = await submit(h, canonicalPlan(), { 'idempotency-key': 'k'.repeat(201) });
  t.equal(res.statusCode, 400);
  t.match(res.json().details.problems, [{ path: /^headers\.idempotency-key$/ }]);
  t.equal((await list(h)).json().missions.length, 0);
});

t.test('approve needs the planHash that was checked', async (t) => {
  const h = await appFor(t);
  const m = await submitted(h);

  const wrong = await approve(h, m.id, 'f'.repeat(64));
  t.equal(wrong.statusCode, 409);
  t.match(wrong.json(), { code: 'PLAN_HASH_MISMATCH', details: { expected: m.planHash } });
  t.equal((await getMission(h, m.id)).json().status, 'awaiting_approval', 'a wrong hash changes nothing');

  for (const bad of ['abc', m.planHash.toUpperCase(), `${m.planHash}0`, '']) {
    const res = await approve(h, m.id, bad);
    t.equal(res.statusCode, 400, `malformed planHash ${JSON.stringify(bad.slice(0, 12))}`);
    t.match(res.json().details.problems, [{ path: 'planHash' }]);
  }
  const none = await h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/approve`, headers: h.auth('operator'), payload: {} });
  t.equal(none.statusCode, 400, 'no planHash at all');
  t.equal((await getMission(h, m.id)).json().status, 'awaiting_approval');

  const ok = await approve(h, m.id, m.planHash);
  t.equal(ok.statusCode, 200);
  t.equal(ok.json().status, 'approved');
  t.equal((await getMission(h, m.id)).json().status, 'approved', 'stored');
  t.match(h.store.missions.events(m.id).map((e) => ({ type: e.type, actor: e.actor })), [
    { type: 'mission.created', actor: 'agent-test' },
    { type: 'mission.approved', actor: 'operator-test' },
  ]);

  const twice = await approve(h, m.id, m.planHash);
  t.equal(twice.statusCode, 409, 'approving twice');
  t.match(twice.json(), { code: 'INVALID_TRANSITION', details: { status: 'approved' } });
  t.equal(h.store.missions.events(m.id).length, 2, 'no second approval event');
});

t.test('approve checks again: a plan that fails against the fleet as it is now is not approved', async (t) => {
  const h = await appFor(t);
  const m = await submitted(h);
  h.fleet.update('cnc-1', { online: false, state: 'e-stop' });
  const res = await approve(h, m.id, m.planHash);
  t.equal(res.statusCode, 422);
  const body = res.json();
  t.equal(body.code, 'PLAN_REJECTED');
  t.equal(body.details.report.verdict, 'fail', 'the new report');
  t.match(body.details.report.issues, [{ code: 'DEVICE_OFFLINE', device: 'cnc-1' }]);
  t.equal((await getMission(h, m.id)).json().status, 'awaiting_approval', 'the mission stays awaiting approval');

  h.fleet.update('cnc-1', { online: true, state: 'idle' });
  const later = await approve(h, m.id, m.planHash);
  t.equal(later.statusCode, 200, 'approvable once the machine is back');
  t.equal(later.json().status, 'approved');
});

t.test('cancel: awaiting or approved → cancelled; a finished mission cannot be cancelled again', async (t) => {
  const h = await appFor(t);
  const m = await submitted(h);
  const cancel = (id: string, payload?: object) =>
    h.app.inject({ method: 'POST', url: `/v1/missions/${id}/cancel`, headers: h.auth('operator'), ...(payload ? { payload } : {}) });

  const res = await cancel(m.id, { reason: 'changed my mind' });
  t.equal(res.statusCode, 200);
  t.equal(res.json().status, 'cancelled');
  t.match(h.store.missions.events(m.id).at(-1), { type: 'mission.cancelled', actor: 'operator-test', data: { reason: 'changed my mind' } });
  const again = await cancel(m.id, {});
  t.equal(again.statusCode, 409);
  t.match(again.json(), { code: 'INVALID_TRANSITION', details: { status: 'cancelled' } });
  const approveCancelled = await approve(h, m.id, m.planHash);
  t.equal(approveCancelled.statusCode, 409, 'a cancelled mission cannot be approved');

  const a = await submitted(h);
  t.equal((await approve(h, a.id, a.planHash)).statusCode, 200);
  const c = await cancel(a.id, {});
  t.equal(c.statusCode, 200, 'an approved mission can be cancelled');
  t.equal(c.json().status, 'cancelled');

  const long = await cancel((await submitted(h)).id, { reason: 'r'.repeat(501) });
  t.equal(long.statusCode, 400, 'a reason over 500 characters');
});

t.test('cancel without a body works (the body is optional)', async (t) => {
  const h = await appFor(t);
  const m = await submitted(h);
  const res = await h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/cancel`, headers: h.auth('operator') });
  t.equal(res.statusCode, 200, `no body: 200 (got ${res.statusCode} ${res.body.slice(0, 160)})`);
  t.equal(res.json().status, 'cancelled', 'answered with the cancelled mission');
  t.equal((await getMission(h, m.id)).json().status, 'cancelled', 'stored');
});

t.test('an unknown mission id is 404 on every mission route', async (t) => {
  const h = await appFor(t);
  const id = 'm_01ZZZZZZZZZZZZZZZZZZZZZZZZ';
  const get = await getMission(h, id);
  t.equal(get.statusCode, 404);
  t.match(get.json(), { code: 'NOT_FOUND', message: new RegExp(id) });
  const app = await approve(h, id, 'a'.repeat(64));
  t.equal(app.statusCode, 404);
  t.equal(app.json().code, 'NOT_FOUND');
  const cancel = await h.app.inject({ method: 'POST', url: `/v1/missions/${id}/cancel`, headers: h.auth('operator'), payload: {} });
  t.equal(cancel.statusCode, 404);
  t.equal(cancel.json().code, 'NOT_FOUND');
});

t.test('a malformed id in the path is 400 VALIDATION_FAILED in the usual {code, message} shape', async (t) => {
  const h = await appFor(t);
  const urls = {
    'an id of 101 characters (the schema allows 100)': `/v1/missions/${'m'.repeat(101)}`,
    'a broken %-escape': '/v1/missions/%E0%A4%A',
    'a broken %-escape in a robot id': '/v1/robots/%zz',
  };
  for (const [what, url] of Object.entries(urls)) {
    const res = await h.app.inject({ method: 'GET', url, headers: h.auth('viewer') });
    t.equal(res.statusCode, 400, `${what}: 400 (got ${res.statusCode})`);
    t.same(Object.keys(res.json()).sort(), ['code', 'message'], `${what}: only code and message (got ${res.body.slice(0, 100)})`);
    t.equal(res.json().code, 'VALIDATION_FAILED', `${what}: a registered code`);
  }
  const hundred = await getMission(h, 'm'.repeat(100));
  t.equal(hundred.statusCode, 404, 'an id of exactly 100 characters is well-formed, just unknown');
});

t.test('site policy approval: when-pass approves a passing plan at once', async (t) => {
  const siteDir = demoSiteCopy(t, (yaml) => yaml.replace(/approval: always/, 'approval: when-pass'));
  const h = await appFor(t, { siteDir });
  t.equal(h.site.index.site.policies.approval, 'when-pass', 'the copied site has the policy');

  const pass = await submit(h, canonicalPlan());
  t.equal(pass.statusCode, 201);
  t.equal(pass.json().status, 'approved', 'no operator needed');
  t.equal(pass.json().report.verdict, 'pass');

  // Due 30 s after "now" while the print takes 10 minutes: a DEADLINE_MISSED warning, so verdict
  // warn. (On printer-1, which the approved mission does not use: see commitments.test.ts.)
  const late = await submit(h, { schema: 'phygate.plan/v1', name: 'clips', deadline: '2026-11-24T08:00:30Z', steps: [{ id: 'print', action: 'machine.run', device: 'printer-1', params: { program: 'clip-x' } }] });
  t.equal(late.statusCode, 201);
  t.equal(late.json().report.verdict, 'warn');
  t.equal(late.json().status, 'awaiting_approval', 'a warning still needs an operator');

  const fail = await submit(h, failingPlan());
  t.equal(fail.statusCode, 422);
  t.equal(fail.json().details.mission.status, 'rejected', 'a failing plan is still rejected');
});

t.test('the default policy (always) needs an operator even for a passing plan', async (t) => {
  const h = await appFor(t);
  t.equal(h.site.index.site.policies.approval, 'always');
  const res = await submit(h, canonicalPlan());
  t.equal(res.json().report.verdict, 'pass');
  t.equal(res.json().status, 'awaiting_approval');
});

t.test('rate limiting: past PHYGATE_RATE_LIMIT requests a minute one token gets 429, others do not', async (t) => {
  const h = await appFor(t, { config: { PHYGATE_RATE_LIMIT: 5 } });
  const viewer = () => h.app.inject({ method: 'GET', url: '/v1/missions', headers: h.auth('viewer') });
  for (let i = 1; i <= 5; i++) t.equal((await viewer()).statusCode, 200, `request ${i}`);
  const sixth = await viewer();
  t.equal(sixth.statusCode, 429, 'the sixth within the minute');
  t.match(sixth.json(), { code: 'RATE_LIMITED', message: String });
  t.ok(Number(sixth.headers['retry-after']) > 0, 'with Retry-After');

  const operator = await h.app.inject({ method: 'GET', url: '/v1/missions', headers: h.auth('operator') });
  t.equal(operator.statusCode, 200, 'another token still gets through');
  t.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'and so does an anonymous health check');
});

t.test("GET /v1/missions/{id}: each step's device, times and reason; the mission's approver and why it failed", async (t) => {
  const h = await appFor(t);
  const m = await submitted(h);
  t.equal((await approve(h, m.id, m.planHash)).statusCode, 200);
  const approved = (await getMission(h, m.id)).json();
  const courier = approved.report.assignments.courier as string;
  t.match(approved, { status: 'approved', approvedBy: 'operator-test', approvedAt: h.store.missions.events(m.id).at(-1)!.at, reason: null, reasonStep: null, endedAt: null });
  const notStarted = { status: 'pending', startedAt: null, endedAt: null, reason: null };
  t.same(
    approved.steps,
    [
      { id: 'mill', action: 'machine.run', device: 'cnc-1', ...notStarted },
      { id: 'fetch', action: 'navigate', device: courier, ...notStarted },
      { id: 'load', action: 'arm.transfer', device: 'arm-1', ...notStarted },
      { id: 'carry', action: 'drop', device: courier, ...notStarted },
    ],
    'before dispatch: the device the check assigned, not $courier',
  );

  // What the executor writes as the mission runs and a step times out.
  const { missions } = h.store;
  const other = ['amr-1', 'amr-2', 'amr-3'].find((d) => d !== courier)!;
  const timeout = "step 'mill' did not finish within 5 s";
  missions.transition(m.id, 'running', 'executor');
  missions.transitionStep(m.id, 'mill', 'dispatched', 'executor', { device: 'cnc-1' });
  missions.transitionStep(m.id, 'fetch', 'dispatched', 'executor', { device: other });
  missions.transitionStep(m.id, 'mill', 'running', 'executor', { device: 'cnc-1' });
  missions.transitionStep(m.id, 'fetch', 'succeeded', 'executor', {});
  missions.transitionStep(m.id, 'mill', 'failed', 'executor', { reason: timeout });
  missions.transitionStep(m.id, 'load', 'cancelled', 'executor', { reason: "not started: step 'mill' failed" });
  missions.transitionStep(m.id, 'carry', 'cancelled', 'executor', { reason: "not started: step 'mill' failed" });
  missions.transition(m.id, 'failed', 'executor', { step: 'mill', reason: timeout });

  const res = await getMission(h, m.id);
  t.equal(res.statusCode, 200);
  const failed = res.json();
  const at = (type: string, step?: string) => h.store.missions.events(m.id).filter((e) => e.type === type && (step === undefined || (e.data as { step: string }).step === step)).at(-1)!.at;
  t.match(failed, { status: 'failed', reason: timeout, reasonStep: 'mill', endedAt: at('mission.failed'), approvedBy: 'operator-test' }, 'why it failed, and when');
  t.same(failed.steps, [
    { id: 'mill', action: 'machine.run', device: 'cnc-1', status: 'failed', startedAt: at('step.dispatched', 'mill'), endedAt: at('step.failed', 'mill'), reason: timeout },
    { id: 'fetch', action: 'navigate', device: other, status: 'succeeded', startedAt: at('step.dispatched', 'fetch'), endedAt: at('step.succeeded', 'fetch'), reason: null },
    { id: 'load', action: 'arm.transfer', device: 'arm-1', status: 'cancelled', startedAt: null, endedAt: at('step.cancelled', 'load'), reason: "not started: step 'mill' failed" },
    { id: 'carry', action: 'drop', device: courier, status: 'cancelled', startedAt: null, endedAt: at('step.cancelled', 'carry'), reason: "not started: step 'mill' failed" },
  ], 'a dispatched step shows the device it went to, even one the check did not pick');

  const listed = (await list(h, '?status=failed')).json().missions;
  t.equal(listed.length, 1);
  t.match(listed[0], { id: m.id, reason: timeout, reasonStep: 'mill', endedAt: failed.endedAt, approvedBy: 'operator-test' }, 'the list says why too (the tablet reads it)');
  t.same(listed[0].steps, failed.steps);
  t.notOk('plan' in listed[0] || 'report' in listed[0], 'a list stays short');
});

t.test('the reason of a cancel is the one given, else who cancelled; a rejected plan ended when it was stored', async (t) => {
  const h = await appFor(t);
  const cancel = (id: string, payload?: object) =>
    h.app.inject({ method: 'POST', url: `/v1/missions/${id}/cancel`, headers: h.auth('operator'), ...(payload ? { payload } : {}) });
  const given = await cancel((await submitted(h)).id, { reason: 'changed my mind' });
  t.match(given.json(), { status: 'cancelled', reason: 'changed my mind', reasonStep: null, endedAt: String, approvedBy: null });
  const none = await cancel((await submitted(h)).id);
  t.match(none.json(), { status: 'cancelled', reason: 'cancelled by operator-test' });

  const rejected = (await submit(h, failingPlan())).json().details.mission;
  t.match(rejected, { status: 'rejected', endedAt: rejected.createdAt, approvedBy: null, reason: null });
  t.equal((await getMission(h, rejected.id)).json().endedAt, rejected.createdAt);
});

t.test('a mission the site policy approved says so', async (t) => {
  const siteDir = demoSiteCopy(t, (yaml) => yaml.replace(/approval: always/, 'approval: when-pass'));
  const h = await appFor(t, { siteDir });
  const res = await submit(h, canonicalPlan());
  t.match(res.json(), { status: 'approved', approvedBy: 'policy:when-pass', approvedAt: res.json().createdAt });
});

t.test("GET /v1/missions/{id}/events pages the mission's event log", async (t) => {
  const h = await appFor(t);
  const m = await submitted(h);
  const before = await submitted(h);
  t.equal((await approve(h, m.id, m.planHash)).statusCode, 200);
  await h.app.inject({ method: 'POST', url: `/v1/missions/${before.id}/cancel`, headers: h.auth('operator'), payload: {} });
  await h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/cancel`, headers: h.auth('operator'), payload: { reason: 'changed my mind' } });
  const events = (query = '') => h.app.inject({ method: 'GET', url: `/v1/missions/${m.id}/events${query}`, headers: h.auth('viewer') });

  const all = await events();
  t.equal(all.statusCode, 200);
  const body = all.json();
  t.same(
    body.events.map((e: { type: string; actor: string; data: unknown }) => [e.type, e.actor, e.data]),
    [
      ['mission.created', 'agent-test', { status: 'awaiting_approval', planHash: m.planHash }],
      ['mission.approved', 'operator-test', { planHash: m.planHash, verdict: 'pass', worldHash: h.store.missions.get(m.id)!.worldHash }],
      ...['mill', 'fetch', 'load', 'carry'].map((step) => ['step.cancelled', 'operator-test', { step, reason: 'changed my mind' }]),
      ['mission.cancelled', 'operator-test', { reason: 'changed my mind' }],
    ],
    "this mission's events only, oldest first, with who and what",
  );
  t.same(body.events.map((e: object) => Object.keys(e)), body.events.map(() => ['seq', 'at', 'type', 'actor', 'data']));
  t.same(body.events, h.store.missions.events(m.id).map(({ missionId: _, ...e }) => e), 'as the store has them');
  t.equal(body.next, null, 'the page was not full');

  const first = (await events('?limit=2')).json();
  t.equal(first.events.length, 2);
  t.equal(first.next, first.events[1].seq, 'a full page: next is its last seq');
  const rest = (await events(`?afterSeq=${first.next}&limit=10`)).json();
  t.same(rest.events.map((e: { type: string }) => e.type), ['step.cancelled', 'step.cancelled', 'step.cancelled', 'step.cancelled', 'mission.cancelled']);
  t.equal(rest.next, null);
  t.same((await events(`?afterSeq=${rest.events.at(-1).seq}`)).json(), { events: [], next: null }, 'nothing after the last');

  const unknown = await h.app.inject({ method: 'GET', url: '/v1/missions/m_01ZZZZZZZZZZZZZZZZZZZZZZZZ/events', headers: h.auth('viewer') });
  t.equal(unknown.statusCode, 404);
  t.match(unknown.json(), { code: 'NOT_FOUND', message: /m_01ZZZZZZZZZZZZZZZZZZZZZZZZ/ });

  const bad = {
    '?afterSeq=-1': 'query.afterSeq',
    '?afterSeq=abc': 'query.afterSeq',
    '?afterSeq=1.5': 'query.afterSeq',
    '?limit=0': 'query.limit',
    '?limit=501': 'query.limit',
    '?limit=many': 'query.limit',
    '?after=3': 'query.after',
  };
  for (const [query, path] of Object.entries(bad)) {
    const res = await events(query);
    t.equal(res.statusCode, 400, `${query}: 400`);
    t.match(res.json(), { code: 'VALIDATION_FAILED', details: { problems: [{ path }] } }, `${query}: names ${path}`);
  }
});

t.test('the OpenAPI description has the event log and the new fields', async (t) => {
  const h = await appFor(t);
  const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const events = doc.paths['/v1/missions/{id}/events']?.get;
  t.ok(events, 'GET /v1/missions/{id}/events');
  t.same(events.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name).sort(), ['afterSeq', 'limit']);
  const page = events.responses['200'].content['application/json'].schema;
  t.same(Object.keys(page.properties).sort(), ['events', 'next']);
  t.same(Object.keys(page.properties.events.items.properties), ['seq', 'at', 'type', 'actor', 'data']);
  const mission = doc.paths['/v1/missions/{id}'].get.responses['200'].content['application/json'].schema;
  for (const field of ['approvedBy', 'approvedAt', 'reason', 'reasonStep', 'endedAt']) t.ok(mission.properties[field], `the mission's ${field}`);
  const step = mission.properties.steps.items;
  t.same(Object.keys(step.properties), ['id', 'action', 'device', 'status', 'startedAt', 'endedAt', 'reason']);
  t.match(step.properties.reason.description, /failed, was cancelled or is blocked/);
  const summary = doc.paths['/v1/missions'].get.responses['200'].content['application/json'].schema.properties.missions.items;
  t.ok(summary.properties.reason, 'the list has the reason too');
});

/** A log stream whose lines a test reads back, parsed. */
function logLines(): { stream: Writable; lines: () => { level: number; msg: string; [k: string]: unknown }[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

/** Stands in for the executor: moves the mission as it would, and nothing else. */
const runner = (store: Store): MissionRunner => ({
  start: (id) => void store.missions.transition(id, 'running', 'executor'),
  pause: (id, actor) => store.missions.transition(id, 'paused', actor),
  resume: (id, actor) => store.missions.transition(id, 'running', actor),
  cancelWork: () => {},
});

t.test('approvals, pauses, resumes and cancels are logged at info with the mission id; requests are not', async (t) => {
  const log = logLines();
  const hub = new EventHub();
  const h = await appFor(t, { config: { PHYGATE_LOG_LEVEL: 'info' }, logStream: log.stream, runner, hub });
  const m = await submitted(h);
  const op = (action: string, payload: object = {}) => h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/${action}`, headers: h.auth('operator'), payload });
  t.equal((await approve(h, m.id, m.planHash)).statusCode, 200);
  t.equal((await op('pause')).statusCode, 200);
  t.equal((await op('resume')).statusCode, 200);
  t.equal((await op('cancel', { reason: 'changed my mind' })).statusCode, 200);
  await getMission(h, m.id);

  const said = (msg: string) => log.lines().find((l) => l.msg === msg);
  await until('the cancel logged', () => said('mission cancelled'), 5000);
  t.match(said('mission submitted: awaiting approval'), { level: 30, missionId: m.id, actor: 'agent-test', verdict: 'pass' });
  t.match(said('mission approved'), { level: 30, missionId: m.id, actor: 'operator-test', planHash: m.planHash });
  t.match(said('mission paused'), { level: 30, missionId: m.id, actor: 'operator-test' });
  t.match(said('mission resumed'), { level: 30, missionId: m.id, actor: 'operator-test', status: 'running' });
  t.match(said('mission cancelled'), { level: 30, missionId: m.id, actor: 'operator-test', was: 'running', reason: 'changed my mind' });
  t.same(log.lines().filter((l) => l.msg === 'incoming request' || l.msg === 'request completed'), [], 'no access lines at info');

});
