// Commitments: a plan is checked together with the work other missions will still do. Its robots
// meet the committed robots where they will be, a device busy with another mission starts the
// plan's steps only when it is free (DEVICE_BUSY says so), allocation prefers free devices, and a
// plan that would keep a committed mission from finishing fails, naming that mission.
import t from 'tap';
import type { Commitment } from '../../planners/commitments.ts';
import type { PlanInput } from '../../planners/plan.ts';
import { indexSite } from '../../planners/site.ts';
import type { CheckReport } from '../../planners/report.ts';
import { passesOf } from '../../planners/check.ts';
import { checkInSim } from '../../sim/checker.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { CANONICAL_ROLES, CANONICAL_STEPS, check, demo, demoStay, NOW, parkedFleet, plan } from './fixtures/demo.ts';

function checkWith(steps: PlanInput['steps'], committed: Commitment[], extra: Partial<PlanInput> = {}, site: LoadedSite = demo): CheckReport {
  return checkInSim({ site: site.index, graph: site.graph, worldHash: site.worldHash, plan: plan(steps, extra), fleet: parkedFleet(), now: NOW, committed });
}

/** A mission with its steps, none over, as an approved one is committed. */
function mission(missionId: string, steps: PlanInput['steps'], opts: { extra?: Partial<PlanInput>; assignments?: Record<string, string>; over?: string[] } = {}): Commitment {
  return { missionId, plan: plan(steps, opts.extra), assignments: opts.assignments ?? {}, over: new Set(opts.over ?? []) };
}

const toCharger2 = (amr: string): PlanInput['steps'] => [{ id: 'go', action: 'navigate', device: amr, params: { to: 'charger-2' } }];

t.test('two missions sending amr-1 and amr-2 to charger-2: where idle robots stay, the second fails, naming the first', async (t) => {
  const alone = check(toCharger2('amr-2'));
  t.equal(alone.verdict, 'pass', 'on an empty floor the plan passes');

  const r = checkWith(toCharger2('amr-2'), [mission('m_first', toCharger2('amr-1'))], {}, demoStay);
  t.equal(r.verdict, 'fail');
  const dead = r.issues.find((i) => i.code === 'DEADLOCK');
  t.match(dead, { step: 'go', device: 'amr-2', with: 'amr-1', mission: 'm_first' }, 'amr-2 can never reach charger-2: amr-1 stands there for mission m_first');
  t.match(dead?.message, /amr-1 works for mission m_first/);
  t.same(r.steps.map((s) => s.id), ['go'], "the report has the plan's steps only");
  t.same(r.devices.map((d) => d.id), ['amr-2'], "and the plan's devices only");
  t.notOk(r.issues.some((i) => i.step?.includes('/')), 'no issue names a step of the other mission as if it were the plan’s');
});

t.test('two missions sending amr-1 and amr-2 to charger-2: where idle robots make way, amr-1 leaves for a parking station once there', async (t) => {
  const r = checkWith(toCharger2('amr-2'), [mission('m_first', toCharger2('amr-1'))]);
  t.equal(r.verdict, 'warn');
  const parking = demo.index.site.stations.filter((s) => s.kind === 'parking').map((s) => s.id);
  const made = r.issues.find((i) => i.code === 'MAKE_WAY');
  t.match(made, { severity: 'warning', step: 'go', device: 'amr-1', with: 'amr-2', at: 'charger-2', mission: 'm_first' }, 'amr-1, its mission done, makes way for amr-2');
  t.same(r.moves?.map((m) => [m.device, m.from, m.for, m.step]), [['amr-1', 'charger-2', 'amr-2', 'go']], 'and the report says so for the run');
  const move = r.moves![0]!;
  t.ok(parking.includes(move.to), `to a parking station (${move.to})`);
  t.match(made?.message, new RegExp(`'${move.to}'`), 'the issue names where it goes');
  t.equal(move.route[0], 'charger-2');
  t.equal(move.route.at(-1), demo.index.station(move.to)!.node);
  t.ok(move.atS >= made!.atS!);
  const passes = passesOf(r)!;
  const moved = passes.filter((p) => p.step === move.id).map((p) => p.node);
  t.same(moved, move.route.slice(1), 'the schedule has the move, node by node, under its id');
  const arrived = passes.findIndex((p) => p.device === 'amr-2' && p.node === 'charger-2');
  t.ok(arrived > passes.findIndex((p) => p.step === move.id), 'and amr-2 gets to charger-2 after amr-1 set off');
  t.notOk(r.steps.some((s) => s.blocked));
});

t.test("a device busy with another mission: the plan's step starts when it is free, and the report says so", async (t) => {
  const other = mission('m_busy', [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }]);
  const steps: PlanInput['steps'] = [{ id: 'next', action: 'navigate', device: 'amr-1', params: { to: 'shelf-3' } }];
  const alone = check(steps);
  const r = checkWith(steps, [other]);
  t.equal(r.verdict, 'warn', 'a wait is a warning, not a failure');
  const busy = r.issues.find((i) => i.code === 'DEVICE_BUSY');
  t.match(busy, { severity: 'warning', step: 'next', device: 'amr-1', mission: 'm_busy' });
  const next = r.steps.find((s) => s.id === 'next')!;
  t.ok(next.startS > 0, `the step waits for the other mission (starts at ${next.startS} s)`);
  t.match(busy?.message, new RegExp(`at about ${next.startS} s`), 'and the warning says when it starts');
  t.equal(r.makespanS, next.endS, "the makespan runs to the plan's own last step");
  t.ok(r.makespanS > alone.makespanS, 'later than on an empty floor');
  t.ok(r.steps[0]!.route![0] === 'shelf-1' || r.steps[0]!.route![0] !== alone.steps[0]!.route![0], 'it sets off from where the other mission leaves it (shelf-1)');
});

t.test('allocation prefers a device no other mission has work for, and binds a busy one only when none is free', async (t) => {
  const amrs = demo.index.devicesOfKind('amr').map((a) => a.id);
  const free = check(CANONICAL_STEPS, { extra: CANONICAL_ROLES }).assignments.courier!;
  const others = (busy: string[]) => busy.map((a, k) => mission(`m_${k}`, [{ id: 'wait', action: 'wait', device: a, params: { seconds: 30 } }]));

  const r = checkWith(CANONICAL_STEPS, others([free]), CANONICAL_ROLES);
  t.not(r.assignments.courier, free, `${free}, the first choice on an empty floor, is busy: another AMR is bound`);
  t.notOk(r.issues.some((i) => i.code === 'DEVICE_BUSY'), 'the plan waits for nobody');

  const all = checkWith(CANONICAL_STEPS, others(amrs), CANONICAL_ROLES);
  t.equal(all.assignments.courier, free, 'every AMR is busy: the usual choice, which starts later');
  t.match(
    all.issues.filter((i) => i.code === 'DEVICE_BUSY'),
    [{ step: 'fetch', device: free, mission: `m_${amrs.indexOf(free)}` }],
    'and says whose work comes first',
  );
  t.ok(all.steps.find((s) => s.id === 'fetch')!.startS >= 30, 'the fetch starts after the 30 s wait committed to it');
});

t.test('work that is over is not committed; dependencies on it are met', async (t) => {
  const two: PlanInput['steps'] = [
    { id: 'a', action: 'navigate', device: 'amr-1', params: { to: 'charger-2' } },
    { id: 'b', action: 'navigate', device: 'amr-1', params: { to: 'dock-a' }, after: ['a'] },
  ];
  const steps = toCharger2('amr-2');
  t.same(checkWith(steps, [mission('m_done', two, { over: ['a', 'b'] })]), check(steps), 'a mission whose steps are all over changes nothing');
  // 'a' is over (amr-1 left charger-2 for dock-a in the simulation of what remains): amr-2 may go.
  const r = checkWith(steps, [mission('m_half', two, { over: ['a'] })]);
  t.notOk(r.issues.some((i) => i.code === 'DEADLOCK'), 'amr-1 only drives home now');
  t.equal(r.verdict === 'fail', false);
});

t.test("roles of a committed mission are bound as its check bound them; an arm's transfer holds the AMR it loads", async (t) => {
  const courierIs = 'amr-2';
  const committed = mission('m_canon', CANONICAL_STEPS, { extra: CANONICAL_ROLES, assignments: { courier: courierIs } });
  const steps: PlanInput['steps'] = [{ id: 'go', action: 'navigate', device: courierIs, params: { to: 'dock-a' } }];
  const r = checkWith(steps, [committed]);
  const busy = r.issues.find((i) => i.code === 'DEVICE_BUSY');
  t.match(busy, { device: courierIs, mission: 'm_canon' }, `${courierIs} is the committed mission's courier`);
  const go = r.steps.find((s) => s.id === 'go')!;
  const alone = check(CANONICAL_STEPS, { extra: CANONICAL_ROLES, fleet: parkedFleet() });
  t.ok(go.startS >= alone.steps.find((s) => s.id === 'carry')!.endS - 1, `it starts once the courier's last step (carry) is done: ${go.startS} s`);
  const arm = checkWith([{ id: 'move', action: 'arm.transfer', device: 'arm-1', params: { from: 'cnc-1', to: 'conveyor-1-in' } }], [committed]);
  t.match(arm.issues.find((i) => i.code === 'DEVICE_BUSY'), { device: 'arm-1', mission: 'm_canon' }, 'the arm, too, has work for it first');
});

t.test('a committed step whose device the site no longer has is left out', async (t) => {
  const steps = toCharger2('amr-2');
  t.same(checkWith(steps, [mission('m_gone', toCharger2('amr-1'), { assignments: {} })].map((c) => ({ ...c, plan: { ...c.plan, steps: c.plan.steps.map((s) => ({ ...s, device: 'amr-9' })) } }))), check(steps));
});

t.test("a committed step drives the route its mission's check planned, from the node of it where the robot stands", async (t) => {
  const go: PlanInput['steps'] = [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'cnc-1' } }];
  const fastest = check(go).steps[0]!.route!;
  // The long way round, along the south aisle: what a check with traffic may have planned (a detour).
  const checked = ['dock-a', 'sa-1', 'sa-2', 'sa-3', 'sa-4', 'ma-3', 'na-3', 'cnc-1'];
  t.notSame(fastest, checked, 'not the route a check on an empty floor finds');
  const entered = (routes?: Record<string, string[]>) =>
    (passesOf(checkWith([{ id: 'idle', action: 'wait', device: 'amr-2', params: { seconds: 1 } }], [{ ...mission('m_go', go), ...(routes ? { routes } : {}) }])) ?? [])
      .filter((p) => p.step === 'm_go/go')
      .map((p) => p.node);
  t.same(entered(), fastest.slice(1), 'without a checked route, the fastest one');
  t.same(entered({ go: checked }), checked.slice(1), 'with one, that route, node by node');
  t.same(entered({ go: ['dock-b', 'sa-2', 'sa-1', ...checked] }), checked.slice(1), 'one that passes amr-1 on the way is driven from there');
  t.same(entered({ go: ['sa-2', 'sa-3', 'sa-4', 'ma-3', 'na-3', 'cnc-1'] }), fastest.slice(1), 'a route amr-1 does not stand on is not driven: the fastest from where it is');
  t.same(entered({ go: ['dock-a', 'sa-1', 'ma-1', 'charger-1'] }), fastest.slice(1), 'nor one that ends elsewhere');
  t.same(entered({ go: ['dock-a', 'sa-1', 'ma-3', 'na-3', 'cnc-1'] }), fastest.slice(1), 'nor one the graph has no edges for (the floor changed)');
});

t.test("right of way: a plan's robot does not set off to park where a committed robot goes first", async (t) => {
  // amr-3's mission: in 10 s to cnc-1, 30 s there, then on to shelf-3. The plan: amr-2 to cnc-1 for 100 s.
  const theirs: PlanInput['steps'] = [
    { id: 'later', action: 'wait', device: 'amr-3', params: { seconds: 10 } },
    { id: 'to-cnc', action: 'navigate', device: 'amr-3', params: { to: 'cnc-1' }, after: ['later'] },
    { id: 'hold', action: 'wait', device: 'amr-3', params: { seconds: 30 }, after: ['to-cnc'] },
    { id: 'away', action: 'navigate', device: 'amr-3', params: { to: 'shelf-3' }, after: ['hold'] },
  ];
  const ours: PlanInput['steps'] = [
    { id: 'go', action: 'navigate', device: 'amr-2', params: { to: 'cnc-1' } },
    { id: 'stay', action: 'wait', device: 'amr-2', params: { seconds: 100 }, after: ['go'] },
    { id: 'back', action: 'navigate', device: 'amr-2', params: { to: 'dock-b' }, after: ['stay'] },
  ];
  const together = check([...theirs, ...ours]);
  t.equal(together.verdict, 'fail', 'as one plan, first come first served: amr-2 parks at cnc-1 first and the two meet head-on');

  const r = checkWith(ours, [mission('m_c', theirs)]);
  t.not(r.verdict, 'fail', 'with amr-3 working for an approved mission, the plan passes');
  const passes = passesOf(r)!;
  const entry = (device: string, node: string) => passes.findIndex((p) => p.device === device && p.node === node);
  const left = passes.findIndex((p) => p.step === 'm_c/away');
  t.ok(entry('amr-3', 'cnc-1') >= 0 && entry('amr-3', 'cnc-1') < left, 'amr-3 gets to cnc-1 and leaves it again');
  t.ok(passes.findIndex((p) => p.device === 'amr-2') > left, 'amr-2 sets off only once amr-3 has been there and is on its way out');
  t.match(r.issues.filter((i) => i.code === 'ROBOT_CONFLICT'), [{ step: 'go', device: 'amr-2', with: 'amr-3', at: 'dock-b', mission: 'm_c' }], 'the plan says amr-2 waits at dock-b for amr-3 of that mission, and nothing else');
  t.notOk(r.issues.some((i) => i.code === 'DEADLOCK'));
});

t.test("the README's plan twice: the second passes with a courier of its own while the first is committed", async (t) => {
  const first = check(CANONICAL_STEPS, { extra: CANONICAL_ROLES });
  const routes = Object.fromEntries(first.steps.flatMap((s) => (s.route ? [[s.id, s.route]] : [])));
  const committed = { ...mission('m_first', CANONICAL_STEPS, { extra: CANONICAL_ROLES, assignments: first.assignments }), routes };
  const r = checkWith(CANONICAL_STEPS, [committed], CANONICAL_ROLES);
  const courier = first.assignments.courier!;
  t.not(r.assignments.courier, courier, 'a courier no other mission uses');
  t.not(r.tried?.[0]?.verdict ?? r.verdict, 'fail', 'that first choice passes');
  t.not(r.verdict, 'fail');
  t.notOk(r.issues.some((i) => i.code === 'DEADLOCK'));
  t.notOk(r.steps.some((s) => s.blocked), 'every step finishes');
  // The first courier ends at shelf-2 with nothing left to do, where the second must drop.
  t.match(r.issues.filter((i) => i.code === 'MAKE_WAY'), [{ device: courier, with: r.assignments.courier, at: 'shelf-2', mission: 'm_first' }]);
  const passes = passesOf(r)!;
  const at = (device: string, node: string) => passes.findIndex((p) => p.device === device && p.node === node);
  t.ok(at(courier, 'cnc-1') < at(r.assignments.courier!, 'cnc-1'), 'the committed courier gets to cnc-1 first (right of way)');

  const stay = checkWith(CANONICAL_STEPS, [committed], CANONICAL_ROLES, demoStay);
  t.match(stay.tried?.[0], { assignments: { courier: r.assignments.courier }, verdict: 'fail', issues: ['DEADLOCK'] }, 'where idle robots stay, the same courier is stuck at cnc-1: the first one never leaves shelf-2');
});

t.test('return-home: the idle robot goes to its home station', async (t) => {
  const home = { ...demo, index: indexSite({ ...demo.index.site, policies: { ...demo.index.site.policies, idle: 'return-home' } }) };
  const r = checkWith(toCharger2('amr-2'), [mission('m_first', [{ id: 'park', action: 'navigate', device: 'amr-1', params: { to: 'charger-2' } }])], {}, home);
  t.match(r.moves, [{ device: 'amr-1', from: 'charger-2', to: 'dock-a', for: 'amr-2' }]);
  t.not(r.verdict, 'fail');
});
