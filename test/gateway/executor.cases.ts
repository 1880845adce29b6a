// The executor on fake time with stand-in device ports (fake-floor.ts): what happens to a step's
// work on its device when the step fails, times out, is cancelled, paused or stopped, told with
// exact timing. The real ports over a real broker run in execute.test.ts and the fault tests.
import t from 'tap';
import type { Work } from '../../robots/device-port.ts';
import { recordingLog } from '../helpers/log.ts';
import { canonicalPlan } from './harness.ts';
import { drivePlan, fakeFloor, site } from './fake-floor.ts';

t.test('a step that times out: its AMR drops the order before the mission fails, stays reserved until it confirmed, then the next mission for it runs', async (t) => {
  const f = fakeFloor(t);
  const { vda5050 } = f.gw;
  const statusAtAbort: string[] = [];
  const abort = vda5050.abort.bind(vda5050);
  vda5050.abort = (work: Work, reason: string) => {
    statusAtAbort.push(f.status(work.id.split('.')[0]!));
    abort(work, reason);
  };
  const first = await f.approve(drivePlan('amr-1', 'shelf-3', 5));
  const order = f.work(vda5050, 'go');
  vda5050.signal('running', order.id, 'amr-1');
  t.equal(f.stepStatus(first, 'go'), 'running');
  f.clock.advance(4_999);
  t.equal(f.status(first), 'running', 'not before its 5 s');
  f.clock.advance(1);
  t.equal(f.status(first), 'failed');
  t.same(statusAtAbort, ['running'], 'the AMR was told to drop the order before the mission was marked failed');
  const failed = f.events(first).find((e) => e.type === 'mission.failed')!;
  t.match(failed.data, { step: 'go', reason: "step 'go' did not finish within 5 s" });
  t.equal(f.store.outbox.get(order.id)!.outcome, 'failed', 'its outbox entry is settled with the step');

  const second = await f.approve(drivePlan('amr-1', 'shelf-1', undefined, 'again'));
  t.equal(f.status(second), 'running');
  t.equal(vda5050.works('amr-1').length, 1, 'amr-1 is reserved until it confirmed: the next order waits');
  f.clock.advance(2_000);
  t.same(vda5050.asked.filter((a) => a === 'amr-1 abort').length, 2, 'told again while it has not confirmed');
  vda5050.signal('aborted', order.id, 'amr-1', 'the order was cancelled');
  t.equal(vda5050.asked.at(-1), 'amr-1 resume', 'confirmed: it stopped where it was to drop the order, and may go on');
  t.equal(vda5050.works('amr-1').length, 2, 'and the next mission for amr-1 sends its order');
  t.equal(f.stepStatus(second, 'go'), 'dispatched');
  vda5050.signal('accepted', f.work(vda5050, 'go', second).id, 'amr-1');
  f.clock.advance(10_000);
  t.equal(vda5050.asked.filter((a) => a === 'amr-1 abort').length, 2, 'no more aborts once confirmed');
});

t.test('a mission paused for ten times its steps\' timeouts resumes and succeeds', async (t) => {
  const f = fakeFloor(t);
  const { vda5050, machine } = f.gw;
  const id = await f.approve({
    schema: 'phygate.plan/v1',
    name: 'paused-long',
    steps: [
      { id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-3' }, timeoutS: 1 },
      { id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2' }, timeoutS: 1 },
    ],
  });
  const order = f.work(vda5050, 'go');
  const command = f.work(machine, 'mill');
  vda5050.signal('running', order.id, 'amr-1');
  machine.signal('running', command.id, 'cnc-1');
  f.clock.advance(500);
  f.gw.service.pause(id, 'operator');
  t.same(vda5050.asked, ['amr-1 pause'], 'the AMR holds its order');
  t.same(machine.asked, ['cnc-1 pause'], 'the machine is asked too (it finishes its job)');
  f.clock.advance(10_000);
  t.equal(f.status(id), 'paused', 'no timeout fired while paused');
  await f.gw.service.resume(id, 'operator');
  t.same(vda5050.asked, ['amr-1 pause', 'amr-1 resume'], 'the AMR goes on');
  f.clock.advance(499);
  vda5050.signal('done', order.id, 'amr-1');
  machine.signal('done', command.id, 'cnc-1');
  t.equal(f.status(id), 'succeeded', 'each step finished within the 1 s it had, not counting the pause');
});

t.test('a timeout still fires after a pause, with only the time that was left', async (t) => {
  const f = fakeFloor(t);
  const id = await f.approve(drivePlan('amr-1', 'shelf-3', 2));
  f.clock.advance(1_500);
  f.gw.service.pause(id, 'operator');
  f.clock.advance(60_000);
  await f.gw.service.resume(id, 'operator');
  f.clock.advance(499);
  t.equal(f.status(id), 'running');
  f.clock.advance(1);
  t.equal(f.status(id), 'failed', '1.5 s before the pause + 0.5 s after it');
});

t.test('a device that reports a failure: its own work is dropped, and the mission\'s other steps too', async (t) => {
  const f = fakeFloor(t);
  const { vda5050, machine } = f.gw;
  const id = await f.approve(canonicalPlan());
  const command = f.work(machine, 'mill');
  const order = f.work(vda5050, 'fetch');
  machine.signal('running', command.id, 'cnc-1');
  vda5050.signal('failed', order.id, order.device, `${order.device}: pick failed`);
  t.equal(f.status(id), 'failed');
  t.same(vda5050.asked, [`${order.device} abort`], 'the AMR that failed drops what is left of its order');
  t.same(machine.asked, ['cnc-1 abort'], 'the mill is stopped: its mission failed');
  t.match(f.store.missions.get(id)!.steps, [
    { id: 'mill', status: 'cancelled' },
    { id: 'fetch', status: 'failed' },
    { id: 'load', status: 'cancelled' },
    { id: 'carry', status: 'cancelled' },
  ]);
  t.match(f.events(id).find((e) => e.type === 'step.cancelled' && e.data.step === 'mill')!.data, { reason: "step 'fetch' failed" });
});

t.test('a work ended on the device by someone else fails its mission, naming the device', async (t) => {
  const f = fakeFloor(t);
  const { machine } = f.gw;
  const id = await f.approve({ schema: 'phygate.plan/v1', name: 'stopped-at-machine', steps: [{ id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2' } }] });
  const command = f.work(machine, 'mill');
  machine.signal('aborted', command.id, 'cnc-1', 'cnc-1 ended the job stopped');
  t.equal(f.status(id), 'failed');
  t.equal(f.stepStatus(id, 'mill'), 'cancelled');
  t.match(f.events(id).find((e) => e.type === 'mission.failed')!.data, { reason: 'cnc-1: cnc-1 ended the job stopped' });
  t.same(machine.asked, [], 'nothing left to drop');
});

t.test('cancel: every device in flight drops its work; the steps are cancelled', async (t) => {
  const f = fakeFloor(t);
  const { vda5050, machine } = f.gw;
  const id = await f.approve(canonicalPlan());
  const order = f.work(vda5050, 'fetch');
  f.gw.service.cancel(id, 'operator', 'changed my mind');
  t.equal(f.status(id), 'cancelled');
  t.same(vda5050.asked, [`${order.device} abort`]);
  t.same(machine.asked, ['cnc-1 abort']);
  t.ok(f.store.missions.get(id)!.steps.every((s) => s.status === 'cancelled'));
  t.same(f.store.outbox.open(), [], 'nothing left open');
});

t.test('a paused mission that is cancelled: its AMR drops the order, and once it confirmed is told to go on (nothing is left to hold)', async (t) => {
  const f = fakeFloor(t);
  const { vda5050 } = f.gw;
  const id = await f.approve(drivePlan('amr-1', 'shelf-3'));
  const order = f.work(vda5050, 'go');
  f.gw.service.pause(id, 'operator');
  f.gw.service.cancel(id, 'operator');
  t.same(vda5050.asked, ['amr-1 pause', 'amr-1 abort']);
  vda5050.signal('aborted', order.id, 'amr-1', 'the order was cancelled');
  t.same(vda5050.asked, ['amr-1 pause', 'amr-1 abort', 'amr-1 resume']);
});

t.test('a device a STOP covers is not told to go on when it confirmed it dropped its work', async (t) => {
  const f = fakeFloor(t);
  const { vda5050 } = f.gw;
  const id = await f.approve(drivePlan('amr-1', 'shelf-3', 5));
  const order = f.work(vda5050, 'go');
  vda5050.signal('running', order.id, 'amr-1');
  f.clock.advance(5_000);
  t.equal(f.status(id), 'failed');
  f.stops.press('device:amr-1', ['amr-1']);
  vda5050.signal('aborted', order.id, 'amr-1', 'the order was cancelled');
  t.same(vda5050.asked, ['amr-1 abort'], 'no resume under the STOP');
});

t.test('a device that goes offline blocks its step, which fails after the grace period and drops its work', async (t) => {
  const f = fakeFloor(t, { offlineGraceMs: 30_000 });
  const { vda5050 } = f.gw;
  const id = await f.approve(drivePlan('amr-1', 'shelf-3'));
  const order = f.work(vda5050, 'go');
  vda5050.signal('running', order.id, 'amr-1');
  f.fleet.update('amr-1', { online: false, state: 'connection broken' });
  t.equal(f.stepStatus(id, 'go'), 'blocked');
  f.fleet.update('amr-1', { online: true, state: 'driving' });
  t.equal(f.stepStatus(id, 'go'), 'running', 'back within the grace period: it goes on');
  f.fleet.update('amr-1', { online: false, state: 'connection broken' });
  f.clock.advance(29_999);
  t.equal(f.status(id), 'running');
  f.clock.advance(1);
  t.equal(f.status(id), 'failed');
  t.match(f.events(id).find((e) => e.type === 'mission.failed')!.data, { reason: 'amr-1 stayed offline for 30 s' });
  t.same(vda5050.asked, ['amr-1 abort'], 'told to drop the order (it gets it if it comes back)');
});

t.test('a state message does no store work unless it changes a step; only the missions that wait for a device are woken', async (t) => {
  const f = fakeFloor(t);
  const { vda5050 } = f.gw;
  const first = await f.approve(drivePlan('amr-1', 'shelf-3'));
  const second = await f.approve(drivePlan('amr-1', 'shelf-1', undefined, 'second'));
  const order = f.work(vda5050, 'go', first);
  vda5050.signal('running', order.id, 'amr-1');
  let reads = 0;
  const get = f.store.missions.get.bind(f.store.missions);
  f.store.missions.get = (id) => (reads++, get(id));
  for (let i = 0; i < 1_000; i++) {
    f.fleet.update('amr-1', { pose: { x: 3 + i / 1_000, y: 2, theta: 0 }, state: 'driving' });
    f.fleet.update('cnc-1', { state: 'idle' });
    vda5050.signal('running', order.id, 'amr-1');
  }
  t.equal(reads, 0, '2,000 state messages and 1,000 progress reports read no mission');
  vda5050.signal('done', order.id, 'amr-1');
  t.equal(f.status(first), 'succeeded');
  t.equal(f.stepStatus(second, 'go'), 'dispatched', 'amr-1 free: the mission waiting for it goes');
});

t.test('signals that arrive while the executor handles another input are applied after it, one at a time', async (t) => {
  const f = fakeFloor(t);
  const { machine } = f.gw;
  // A device that answers at once: its signals arrive while the executor is still dispatching.
  machine.onSend = (work) => {
    machine.signal('running', work.id, work.device);
    machine.signal('done', work.id, work.device);
  };
  const id = await f.approve({
    schema: 'phygate.plan/v1',
    name: 'fast-machines',
    steps: [
      { id: 'a', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2' } },
      { id: 'b', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2' }, after: ['a'] },
      { id: 'c', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2' }, after: ['b'] },
    ],
  });
  t.equal(f.status(id), 'succeeded');
  const order = f.events(id).filter((e) => e.type.startsWith('step.')).map((e) => `${e.data.step}:${e.type.slice(5)}`);
  t.same(order, ['a:dispatched', 'a:running', 'a:succeeded', 'b:dispatched', 'b:running', 'b:succeeded', 'c:dispatched', 'c:running', 'c:succeeded']);
});

t.test('an arm loading an AMR reserves the AMR too: another mission\'s step for it waits until the transfer ended', async (t) => {
  const f = fakeFloor(t);
  const { vda5050, machine } = f.gw;
  const id = await f.approve(canonicalPlan());
  const fetch = f.work(vda5050, 'fetch');
  const courier = fetch.device;
  vda5050.signal('done', fetch.id, courier);
  const mill = f.work(machine, 'mill');
  machine.signal('done', mill.id, 'cnc-1');
  const load = f.work(machine, 'load');
  t.equal(load.device, 'arm-1');
  t.same((load.message as { onto?: string }).onto, courier, 'onto the courier');
  const other = await f.approve(drivePlan(courier, 'charger-2', undefined, 'meanwhile'));
  t.equal(vda5050.works(courier).length, 1, `${courier} is held by the transfer`);
  machine.signal('done', load.id, 'arm-1');
  t.equal(f.stepStatus(id, 'carry'), 'dispatched', 'the mission that holds it goes first');
  t.equal(f.stepStatus(other, 'go'), 'pending', 'the other mission still waits');
  vda5050.signal('done', f.work(vda5050, 'carry').id, courier);
  t.equal(f.status(id), 'succeeded');
  t.equal(f.stepStatus(other, 'go'), 'dispatched');
});

t.test('a device that cannot do the step fails it with its reason', async (t) => {
  const f = fakeFloor(t);
  f.gw.vda5050.refusePrepare = (r) => `${r.device} is still working on order 'x'`;
  const id = await f.approve(drivePlan('amr-1', 'shelf-3'));
  t.equal(f.status(id), 'failed');
  t.match(f.events(id).find((e) => e.type === 'mission.failed')!.data, { reason: "amr-1 is still working on order 'x'" });
  t.same(f.gw.vda5050.sent, [], 'nothing sent');
  t.same(f.gw.vda5050.asked, [], 'nothing to drop');
});

t.test('`wait` steps hold for their seconds, and a pause holds them too', async (t) => {
  const f = fakeFloor(t);
  const id = await f.approve({ schema: 'phygate.plan/v1', name: 'cure', steps: [{ id: 'cure', action: 'wait', device: 'cnc-1', params: { seconds: 30 } }] });
  t.equal(f.stepStatus(id, 'cure'), 'running');
  f.clock.advance(20_000);
  f.gw.service.pause(id, 'operator');
  f.clock.advance(60_000);
  await f.gw.service.resume(id, 'operator');
  f.clock.advance(9_999);
  t.equal(f.status(id), 'running');
  f.clock.advance(1);
  t.equal(f.status(id), 'succeeded');
});

t.test('ROS 2 pause: the goal is dropped, and resume sends the step again as a new goal from where the robot stands', async (t) => {
  const f = fakeFloor(t);
  const { ros2 } = f.gw;
  const ros2Site = site.index.device('amr-3');
  t.ok(ros2Site, 'amr-3 is on the demo site');
  // The stand-in registry drives every device by its site protocol; make amr-3 a ROS 2 AMR for this test.
  const { vda5050 } = f.gw;
  vda5050.pauseEffect = 'interrupted';
  const id = await f.approve(drivePlan('amr-1', 'shelf-3'));
  const first = f.work(vda5050, 'go');
  vda5050.signal('running', first.id, 'amr-1');
  f.fleet.update('amr-1', { at: 'sa-1', pose: { x: site.index.node('sa-1')!.x, y: site.index.node('sa-1')!.y, theta: 0 } });
  f.gw.service.pause(id, 'operator');
  t.equal(f.stepStatus(id, 'go'), 'blocked');
  t.equal(f.store.outbox.get(first.id)!.outcome, 'stopped');
  vda5050.signal('aborted', first.id, 'amr-1', 'cancelled');
  t.equal(f.status(id), 'paused', 'the dropped goal does not fail the mission');
  await f.gw.service.resume(id, 'operator');
  const again = vda5050.works('amr-1');
  t.equal(again.length, 2, 'a new goal');
  t.not(again[1]!.id, first.id);
  t.equal((again[1]!.message as { route: string[] }).route[0], 'sa-1', 'from where it stands');
  vda5050.signal('done', again[1]!.id, 'amr-1');
  t.equal(f.status(id), 'succeeded');
  t.same(ros2.sent, [], 'the registry sent nothing over the ROS 2 stand-in: amr-1 is a VDA 5050 AMR');
});

t.test('how missions end is logged with the mission id: failures at warn with the step and reason, successes at info', async (t) => {
  const log = recordingLog();
  const f = fakeFloor(t, { log });
  const failing = await f.approve(drivePlan('amr-1', 'shelf-3', 5));
  f.clock.advance(5_000);
  t.match(log.lines.find((l) => l.level === 'warn' && l.msg.startsWith(`mission ${failing} failed`)), { data: { missionId: failing, step: 'go', reason: "step 'go' did not finish within 5 s" } });
  const ok = await f.approve({ schema: 'phygate.plan/v1', name: 'ok', steps: [{ id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2' } }] });
  f.gw.machine.signal('done', f.work(f.gw.machine, 'mill').id, 'cnc-1');
  t.match(log.lines.find((l) => l.level === 'info' && l.msg === `mission ${ok} succeeded`), { data: { missionId: ok } });
});

t.test('a STOP of one device: its step is interrupted, the mission is paused (its other AMR holds its order), and resume goes on from there', async (t) => {
  const f = fakeFloor(t);
  const { vda5050, machine } = f.gw;
  const id = await f.approve(canonicalPlan());
  const mill = f.work(machine, 'mill');
  const fetch = f.work(vda5050, 'fetch');
  machine.signal('running', mill.id, 'cnc-1');
  vda5050.signal('running', fetch.id, fetch.device);
  f.stops.press('device:cnc-1', ['cnc-1']);
  t.equal(f.status(id), 'paused');
  t.equal(f.stepStatus(id, 'mill'), 'blocked', 'the stopped machine’s step is interrupted');
  t.equal(f.stepStatus(id, 'fetch'), 'running', 'the AMR’s step is not');
  t.same(vda5050.asked, [`${fetch.device} pause`], 'but the AMR holds its order while the mission is paused');
  vda5050.signal('done', fetch.id, fetch.device);
  t.equal(f.stepStatus(id, 'load'), 'pending', 'nothing new starts while paused');
  await t.rejects(f.gw.service.resume(id, 'operator'), { code: 'STOP_ACTIVE' });
  f.stops.release();
  await f.gw.service.resume(id, 'operator');
  const again = machine.works().filter((w) => w.id !== mill.id);
  t.equal(again.length, 1, 'the mill goes again');
  t.match(again[0]!.id, /\.mill\.1$/);
});
