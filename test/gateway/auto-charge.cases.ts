// Site policy `charging: auto`: an idle AMR below the battery reserve is sent to a charger as a
// mission of its own, checked like any other, on the real executor, mission service and SQLite
// store (fake-floor.ts), on fake time.
import t from 'tap';
import { AUTO_CHARGE_ACTOR, AUTO_CHARGE_RETRY_MS, AutoCharge } from '../../gateway/missions/auto-charge.ts';
import type { CheckReport } from '../../planners/report.ts';
import { drivePlan, fakeFloor, site, type FakeFloor } from './fake-floor.ts';

function autoCharge(floor: FakeFloor, stopped: (id: string) => boolean = (id) => floor.stops.stopFor(id) !== undefined) {
  const logged: string[] = [];
  const line = (_: object, msg: string) => void logged.push(msg);
  const charge = new AutoCharge({
    site,
    store: floor.store,
    fleet: floor.fleet,
    missions: floor.gw.service,
    stopped,
    now: () => new Date(floor.clock.now()),
    log: { debug: line, info: line, warn: line, error: line },
  });
  return { charge, logged };
}

t.test('an idle robot below the reserve is sent to a charger: a charge mission checked, approved in the policy’s name, and run', async (t) => {
  const floor = fakeFloor(t);
  floor.fleet.update('amr-2', { soc: 0.15 });
  const { charge, logged } = autoCharge(floor);
  t.same(charge.candidates(), ['amr-2'], 'amr-1 and amr-3 are above the reserve');
  const [decision, ...more] = await charge.sweep();
  t.same(more, []);
  t.match(decision, { device: 'amr-2', outcome: 'approved' });
  const mission = floor.store.missions.get(decision!.missionId)!;
  t.match(mission, { status: 'running', createdBy: AUTO_CHARGE_ACTOR, approvedBy: AUTO_CHARGE_ACTOR });
  t.same(
    mission.plan.steps.map((s) => [s.action, s.device]),
    [['charge', 'amr-2']],
  );
  t.equal((mission.report as CheckReport).verdict, 'pass', 'the drive to a charger below the reserve passes its check');
  const order = floor.work(floor.gw.vda5050, 'charge', mission.id);
  t.ok(order, 'the order for the charge step went to amr-2’s port');
  t.match(logged, [/amr-2 is sent to a charger/]);
  t.same(await charge.sweep(), [], 'busy with its charge mission, it is not sent twice');
});

t.test('who is not sent: above the reserve, offline, at a charger, busy in a mission, under a STOP', async (t) => {
  const floor = fakeFloor(t);
  const busy = await floor.approve(drivePlan('amr-1', 'shelf-3'));
  t.equal(floor.status(busy), 'running');
  for (const amr of ['amr-1', 'amr-2', 'amr-3']) floor.fleet.update(amr, { soc: 0.1 });
  const { charge } = autoCharge(floor);
  t.same(charge.candidates(), ['amr-2'], 'amr-1 has a mission that is not over; amr-3 stands at charger-1, its home');
  floor.fleet.update('amr-2', { online: false });
  t.same(charge.candidates(), [], 'amr-2 is offline');
  floor.fleet.update('amr-2', { online: true });
  floor.stops.press('amr-2', ['amr-2']);
  t.same(charge.candidates(), [], 'amr-2 is under a STOP');
  floor.stops.release();
  t.same(charge.candidates(), ['amr-2']);
  floor.fleet.update('amr-2', { soc: 0.2 });
  t.same(charge.candidates(), [], 'at the reserve itself, amr-2 needs no charge');
});

t.test('a charge mission that fails its check is rejected, logged, and tried again only after a while', async (t) => {
  const floor = fakeFloor(t);
  floor.fleet.update('amr-1', { soc: 0.000001 });
  const { charge, logged } = autoCharge(floor);
  const [first] = await charge.sweep();
  t.match(first, { device: 'amr-1', outcome: 'rejected' });
  const report = floor.store.missions.get(first!.missionId)!.report as CheckReport;
  t.match(report.issues, [{ code: 'BATTERY_LOW', step: 'charge' }], 'it would run flat before the charger');
  t.match(logged, [/amr-1 cannot be sent to a charger; tried again in 5 min/]);
  t.same(await charge.sweep(), [], 'not tried again at once');
  floor.clock.advance(AUTO_CHARGE_RETRY_MS - 1);
  t.same(await charge.sweep(), [], 'nor just before the retry time');
  floor.clock.advance(1);
  t.match(await charge.sweep(), [{ device: 'amr-1', outcome: 'rejected' }], 'tried again after it');
  t.equal(floor.store.missions.list({}).length, 2, 'one rejected mission per try, no more');
});

t.test('a charge mission with warnings waits for an operator, and the robot is not sent again meanwhile', async (t) => {
  const floor = fakeFloor(t);
  // amr-1 drives to printer-1 past dock-b: amr-2, low at dock-b, would wait for it on its way to a charger.
  const other = await floor.approve(drivePlan('amr-1', 'printer-1'));
  floor.fleet.update('amr-2', { soc: 0.15 });
  const { charge, logged } = autoCharge(floor);
  const [decision] = await charge.sweep();
  t.match(decision, { device: 'amr-2', outcome: 'awaiting_approval' });
  const mission = floor.store.missions.get(decision!.missionId)!;
  t.equal(mission.status, 'awaiting_approval');
  t.match((mission.report as CheckReport).issues, [{ code: 'ROBOT_CONFLICT', device: 'amr-2', mission: other }]);
  t.match(logged, [/amr-2's charge mission has warnings and waits for an operator/]);
  t.same(charge.candidates(), [], 'its charge mission waits for an operator: not sent twice');
  await floor.gw.service.approve(mission.id, mission.planHash, 'operator');
  t.equal(floor.status(mission.id), 'running', 'the operator approves it, and it runs');
});

t.test('two robots low, one charger free and one with a charged idle robot on it: the first goes to the free one, the second to the other, which makes way', async (t) => {
  const floor = fakeFloor(t);
  floor.fleet.update('amr-1', { soc: 0.1 });
  floor.fleet.update('amr-2', { soc: 0.1 });
  const { charge } = autoCharge(floor);
  const [first, second] = await charge.sweep();
  t.match(first, { device: 'amr-1', outcome: 'approved' });
  t.same((floor.store.missions.get(first!.missionId)!.report as CheckReport).steps[0]!.route?.at(-1), 'charger-2', 'the free charger');
  t.match(second, { device: 'amr-2', outcome: 'awaiting_approval' });
  const report = floor.store.missions.get(second!.missionId)!.report as CheckReport;
  t.same(report.steps[0]!.route?.at(-1), 'charger-1', 'charger-2 is amr-1’s (committed first); amr-3, charged and idle, leaves charger-1');
  t.match(report.moves, [{ device: 'amr-3', from: 'charger-1' }]);
  t.ok(report.issues.some((i) => i.code === 'MAKE_WAY'), 'a warning: an operator approves moving amr-3');
});

t.test('no charger for a robot when both are taken by robots that need them', async (t) => {
  const floor = fakeFloor(t);
  floor.fleet.update('amr-1', { soc: 0.1 });
  floor.fleet.update('amr-2', { soc: 0.1 });
  floor.fleet.update('amr-3', { soc: 0.5 });
  const { charge } = autoCharge(floor);
  const [first, second] = await charge.sweep();
  t.match(first, { device: 'amr-1', outcome: 'approved' });
  t.match(second, { device: 'amr-2', outcome: 'rejected' });
  t.match((floor.store.missions.get(second!.missionId)!.report as CheckReport).issues, [{ code: 'UNREACHABLE', message: /no charger is free for amr-2/ }], 'charger-2 is amr-1’s; amr-3 on charger-1 is below the charge target and stays');
});
