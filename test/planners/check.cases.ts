// The plan check, as a spec: given the demo site, a fleet and a plan, expect this report.
import t, { type Test } from 'tap';
import { assumeProblems } from '../../planners/check.ts';
import type { IssueCode, CheckReport } from '../../planners/report.ts';
import { CANONICAL_ROLES, CANONICAL_STEPS, check, demo, NOW, parkedFleet } from './fixtures/demo.ts';

/** The report has exactly one issue with this code; it names the step and says what and how. */
function only(t: Test, report: CheckReport, code: IssueCode, step: string) {
  const found = report.issues.filter((i) => i.code === code);
  t.equal(found.length, 1, `one ${code} (got ${report.issues.map((i) => i.code).join(', ') || 'none'})`);
  const issue = found[0]!;
  t.equal(issue.step, step, `${code} names step '${step}'`);
  t.ok(issue.message.length > 10, `${code} says what is wrong`);
  t.ok(issue.hint.length > 10, `${code} gives a hint`);
  return issue;
}

t.test('the canonical plan passes with sensible timings', async (t) => {
  const r = check(CANONICAL_STEPS, { extra: CANONICAL_ROLES });
  t.equal(r.verdict, 'pass');
  t.same(r.issues, []);
  t.match(r.planHash, /^[0-9a-f]{64}$/);
  t.equal(r.worldHash, demo.worldHash);
  t.match(r.assignments.courier, /^amr-[123]$/);
  const at = Object.fromEntries(r.steps.map((s) => [s.id, s]));
  t.equal(at.mill!.endS - at.mill!.startS, 360, 'four brackets at 90 s each');
  t.equal(at.load!.startS, Math.max(at.mill!.endS, at.fetch!.endS), 'the arm starts when both the mill and the courier are done');
  t.equal(at.load!.endS - at.load!.startS, 25, "the arm's transfer time");
  const courier = r.devices.find((d) => d.id === r.assignments.courier)!;
  t.ok(courier.distanceM > 10, 'the courier drives across the hall');
  const driving = at.fetch!.endS - at.fetch!.startS + (at.carry!.endS - at.carry!.startS - 15);
  t.ok(driving >= courier.distanceM / 1.0, 'never faster than 1 m/s on average');
  t.ok(courier.socEnd! < courier.socStart!, 'driving uses charge');
  t.equal(r.makespanS, Math.max(...r.steps.map((s) => s.endS)));
});

t.test('the same check twice gives byte-identical JSON', async (t) => {
  const a = JSON.stringify(check(CANONICAL_STEPS, { extra: CANONICAL_ROLES }));
  const b = JSON.stringify(check(CANONICAL_STEPS, { extra: CANONICAL_ROLES }));
  t.equal(a, b);
});

t.test('role allocation binds the nearest online AMR, and another when it is offline', async (t) => {
  const steps = [{ id: 'go', action: 'navigate' as const, device: '$courier', params: { to: 'dock-b' } }];
  t.equal(check(steps, { extra: CANONICAL_ROLES }).assignments.courier, 'amr-2', 'amr-2 is parked at dock-b');
  t.not(check(steps, { extra: CANONICAL_ROLES, assume: { 'amr-2': { online: false } } }).assignments.courier, 'amr-2');
  // (To dock-b, amr-3 from charger-1 would find amr-2 parked there: that first choice fails, and the
  // search takes amr-2 — see allocation-search.cases.ts. To shelf-2 nobody is in the way.)
  const toShelf = [{ id: 'go', action: 'navigate' as const, device: '$courier', params: { to: 'shelf-2' } }];
  const near = check(toShelf, { extra: { roles: { courier: { kind: 'amr', near: 'charger-1' } } } });
  t.equal(near.verdict, 'pass');
  t.equal(near.assignments.courier, 'amr-3', '`near` wins over the first target');
  t.not(check(toShelf, { extra: CANONICAL_ROLES }).assignments.courier, 'amr-3', 'without it, another AMR is nearer');
});

t.test('UNKNOWN_DEVICE suggests the device that was probably meant', async (t) => {
  const i = only(t, check([{ id: 'a', action: 'navigate', device: 'amr-9', params: { to: 'dock-a' } }]), 'UNKNOWN_DEVICE', 'a');
  t.match(i.hint, /amr-1/);
  t.equal(i.severity, 'error');
});

t.test('UNKNOWN_ROLE for a $role the plan does not declare', async (t) => {
  only(t, check([{ id: 'a', action: 'navigate', device: '$ghost', params: { to: 'dock-a' } }]), 'UNKNOWN_ROLE', 'a');
});

t.test('ROLE_UNASSIGNABLE: more roles than devices, or every device of the kind offline', async (t) => {
  const twoArms = check(
    [
      { id: 'a', action: 'arm.transfer', device: '$left', params: { from: 'cnc-1', to: 'conveyor-1-in' } },
      { id: 'b', action: 'arm.transfer', device: '$right', params: { from: 'cnc-1', to: 'conveyor-1-in' } },
    ],
    { extra: { roles: { left: { kind: 'arm' }, right: { kind: 'arm' } } } },
  );
  t.match(only(t, twoArms, 'ROLE_UNASSIGNABLE', 'b').message, /right/);
  const offline = check([{ id: 'go', action: 'navigate', device: '$courier', params: { to: 'dock-a' } }], {
    extra: CANONICAL_ROLES,
    assume: { 'amr-1': { online: false }, 'amr-2': { online: false }, 'amr-3': { online: false } },
  });
  t.match(only(t, offline, 'ROLE_UNASSIGNABLE', 'go').message, /offline/);
  t.equal(offline.verdict, 'fail');
});

t.test('UNSUPPORTED_ACTION: an AMR running a program, an arm loading a machine role', async (t) => {
  const i = only(t, check([{ id: 'a', action: 'machine.run', device: 'amr-1', params: { program: 'bracket-v2' } }]), 'UNSUPPORTED_ACTION', 'a');
  t.match(i.hint, /cnc-1/);
  only(
    t,
    check([{ id: 'a', action: 'arm.transfer', device: 'arm-1', params: { from: 'cnc-1', to: '$mill' } }], { extra: { roles: { mill: { kind: 'cnc' } } } }),
    'UNSUPPORTED_ACTION',
    'a',
  );
});

t.test('UNKNOWN_LOCATION: no such station, a charge at a dock, a pick at a bare node', async (t) => {
  t.match(only(t, check([{ id: 'a', action: 'navigate', device: 'amr-1', params: { to: 'dock-z' } }]), 'UNKNOWN_LOCATION', 'a').hint, /dock-a/);
  t.match(only(t, check([{ id: 'a', action: 'charge', device: 'amr-1', params: { at: 'dock-a' } }]), 'UNKNOWN_LOCATION', 'a').hint, /charger-1/);
  only(t, check([{ id: 'a', action: 'pick', device: 'amr-1', params: { at: 'sa-3' } }]), 'UNKNOWN_LOCATION', 'a');
  t.equal(check([{ id: 'a', action: 'navigate', device: 'amr-1', params: { to: 'sa-3' } }]).verdict, 'pass', 'navigate may target a bare node');
});

t.test('UNKNOWN_PROGRAM names the programs the machine has', async (t) => {
  const i = only(t, check([{ id: 'm', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v3' } }]), 'UNKNOWN_PROGRAM', 'm');
  t.match(i.hint, /bracket-v2/);
  t.equal(i.device, 'cnc-1');
});

t.test('DUPLICATE_STEP, UNKNOWN_DEPENDENCY and DEPENDENCY_CYCLE', async (t) => {
  only(
    t,
    check([
      { id: 'a', action: 'wait', device: 'amr-1', params: { seconds: 1 } },
      { id: 'a', action: 'wait', device: 'amr-2', params: { seconds: 1 } },
    ]),
    'DUPLICATE_STEP',
    'a',
  );
  only(t, check([{ id: 'a', action: 'wait', device: 'amr-1', params: { seconds: 1 }, after: ['nope'] }]), 'UNKNOWN_DEPENDENCY', 'a');
  const cycle = check([
    { id: 'a', action: 'wait', device: 'amr-1', params: { seconds: 1 }, after: ['c'] },
    { id: 'b', action: 'wait', device: 'amr-1', params: { seconds: 1 }, after: ['a'] },
    { id: 'c', action: 'wait', device: 'amr-1', params: { seconds: 1 }, after: ['b'] },
    { id: 'd', action: 'wait', device: 'amr-1', params: { seconds: 1 } },
  ]);
  const i = only(t, cycle, 'DEPENDENCY_CYCLE', 'a');
  for (const s of ['a', 'b', 'c']) t.match(i.message, s);
  t.notMatch(i.message, /\bd\b/, 'the step outside the cycle is not blamed');
  only(t, check([{ id: 'a', action: 'wait', device: 'amr-1', params: { seconds: 1 }, after: ['a'] }]), 'DEPENDENCY_CYCLE', 'a');
});

t.test('OUT_OF_REACH: the arm does not reach the shelves', async (t) => {
  const i = only(t, check([{ id: 't', action: 'arm.transfer', device: 'arm-1', params: { from: 'shelf-1', to: 'cnc-1' } }]), 'OUT_OF_REACH', 't');
  t.match(i.hint, /conveyor-1-in/);
});

t.test('DEVICE_OFFLINE: assumed offline, or never connected', async (t) => {
  const steps = [
    { id: 'a', action: 'navigate' as const, device: 'amr-1', params: { to: 'dock-b' } },
    { id: 'b', action: 'navigate' as const, device: 'amr-1', params: { to: 'dock-a' }, after: ['a'] },
  ];
  const i = only(t, check(steps, { assume: { 'amr-1': { online: false } } }), 'DEVICE_OFFLINE', 'a');
  t.equal(i.device, 'amr-1');
  const fleet = parkedFleet();
  fleet.set('cnc-1', { id: 'cnc-1', online: false, state: 'never connected' });
  only(t, check([{ id: 'm', action: 'machine.run', device: 'cnc-1', params: { program: 'housing-a' } }], { fleet }), 'DEVICE_OFFLINE', 'm');
});

t.test('KEEP_OUT: booth-in lies inside the paint booth', async (t) => {
  const i = only(t, check([{ id: 'paint', action: 'navigate', device: 'amr-1', params: { to: 'booth-in' } }]), 'KEEP_OUT', 'paint');
  t.match(i.message, /paint-booth/);
});

t.test('UNREACHABLE: nothing leads to the mezzanine', async (t) => {
  only(t, check([{ id: 'up', action: 'navigate', device: 'amr-1', params: { to: 'mezzanine' } }]), 'UNREACHABLE', 'up');
});

t.test('SPEED_LIMIT: from the printer to the mill crosses the walkway; the time includes it', async (t) => {
  const steps = [{ id: 'go', action: 'navigate' as const, device: 'amr-1', params: { to: 'cnc-1' } }];
  const r = check(steps, { assume: { 'amr-1': { at: 'printer-1' } } });
  t.equal(r.verdict, 'warn');
  const i = only(t, r, 'SPEED_LIMIT', 'go');
  t.match(i.message, /walkway/);
  t.equal(i.severity, 'warning');
  // The walkway is 1.5 m wide at 0.5 m/s: at least 1.5 s more than crossing it at 1 m/s.
  const s = r.steps[0]!;
  t.ok(s.endS - s.startS > r.devices[0]!.distanceM / 1.0 + 1.5, 'slower than cruising the whole way');
});

t.test('CARGO_FULL and CARGO_EMPTY', async (t) => {
  only(
    t,
    check([
      { id: 'p1', action: 'pick', device: 'amr-1', params: { at: 'shelf-1' } },
      { id: 'p2', action: 'pick', device: 'amr-1', params: { at: 'shelf-2' }, after: ['p1'] },
    ]),
    'CARGO_FULL',
    'p2',
  );
  only(t, check([{ id: 'd', action: 'drop', device: 'amr-1', params: { at: 'shelf-2' } }]), 'CARGO_EMPTY', 'd');
  t.equal(
    check([
      { id: 'p', action: 'pick', device: 'amr-1', params: { at: 'shelf-1' } },
      { id: 'd', action: 'drop', device: 'amr-1', params: { at: 'shelf-2' }, after: ['p'] },
    ]).verdict,
    'pass',
    'pick then drop is fine',
  );
});

t.test('NOT_AT_STATION: the arm cannot load an AMR parked at a dock', async (t) => {
  const i = only(t, check([{ id: 'load', action: 'arm.transfer', device: 'arm-1', params: { from: 'cnc-1', to: 'amr-1' } }]), 'NOT_AT_STATION', 'load');
  t.match(i.message, /dock-a/);
});

t.test('BATTERY_LOW: an AMR that would end below the reserve', async (t) => {
  const steps = [
    { id: 'a', action: 'navigate' as const, device: 'amr-1', params: { to: 'conveyor-1-out' } },
    { id: 'b', action: 'navigate' as const, device: 'amr-1', params: { to: 'dock-a' }, after: ['a'] },
  ];
  t.equal(check(steps).verdict, 'pass', 'fine at 90%');
  const i = only(t, check(steps, { assume: { 'amr-1': { soc: 0.2005 } } }), 'BATTERY_LOW', 'a');
  t.match(i.hint, /charge/);
  const [, predicted, reserve] = /predicted at ([\d.]+)% charge .* reserve of ([\d.]+)%/.exec(i.message) ?? [];
  t.ok(Number(predicted) < Number(reserve), `the figures printed say it is below: ${i.message}`);
  t.equal(check([{ id: 'c', action: 'charge', device: 'amr-1' }, ...steps.map((s, k) => (k === 0 ? { ...s, after: ['c'] } : s))], { assume: { 'amr-1': { soc: 0.2005 } } }).verdict, 'pass', 'charging first fixes it');
});

t.test('DEADLINE_MISSED: a deadline one minute away for six minutes of milling', async (t) => {
  const r = check([{ id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2', count: 4 } }], {
    extra: { deadline: new Date(NOW.getTime() + 60_000).toISOString() },
  });
  t.equal(r.verdict, 'warn');
  t.equal(only(t, r, 'DEADLINE_MISSED', 'mill').severity, 'warning');
});

t.test('PARTS_SHORT: a convey of two parts after one transfer onto the conveyor; a transfer before the milling ends', async (t) => {
  const mill = { id: 'mill', action: 'machine.run' as const, device: 'cnc-1', params: { program: 'bracket-v2', count: 1 } };
  const move = { id: 'move', action: 'arm.transfer' as const, device: 'arm-1', params: { from: 'cnc-1', to: 'conveyor-1-in' }, after: ['mill'] };
  const convey = (count: number) => ({ id: 'convey', action: 'convey' as const, device: 'conveyor-1', params: { count }, after: ['move'] });
  const short = check([mill, move, convey(2)]);
  t.equal(short.verdict, 'warn');
  const i = only(t, short, 'PARTS_SHORT', 'convey');
  t.equal(i.device, 'conveyor-1');
  t.match(i.message, /'convey' takes 2 parts from conveyor-1-in at [\d.]+ s, but the plan has put 1 there by then/);
  t.equal(check([mill, move, convey(1)]).verdict, 'pass', 'one part brought, one conveyed');
  // Without `after: ['mill']` the arm takes from cnc-1 while the part is still being milled.
  const early = check([mill, { ...move, after: [] }, convey(1)]);
  t.equal(only(t, early, 'PARTS_SHORT', 'move').device, 'arm-1');
  t.match(early.issues.find((x) => x.code === 'PARTS_SHORT')!.message, /has put 0 there by then/);
  // Four parts milled are four the arm can take one by one.
  const four = [{ ...mill, params: { program: 'bracket-v2', count: 4 } }, ...[1, 2, 3, 4].map((k) => ({ ...move, id: `move-${k}`, after: k === 1 ? ['mill'] : [`move-${k - 1}`] }))];
  t.equal(check([...four, { ...convey(4), after: ['move-4'] }]).verdict, 'pass');
  t.equal(only(t, check([...four, { ...convey(5), after: ['move-4'] }]), 'PARTS_SHORT', 'convey').severity, 'warning');
  // A station the plan brings nothing to is not counted: what waits there is not known.
  t.equal(check([{ ...convey(3), after: [] }]).verdict, 'pass');
});

t.test('several problems in one plan are all reported', async (t) => {
  const r = check([
    { id: 'a', action: 'navigate', device: 'amr-9', params: { to: 'dock-a' } },
    { id: 'b', action: 'machine.run', device: 'cnc-1', params: { program: 'nope' } },
    { id: 'c', action: 'navigate', device: 'amr-1', params: { to: 'booth-in' } },
    { id: 'd', action: 'wait', device: 'amr-2', params: { seconds: 1 }, after: ['zz'] },
  ]);
  t.equal(r.verdict, 'fail');
  t.same(r.issues.map((i) => i.code).sort(), ['KEEP_OUT', 'UNKNOWN_DEPENDENCY', 'UNKNOWN_DEVICE', 'UNKNOWN_PROGRAM']);
});

t.test('assume that names what the site lacks is a request problem with its path', async (t) => {
  t.same(assumeProblems(demo.index, { 'amr-9': { online: true }, 'amr-1': { at: 'nowhere' } }), [
    { path: 'assume.amr-9', message: "no device 'amr-9' on this site" },
    { path: 'assume.amr-1.at', message: "no station or node 'nowhere' on this site" },
  ]);
  t.same(assumeProblems(demo.index, { 'amr-1': { at: 'dock-b', soc: 0.5 } }), []);
});

t.test('a dependency cycle hides nothing: the steps in it and behind it are still checked, and the report says which steps never ran and why', async (t) => {
  const r = check([
    { id: 'a', action: 'navigate', device: 'amr-1', params: { to: 'dock-a' }, after: ['c'] },
    { id: 'c', action: 'machine.run', device: 'cnc-2', params: { program: 'bracket-v2', count: 1 }, after: ['a'] },
    { id: 'd', action: 'navigate', device: 'amr-2', params: { to: 'dock-q' }, after: ['c'] },
    { id: 'e', action: 'navigate', device: 'amr-3', params: { to: 'dock-b' }, after: ['a'] },
    { id: 'f', action: 'navigate', device: 'amr-2', params: { to: 'dock-b' } },
  ]);
  t.same(r.issues.map((i) => `${i.code} ${i.step}`).sort(), ['DEPENDENCY_CYCLE a', 'UNKNOWN_DEVICE c', 'UNKNOWN_LOCATION d']);
  t.same(r.notRun, [
    { id: 'a', why: 'not scheduled' },
    { id: 'c', why: 'not scheduled' },
    { id: 'd', why: 'not scheduled' },
    { id: 'e', why: 'never starts' },
  ]);
  t.same(r.steps.map((s) => s.id), ['f'], 'the one step outside the cycle ran');
  t.notOk('notRun' in check([{ id: 'f', action: 'navigate', device: 'amr-2', params: { to: 'dock-b' } }]), 'no notRun when every step ran');
});
