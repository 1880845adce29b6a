// Allocation that searches: the other devices for the roles are checked too (at most
// MAX_ASSIGNMENTS_TRIED assignments); when the first choice fails, the one that passes and finishes
// first is taken, and a first choice that passes gives way only to one that finishes clearly
// earlier; the report lists what was tried. Idle robots stay where they stand here
// (policy `idle: stay`), so a robot parked at its home station is in the way for good.
import t from 'tap';
import { CLEARLY_EARLIER, MAX_ASSIGNMENTS_TRIED } from '../../planners/check.ts';
import type { PlanInput } from '../../planners/plan.ts';
import { CANONICAL_ROLES, CANONICAL_STEPS, check as checkOn, demoStay } from './fixtures/demo.ts';

const check: typeof checkOn = (steps, opts = {}) => checkOn(steps, { site: demoStay, ...opts });

const courier = { roles: { courier: { kind: 'amr' as const } } };

t.test('a drop at dock-a while amr-1 stands there: the courier nearest the pick deadlocks, amr-1 itself passes and is taken', async (t) => {
  const steps: PlanInput['steps'] = [
    { id: 'fetch', action: 'pick', device: '$courier', params: { at: 'shelf-1' } },
    { id: 'bring', action: 'drop', device: '$courier', params: { at: 'dock-a' }, after: ['fetch'] },
  ];
  const r = check(steps, { extra: courier });
  t.equal(r.verdict, 'pass');
  t.same(r.assignments, { courier: 'amr-1' });
  t.ok(r.tried, 'the report says what was tried');
  t.same(r.tried![0], { assignments: { courier: 'amr-2' }, verdict: 'fail', makespanS: r.tried![0]!.makespanS, issues: ['DEADLOCK'] }, 'first the usual choice, which fails');
  t.match(r.tried!.find((x) => x.assignments.courier === 'amr-1'), { verdict: 'pass', makespanS: r.makespanS, issues: [] }, 'the one taken');
  t.same(r.tried!.map((x) => x.assignments.courier).sort(), ['amr-1', 'amr-2', 'amr-3'], 'each AMR once');
});

t.test('a first choice that passes is kept unless another finishes clearly earlier; the others are tried and listed', async (t) => {
  const r = check(CANONICAL_STEPS, { extra: CANONICAL_ROLES });
  t.equal(r.verdict, 'pass');
  t.ok(r.tried && r.tried.length > 1, `${r.tried?.length} assignments tried`);
  t.same(r.tried![0]!.assignments, r.assignments, 'the first choice is the one taken');
  for (const other of r.tried!.slice(1)) {
    t.ok(other.verdict === 'fail' || other.makespanS > r.makespanS * (1 - CLEARLY_EARLIER), `${other.assignments.courier} does not finish ${CLEARLY_EARLIER * 100} % earlier (${other.makespanS} s against ${r.makespanS} s)`);
  }
});

t.test('a role with near keeps its device when the first choice passes; a re-check (keep) tries nothing else', async (t) => {
  const toShelf = [{ id: 'go', action: 'navigate' as const, device: '$courier', params: { to: 'shelf-2' } }];
  const near = check(toShelf, { extra: { roles: { courier: { kind: 'amr', near: 'charger-1' } } } });
  t.same(near.assignments, { courier: 'amr-3' }, 'the agent asked for the AMR near charger-1');
  t.equal(near.tried, undefined, 'and nothing else is tried');
  const anyone = check(toShelf, { extra: CANONICAL_ROLES });
  t.ok(anyone.tried && anyone.tried.length > 1, 'without near, the others are tried');
});

t.test('when no assignment passes, the report is the first choice’s, with the others listed', async (t) => {
  const steps: PlanInput['steps'] = [
    { id: 'fetch', action: 'pick', device: '$courier', params: { at: 'charger-1' } },
    { id: 'bring', action: 'drop', device: '$courier', params: { at: 'dock-a' }, after: ['fetch'] },
  ];
  const r = check(steps, { extra: courier });
  t.equal(r.verdict, 'fail');
  t.same(r.assignments, r.tried![0]!.assignments, 'the first choice');
  t.ok(r.tried!.every((x) => x.verdict === 'fail'));
  t.equal(r.tried!.length, 3);
});

t.test('two roles: no assignment tried gives one device to both, and at most MAX_ASSIGNMENTS_TRIED are tried', async (t) => {
  const steps: PlanInput['steps'] = [
    { id: 'a-fetch', action: 'pick', device: '$a', params: { at: 'shelf-1' } },
    { id: 'a-bring', action: 'drop', device: '$a', params: { at: 'dock-a' }, after: ['a-fetch'] },
    { id: 'b-go', action: 'navigate', device: '$b', params: { to: 'charger-1' } },
  ];
  const r = check(steps, { extra: { roles: { a: { kind: 'amr' }, b: { kind: 'amr' } } } });
  t.ok(r.tried && r.tried.length > 1, `the first choice failed, ${r.tried?.length} assignments tried`);
  t.ok(r.tried!.length <= MAX_ASSIGNMENTS_TRIED);
  for (const x of r.tried!) t.not(x.assignments.a, x.assignments.b, `${JSON.stringify(x.assignments)}: two devices`);
  t.equal(new Set(r.tried!.map((x) => JSON.stringify(x.assignments))).size, r.tried!.length, 'none twice');
  t.equal(r.verdict, 'pass', 'a passing assignment was found');
  t.same(r.assignments, { a: 'amr-1', b: 'amr-3' }, 'amr-1 brings to dock-a, where it stands; amr-3 stays at charger-1');
  t.equal(r.makespanS, Math.min(...r.tried!.filter((x) => x.verdict !== 'fail').map((x) => x.makespanS)), 'the passing one that finishes first');
});

t.test('a mistake in the plan itself (an unknown station) is not searched around: no other device could avoid it', async (t) => {
  const r = check([{ id: 'go', action: 'navigate', device: '$courier', params: { to: 'dock-z' } }], { extra: courier });
  t.equal(r.verdict, 'fail');
  t.match(r.issues, [{ code: 'UNKNOWN_LOCATION' }]);
  t.equal(r.tried, undefined);
});
