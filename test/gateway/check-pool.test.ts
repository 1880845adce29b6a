// The check pool (gateway/checks/pool.ts): checks run in worker threads and answer exactly what
// the same check on the calling thread answers — byte for byte, since the report's hash binds the
// approval — with the schedule (passesOf) a copied report would lose carried across. A check
// past its budget ends its worker, which is replaced; closing the pool ends every check.
import t, { type Test } from 'tap';
import { passesOf } from '../../planners/check.ts';
import type { Commitment } from '../../planners/commitments.ts';
import { PlanSchema, type Plan } from '../../planners/plan.ts';
import { inThreadChecker, type CheckJob, type CheckSite } from '../../gateway/checks/checker.ts';
import { CheckPool } from '../../gateway/checks/pool.ts';
import { parkedFleetState } from '../../sim/parked-fleet.ts';
import { demoTwentyStepPlan, generateShift, generateSite, prepareSite } from '../bench/generate.ts';
import { appFor, canonicalPlan, failingPlan } from './harness.ts';
import { demo, NOW } from '../planners/fixtures/demo.ts';
import { TEST_GATEWAY_ENV } from '../helpers/child-env.ts';
import { readConfig } from '../../gateway/config.ts';

function pool(t: Test, site: CheckSite, budgetMs = 120_000, size = 2, nice = Number(TEST_GATEWAY_ENV.PHYGATE_CHECK_NICE)): CheckPool {
  const p = new CheckPool({ site, size, budgetMs, nice });
  t.teardown(() => p.close());
  return p;
}

const job = (site: CheckSite, plan: Plan, more: Partial<CheckJob> = {}): CheckJob => ({ plan, fleet: parkedFleetState(site.index, NOW), now: NOW, ...more });

t.test('worker and calling thread give byte-identical reports and the same passes, on demo and generated plans', async (t) => {
  const committed: Commitment[] = [
    {
      missionId: 'm_first',
      plan: PlanSchema.parse({ schema: 'phygate.plan/v1', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'charger-2' } }] }),
      assignments: {},
      over: new Set(),
    },
  ];
  const hall = generateSite(10);
  const big = prepareSite(hall);
  const cases: { what: string; site: CheckSite; job: CheckJob }[] = [
    { what: 'the canonical plan', site: demo, job: job(demo, PlanSchema.parse(canonicalPlan())) },
    { what: 'a failing plan', site: demo, job: job(demo, PlanSchema.parse(failingPlan())) },
    { what: "the bench's twenty-step plan", site: demo, job: job(demo, demoTwentyStepPlan()) },
    {
      what: 'a plan against a committed mission, with holds, keep and assume',
      site: demo,
      job: job(demo, PlanSchema.parse({ schema: 'phygate.plan/v1', roles: { c: { kind: 'amr' } }, steps: [{ id: 'go', action: 'navigate', device: '$c', params: { to: 'charger-2' } }] }), {
        committed,
        holds: new Map([['amr-1', ['dock-a']]]),
        keep: { c: 'amr-2' },
        assume: { 'amr-3': { soc: 0.2 } },
      }),
    },
    { what: 'a generated 10-AMR shift on a generated hall', site: big, job: job(big, generateShift(hall, 10, 0.5)) },
  ];
  const pools = new Map<CheckSite, CheckPool>();
  for (const c of cases) {
    const p = pools.get(c.site) ?? pools.set(c.site, pool(t, c.site)).get(c.site)!;
    const here = await inThreadChecker(c.site).check(c.job);
    const there = await p.check(c.job);
    t.equal(JSON.stringify(there), JSON.stringify(here), `${c.what}: the same report, byte for byte (${JSON.stringify(here).length} bytes, ${c.job.plan.steps.length} steps, verdict ${here.verdict})`);
    t.same(passesOf(there), passesOf(here), `${c.what}: the same passes`);
    t.equal(await p.checkJson(c.job), JSON.stringify(here), `${c.what}: checkJson answers the same report's JSON, made in the worker`);
    if (here.verdict !== 'fail') t.ok(passesOf(there)!.length > 0, `${c.what}: the passes came across (${passesOf(there)!.length})`);
  }
});

t.test('a check past its budget is CHECK_TIMEOUT (503) with the budget; its worker is replaced and the next check answers', async (t) => {
  const p = pool(t, demo, 1, 1);
  const plan = PlanSchema.parse({
    schema: 'phygate.plan/v1',
    steps: Array.from({ length: 200 }, (_, i) => ({ id: `s${i}`, action: 'navigate', device: `amr-${(i % 3) + 1}`, params: { to: ['shelf-1', 'dock-b', 'cnc-1', 'charger-2'][i % 4]! } })),
  });
  await t.rejects(p.check(job(demo, plan)), { code: 'CHECK_TIMEOUT', status: 503, details: { budgetMs: 1, reason: 'budget' } });
  t.equal(p.timeouts, 1, 'counted');
  t.equal(p.workers, 0, 'the worker was ended');
  // The same pool takes checks again after a timeout: a new worker starts for the next one.
  await t.rejects(p.check(job(demo, plan)), { code: 'CHECK_TIMEOUT' });
  t.equal(p.timeouts, 2, 'the replacement worker ran the next check (and it too was over budget)');
});

t.test('checks beyond the workers wait their turn; closing the pool ends running and waiting checks with UNAVAILABLE', async (t) => {
  const p = new CheckPool({ site: demo, size: 1, budgetMs: 120_000 });
  const plan = PlanSchema.parse(canonicalPlan());
  const answers = await Promise.all([p.check(job(demo, plan)), p.check(job(demo, plan)), p.check(job(demo, plan))]);
  t.equal(new Set(answers.map((a) => JSON.stringify(a))).size, 1, 'three checks on one worker, the same report each');
  t.equal(p.workers, 1, 'one worker at most');
  const running = p.check(job(demo, plan));
  const waiting = p.check(job(demo, plan));
  // Handled from here on: close() rejects them before the assertions below look.
  running.catch(() => {});
  waiting.catch(() => {});
  await p.close();
  await t.rejects(running, { code: 'UNAVAILABLE' });
  await t.rejects(waiting, { code: 'UNAVAILABLE' });
  await t.rejects(p.check(job(demo, plan)), { code: 'UNAVAILABLE' }, 'a closed pool takes no check');
  t.throws(() => new CheckPool({ site: demo, size: 0, budgetMs: 1 }), /at least one worker/);
});

t.test('through the API: a check or submit past PHYGATE_CHECK_BUDGET_MS is 503 CHECK_TIMEOUT and stores nothing', async (t) => {
  const h = await appFor(t, { config: { PHYGATE_CHECK_BUDGET_MS: 1, PHYGATE_CHECK_WORKERS: 1 } });
  const plan = {
    schema: 'phygate.plan/v1',
    steps: Array.from({ length: 200 }, (_, i) => ({ id: `s${i}`, action: 'navigate', device: `amr-${(i % 3) + 1}`, params: { to: ['shelf-1', 'dock-b', 'cnc-1', 'charger-2'][i % 4]! } })),
  };
  for (const url of ['/v1/plans/check', '/v1/missions']) {
    const res = await h.app.inject({ method: 'POST', url, headers: { ...h.auth('agent'), 'idempotency-key': 'k-1' }, payload: { plan } });
    t.equal(res.statusCode, 503, `${url}: 503`);
    t.match(res.json(), { code: 'CHECK_TIMEOUT', message: /budget of 1 ms/, details: { budgetMs: 1, reason: 'budget' } }, `${url}: the code, the reason and the budget`);
  }
  t.equal(h.store.missions.list({ limit: 10 }).length, 0, 'no mission stored, not even a rejected one');
  const again = await h.app.inject({ method: 'POST', url: '/v1/missions', headers: { ...h.auth('agent'), 'idempotency-key': 'k-1' }, payload: { plan: canonicalPlan() } });
  t.equal(again.statusCode, 503, 'the idempotency key was not taken by the timed-out submit (same key, other body: not a 422 conflict)');
});

t.test('warm() starts one worker before any check asks, so the first check does not wait for one to load; a warm pool answers', async (t) => {
  const p = new CheckPool({ site: demo, size: 2, budgetMs: 120_000 });
  t.teardown(() => p.close());
  t.equal(p.workers, 0, 'a pool starts no worker by itself');
  p.warm();
  p.warm();
  t.equal(p.workers, 1, 'one worker starting, however often warmed');
  const report = await p.check({ plan: PlanSchema.parse(canonicalPlan()), fleet: new Map(), now: new Date('2026-11-24T08:00:00Z') });
  t.ok(['pass', 'warn', 'fail'].includes(report.verdict));
  t.equal(p.workers, 1, 'the check ran on the warm worker');
  t.equal(p.workerNice, 19, 'a pool told nothing runs its workers at niceness 19, the lowest priority');
});


t.test("each worker sets its own thread's niceness: 19 (the lowest priority) unless PHYGATE_CHECK_NICE says otherwise", async (t) => {
  t.equal(readConfig({}).PHYGATE_CHECK_NICE, 19, 'the setting defaults to 19');
  t.equal(readConfig({ PHYGATE_CHECK_NICE: '0' }).PHYGATE_CHECK_NICE, 0);
  t.throws(() => readConfig({ PHYGATE_CHECK_NICE: '20' }), { name: 'ConfigError', message: /^PHYGATE_CHECK_NICE: / }, 'past 19 is refused');
  const set = pool(t, demo, 120_000, 1, 7);
  await set.check(job(demo, PlanSchema.parse(canonicalPlan())));
  t.equal(set.workerNice, 7, 'the worker runs at the niceness the pool was given');
});
