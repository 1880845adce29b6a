// Checks through the API know the other missions: a plan is checked against the work every
// approved, running or paused mission will still do (planners/commitments.ts), at submit, on
// POST /v1/plans/check and again at approval; once a mission is over its work no longer counts.
import t from 'tap';
import { commitmentsOf } from '../../gateway/missions/commitments.ts';
import type { PlanInput } from '../../planners/plan.ts';
import type { Test } from 'tap';
import { appFor, canonicalPlan, demoSiteCopy, type TestApp } from './harness.ts';

const post = (h: TestApp, url: string, payload: object, role: 'agent' | 'operator' = 'agent') => h.app.inject({ method: 'POST', url, headers: h.auth(role), payload });
/** The demo floor where idle robots stay where they stand (policy `idle: stay`): one parked where a plan must go is in its way for good. */
const staySite = (t: Test) => demoSiteCopy(t, (yaml) => yaml.replace('idle: make-way', 'idle: stay'));
const toCharger2 = (amr: string, name: string): PlanInput => ({ schema: 'phygate.plan/v1', name, steps: [{ id: 'go', action: 'navigate', device: amr, params: { to: 'charger-2' } }] });

t.test('two missions sending amr-1 and amr-2 to charger-2 where idle robots stay: the second is rejected, naming the first; after the first is cancelled it passes', async (t) => {
  const h = await appFor(t, { siteDir: staySite(t) });
  const first = (await post(h, '/v1/missions', { plan: toCharger2('amr-1', 'first') })).json();
  t.equal(first.status, 'awaiting_approval');
  const before = (await post(h, '/v1/plans/check', { plan: toCharger2('amr-2', 'second') })).json();
  t.equal(before.verdict, 'pass', 'a mission awaiting approval commits nothing');

  t.equal((await post(h, `/v1/missions/${first.id}/approve`, { planHash: first.planHash }, 'operator')).statusCode, 200);
  const checked = (await post(h, '/v1/plans/check', { plan: toCharger2('amr-2', 'second') })).json();
  t.equal(checked.verdict, 'fail', 'once the first is approved, the check sees amr-1 at charger-2');
  const deadlocks = (issues: { code: string }[]) => issues.filter((i) => i.code === 'DEADLOCK');
  t.match(deadlocks(checked.issues), [{ step: 'go', device: 'amr-2', with: 'amr-1', mission: first.id }]);
  t.match(deadlocks(checked.issues), [{ at: 'dock-b' }], 'amr-2 does not set off for where amr-1 of that mission goes first');

  const second = await post(h, '/v1/missions', { plan: toCharger2('amr-2', 'second') });
  t.equal(second.statusCode, 422, 'submitted, it is rejected');
  t.equal(second.json().details.mission.status, 'rejected');
  t.match(deadlocks(second.json().details.report.issues), [{ mission: first.id }], 'the report names the mission in the way');

  t.equal((await post(h, `/v1/missions/${first.id}/cancel`, {}, 'operator')).statusCode, 200);
  t.equal((await post(h, '/v1/plans/check', { plan: toCharger2('amr-2', 'second') })).json().verdict, 'pass', 'a cancelled mission commits nothing any more');
});

t.test('approval checks again against the missions approved meanwhile', async (t) => {
  const h = await appFor(t, { siteDir: staySite(t) });
  const a = (await post(h, '/v1/missions', { plan: toCharger2('amr-1', 'a') })).json();
  const b = (await post(h, '/v1/missions', { plan: toCharger2('amr-2', 'b') })).json();
  t.equal(b.status, 'awaiting_approval', 'both pass on their own');
  t.equal((await post(h, `/v1/missions/${a.id}/approve`, { planHash: a.planHash }, 'operator')).statusCode, 200);
  const refused = await post(h, `/v1/missions/${b.id}/approve`, { planHash: b.planHash }, 'operator');
  t.equal(refused.statusCode, 422, 'b cannot be approved on its old report');
  t.equal(refused.json().code, 'PLAN_REJECTED');
  t.match(refused.json().details.report.issues.filter((i: { code: string }) => i.code === 'DEADLOCK'), [{ with: 'amr-1', mission: a.id }]);
  t.equal((await h.app.inject({ method: 'GET', url: `/v1/missions/${b.id}`, headers: h.auth('viewer') })).json().status, 'awaiting_approval', 'b is unchanged');
});

t.test('a role is bound to a robot no other mission uses; a robot named directly while busy waits, and the report says for whom', async (t) => {
  const h = await appFor(t);
  const firstCheck = (await post(h, '/v1/plans/check', { plan: canonicalPlan() })).json();
  const usual = firstCheck.assignments.courier as string;
  const busy = (await post(h, '/v1/missions', { plan: { schema: 'phygate.plan/v1', name: 'busy', steps: [{ id: 'hold', action: 'wait', device: usual, params: { seconds: 60 } }] } })).json();
  t.equal((await post(h, `/v1/missions/${busy.id}/approve`, { planHash: busy.planHash }, 'operator')).statusCode, 200);

  const again = (await post(h, '/v1/plans/check', { plan: canonicalPlan() })).json();
  t.not(again.assignments.courier, usual, `${usual} is busy: the courier is another AMR`);
  t.notOk(again.issues.some((i: { code: string }) => i.code === 'DEVICE_BUSY'));

  const named = canonicalPlan();
  named.roles = {};
  named.steps = named.steps.map((s) => ({ ...s, device: s.device === '$courier' ? usual : s.device, ...(s.action === 'arm.transfer' ? { params: { ...s.params, to: usual } } : {}) })) as PlanInput['steps'];
  const waits = (await post(h, '/v1/plans/check', { plan: named })).json();
  t.equal(waits.verdict, 'warn');
  t.match(waits.issues.filter((i: { code: string }) => i.code === 'DEVICE_BUSY'), [{ step: 'fetch', device: usual, mission: busy.id }]);
  t.ok(waits.steps.find((s: { id: string }) => s.id === 'fetch').startS >= 60, 'its fetch starts after the 60 s committed to the other mission');
});

t.test('approval runs what the operator saw: roles bound to other devices now are a 409 REPORT_CHANGED with the new report, and approving again runs by it', async (t) => {
  const h = await appFor(t);
  const m = (await post(h, '/v1/missions', { plan: canonicalPlan() })).json();
  const shown = m.report.assignments.courier as string;
  // Meanwhile another mission takes the courier the report shows.
  const other = (await post(h, '/v1/missions', { plan: { schema: 'phygate.plan/v1', name: 'hold', steps: [{ id: 'hold', action: 'wait', device: shown, params: { seconds: 60 } }] } })).json();
  t.equal((await post(h, `/v1/missions/${other.id}/approve`, { planHash: other.planHash }, 'operator')).statusCode, 200);

  const refused = await post(h, `/v1/missions/${m.id}/approve`, { planHash: m.planHash }, 'operator');
  t.equal(refused.statusCode, 409);
  t.equal(refused.json().code, 'REPORT_CHANGED');
  const now = refused.json().details.report.assignments.courier as string;
  t.not(now, shown, 'the check binds another courier now');
  t.same(refused.json().details.changed, [`courier: ${shown} → ${now}`]);
  const get = async () => (await h.app.inject({ method: 'GET', url: `/v1/missions/${m.id}`, headers: h.auth('viewer') })).json();
  const after = await get();
  t.equal(after.status, 'awaiting_approval', 'still awaiting approval');
  t.equal(after.report.assignments.courier, now, 'the mission shows the new report');
  const events = (await h.app.inject({ method: 'GET', url: `/v1/missions/${m.id}/events`, headers: h.auth('viewer') })).json();
  t.match(events.events.at(-1), { type: 'mission.rechecked', data: { assignments: { courier: now }, was: { courier: shown } } }, 'the event log says what changed');

  const approved = await post(h, `/v1/missions/${m.id}/approve`, { planHash: m.planHash }, 'operator');
  t.equal(approved.statusCode, 200, 'approved on the report the operator has now seen');
  t.equal((await get()).report.assignments.courier, now, 'and it runs with that courier');
});

t.test("approval keeps its own check as the mission's report", async (t) => {
  const h = await appFor(t);
  const m = (await post(h, '/v1/missions', { plan: toCharger2('amr-1', 'solo') })).json();
  const other = (await post(h, '/v1/missions', { plan: { schema: 'phygate.plan/v1', name: 'first', steps: [{ id: 'hold', action: 'wait', device: 'amr-1', params: { seconds: 30 } }] } })).json();
  t.equal((await post(h, `/v1/missions/${other.id}/approve`, { planHash: other.planHash }, 'operator')).statusCode, 200);
  t.equal(m.report.steps[0].startS, 0, 'at submit, amr-1 was free');
  t.equal((await post(h, `/v1/missions/${m.id}/approve`, { planHash: m.planHash }, 'operator')).statusCode, 200);
  const approved = (await h.app.inject({ method: 'GET', url: `/v1/missions/${m.id}`, headers: h.auth('viewer') })).json();
  t.ok(approved.report.steps[0].startS >= 30, `the approved report has amr-1 start after the other mission's 30 s (at ${approved.report.steps[0].startS} s)`);
  t.match(approved.report.issues, [{ code: 'DEVICE_BUSY', mission: other.id }]);
});

t.test('approval keeps the devices the operator saw while they can still do the work, even when another is nearer now', async (t) => {
  const h = await appFor(t);
  const m = (await post(h, '/v1/missions', { plan: canonicalPlan() })).json();
  const shown = m.report.assignments.courier as string;
  // Another AMR now stands nearer cnc-1, where the courier's first step goes, out of the courier's
  // way: a fresh check picks it.
  const other = ['amr-1', 'amr-2', 'amr-3'].find((a) => a !== shown)!;
  h.fleet.update(other, { at: 'sa-8' });
  const fresh = (await post(h, '/v1/plans/check', { plan: canonicalPlan() })).json();
  t.equal(fresh.assignments.courier, other, `a fresh check now binds ${other}`);
  const approved = await post(h, `/v1/missions/${m.id}/approve`, { planHash: m.planHash }, 'operator');
  t.equal(approved.statusCode, 200, 'approved without a REPORT_CHANGED');
  t.equal(approved.json().report.assignments.courier, shown, `still ${shown}, the courier the operator saw`);
});

t.test("a committed mission's steps carry the routes its check planned", async (t) => {
  const h = await appFor(t);
  const m = (await post(h, '/v1/missions', { plan: canonicalPlan() })).json();
  t.same(commitmentsOf(h.store), [], 'awaiting approval, it commits nothing');
  t.equal((await post(h, `/v1/missions/${m.id}/approve`, { planHash: m.planHash }, 'operator')).statusCode, 200);
  const report = (await h.app.inject({ method: 'GET', url: `/v1/missions/${m.id}`, headers: h.auth('viewer') })).json().report;
  const [c] = commitmentsOf(h.store);
  const driven = report.steps.filter((s: { route?: string[] }) => s.route);
  t.ok(driven.length >= 2, 'the courier drives in two steps');
  t.same(c?.routes, Object.fromEntries(driven.map((s: { id: string; route: string[] }) => [s.id, s.route])), "by step id, the routes of the mission's report; steps that drive nowhere have none");
});

t.test("the README's plan submitted twice: the second passes while the first is approved, with a courier of its own", async (t) => {
  const h = await appFor(t);
  const first = (await post(h, '/v1/missions', { plan: canonicalPlan() })).json();
  t.equal((await post(h, `/v1/missions/${first.id}/approve`, { planHash: first.planHash }, 'operator')).statusCode, 200);
  const second = await post(h, '/v1/missions', { plan: canonicalPlan() });
  t.equal(second.statusCode, 201, 'submitted, it awaits approval');
  const report = second.json().report;
  t.not(report.verdict, 'fail');
  t.not(report.assignments.courier, first.report.assignments.courier, 'its courier is not the first mission’s');
  t.match(report.issues.filter((i: { code: string }) => i.code === 'MAKE_WAY'), [{ device: first.report.assignments.courier, with: report.assignments.courier, mission: first.id }], "the first mission's courier, done at shelf-2, makes way");
  t.equal((await post(h, `/v1/missions/${second.json().id}/approve`, { planHash: second.json().planHash }, 'operator')).statusCode, 200, 'and it is approved, checked again against the first');
});
