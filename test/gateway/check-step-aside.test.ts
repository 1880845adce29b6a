// A STOP press makes the running plan checks step aside (gateway/checks/pool.ts, stepAside): the
// worker holds its check at the next simulation event until the STOP's answer is out, at most a
// bound, and the check then answers what it would have answered. Apart from check-pool.test.ts,
// so each file keeps its own time on a busy machine (every pool starts a worker).
import t from 'tap';
import { PlanSchema, type Plan } from '../../planners/plan.ts';
import { inThreadChecker, type CheckJob, type CheckSite } from '../../gateway/checks/checker.ts';
import { CheckPool } from '../../gateway/checks/pool.ts';
import { parkedFleetState } from '../../sim/parked-fleet.ts';
import { appFor, canonicalPlan } from './harness.ts';
import { until } from '../helpers/wait.ts';
import { demo, NOW } from '../planners/fixtures/demo.ts';

const job = (site: CheckSite, plan: Plan, more: Partial<CheckJob> = {}): CheckJob => ({ plan, fleet: parkedFleetState(site.index, NOW), now: NOW, ...more });

t.test('a STOP makes running checks step aside: the worker holds its check at the next event until the STOP is out, then answers the same report', async (t) => {
  const p = new CheckPool({ site: demo, size: 1, budgetMs: 120_000, stepAsideMaxMs: 600_000 });
  t.teardown(() => p.close());
  const plan = PlanSchema.parse(canonicalPlan());
  const here = JSON.stringify(await inThreadChecker(demo).check(job(demo, plan)));
  await p.check(job(demo, plan)); // the worker is up
  const resume = p.stepAside();
  t.equal(p.stepAsides, 1, 'counted');
  let answered = false;
  const pending = p.check(job(demo, plan)).then((r) => ((answered = true), r));
  await until('the worker to hold its check', () => p.held === 1);
  t.notOk(answered, 'held in the middle: no answer while the STOP is handled');
  resume();
  resume(); // a second call changes nothing
  t.equal(JSON.stringify(await pending), here, 'after the STOP, the same report as an undisturbed check');
  t.equal(p.held, 0, 'nothing held any more');
  t.equal(JSON.stringify(await p.check(job(demo, plan))), here, 'and the next check runs without waiting');
});

t.test('a STOP whose answer never comes out holds the checks no longer than the bound', async (t) => {
  const p = new CheckPool({ site: demo, size: 1, budgetMs: 120_000, stepAsideMaxMs: 1 });
  t.teardown(() => p.close());
  p.stepAside(); // never resumed by its caller
  const report = await p.check(job(demo, PlanSchema.parse(canonicalPlan())));
  t.ok(['pass', 'warn', 'fail'].includes(report.verdict), 'the check answered');
  t.equal(p.held, 0);
});

t.test('through the API: a STOP press with a valid token makes the checks step aside until its answer is out; one without a token does not', async (t) => {
  const pool = new CheckPool({ site: demo, size: 1, budgetMs: 120_000, stepAsideMaxMs: 600_000 });
  t.teardown(() => pool.close());
  const h = await appFor(t, { checker: () => pool });
  const refused = await h.app.inject({ method: 'POST', url: '/v1/stop', payload: {} });
  t.equal(refused.statusCode, 401);
  t.equal(pool.stepAsides, 0, 'no token: the checks were not held');
  const stop = await h.app.inject({ method: 'POST', url: '/v1/stop', headers: h.auth('viewer'), payload: { reason: 'test' } });
  t.equal(stop.statusCode, 200);
  t.equal(pool.stepAsides, 1, 'the press held the checks');
  const res = await h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: h.auth('agent'), payload: { plan: canonicalPlan() } });
  t.equal(res.statusCode, 200, 'and let them go when it answered: the next check answers');
  t.match(res.headers['content-type'], /^application\/json/, 'the JSON made in the worker, sent as JSON');
  t.ok(['pass', 'warn', 'fail'].includes(res.json().verdict));
  await h.app.inject({ method: 'GET', url: '/v1/stop', headers: h.auth('viewer') });
  t.equal(pool.stepAsides, 1, 'reading the stops holds nothing');
});
