// Rehearsal on the virtual fleet, end to end: a mission awaiting approval is rehearsed in a world
// of its own (its own broker, store and virtual devices, gateway/rehearsal/world.ts). A passing
// plan rehearses to success, and under `rehearsal: required` only then can it be approved; a plan
// that collides at run time although its check passed (a robot stopped between two nodes, which
// the check places on its last node) fails its rehearsal, naming the robots and the place. The
// real fleet (parked, in the app's registry) is never moved.
import t, { type Test } from 'tap';
import type { PlanInput } from '../../planners/plan.ts';
import { until } from '../helpers/wait.ts';
import { appFor, demoSiteCopy, type TestApp } from './harness.ts';
import { SLOWER_FACTOR } from '../../gateway/rehearsal/world.ts';

const FAST = { PHYGATE_REHEARSAL_SPEED: 50 };
// One site folder for both tests, so they share the file's check workers.
const SITE = demoSiteCopy(t, (y) => y.replace('  charging: manual', '  charging: manual\n  rehearsal: required'));

const drive = (device: string, to: string): PlanInput => ({
  schema: 'phygate.plan/v1',
  name: `${device}-to-${to}`,
  steps: [{ id: 'go', action: 'navigate', device, params: { to } }],
});

interface Rehearsal {
  status: string;
  planHash: string;
  outcome: string | null;
  makespanS: number | null;
  checkMakespanS: number | null;
  minSeparation: { robots: string[]; distanceM: number; gapM: number; near: string } | null;
  problems: { code: string; severity: string; message: string; robots?: string[]; near?: string; at?: { x: number; y: number } }[];
}

interface MissionJson {
  id: string;
  status: string;
  planHash: string;
  report: { makespanS: number; verdict: string };
  rehearsal?: Rehearsal | null;
  code?: string;
  message?: string;
  details?: { hint?: string };
}

async function submit(h: TestApp, plan: PlanInput): Promise<MissionJson> {
  const res = await h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan } });
  if (res.statusCode !== 201) throw new Error(`submit: ${res.statusCode} ${res.body}`);
  return res.json();
}

async function rehearsed(t: Test, h: TestApp, id: string): Promise<Rehearsal> {
  const res = await h.app.inject({ method: 'POST', url: `/v1/missions/${id}/rehearse`, headers: h.auth('operator') });
  if (res.statusCode !== 202) throw new Error(`rehearse: ${res.statusCode} ${res.body}`);
  t.equal((res.json() as MissionJson).rehearsal?.status, 'running', 'the answer says it runs');
  return until(`the rehearsal of ${id} to end`, async () => {
    const m = (await h.app.inject({ method: 'GET', url: `/v1/missions/${id}`, headers: h.auth('viewer') })).json() as MissionJson;
    return m.rehearsal && m.rehearsal.status !== 'running' ? m.rehearsal : undefined;
  });
}

t.test("under 'rehearsal: required' a plan is approved only after it rehearsed with success", async (t) => {
  const h = await appFor(t, { siteDir: SITE, config: FAST });
  const m = await submit(h, drive('amr-1', 'park-1'));
  t.equal(m.status, 'awaiting_approval', 'the policy keeps it waiting for an operator');
  const fresh = (await h.app.inject({ method: 'GET', url: `/v1/missions/${m.id}`, headers: h.auth('viewer') })).json() as MissionJson;
  t.equal(fresh.rehearsal, null, 'never rehearsed');

  const early = await h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/approve`, headers: h.auth('operator'), payload: { planHash: m.planHash } });
  t.equal(early.statusCode, 409);
  const refusal = early.json() as MissionJson;
  t.equal(refusal.code, 'REHEARSAL_REQUIRED');
  t.match(refusal.details?.hint, `POST /v1/missions/${m.id}/rehearse`, 'the hint says what to do');

  const viewer = await h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/rehearse`, headers: h.auth('viewer') });
  t.equal(viewer.statusCode, 403, 'a viewer may not rehearse');

  const r = await rehearsed(t, h, m.id);
  t.equal(r.status, 'succeeded', JSON.stringify(r));
  t.equal(r.outcome, 'succeeded');
  t.equal(r.planHash, m.planHash);
  t.same(r.problems, [], 'no problems at all');
  t.equal(r.checkMakespanS, m.report.makespanS, "the check's makespan beside it");
  // At 50× every real millisecond of messaging would be 50 simulated ones; the floor clock counts
  // only the time something was at work, so the drive takes about what the check says, however
  // busy the machine (within one virtual-fleet tick, 2.5 s at 50×).
  t.ok(r.makespanS !== null && r.makespanS >= 0.7 * m.report.makespanS && r.makespanS <= SLOWER_FACTOR * m.report.makespanS, `the rehearsal's makespan: ${r.makespanS} s against the check's ${m.report.makespanS} s`);
  t.ok(r.minSeparation && r.minSeparation.gapM > 0, `the robots kept apart: ${JSON.stringify(r.minSeparation)}`);
  t.equal(h.fleet.get('amr-1')?.at, 'dock-a', 'the real AMR did not move');
  t.equal(h.store.missions.get(m.id)?.status, 'awaiting_approval', 'rehearsing approves nothing');

  const rows = h.store.audit.list({ limit: 50 }).filter((row) => row.operation === 'missions.rehearse');
  t.same(rows.map((row) => [row.actor, row.status]), [['viewer-test', 403], ['operator-test', 202]], 'both rehearse requests are audited');

  const ok = await h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/approve`, headers: h.auth('operator'), payload: { planHash: m.planHash } });
  t.equal(ok.statusCode, 200, ok.body);
  t.equal((ok.json() as MissionJson).rehearsal?.status, 'succeeded', 'the approval shows the rehearsal it rests on');

  const again = await h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/rehearse`, headers: h.auth('operator') });
  t.equal(again.statusCode, 409, 'an approved mission is not rehearsed');
  t.equal((again.json() as MissionJson).code, 'INVALID_TRANSITION');
  const none = await h.app.inject({ method: 'POST', url: '/v1/missions/m_nope/rehearse', headers: h.auth('operator') });
  t.equal(none.statusCode, 404);
});

t.test('a plan that collides at run time fails its rehearsal, naming the robots and the place', async (t) => {
  const h = await appFor(t, { siteDir: SITE, config: FAST });
  // amr-2 was stopped on its way out of dock-b, between dock-b and sa-2: it reports dock-b as its
  // last node, and the check has it stand there, well clear of the aisle.
  h.fleet.update('amr-2', { at: 'dock-b', pose: { x: 8, y: 3.3, theta: Math.PI / 2 } });
  const m = await submit(h, drive('amr-1', 'shelf-1'));
  t.equal(m.report.verdict, 'pass', 'the check sees no conflict');
  const r = await rehearsed(t, h, m.id);
  t.equal(r.status, 'failed');
  const close = r.problems.find((p) => p.code === 'ROBOTS_TOO_CLOSE');
  t.ok(close, JSON.stringify(r.problems));
  t.same(close?.robots, ['amr-1', 'amr-2'], 'the robots');
  t.equal(close?.near, 'sa-2', 'the place: the node nearest to where they met');
  t.match(close?.message, /amr-1 and amr-2 came within [\d.]+ m of each other at \([\d.]+, [\d.]+\), near sa-2/);
  t.ok(r.minSeparation && r.minSeparation.gapM < 0, 'the closest approach has their footprints overlap');
  t.equal(h.fleet.get('amr-2')?.pose?.y, 3.3, 'the real AMR did not move');
});
