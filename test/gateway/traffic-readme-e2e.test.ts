// The README's plan twice on one floor, end to end: Mosquitto, the virtual fleet in its own process,
// the gateway as a child process (test/gateway/traffic-floor.ts). Both missions are approved; the
// second gets a courier of its own and the first one's courier, done at shelf-2, makes way. The
// floor is sampled the whole run: no two AMRs ever closer than their footprints allow, no node
// ever held by two.
import t from 'tap';
import { canonicalPlan } from './harness.ts';
import { captureVdaWire, checkVdaWire } from '../helpers/vda5050-wire.ts';
import { assertApart, startFloor } from './traffic-floor.ts';

t.setTimeout(240_000);

/** The README's plan as it is there: no requester, priority or deadline. */
function readmePlan(): object {
  const { schema, name, goal, roles, steps } = canonicalPlan();
  return { schema, name, goal, roles, steps };
}

t.test("the README's plan submitted twice, both approved: both succeed, the AMRs keep apart, every node held once", async (t) => {
  const floor = await startFloor(t, 20);
  // Every VDA 5050 message between the gateway process and the fleet process, checked at the end.
  const wire = await captureVdaWire(t, floor.broker.url);
  // As the README has it: submit, approve, and then the same again with another key.
  const first = await floor.submit(readmePlan(), 'brackets-1');
  t.equal(first.status, 201);
  t.equal((await floor.approve(first.json)).json.status, 'running', 'the first is approved');
  const second = await floor.submit(readmePlan(), 'brackets-2');
  t.equal(second.status, 201, 'another key: another mission, checked against the first');
  t.not(first.json.id, second.json.id);
  const b = await floor.approve(second.json);
  if (b.status !== 200) return t.fail(`the second is approved: ${JSON.stringify(b.json)}`);
  const started = Date.now();

  const [one, two] = await Promise.all([floor.over(first.json.id, 180_000), floor.over(second.json.id, 180_000)]);
  const seconds = (Date.now() - started) / 1000;
  await floor.watch.stop();
  t.equal(one.status, 'succeeded', 'the first succeeded');
  t.equal(two.status, 'succeeded', 'the second succeeded');
  const couriers = [one.report.assignments.courier, two.report.assignments.courier];
  t.not(couriers[0], couriers[1], `each has a courier of its own (${couriers.join(', ')})`);
  const moves = two.report.moves ?? [];
  t.comment(`run ${seconds.toFixed(1)} s at fleet speed 20; checked makespans ${one.report.makespanS.toFixed(1)} s, ${two.report.makespanS.toFixed(1)} s; moves: ${moves.map((m) => `${m.id} ${m.device} ${m.from}→${m.to}`).join('; ') || 'none'}`);
  for (const m of moves) t.equal(two.steps.find((s) => s.id === m.id)?.status, 'succeeded', `${m.id}: ${m.device} made way to ${m.to}`);
  t.ok(two.steps.every((s) => s.status === 'succeeded') && one.steps.every((s) => s.status === 'succeeded'), 'every step of both succeeded');
  assertApart(t, floor.watch);
  checkVdaWire(t, wire);
});
