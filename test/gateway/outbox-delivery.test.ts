// The outbox's delivery rules, with the real executor, mission service and SQLite store, and the
// masters' stand-ins (test/gateway/stand-in-masters.ts) so that timing is exact: a command refused
// by the broker is published again until the device has it; one never taken expires and its step
// fails; nothing goes out while a mission is paused; and a restarted executor reconciles what is
// open with what the devices report instead of sending it again blindly.
import { rmSync } from 'node:fs';
import t, { type Test } from 'tap';
import { Executor, type ExecutorDeps } from '../../gateway/executor.ts';
import { MissionService } from '../../gateway/missions/service.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import type { StopRecord } from '../../gateway/store/stops.ts';
import { PlanSchema } from '../../planners/plan.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { parkFleetAtHome } from '../../sim/parked-fleet.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { until } from '../helpers/wait.ts';
import { canonicalPlan, DEMO_SITE_DIR, tempDir } from './harness.ts';
import { StandInMasters } from './stand-in-masters.ts';

const site = loadSiteFolder(DEMO_SITE_DIR);
const plan = PlanSchema.parse(canonicalPlan());

class Stops {
  active: StopRecord[] = [];
  listeners = new Set<(s: StopRecord) => void>();
  stopFor = (device: string) => this.active.find((s) => s.scope === 'all' || s.devices.includes(device));
  onStop = (l: (s: StopRecord) => void) => (this.listeners.add(l), () => this.listeners.delete(l));
  press() {
    const s: StopRecord = { id: 'stop_1', scope: 'all', reason: 'test', devices: [], createdBy: 'test', createdAt: '', releasedBy: null, releasedAt: null, releaseNote: null };
    this.active.push(s);
    for (const l of this.listeners) l(s);
  }
}

interface Floor {
  store: Store;
  fleet: FleetRegistry;
  stops: Stops;
  /** A new executor (a gateway start) with its own stand-in masters; the previous one is closed. */
  start(opts?: Partial<ExecutorDeps>): { executor: Executor; devices: StandInMasters; service: MissionService };
}

function floor(t: Test): Floor {
  const dir = tempDir();
  const store = openStore(dir);
  const fleet = new FleetRegistry(site.index);
  parkFleetAtHome(fleet, new Date());
  const stops = new Stops();
  let current: Executor | undefined;
  t.teardown(() => {
    current?.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    store,
    fleet,
    stops,
    start(opts = {}) {
      current?.close();
      const devices = new StandInMasters();
      const executor = new Executor({ store, site, fleet, vda5050: devices.vda5050, machines: devices.machineMaster, stops, resendMs: 40, ...opts });
      current = executor;
      return { executor, devices, service: new MissionService({ site, store, fleet, now: () => new Date(), runner: executor }) };
    },
  };
}

function approve(service: MissionService): string {
  const { mission } = service.submit(plan, 'agent');
  service.approve(mission.id, mission.planHash, 'operator');
  return mission.id;
}

const stepStatus = (store: Store, id: string, step: string) => store.missions.get(id)!.steps.find((s) => s.id === step)!.status;
const dispatchedCount = (store: Store, id: string, step: string) =>
  store.missions.events(id).filter((e) => e.type === 'step.dispatched' && (e.data as { step: string }).step === step).length;
/** The AMR the plan's courier role went to: the device of its order. */
const courierOf = (store: Store, orderId: string) => store.outbox.get(orderId)!.device;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('every order and command is in the outbox before it is published, and settled with its step', async (t) => {
  const f = floor(t);
  const { devices, service } = f.start();
  const seen: string[] = [];
  // At the moment of publishing, the entry must already be stored, with its step dispatched.
  devices.onPublish = (p) => seen.push(`${p.ref}:${f.store.outbox.get(p.ref) ? 'stored' : 'missing'}`);
  const id = approve(service);
  const [order] = devices.refsOf('order');
  const [command] = devices.refsOf('command');
  await new Promise((r) => setImmediate(r));
  t.same(seen.sort(), [`${command}:stored`, `${order}:stored`].sort(), 'fetch and mill went out, each stored first');
  t.match(f.store.outbox.get(order!), { missionId: id, stepId: 'fetch', channel: 'vda5050.order', outcome: null, sends: 1, message: { orderId: order } });
  t.match(f.store.outbox.get(command!), { stepId: 'mill', channel: 'machine.command', outcome: null, message: { action: 'run', program: 'bracket-v2', count: 4, commandId: command } });
  t.same(f.store.outbox.open().map((e) => e.id).sort(), [command, order].sort(), 'both open while in flight');
  devices.orderProgress(order!, courierOf(f.store, order!), 'finished');
  devices.ack(command!, 'cnc-1', 'accepted');
  devices.jobEnd(command!, 'cnc-1', 'fault');
  t.equal(f.store.outbox.get(order!)!.outcome, 'succeeded');
  t.equal(f.store.outbox.get(command!)!.outcome, 'failed', 'settled with the step that failed');
  t.equal(f.store.missions.get(id)!.status, 'failed');
  t.same(f.store.outbox.open(), [], 'nothing left open when the mission ended');
});

t.test('a publish the broker refused is sent again until the device has it, then no more', async (t) => {
  const f = floor(t);
  const { devices, service } = f.start();
  devices.refuse = 2; // both first publishes (mill, fetch) fail, as with the broker link down
  const id = approve(service);
  t.same(devices.published, [], 'nothing got out at first');
  t.equal(f.store.outbox.open().length, 2, 'both are in the outbox');
  await until('both sent again', () => devices.refsOf('order').length === 1 && devices.refsOf('command').length === 1, 2_000);
  const [order] = devices.refsOf('order');
  const [command] = devices.refsOf('command');
  devices.orderProgress(order!, courierOf(f.store, order!), 'progress');
  devices.ack(command!, 'cnc-1', 'accepted');
  const sends = devices.published.length;
  await sleep(200);
  t.equal(devices.published.length, sends, 'no more sends once both devices have them');
  t.equal(stepStatus(f.store, id, 'fetch'), 'running');
  t.ok(f.store.outbox.get(order!)!.publishedAt, 'the first confirmed publish is recorded');
  t.equal(dispatchedCount(f.store, id, 'fetch'), 1, 'delivery retries are not new dispatches');
});

t.test('a command no device takes is sent until it expires, never after; its step fails, saying so', async (t) => {
  const f = floor(t);
  const { devices, service } = f.start({ commandTtlMs: 300 });
  const id = approve(service);
  const m = await until('the mission failed', () => (f.store.missions.get(id)!.status === 'failed' ? f.store.missions.get(id) : undefined), 3_000);
  const failed = f.store.missions.events(id).find((e) => e.type === 'mission.failed')!.data as { step: string; reason: string };
  t.match(failed.reason, /did not take the (order|command) for step '(mill|fetch)' before it expired at .*; it is not sent again/);
  const entry = f.store.outbox.ofStep(id, failed.step)[0]!;
  t.equal(entry.outcome, 'expired');
  const sends = devices.published.filter((p) => p.ref === entry.id);
  t.ok(sends.length >= 3 && sends.length <= 9, `sent ${sends.length} times in its 300 ms at 40 ms intervals`);
  t.ok(sends.every((p) => p.at < Date.parse(entry.expiresAt)), 'every send before its expiry');
  const count = devices.published.length;
  await sleep(150);
  t.equal(devices.published.length, count, 'nothing more goes out');
  t.equal(m!.steps.find((s) => s.id === 'load')!.status, 'cancelled', 'steps not started are not started');
});

t.test('while the mission is paused nothing is published; resume lets the retries go out', async (t) => {
  const f = floor(t);
  const { devices, service } = f.start();
  devices.refuse = 2;
  const id = approve(service);
  service.pause(id, 'operator');
  await sleep(200);
  t.same(devices.published, [], 'no retry while paused');
  service.resume(id, 'operator');
  await until('both sent after resume', () => devices.refsOf('order').length + devices.refsOf('command').length === 2, 2_000);
  t.pass('sent once resumed');
});

t.test('restart: an order the vehicle runs is followed, not sent again; a command the machine never started is sent again, the same', async (t) => {
  const f = floor(t);
  const first = f.start();
  const id = approve(first.service);
  const [order] = first.devices.refsOf('order');
  const [command] = first.devices.refsOf('command');
  const sentBefore = first.devices.published.find((p) => p.ref === command)!.message;
  // The gateway dies here (close() leaves the outbox as it is). the courier took its order; cnc-1 shows no job.
  const second = f.start();
  second.devices.vehicleStates.set(courierOf(f.store, order!), { orderId: order! });
  second.executor.recover();
  t.same(second.devices.adopted, [order], 'the vehicle\'s order is taken over');
  t.same(second.devices.refsOf('order'), [], 'and not sent again');
  t.same(second.devices.published.filter((p) => p.ref === command).map((p) => p.message), [sentBefore], 'the command went out again, unchanged (same id, same expiry)');
  t.equal(f.store.missions.get(id)!.status, 'running', 'the mission goes on');
  second.devices.orderProgress(order!, courierOf(f.store, order!), 'finished');
  second.devices.ack(command!, 'cnc-1', 'accepted');
  second.devices.jobEnd(command!, 'cnc-1', 'done');
  t.equal(stepStatus(f.store, id, 'fetch'), 'succeeded');
  t.equal(stepStatus(f.store, id, 'mill'), 'succeeded');
  t.equal(stepStatus(f.store, id, 'load'), 'dispatched', 'the next step went out');
  for (const step of ['fetch', 'mill', 'load']) t.equal(dispatchedCount(f.store, id, step), 1, `${step} dispatched once across the restart`);
});

t.test('restart: a job the machine finished meanwhile succeeds without a send; an order the vehicle never got is sent again', async (t) => {
  const f = floor(t);
  const first = f.start();
  const id = approve(first.service);
  const [order] = first.devices.refsOf('order');
  const [command] = first.devices.refsOf('command');
  f.fleet.update('cnc-1', { state: 'done', job: { commandId: command!, action: 'run', program: 'bracket-v2', count: 4 }, partsProduced: 4 });
  const second = f.start();
  second.devices.vehicleStates.set(courierOf(f.store, order!), { orderId: 'an-older-order' });
  second.executor.recover();
  t.equal(stepStatus(f.store, id, 'mill'), 'succeeded', 'the machine says it is done');
  t.same(second.devices.refsOf('command'), [], 'so the command is not sent again');
  t.same(second.devices.refsOf('order'), [order], 'the vehicle shows another order: this one is sent again');
  t.equal(f.store.outbox.get(command!)!.outcome, 'succeeded');
});

t.test('restart: a command past its expiry is never sent again; its step fails, saying so', async (t) => {
  const f = floor(t);
  const first = f.start({ commandTtlMs: 100 });
  const id = approve(first.service);
  const [command] = first.devices.refsOf('command');
  const [order] = first.devices.refsOf('order');
  first.executor.close();
  await sleep(150);
  const second = f.start({ commandTtlMs: 100 });
  second.devices.vehicleStates.set(courierOf(f.store, order!), { orderId: 'none' });
  second.executor.recover();
  t.same(second.devices.published, [], 'nothing expired goes out');
  t.equal(f.store.missions.get(id)!.status, 'failed');
  t.equal(f.store.outbox.get(command!)!.outcome, 'expired');
  t.match(f.store.missions.events(id).find((e) => e.type === 'mission.failed')!.data, { reason: /before it expired/ });
});

t.test('restart: a device that has not reported is treated as gone offline; the step is blocked, then continues when it reports', async (t) => {
  const f = floor(t);
  const first = f.start();
  const id = approve(first.service);
  const [command] = first.devices.refsOf('command');
  f.fleet.update('cnc-1', { online: false, state: 'never connected' });
  const second = f.start();
  second.devices.vehicleStates.set(courierOf(f.store, first.devices.refsOf('order')[0]!), { orderId: first.devices.refsOf('order')[0]! });
  second.executor.recover();
  await until('mill blocked', () => stepStatus(f.store, id, 'mill') === 'blocked', 2_000);
  f.fleet.update('cnc-1', { online: true, state: 'running', job: { commandId: command!, action: 'run', program: 'bracket-v2', count: 4 } });
  t.equal(stepStatus(f.store, id, 'mill'), 'running', 'its state shows the job: running again');
  t.same(second.devices.refsOf('command'), [], 'not sent again');
});

t.test('restart: steps a STOP interrupted resume after a restart as before it, a machine with the parts still missing', async (t) => {
  const f = floor(t);
  const first = f.start();
  const id = approve(first.service);
  const [command] = first.devices.refsOf('command');
  first.devices.ack(command!, 'cnc-1', 'accepted');
  f.fleet.update('cnc-1', { state: 'stopped', job: { commandId: command!, action: 'run', program: 'bracket-v2', count: 4 }, partsProduced: 1 });
  f.stops.press();
  t.equal(f.store.missions.get(id)!.status, 'paused');
  t.equal(f.store.outbox.get(command!)!.outcome, 'stopped');
  const second = f.start();
  second.executor.recover();
  f.stops.active = [];
  second.service.resume(id, 'operator');
  const again = second.devices.published.filter((p) => p.kind === 'command');
  t.equal(again.length, 1, 'the mill was sent again after the resume');
  t.match(again[0]!.message, { action: 'run', count: 3 }, 'for the three parts still missing');
  t.not(again[0]!.ref, command, 'as a new command');
  t.equal(second.devices.refsOf('order').length, 1, 'the courier drives on');
});

t.test('restart: an entry whose mission ended meanwhile is settled as abandoned', async (t) => {
  const f = floor(t);
  const first = f.start();
  const id = approve(first.service);
  first.executor.close();
  f.store.missions.transition(id, 'cancelled', 'operator', { reason: 'by hand' });
  const second = f.start();
  second.executor.recover();
  t.same(f.store.outbox.open(), [], 'nothing left open');
  t.same([...new Set(f.store.outbox.ofStep(id, 'mill').concat(f.store.outbox.ofStep(id, 'fetch')).map((e) => e.outcome))], ['abandoned']);
  t.same(second.devices.published, [], 'and nothing sent');
});
