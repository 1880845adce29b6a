// Worker threads start without their process's module loaders (robots/worker-options.ts): they
// register TypeScript themselves, and still run.
import t from 'tap';
import { workerExecArgv } from '../../robots/worker-options.ts';
import { CheckPool } from '../../gateway/checks/pool.ts';
import { PlanSchema } from '../../planners/plan.ts';
import { parkedFleetState } from '../../sim/parked-fleet.ts';
import { demo, NOW } from '../planners/fixtures/demo.ts';
import { canonicalPlan } from '../gateway/harness.ts';

t.test('the loaders are left out, in both spellings, with their values; other options are kept', async (t) => {
  t.same(
    workerExecArgv(['--import=file:///x/ts.mjs', '--enable-source-maps', '--import', 'tsx', '--loader=y', '--experimental-loader', 'z', '--require', 'a.cjs', '-r', 'b.cjs', '--require=c.cjs', '--stack-trace-limit=50', '--no-warnings']),
    ['--enable-source-maps', '--stack-trace-limit=50', '--no-warnings'],
  );
  t.same(workerExecArgv([]), []);
  t.notOk(workerExecArgv().some((a) => /^--(import|loader|require)/.test(a)), "this process's own (the test runner's loaders) are left out");
});

t.test('a check worker started that way loads its TypeScript by itself and checks', async (t) => {
  const pool = new CheckPool({ site: demo, size: 1, budgetMs: 120_000, nice: 0 });
  t.teardown(() => pool.close());
  const report = await pool.check({ plan: PlanSchema.parse(canonicalPlan()), fleet: parkedFleetState(demo.index, NOW), now: NOW });
  t.equal(report.verdict, 'pass', 'the canonical plan passes in the worker');
});
