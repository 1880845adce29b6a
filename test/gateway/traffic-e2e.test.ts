// Many missions on one floor, end to end: Mosquitto, the virtual fleet in its own process, the
// gateway as a child process (test/gateway/traffic-floor.ts). Each case runs on a fresh floor and
// samples it the whole time; whatever the missions, no two AMRs come closer than their footprints
// allow and no node is ever held by two.
import t, { type Test } from 'tap';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { DEMO_SITE_DIR } from './harness.ts';
import { assertApart, startFloor, type Floor, type Mission } from './traffic-floor.ts';

t.setTimeout(300_000);

const navigate = (device: string, to: string, name = `${device}-to-${to}`) => ({ schema: 'phygate.plan/v1', name, steps: [{ id: 'go', action: 'navigate', device, params: { to } }] });

/** Submits and approves; the mission as approved. */
async function run(t: Test, floor: Floor, plan: object): Promise<Mission> {
  const sub = await floor.submit(plan);
  t.equal(sub.status, 201, `${(plan as { name: string }).name} passes its check`);
  const ok = await floor.approve(sub.json);
  t.equal(ok.status, 200, `${(plan as { name: string }).name} is approved`);
  return ok.json as Mission;
}

const site = loadSiteFolder(DEMO_SITE_DIR).index;

/** Whether the pose lies on the route between its first node and node `upTo` (within 0.3 m). */
function onRouteUpTo(pose: { x: number; y: number } | undefined, route: string[], upTo: number): boolean {
  if (!pose) return false;
  const p = route.slice(0, upTo + 1).map((id) => site.node(id)!);
  if (p.length === 1) return Math.hypot(pose.x - p[0]!.x, pose.y - p[0]!.y) < 0.3;
  for (let i = 1; i < p.length; i++) {
    const [a, b] = [p[i - 1]!, p[i]!];
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const k = Math.max(0, Math.min(1, ((pose.x - a.x) * dx + (pose.y - a.y) * dy) / (dx * dx + dy * dy)));
    if (Math.hypot(pose.x - (a.x + k * dx), pose.y - (a.y + k * dy)) < 0.3) return true;
  }
  return false;
}

const CHARGER_2 = { x: 1.2, y: 11.5 };
/** Within half a metre of the point. */
const near = (p: { x: number; y: number } | undefined, q: { x: number; y: number }) => !!p && Math.hypot(p.x - q.x, p.y - q.y) < 0.5;

t.test('two missions to one charger: the second waits for amr-1 to make way, and amr-1 and amr-2 are never both at charger-2', async (t) => {
  const floor = await startFloor(t, 20);
  const first = await run(t, floor, navigate('amr-1', 'charger-2'));
  const second = await floor.submit(navigate('amr-2', 'charger-2'));
  // Idle robots make way on the demo floor: amr-1, done at charger-2, is moved off it for amr-2.
  t.equal(second.status, 201, 'submitted while the first is committed, the second passes');
  const report = (second.json as Mission).report;
  t.match(report.issues.filter((i) => i.code === 'MAKE_WAY'), [{ device: 'amr-1', with: 'amr-2', at: 'charger-2', mission: first.id }], 'amr-1 makes way for it');
  t.match(report.moves, [{ id: 'make-way:1', device: 'amr-1', from: 'charger-2' }]);
  const to = report.moves![0]!.to;
  t.equal((await floor.approve(second.json)).status, 200);
  const [one, two] = await Promise.all([floor.over(first.id), floor.over(second.json.id)]);
  await floor.watch.stop();
  t.equal(one.status, 'succeeded');
  t.equal(two.status, 'succeeded');
  t.equal(two.steps.find((s) => s.id === 'make-way:1')?.status, 'succeeded', `amr-1 made way to ${to}`);
  t.match(await floor.poses(), { 'amr-1': { at: to }, 'amr-2': { at: 'charger-2' } }, 'amr-2 ends at charger-2, amr-1 where it made way to');
  const both = floor.watch.samples.filter((s) => near(s.poses['amr-1'], CHARGER_2) && near(s.poses['amr-2'], CHARGER_2));
  t.same(both, [], 'never both at charger-2');
  t.ok(floor.watch.samples.some((s) => near(s.poses['amr-1'], CHARGER_2)), 'amr-1 was seen there');
  assertApart(t, floor.watch);
});

t.test('a head-on pair waits where the check said: amr-1 dock-a → shelf-3, then amr-2 dock-b → dock-a against it', async (t) => {
  // Fleet speed 4: amr-1 must not be past sa-2 before the second mission runs.
  const floor = await startFloor(t, 4);
  const a = (await floor.submit(navigate('amr-1', 'shelf-3'))).json;
  const b = (await floor.submit(navigate('amr-2', 'dock-a'))).json;
  t.equal((await floor.approve(a)).status, 200);
  const approved = await floor.approve(b);
  t.equal(approved.status, 200, 'approved at once, checked against the first');
  const report = (approved.json as Mission).report;
  const route = report.steps.find((s) => s.id === 'go')!.route!;
  t.same(route, ['dock-b', 'sa-2', 'sa-1', 'dock-a'], "amr-2's route meets amr-1's head on");
  // A conflict where the committed amr-1 waits is turned round to be about this plan's amr-2 too
  // (planners/commitments.ts); only its message tells which robot waits.
  const conflict = report.issues.find((i) => i.code === 'ROBOT_CONFLICT' && i.device === 'amr-2' && i.with === 'amr-1' && (i.waitS ?? 0) > 0 && /^amr-2 waits/.test(i.message));
  if (!conflict) return t.fail(`the approval's report has amr-2 wait for amr-1: ${JSON.stringify(report.issues)}`);
  const waitAt = route.indexOf(conflict.at!);
  t.ok(waitAt >= 0, `the check has amr-2 wait at '${conflict.at}' on its route, ${conflict.waitS} s`);

  const done = await Promise.all([floor.over(a.id), floor.over(b.id)]);
  await floor.watch.stop();
  t.same(done.map((m) => m.status), ['succeeded', 'succeeded'], 'both succeed');
  const waits = floor.watch.of('amr-2').filter((s) => s.view.waitsFor?.device === 'amr-1');
  t.ok(waits.length > 0, `GET /v1/traffic showed amr-2 waiting for amr-1 (${waits.length} samples, ${waits[0]?.view.waitsFor?.why} at '${waits[0]?.view.waitsFor?.node}')`);
  const beyond = waits.filter((s) => s.view.path!.granted > waitAt || s.view.path!.reached > waitAt || !onRouteUpTo(s.pose, route, waitAt));
  t.same(beyond, [], `while it waited, amr-2 stood at or before '${conflict.at}': granted and reached no further, its pose on its route up to there`);
  const stood = waits.map((s) => route[s.view.path!.reached]);
  t.comment(`amr-2 waited at ${[...new Set(stood)].join(', ')} for ${((waits.at(-1)!.ms - waits[0]!.ms) / 1000).toFixed(1)} s (the check: ${conflict.waitS} s floor time at '${conflict.at}')`);
  assertApart(t, floor.watch);
});

t.test('a plan for a busy robot: a navigate for amr-1 while its mission runs is DEVICE_BUSY and runs after it', async (t) => {
  const floor = await startFloor(t, 10);
  const first = await run(t, floor, navigate('amr-1', 'shelf-3'));
  const second = await floor.submit(navigate('amr-1', 'dock-b'));
  t.equal(second.status, 201, 'it passes');
  t.match((second.json as Mission).report.issues.filter((i) => i.code === 'DEVICE_BUSY'), [{ device: 'amr-1', step: 'go', mission: first.id }], 'amr-1 is busy with the first mission: the step waits for it');
  t.equal((await floor.approve(second.json)).status, 200);
  const [one, two] = await Promise.all([floor.over(first.id), floor.over(second.json.id)]);
  await floor.watch.stop();
  t.same([one.status, two.status], ['succeeded', 'succeeded'], 'both succeed');
  const go = (m: Mission) => m.steps.find((s) => s.id === 'go')!;
  t.ok(go(two).startedAt! >= go(one).endedAt!, `the second set off (${go(two).startedAt}) once the first was done (${go(one).endedAt})`);
  const paths = floor.watch.of('amr-1').flatMap((s) => (s.view.path ? [s.view.path.missionId] : []));
  t.same([...new Set(paths)], [first.id, second.json.id].filter((id) => paths.includes(id)), 'amr-1 drove the first route, then the second, never back');
  for (const m of (second.json as Mission).report.moves ?? []) t.equal(two.steps.find((s) => s.id === m.id)?.status, 'succeeded', `${m.id}: ${m.device} made way to ${m.to}`);
  assertApart(t, floor.watch);
});

t.test('a drop at dock-a while amr-1 stands idle there: amr-1 makes way for the courier, or is the courier', async (t) => {
  const floor = await startFloor(t, 20);
  const plan = {
    schema: 'phygate.plan/v1',
    name: 'shelf-1-to-dock-a',
    roles: { courier: { kind: 'amr' } },
    steps: [
      { id: 'fetch', action: 'pick', device: '$courier', params: { at: 'shelf-1' } },
      { id: 'bring', action: 'drop', device: '$courier', params: { at: 'dock-a' }, after: ['fetch'] },
    ],
  };
  const m = await run(t, floor, plan);
  t.not(m.report.verdict, 'fail');
  const courier = m.report.assignments.courier;
  const moves = m.report.moves ?? [];
  if (courier === 'amr-1') t.same(moves, [], 'amr-1 takes the job itself');
  else t.match(moves, [{ id: 'make-way:1', device: 'amr-1', from: 'dock-a' }], `${courier} is the courier; amr-1 makes way to ${moves[0]?.to}`);
  const done = await floor.over(m.id);
  await floor.watch.stop();
  t.equal(done.status, 'succeeded');
  t.ok(done.steps.every((s) => s.status === 'succeeded'), `every step succeeded: ${done.steps.map((s) => s.id).join(', ')}`);
  const last = await floor.poses();
  t.equal(last[courier!]?.at, 'dock-a', `${courier} ends at dock-a`);
  if (moves[0]) t.equal(last['amr-1']?.at, moves[0].to, `amr-1 ends where it made way to`);
  assertApart(t, floor.watch);
});
