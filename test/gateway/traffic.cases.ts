// Traffic at run time (gateway/execution/traffic.ts) on fake time, with the real SQLite store, the
// demo site and a STAND-IN route port (it implements extend/has and records what it sends; the
// real VDA 5050 port's order updates run in the end-to-end tests): what an AMR is granted, whom it
// waits for, the checked schedule's order, and what a restart keeps.
import { rmSync } from 'node:fs';
import t, { type Test } from 'tap';
import { TrafficControl, type TrafficDeps } from '../../gateway/execution/traffic.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import type { Pass } from '../../planners/check.ts';
import { DevicePorts, StepSignals, type DevicePort, type StepSignal, type Work, type WorkSummary } from '../../robots/device-port.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { parkFleetAtHome } from '../../sim/parked-fleet.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { recordingLog } from '../helpers/log.ts';
import { site } from './fake-floor.ts';
import { FIXED_NOW, tempDir } from './harness.ts';
import { drivePlan, fakeFloor } from './fake-floor.ts';
import { planHash, PlanSchema } from '../../planners/plan.ts';

/** STAND-IN for an AMR port that takes its route a part at a time: the works it was sent, and which it "has". */
class StandInRoutePort implements DevicePort {
  readonly via = 'vda5050';
  readonly sent: Work[] = [];
  /** Work messages the device shows it has, by `${id}#${update}`. */
  readonly shown = new Set<string>();
  private readonly signals = new StepSignals();
  prepare(): Work {
    throw new Error('not used here');
  }
  send(work: Work): Promise<void> {
    this.sent.push(work);
    return Promise.resolve();
  }
  pause(): 'held' {
    return 'held';
  }
  resume(): void {}
  abort(): void {}
  follow(): void {}
  describe(work: Work): WorkSummary {
    const m = work.message as { route: string[]; through: number };
    return { route: m.route, releasedThrough: m.through };
  }
  extend(work: Work, route: readonly string[], through: number): Work {
    const m = work.message as { update: number };
    return { ...work, message: { route: [...route], through, update: m.update + 1 } };
  }
  has(work: Work): boolean {
    return this.shown.has(`${work.id}#${(work.message as { update: number }).update}`);
  }
  stop(): Promise<'sent'> {
    return Promise.resolve('sent');
  }
  release(): undefined {
    return undefined;
  }
  moving(): boolean {
    return false;
  }
  onSignal(listener: (s: StepSignal) => void): () => void {
    return this.signals.on(listener);
  }
}

interface Rig {
  store: Store;
  fleet: FleetRegistry;
  clock: FakeClock;
  port: StandInRoutePort;
  log: ReturnType<typeof recordingLog>;
  traffic: TrafficControl;
  /** A traffic control anew on the same store and fleet, as a restarted gateway makes it. */
  restart(): TrafficControl;
  /** The AMR reports standing at a node (or `between` two: at the first, its pose partway to the second). */
  at(device: string, node: string, between?: string): void;
  holds(): Record<string, string[]>;
}

function rig(t: Test, more: Partial<TrafficDeps> = {}): Rig {
  const dir = tempDir();
  const store = openStore(dir);
  const fleet = new FleetRegistry(site.index);
  parkFleetAtHome(fleet, FIXED_NOW());
  const clock = new FakeClock();
  const port = new StandInRoutePort();
  const log = recordingLog();
  const make = () => new TrafficControl({ store, site, fleet, ports: new DevicePorts(site.index, { vda5050: port }), clock, log, resendMs: 2_000, ...more });
  const r: Rig = {
    store,
    fleet,
    clock,
    port,
    log,
    traffic: make(),
    restart() {
      r.traffic.close();
      r.traffic = make();
      return r.traffic;
    },
    at(device, node, between) {
      const a = site.index.node(node)!;
      const b = between ? site.index.node(between)! : a;
      fleet.update(device, { at: node, pose: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, theta: 0 } });
    },
    holds: () => Object.fromEntries(r.traffic.view().map((d) => [d.id, [...d.holds].sort()])),
  };
  t.teardown(() => {
    r.traffic.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return r;
}

const work = (device: string, route: string[], through: number, id = `m1.go.0`): Work => ({
  id,
  device,
  channel: 'vda5050.order',
  message: { route, through, update: 0 },
  expiresAt: new Date(FIXED_NOW().getTime() + 10_000).toISOString(),
});

const pass = (device: string, step: string, node: string, t = 0): Pass => ({ t, device, step, node });

/** A mission stored as approved (its passes count while it is live); returns its id. */
function approved(store: Store): string {
  const plan = PlanSchema.parse(drivePlan('amr-1', 'shelf-1'));
  return store.missions.create({ plan, planHash: planHash(plan), worldHash: 'w', report: null, status: 'approved', requestHash: Math.random().toString(36), actor: 'test' }).mission.id;
}

t.test('every AMR holds the node it stands on; one sent along a route is granted at most two nodes beyond the one it reached, and gives each back once it reached the next', async (t) => {
  const r = rig(t);
  t.same(r.holds(), { 'amr-1': ['dock-a'], 'amr-2': ['dock-b'], 'amr-3': ['charger-1'] }, 'parked at home, each holds its station');
  const route = ['dock-a', 'sa-1', 'sa-2', 'sa-3', 'shelf-1'];
  t.equal(r.traffic.begin('amr-1', 'm1', 'go', route), 3, 'dock-a, sa-1 and sa-2: two beyond the node it stands on');
  t.same(r.holds()['amr-1'], ['dock-a', 'sa-1', 'sa-2']);
  t.same(Object.fromEntries([...r.store.traffic.holds()].filter(([, d]) => d === 'amr-1')), { 'dock-a': 'amr-1', 'sa-1': 'amr-1', 'sa-2': 'amr-1' }, 'stored as held');
  r.at('amr-1', 'sa-1');
  t.same(r.holds()['amr-1'], ['sa-1', 'sa-2', 'sa-3'], 'reached sa-1: dock-a given back, sa-3 granted');
  t.match(r.traffic.pathOf('amr-1'), { reached: 1, granted: 3 });
  r.at('amr-1', 'sa-3');
  t.same(r.holds()['amr-1'], ['sa-3', 'shelf-1'], 'reached sa-3: all behind it given back, the route granted to its end');
  r.traffic.end('amr-1', 'm1', 'other-step');
  t.ok(r.traffic.pathOf('amr-1'), 'another step cannot end the route');
  r.at('amr-1', 'shelf-1');
  r.traffic.end('amr-1', 'm1', 'go');
  t.same(r.holds()['amr-1'], ['shelf-1'], 'at the end it holds where it stands');
  t.equal(r.traffic.pathOf('amr-1'), undefined);
  t.same(r.store.traffic.paths(), [], 'the stored route is gone too');
});

t.test('an AMR is never granted a node another holds, nor one within reach of another; it waits, saying for whom, and goes on once the other has passed', async (t) => {
  const r = rig(t);
  r.traffic.begin('amr-1', 'm1', 'go', ['dock-a', 'sa-1', 'sa-2', 'sa-3', 'shelf-1']);
  t.equal(r.traffic.begin('amr-2', 'm2', 'go', ['dock-b', 'sa-2', 'sa-1', 'dock-a']), 1, 'amr-2 may not leave dock-b: amr-1 holds sa-2');
  t.match(r.traffic.view().find((d) => d.id === 'amr-2')!.waitsFor, { device: 'amr-1', node: 'sa-2', why: 'held', missionId: 'm1' });
  t.throws(() => r.store.traffic.setHolds('amr-2', ['sa-2'], FIXED_NOW()), /UNIQUE|PRIMARY/, 'the table itself refuses a node held twice');
  r.at('amr-1', 'sa-1');
  r.at('amr-1', 'sa-2');
  t.equal(r.traffic.pathOf('amr-2')!.granted, 0, 'amr-1 on sa-2: still in the way');
  r.at('amr-1', 'sa-3');
  t.equal(r.traffic.pathOf('amr-2')!.granted, 2, 'amr-1 reached sa-3 and gave sa-2 back: amr-2 is granted sa-2 and sa-1');
  t.equal(r.traffic.view().find((d) => d.id === 'amr-2')!.waitsFor, undefined, 'and waits for nobody');
});

t.test("the robots enter nodes in the order of the approval's schedule: a robot the check had second waits for the first, though the way is free", async (t) => {
  const r = rig(t);
  const [m1, m2] = [approved(r.store), approved(r.store)];
  // The check had amr-2 through sa-2, sa-1 and on to ma-1 first; amr-1 waited at dock-a.
  r.traffic.adopt(m2, [pass('amr-2', 'go', 'sa-2', 2), pass('amr-2', 'go', 'sa-1', 5), pass('amr-2', 'go', 'ma-1', 7), pass('amr-1', `${m1}/go`, 'sa-1', 8), pass('amr-1', `${m1}/go`, 'sa-2', 11)]);
  t.same(
    r.store.traffic.schedule().map((p) => `${p.device}@${p.node}:${p.missionId === m1 ? 'm1' : 'm2'}/${p.stepId}`),
    ['amr-2@sa-2:m2/go', 'amr-2@sa-1:m2/go', 'amr-2@ma-1:m2/go', 'amr-1@sa-1:m1/go', 'amr-1@sa-2:m1/go'],
    'stored in order, each pass with its mission (a committed one by its id) and step',
  );
  t.equal(r.traffic.begin('amr-1', m1, 'go', ['dock-a', 'sa-1', 'sa-2', 'sa-3']), 1, 'amr-1 sets off first at run time, and may not leave dock-a');
  t.match(r.traffic.view().find((d) => d.id === 'amr-1')!.waitsFor, { device: 'amr-2', node: 'sa-1', why: 'schedule', missionId: m2 }, 'it waits for amr-2, which the schedule has at sa-1 first');
  t.equal(r.traffic.begin('amr-2', m2, 'go', ['dock-b', 'sa-2', 'sa-1', 'ma-1']), 3, 'amr-2 is granted sa-2 and sa-1');
  t.match(r.traffic.view().find((d) => d.id === 'amr-1')!.waitsFor, { device: 'amr-2', node: 'sa-1', why: 'held' }, 'now amr-1 waits for amr-2 holding sa-1');
  r.at('amr-2', 'sa-2');
  r.at('amr-2', 'sa-1');
  t.equal(r.traffic.pathOf('amr-1')!.granted, 0, 'amr-2 on sa-1: amr-1 still waits');
  r.at('amr-2', 'ma-1');
  t.equal(r.traffic.pathOf('amr-1')!.granted, 2, 'amr-2 reached ma-1: amr-1 is granted sa-1 and sa-2');
  t.same(r.store.traffic.schedule(), [], 'every pass made');
});

t.test('passes of missions that are over hold nobody back, and a ring of waits the schedule made is broken', async (t) => {
  const r = rig(t, { lookahead: 1 });
  const [m1, m2] = [approved(r.store), approved(r.store)];
  r.traffic.adopt(m2, [pass('amr-2', 'go', 'sa-2', 2), pass('amr-1', `${m1}/go`, 'sa-2', 9)]);
  r.store.missions.transition(m2, 'cancelled', 'operator');
  t.equal(r.traffic.begin('amr-1', m1, 'go', ['dock-a', 'sa-1', 'sa-2']), 2);
  r.at('amr-1', 'sa-1');
  t.equal(r.traffic.pathOf('amr-1')!.granted, 2, 'the pass of a cancelled mission was dropped: amr-1 goes on');
  t.same(r.store.traffic.schedule(), [], 'and is gone from the table');

  // amr-1 goes on east, granted sa-2; a schedule made meanwhile has amr-2 through sa-2 and sa-3
  // first. On sa-2, amr-1 waits for amr-2 to pass sa-3 (schedule), amr-2 for amr-1 (it holds
  // sa-2): a ring no robot leaves. It is broken by letting amr-1 go first against the schedule.
  const m3 = approved(r.store);
  r.traffic.end('amr-1', m1, 'go');
  t.equal(r.traffic.begin('amr-1', m1, 'east', ['sa-1', 'sa-2', 'sa-3']), 2);
  r.traffic.adopt(m3, [pass('amr-2', 'go', 'sa-2', 1), pass('amr-2', 'go', 'sa-3', 4), pass('amr-1', `${m1}/east`, 'sa-3', 6)]);
  r.at('amr-1', 'sa-2');
  t.match(r.traffic.view().find((d) => d.id === 'amr-1')!.waitsFor, { device: 'amr-2', node: 'sa-3', why: 'schedule' }, 'amr-1 waits for amr-2 at first');
  t.equal(r.traffic.begin('amr-2', m3, 'go', ['dock-b', 'sa-2', 'sa-3', 'sa-4']), 1, 'amr-2 waits for amr-1, which holds sa-2');
  t.equal(r.traffic.pathOf('amr-1')!.granted, 2, 'the ring is broken: amr-1 is granted sa-3');
  t.ok(r.log.lines.some((l) => l.level === 'warn' && /would wait for each other; amr-1 goes first at 'sa-3' against the schedule/.test(l.msg)), 'and the log says so');
  t.same(r.store.traffic.schedule().map((p) => `${p.device}@${p.node}`), ['amr-2@sa-2'], "amr-2's pass that held amr-1 back is dropped, amr-1's made");
  r.at('amr-1', 'sa-3');
  t.equal(r.traffic.pathOf('amr-2')!.granted, 0, 'amr-1 stands at sa-3, on amr-2’s way: amr-2 does not drive into sa-2 to face it');
  t.match(r.traffic.view().find((d) => d.id === 'amr-2')!.waitsFor, { device: 'amr-1', node: 'sa-3', why: 'held' });
  r.traffic.end('amr-1', m1, 'east');
  r.at('amr-1', 'ma-3');
  t.equal(r.traffic.pathOf('amr-2')!.granted, 1, 'amr-1 gone: amr-2 goes on (one node ahead: lookahead 1 here)');
});

t.test('an order update goes out when nodes are granted beyond the base the device has, one at a time, and again after resendMs if the device does not show it', async (t) => {
  const r = rig(t);
  const route = ['dock-a', 'sa-1', 'sa-2', 'sa-3', 'shelf-1'];
  r.traffic.begin('amr-1', 'm1', 'go', route);
  const first = work('amr-1', route, 2);
  r.traffic.bind('amr-1', first);
  r.at('amr-1', 'sa-1');
  t.same(r.port.sent, [], 'the device does not show the order yet: nothing more is sent');
  r.port.shown.add('m1.go.0#0');
  r.at('amr-1', 'sa-1');
  t.equal(r.port.sent.length, 1, 'it shows the order: the grant through sa-3 goes out');
  t.same(r.port.sent[0]!.message, { route, through: 3, update: 1 });
  r.clock.advance(1_999);
  r.at('amr-1', 'sa-1');
  t.equal(r.port.sent.length, 1, 'not again before resendMs');
  r.clock.advance(1);
  r.at('amr-1', 'sa-1');
  t.equal(r.port.sent.length, 2, 'the device does not show the update after resendMs: sent again');
  t.same(r.port.sent[1]!.message, r.port.sent[0]!.message, 'the same update');
  t.equal(r.store.traffic.paths()[0]!.updateId, 1, 'the update is stored with the route');
  r.port.shown.add('m1.go.0#1');
  r.at('amr-1', 'sa-2');
  t.same(r.port.sent.at(-1)!.message, { route, through: 4, update: 2 }, 'reached sa-2: the next update releases the route to its end');
});

t.test('a restarted gateway takes over what was held, each route and how far it was granted, and the schedule', async (t) => {
  const r = rig(t);
  r.traffic.adopt('m2', [pass('amr-2', 'go', 'sa-2', 2)]);
  r.traffic.begin('amr-1', 'm1', 'go', ['dock-a', 'sa-1', 'sa-2', 'sa-3']);
  r.at('amr-1', 'sa-1');
  const before = r.traffic.view();
  const schedule = r.store.traffic.schedule();
  r.restart();
  t.same(r.traffic.view(), before, 'the same holds, routes and grants');
  t.same(r.store.traffic.schedule(), schedule, 'the same schedule');
  r.at('amr-1', 'sa-2');
  t.match(r.traffic.pathOf('amr-1'), { reached: 2, granted: 3 }, 'and the route goes on from where it was');
});

t.test('an AMR whose step ends while it stands between two nodes keeps both', async (t) => {
  const r = rig(t);
  r.traffic.begin('amr-1', 'm1', 'go', ['dock-a', 'sa-1', 'sa-2', 'sa-3']);
  r.at('amr-1', 'dock-a', 'sa-1');
  r.traffic.end('amr-1', 'm1', 'go');
  t.same(r.holds()['amr-1'], ['dock-a', 'sa-1'], 'stopped between dock-a and sa-1: it holds both');
  t.equal(r.traffic.begin('amr-1', 'm1', 'again', ['dock-a', 'sa-1', 'sa-2']), 3, 'sent on from there, it is granted its way again');
});

t.test('a paused mission that resumes after a STOP gets its passes back: the committed work is simulated anew from where the robots stand, and the robots keep to that', async (t) => {
  const f = fakeFloor(t);
  const id = await f.approve(drivePlan('amr-1', 'shelf-3'));
  const passesOf = () => f.store.traffic.schedule().filter((p) => p.missionId === id).map((p) => p.node);
  t.same(passesOf(), [], "amr-1's route was granted whole at once (a port without extend): every pass made");
  t.same(f.gw.executor.traffic.pathOf('amr-1')?.nodes, ['dock-a', 'sa-1', 'sa-2', 'sa-3', 'sa-4', 'sa-5', 'sa-6', 'sa-7', 'shelf-3']);
  f.fleet.update('amr-1', { at: 'sa-2', pose: { x: 8, y: 4, theta: 0 } });
  f.stops.press();
  t.equal(f.status(id), 'paused');
  t.equal(f.gw.executor.traffic.pathOf('amr-1'), undefined, 'the STOP ended the route');
  t.same(f.gw.executor.traffic.view().find((d) => d.id === 'amr-1')!.holds, ['sa-2'], 'amr-1 holds where it stopped');
  f.stops.release();
  const rescheduled: Pass[][] = [];
  const reschedule = f.gw.executor.reschedule.bind(f.gw.executor);
  f.gw.executor.reschedule = (passes) => (rescheduled.push([...passes]), reschedule(passes));
  await f.gw.service.resume(id, 'operator');
  t.same(
    rescheduled.map((ps) => ps.map((p) => `${p.device}@${p.node}:${p.step === `${id}/go` ? 'go' : p.step}`)),
    [['amr-1@sa-3:go', 'amr-1@sa-4:go', 'amr-1@sa-5:go', 'amr-1@sa-6:go', 'amr-1@sa-7:go', 'amr-1@shelf-3:go']],
    'one new schedule, from sa-2 where amr-1 stopped',
  );
  t.equal(f.status(id), 'running');
  t.same(f.gw.executor.traffic.pathOf('amr-1')?.nodes, ['sa-2', 'sa-3', 'sa-4', 'sa-5', 'sa-6', 'sa-7', 'shelf-3'], 'it goes on along the checked route from where it stands');
});

t.test('a route that cannot be granted whole yet waits for a node to be freed, not for ever in a loop: amr-1 to dock-b while amr-2 makes way from there (ports that cannot extend a route)', async (t) => {
  const f = fakeFloor(t);
  const freed: number[] = [];
  f.gw.executor.traffic.onFreed(() => freed.push(f.clock.now()));
  // amr-2 stands at dock-b: the check moves it to park-1, and amr-1's route ends where it stands.
  const id = await f.approve(drivePlan('amr-1', 'dock-b'));
  t.equal(f.status(id), 'running', 'approved, and the approval returned');
  t.equal(f.stepStatus(id, 'make-way:1'), 'dispatched', 'amr-2 is sent off dock-b');
  t.equal(f.stepStatus(id, 'go'), 'pending', 'amr-1 waits: dock-b is not free, and its port takes a route only whole');
  t.same(freed, [], 'nothing was freed: taking a route’s nodes and giving them back in one input tells no one');
  // amr-2 leaves dock-b: amr-1's route can be granted now.
  const move = f.work(f.gw.vda5050, 'make-way:1', id);
  f.gw.vda5050.signal('done', move.id, 'amr-2');
  f.fleet.update('amr-2', { at: 'park-1' });
  t.ok(freed.length > 0, 'dock-b freed: the waiting route is told');
  t.equal(f.stepStatus(id, 'go'), 'dispatched', 'and amr-1 sets off');
});

t.test('an AMR told to drop its work, or under a STOP, is granted nothing more and sent no order update', async (t) => {
  let stopped = false;
  const r = rig(t, { stopped: () => stopped });
  const route = ['dock-a', 'sa-1', 'sa-2', 'sa-3', 'shelf-1'];
  r.traffic.begin('amr-1', 'm1', 'go', route);
  r.traffic.bind('amr-1', work('amr-1', route, 2));
  r.port.shown.add('m1.go.0#0');
  stopped = true;
  r.at('amr-1', 'sa-1');
  t.equal(r.traffic.pathOf('amr-1')!.granted, 2, 'under a STOP: nothing more granted');
  t.same(r.port.sent, [], 'and nothing sent');
  stopped = false;
  r.traffic.freeze('amr-1', 'm1', 'other-step');
  r.at('amr-1', 'sa-1');
  t.equal(r.traffic.pathOf('amr-1')!.granted, 3, 'released, and another step frozen: granted on');
  r.traffic.freeze('amr-1', 'm1', 'go');
  r.port.shown.add('m1.go.0#1');
  r.at('amr-1', 'sa-2');
  t.equal(r.traffic.pathOf('amr-1')!.granted, 3, 'told to drop the order: nothing more granted');
  t.equal(r.port.sent.length, 1, 'and no update beyond the one before');
  t.same(r.holds()['amr-1'], ['sa-2', 'sa-3'], 'it keeps what it holds until the step ends');
});

t.test('an AMR does not drive into the aisle node before a station where another AMR stands still: that one needs the node to get out', async (t) => {
  const r = rig(t);
  r.at('amr-3', 'shelf-2');
  t.same(r.holds()['amr-3'], ['shelf-2']);
  r.at('amr-1', 'sa-4');
  t.equal(r.traffic.begin('amr-1', 'm1', 'drop', ['sa-4', 'sa-5', 'shelf-2']), 1, 'amr-1 waits at sa-4, not at sa-5 facing amr-3');
  t.match(r.traffic.view().find((d) => d.id === 'amr-1')!.waitsFor, { device: 'amr-3', node: 'shelf-2', why: 'held' });
  t.equal(r.traffic.begin('amr-3', 'm3', 'out', ['shelf-2', 'sa-5', 'sa-6']), 3, 'so amr-3 can get out');
  r.at('amr-3', 'sa-5');
  t.equal(r.traffic.pathOf('amr-1')!.granted, 0, 'amr-3 on sa-5: amr-1 still waits');
  r.at('amr-3', 'sa-6');
  t.equal(r.traffic.pathOf('amr-1')!.granted, 2, 'amr-3 out at sa-6: amr-1 drives to shelf-2');
});

t.test('two AMRs that hold what the other needs next (the run left the check) are parted: one takes another way, from the end of its grant', async (t) => {
  const r = rig(t, { lookahead: 1 });
  r.at('amr-1', 'sa-3');
  r.at('amr-3', 'sa-6');
  t.equal(r.traffic.begin('amr-1', 'm1', 'east', ['sa-3', 'sa-4', 'sa-5', 'sa-6', 'sa-7']), 2);
  t.equal(r.traffic.begin('amr-3', 'm3', 'west', ['sa-6', 'sa-5', 'sa-4', 'sa-3', 'sa-2']), 2);
  r.at('amr-1', 'sa-4');
  t.match(r.traffic.view().find((d) => d.id === 'amr-1')!.waitsFor, { device: 'amr-3', node: 'sa-5', why: 'held' });
  r.at('amr-3', 'sa-5');
  t.same(r.traffic.pathOf('amr-1')!.nodes, ['sa-3', 'sa-4', 'ma-3', 'ma-4', 'sa-6', 'sa-7'], 'amr-1 goes round by the middle aisle');
  t.equal(r.traffic.pathOf('amr-1')!.granted, 2, 'and is granted ma-3');
  t.ok(r.log.lines.some((l) => l.level === 'warn' && /amr-1 takes another way to 'sa-7', off its checked route/.test(l.msg)), 'the log says so');
  t.same(r.store.traffic.paths().find((p) => p.device === 'amr-1')!.nodes, r.traffic.pathOf('amr-1')!.nodes, 'the new route is stored');
  r.at('amr-1', 'ma-3');
  t.equal(r.traffic.pathOf('amr-3')!.granted, 2, 'amr-1 out of the way: amr-3 goes on to sa-4');
});
