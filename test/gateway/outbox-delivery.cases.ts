// The outbox's delivery rules on fake time, with the real executor, mission service and SQLite
// store and stand-in device ports (fake-floor.ts): a work the broker refused is sent again until
// the device has it; one never taken expires and its step fails; nothing goes out while a
// mission is paused; and a restarted executor asks each device's port what became of what is
// open instead of sending it again blindly.
import t from 'tap';
import { canonicalPlan } from './harness.ts';
import { drivePlan, fakeFloor } from './fake-floor.ts';

const dispatchedCount = (f: ReturnType<typeof fakeFloor>, id: string, step: string) => f.events(id).filter((e) => e.type === 'step.dispatched' && e.data.step === step).length;

t.test('every work is in the outbox before it is sent, and settled with its step', async (t) => {
  const f = fakeFloor(t);
  const { vda5050, machine } = f.gw;
  const seen: string[] = [];
  // At the moment of sending, the entry must already be stored, with its step dispatched.
  for (const port of [vda5050, machine]) port.onSend = (w) => seen.push(`${w.id}:${f.store.outbox.get(w.id) ? 'stored' : 'missing'}`);
  const id = await f.approve(canonicalPlan());
  const order = f.work(vda5050, 'fetch');
  const command = f.work(machine, 'mill');
  t.same(seen.sort(), [`${command.id}:stored`, `${order.id}:stored`].sort(), 'fetch and mill went out, each stored first');
  t.match(f.store.outbox.get(order.id), { missionId: id, stepId: 'fetch', channel: 'vda5050.order', outcome: null, message: order.message });
  t.match(f.store.outbox.get(command.id), { stepId: 'mill', channel: 'machine.command', outcome: null, message: { action: 'machine.run', count: undefined } });
  t.same(f.store.outbox.open().map((e) => e.id).sort(), [command.id, order.id].sort(), 'both open while in flight');
  await new Promise((r) => setImmediate(r));
  t.equal(f.store.outbox.get(order.id)!.sends, 1, 'the transport took it once');
  vda5050.signal('done', order.id, order.device);
  machine.signal('running', command.id, 'cnc-1');
  machine.signal('failed', command.id, 'cnc-1', 'cnc-1 ended the job fault: SPINDLE: overload');
  t.equal(f.store.outbox.get(order.id)!.outcome, 'succeeded');
  t.equal(f.store.outbox.get(command.id)!.outcome, 'failed', 'settled with the step that failed');
  t.equal(f.status(id), 'failed');
  t.same(f.store.outbox.open(), [], 'nothing left open when the mission ended');
});

t.test('a send the transport refused goes again every resendMs until the device has it, then no more', async (t) => {
  const f = fakeFloor(t);
  const { vda5050, machine } = f.gw;
  vda5050.refuse = 2;
  machine.refuse = 1;
  const id = await f.approve(canonicalPlan());
  t.same([vda5050.sent, machine.sent], [[], []], 'nothing got out at first');
  t.equal(f.store.outbox.open().length, 2, 'both are in the outbox');
  f.clock.advance(2_000);
  t.equal(machine.sent.length, 1, 'the command went out at the second try');
  t.equal(vda5050.sent.length, 0, 'the order was refused again');
  f.clock.advance(2_000);
  const order = f.work(vda5050, 'fetch');
  t.equal(vda5050.sends(order.id), 1, 'the order at the third');
  vda5050.signal('running', order.id, order.device);
  machine.signal('accepted', f.work(machine, 'mill').id, 'cnc-1');
  f.clock.advance(20_000);
  t.equal(vda5050.sent.length + machine.sent.length, 3, 'no more sends once both devices have them');
  t.equal(f.stepStatus(id, 'fetch'), 'running');
  t.equal(dispatchedCount(f, id, 'fetch'), 1, 'delivery retries are not new dispatches');
});

t.test('a work no device takes is sent until it expires, never after; its step fails, saying so', async (t) => {
  const f = fakeFloor(t, { commandTtlMs: 9_000 });
  const { machine } = f.gw;
  const id = await f.approve({ schema: 'phygate.plan/v1', name: 'unanswered', steps: [{ id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2' } }] });
  const command = f.work(machine, 'mill');
  f.clock.advance(8_999);
  t.equal(f.status(id), 'running');
  t.equal(machine.sends(command.id), 5, 'sent at 0, 2, 4, 6 and 8 s');
  f.clock.advance(1_001);
  t.equal(f.status(id), 'failed', 'the send due at 10 s finds it expired');
  t.equal(machine.sends(command.id), 5, 'never sent after its expiry');
  t.ok(machine.sent.every((s) => s.at < Date.parse(command.expiresAt)));
  const failed = f.events(id).find((e) => e.type === 'mission.failed')!.data as { reason: string };
  t.match(failed.reason, /^cnc-1 did not take the work for step 'mill' before it expired at .*; it is not sent again$/);
  t.equal(f.store.outbox.get(command.id)!.outcome, 'expired');
  t.same(machine.asked, ['cnc-1 abort'], 'told to drop it, in case it has it after all');
});

t.test('while the mission is paused nothing is sent; resume sends; a work that expired meanwhile is sent as a new one', async (t) => {
  const f = fakeFloor(t);
  const { machine } = f.gw;
  machine.refuse = 1;
  const id = await f.approve({ schema: 'phygate.plan/v1', name: 'paused-send', steps: [{ id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2' } }] });
  f.gw.service.pause(id, 'operator');
  f.clock.advance(60_000);
  t.same(machine.sent, [], 'no retry while paused');
  await f.gw.service.resume(id, 'operator');
  t.equal(f.status(id), 'running', 'a pause does not fail a mission whose work had not got through');
  const works = machine.works();
  t.equal(works.length, 1, 'sent once resumed');
  t.match(works[0]!.id, /\.mill\.1$/, 'as a new work: the first expired unsent');
  t.same(f.store.outbox.ofStep(id, 'mill').map((e) => e.outcome), ['expired', null]);
  machine.signal('done', works[0]!.id, 'cnc-1');
  t.equal(f.status(id), 'succeeded');
});

t.test('restart: a work the device has is followed, not sent again; one it never got is sent again, unchanged', async (t) => {
  const f = fakeFloor(t);
  const id = await f.approve(canonicalPlan());
  const order = f.work(f.gw.vda5050, 'fetch');
  const command = f.work(f.gw.machine, 'mill');
  // The gateway dies here (the outbox stays as it is).
  const { vda5050, machine, executor } = f.restart();
  executor.recover();
  t.same(vda5050.asked, [`${order.device} follow`], "each port is asked what became of its work");
  t.same(machine.asked, ['cnc-1 follow']);
  vda5050.signal('accepted', order.id, order.device);
  machine.signal('missing', command.id, 'cnc-1');
  t.same(vda5050.sent, [], 'the vehicle has its order: not sent again');
  t.same(machine.sent.map((s) => s.work), [command], 'the command went out again, unchanged (same id, same expiry)');
  t.equal(f.status(id), 'running', 'the mission goes on');
  vda5050.signal('done', order.id, order.device);
  machine.signal('done', command.id, 'cnc-1');
  t.equal(f.stepStatus(id, 'load'), 'dispatched', 'the next step went out');
  for (const step of ['fetch', 'mill', 'load']) t.equal(dispatchedCount(f, id, step), 1, `${step} dispatched once across the restart`);
});

t.test('restart: a job the machine finished meanwhile succeeds without a send', async (t) => {
  const f = fakeFloor(t);
  const id = await f.approve(canonicalPlan());
  const command = f.work(f.gw.machine, 'mill');
  const { machine, executor } = f.restart();
  executor.recover();
  machine.signal('accepted', command.id, 'cnc-1');
  machine.signal('done', command.id, 'cnc-1');
  t.equal(f.stepStatus(id, 'mill'), 'succeeded');
  t.same(machine.sent, [], 'not sent again');
  t.equal(f.store.outbox.get(command.id)!.outcome, 'succeeded');
});

t.test('restart: a work past its expiry is never sent again; its step fails, saying so', async (t) => {
  const f = fakeFloor(t, { commandTtlMs: 1_000 });
  const id = await f.approve(canonicalPlan());
  const command = f.work(f.gw.machine, 'mill');
  f.gw.executor.close();
  f.clock.advance(5_000);
  const { machine, executor } = f.restart();
  executor.recover();
  machine.signal('missing', command.id, 'cnc-1');
  t.same(machine.sent, [], 'nothing expired goes out');
  t.equal(f.status(id), 'failed');
  t.equal(f.store.outbox.get(command.id)!.outcome, 'expired');
  t.match(f.events(id).find((e) => e.type === 'mission.failed')!.data, { reason: /before it expired/ });
});

t.test('restart: a device that has not reported is treated as gone offline; the step is blocked, then goes on when it reports', async (t) => {
  const f = fakeFloor(t);
  const id = await f.approve(canonicalPlan());
  const command = f.work(f.gw.machine, 'mill');
  f.gw.machine.signal('running', command.id, 'cnc-1');
  f.fleet.update('cnc-1', { online: false, state: 'never connected' });
  const { machine, executor } = f.restart();
  executor.recover();
  f.clock.advance(2_000);
  t.equal(f.stepStatus(id, 'mill'), 'blocked');
  f.fleet.update('cnc-1', { online: true, state: 'running' });
  machine.signal('accepted', command.id, 'cnc-1');
  machine.signal('running', command.id, 'cnc-1');
  t.equal(f.stepStatus(id, 'mill'), 'running', 'its state shows the job: running again');
  t.same(machine.sent, [], 'not sent again');
});

t.test('restart: steps a STOP interrupted resume as before it, a machine with the parts still missing', async (t) => {
  const f = fakeFloor(t);
  const id = await f.approve(canonicalPlan());
  const command = f.work(f.gw.machine, 'mill');
  f.gw.machine.signal('running', command.id, 'cnc-1');
  f.fleet.update('cnc-1', { state: 'stopped', job: { commandId: command.id, action: 'run', program: 'bracket-v2', count: 4 }, partsProduced: 1 });
  f.stops.press();
  t.equal(f.status(id), 'paused');
  t.equal(f.store.outbox.get(command.id)!.outcome, 'stopped');
  const { machine, vda5050, executor, service } = f.restart();
  executor.recover();
  f.stops.release();
  await service.resume(id, 'operator');
  const again = machine.works();
  t.equal(again.length, 1, 'the mill was sent again after the resume');
  t.match(again[0]!.message, { count: 3 }, 'for the three parts still missing');
  t.not(again[0]!.id, command.id, 'as a new command');
  t.equal(vda5050.works().length, 1, 'the courier drives on');
});

t.test('restart: a ROS 2 goal whose fate cannot be known fails its step, and the robot is told to drop it', async (t) => {
  const f = fakeFloor(t);
  const id = await f.approve(drivePlan('amr-1', 'shelf-3'));
  const order = f.work(f.gw.vda5050, 'go');
  const { vda5050, executor } = f.restart();
  executor.recover();
  vda5050.signal('unknown', order.id, 'amr-1', 'amr-1: the gateway restarted while goal x was under way, and ROS 2 cannot tell what became of it');
  t.equal(f.status(id), 'failed');
  t.match(f.events(id).find((e) => e.type === 'mission.failed')!.data, { reason: /ROS 2 cannot tell/ });
  t.same(vda5050.asked, ['amr-1 follow', 'amr-1 abort']);
});

t.test('restart: an entry whose mission ended meanwhile is settled as abandoned', async (t) => {
  const f = fakeFloor(t);
  const id = await f.approve(canonicalPlan());
  f.gw.executor.close();
  f.store.missions.transition(id, 'cancelled', 'operator', { reason: 'by hand' });
  const { executor, vda5050, machine } = f.restart();
  executor.recover();
  t.same(f.store.outbox.open(), [], 'nothing left open');
  t.same([...new Set(f.store.outbox.ofStep(id, 'mill').concat(f.store.outbox.ofStep(id, 'fetch')).map((e) => e.outcome))], ['abandoned']);
  t.same([vda5050.sent, machine.sent, vda5050.asked, machine.asked], [[], [], [], []], 'and nothing sent or asked');
});
