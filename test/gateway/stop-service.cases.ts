// StopService on its own: the real store, site and fleet registry, with masters that record what
// they are asked to send and answer as a test needs (never, late, with an error). What the whole
// gateway cannot show cheaply is shown here: no send waits for another, the record is written
// before anything is sent, a store that fails still stops the devices, and the latch's rules.
import t, { type Test } from 'tap';
import { ApiError } from '../../gateway/errors.ts';
import { EventHub, type GatewayEvent } from '../../gateway/events.ts';
import { StopService, type StopServiceDeps } from '../../gateway/stop.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { DevicePorts, type StopAnswer } from '../../robots/device-port.ts';
import { Ros2Adapter } from '../../robots/ros2/adapter.ts';
import { Ros2Port } from '../../robots/ros2/port.ts';
import { GOAL_STATUS } from '../../robots/ros2/messages.ts';
import { parkFleetAtHome } from '../../sim/parked-fleet.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { DEMO_SITE_DIR, tempDirFor } from './harness.ts';
import { recordingLog, type LogLine } from '../helpers/log.ts';
import { until } from '../helpers/wait.ts';
import { standInPorts } from './stand-in-ports.ts';
import { StandInRcl } from '../robots/ros2/rclnodejs-stand-in.ts';
import { ros2Site } from '../robots/ros2/ros2-site.ts';

const site = loadSiteFolder(DEMO_SITE_DIR);
const ALL = site.index.site.devices.map((d) => d.id);

interface Sent {
  device: string;
  what: 'stop' | 'stopPause' | 'machine-stop';
  /** Was the stop in the store when this was sent? */
  stored: boolean;
}

interface Rig {
  store: Store;
  fleet: FleetRegistry;
  hub: EventHub;
  events: GatewayEvent[];
  sent: Sent[];
  logs: LogLine[];
  /** How a device answers: a promise to return, or a function that throws. */
  answer: Map<string, () => Promise<unknown>>;
  service(extra?: Partial<StopServiceDeps>): StopService;
}

function rig(t: Test, dataDir = tempDirFor(t)): Rig {
  const store = openStore(dataDir);
  t.teardown(() => store.db.open && store.close());
  const fleet = new FleetRegistry(site.index);
  parkFleetAtHome(fleet, new Date());
  const hub = new EventHub();
  const events: GatewayEvent[] = [];
  hub.subscribe((e) => events.push(e));
  const sent: Sent[] = [];
  const logs: Rig['logs'] = [];
  const answer = new Map<string, () => Promise<unknown>>();
  const { vda5050, machine, ports } = standInPorts(site);
  for (const port of [vda5050, machine]) {
    port.stopAnswer = (device, what) => {
      sent.push({ device, what: port.via === 'machine' ? 'machine-stop' : what === 'stop' ? 'stop' : 'stopPause', stored: store.db.open && store.stops.active().length > 0 });
      return (answer.get(device) ?? (() => Promise.resolve('ok')))() as Promise<StopAnswer>;
    };
  }
  const r: Rig = {
    store,
    fleet,
    hub,
    events,
    sent,
    logs,
    answer,
    service: (extra = {}) => {
      const s = new StopService({
        store,
        site,
        fleet,
        hub,
        ports,
        log: recordingLog(logs),
        confirmMs: 100,
        resendMs: 50,
        ...extra,
      });
      t.teardown(() => s.close());
      return s;
    },
  };
  return r;
}

const never = () => new Promise<never>(() => {});

t.test('every device is told at once, none waiting for another; the record is stored first', async (t) => {
  const r = rig(t);
  const s = r.service();
  r.answer.set('amr-1', never);
  r.answer.set('printer-1', () => Promise.reject(new Error('broker said no')));
  r.answer.set('conveyor-1', () => {
    throw new Error('not connected');
  });
  const heard: string[] = [];
  s.onStop(() => {
    throw new Error('a listener with a bug');
  });
  s.onStop((stop) => heard.push(stop.scope));
  const pressing = s.stop({ scope: 'all', reason: 'test', actor: 'viewer-1' });
  // Synchronously, before stop() awaited anything: every device has been sent its message.
  t.same(r.sent.map((x) => x.device), ALL, 'all sent before any answer');
  t.ok(r.sent.every((x) => x.stored), 'each after the record was stored');
  t.same(r.sent.map((x) => x.what), ALL.map((id) => (id.startsWith('amr') ? 'stop' : 'machine-stop')));
  const { stop, told } = await pressing;
  t.match(stop, { scope: 'all', reason: 'test', createdBy: 'viewer-1', devices: ALL, releasedAt: null });
  const by = Object.fromEntries(told.map((d) => [d.device, d]));
  t.match(by['amr-1'], { via: 'vda5050', result: 'unconfirmed' }, 'no confirmation within confirmMs');
  t.match(by['amr-2'], { via: 'vda5050', result: 'sent' });
  t.match(by['cnc-1'], { via: 'machine', result: 'sent' });
  t.match(by['printer-1'], { result: 'failed', error: 'broker said no' });
  t.match(by['conveyor-1'], { result: 'failed', error: 'not connected' });
  t.ok(r.logs.some((l) => l.level === 'error' && /STOP not sent to printer-1/.test(l.msg)), 'failures are logged');
  t.ok(r.logs.some((l) => /listener threw/.test(l.msg)), "a listener's bug is logged");
  t.same(heard, ['all'], 'the other listener still heard it');
  t.match(r.events, [{ type: 'stop', data: { id: stop.id, scope: 'all' } }], 'a stop event on the hub');
  t.same(s.active(), [stop]);
  t.same(r.store.stops.active(), [stop]);
});

t.test('a scope that names nothing on the site is 404, nothing stored or sent; an absent one is all', async (t) => {
  const r = rig(t);
  const s = r.service();
  for (const scope of ['zone:nowhere', 'device:amr-9', 'everything', 42]) {
    const err = await s.stop({ scope, reason: 'r', actor: 'x' }).catch((e: unknown) => e);
    t.ok(err instanceof ApiError, String(scope));
    t.match(err, { code: 'NOT_FOUND', status: 404, message: /^Nothing was stopped: /, details: { stopped: false, scope } }, String(scope));
  }
  t.same(r.sent, []);
  t.same(r.store.stops.active(), []);

  const { stop, notes } = await s.stop({ reason: 'r', actor: 'x' });
  t.match(stop, { scope: 'all', devices: ALL });
  t.same(notes, ["scope missing: 'all' used"]);
  const bare = await s.stop({ scope: 'CNC-1', reason: 'r', actor: 'x' });
  t.match(bare.stop, { scope: 'device:cnc-1', devices: ['cnc-1'] }, 'stored by its canonical name');
  t.same(bare.notes, ["scope 'CNC-1' read as 'device:cnc-1'"]);
});

t.test('a store that cannot write still stops every device, and says it is not latched', async (t) => {
  const r = rig(t);
  const s = r.service();
  r.store.close();
  const err = await s.stop({ scope: 'device:cnc-1', reason: 'r', actor: 'x' }).catch((e: unknown) => e);
  t.match(err, { code: 'INTERNAL', message: /sent to 1 device\(s\) but could not be stored, so it is not latched/, details: { told: [{ device: 'cnc-1', result: 'sent' }] } });
  t.same(r.sent.map((x) => x.device), ['cnc-1'], 'cnc-1 was told');
  t.same(s.active(), [], 'nothing latched');
});

t.test('latched: told again on coming online, and while it still moves (at most every resendMs); zones catch who enters', async (t) => {
  const r = rig(t);
  const s = r.service();
  await s.stop({ scope: 'device:amr-2', reason: 'r', actor: 'x' });
  await s.stop({ scope: 'device:cnc-1', reason: 'r', actor: 'x' });
  await s.stop({ scope: 'zone:paint-booth', reason: 'r', actor: 'x' });
  t.same(r.sent.map((x) => x.device), ['amr-2', 'cnc-1'], 'nothing stands in the paint booth');
  r.sent.length = 0;

  // amr-2 drops off and comes back: told at once, without waiting for resendMs.
  r.fleet.update('amr-2', { online: false });
  r.fleet.update('amr-2', { online: true });
  t.same(r.sent.map((x) => x.device), ['amr-2'], 'told again on coming online');
  // It reports it is not paused: within resendMs of the last send, not again; after it, again.
  r.fleet.update('amr-2', { paused: false });
  t.equal(r.sent.length, 1, 'not within resendMs');
  await new Promise((res) => setTimeout(res, 60));
  r.fleet.update('amr-2', { paused: false });
  t.equal(r.sent.length, 2, 'again after resendMs');
  r.fleet.update('amr-2', { paused: true });
  await new Promise((res) => setTimeout(res, 60));
  r.fleet.update('amr-2', { paused: true });
  t.equal(r.sent.length, 2, 'paused: nothing more');

  // A machine in scope that runs anyway is stopped again; one out of scope is left alone.
  r.fleet.update('cnc-1', { state: 'running' });
  r.fleet.update('printer-1', { state: 'running' });
  t.same(r.sent.slice(2).map((x) => [x.device, x.what]), [['cnc-1', 'machine-stop']]);

  // amr-1 drives into the stopped zone: told. amr-3, elsewhere and not paused: not.
  r.fleet.update('amr-3', { paused: false, pose: { x: 5, y: 5, theta: 0 } });
  r.fleet.update('amr-1', { paused: false, pose: { x: 27.5, y: 4, theta: 0 } });
  t.same(r.sent.slice(3).map((x) => x.device), ['amr-1'], 'the AMR that entered the zone');
  t.equal(s.stopFor('amr-1')?.scope, 'zone:paint-booth');
  t.equal(s.stopFor('amr-3'), undefined);
  t.equal(s.stopFor('amr-9'), undefined);
  r.fleet.update('amr-3', { online: false });
  r.fleet.update('amr-3', { online: true });
  t.equal(r.sent.length, 4, 'amr-3 coming online is none of these stops’ business');
});

t.test('release needs ack, ends every stop, sends stopPause to the AMRs they covered, and the latch lets go', async (t) => {
  const r = rig(t);
  const s = r.service();
  const released: string[][] = [];
  s.onRelease((stops) => released.push(stops.map((x) => x.scope)));
  t.same(await s.release({ actor: 'op', ack: true }), { released: [], resumed: [] }, 'nothing to release');
  await s.stop({ scope: 'device:amr-3', reason: 'r', actor: 'x' });
  await s.stop({ scope: 'device:cnc-1', reason: 'r', actor: 'x' });
  await t.rejects(s.release({ actor: 'op', ack: false }), { code: 'VALIDATION_FAILED', details: { problems: [{ path: 'ack' }] } });
  t.equal(s.active().length, 2, 'still active');
  r.sent.length = 0;
  r.events.length = 0;
  const out = await s.release({ actor: 'op', ack: true, note: 'clear' });
  t.same(out.released.map((x) => [x.scope, x.releasedBy, x.releaseNote]), [
    ['device:amr-3', 'op', 'clear'],
    ['device:cnc-1', 'op', 'clear'],
  ]);
  t.same(r.sent.map((x) => [x.device, x.what]), [['amr-3', 'stopPause']], 'stopPause to amr-3 only; machines get nothing');
  t.same(out.resumed, [{ device: 'amr-3', via: 'vda5050', result: 'sent' }]);
  t.same(released, [['device:amr-3', 'device:cnc-1']]);
  t.match(r.events, [{ type: 'stop.released', data: { devices: ['amr-3'] } }]);
  t.same(s.active(), []);
  r.fleet.update('amr-3', { online: false });
  r.fleet.update('amr-3', { online: true });
  r.fleet.update('cnc-1', { state: 'running' });
  t.equal(r.sent.length, 1, 'released: nothing is sent any more');
});

t.test('resume() at start sends every stop still in the store again', async (t) => {
  const dir = tempDirFor(t);
  const first = rig(t, dir);
  t.same(await first.service().resume(), [], 'nothing active, nothing sent');
  t.same(first.sent, []);
  await first.service().stop({ scope: 'device:amr-1', reason: 'r', actor: 'x' });
  first.store.close();

  const second = rig(t, dir);
  const s = second.service();
  t.equal(s.active().length, 1, 'loaded from the store');
  const told = await s.resume();
  t.same(told, [{ device: 'amr-1', via: 'vda5050', result: 'sent' }]);
  t.same(second.sent.map((x) => x.device), ['amr-1']);
});

t.test('without masters the stop is stored and latched, and every device is reported as not told', async (t) => {
  const r = rig(t);
  const s = new StopService({ store: r.store, site, fleet: r.fleet, hub: r.hub });
  t.teardown(() => s.close());
  const { told } = await s.stop({ scope: 'all', reason: 'r', actor: 'x' });
  t.ok(told.every((d) => d.result === 'failed'));
  t.match(told[0], { device: 'amr-1', error: /no VDA 5050 master/ });
  t.equal(s.active().length, 1);
  const { resumed } = await s.release({ actor: 'op', ack: true });
  t.equal(resumed.length, 3, 'the three AMRs');
  t.ok(resumed.every((d) => d.result === 'failed'));
});

// ---- devices driven over ROS 2 (amr-3 and arm-1 of ros2Site), with the rclnodejs stand-in (NOT ROS 2) ----

const R2 = ros2Site();
const NAV = '/amr_3/navigate_to_pose';
const ARM = '/arm_1/joint_trajectory_controller/follow_joint_trajectory';

async function ros2Rig(t: Test, opts: { ros2?: boolean; cancelTimeoutMs?: number } = {}) {
  const store = openStore(tempDirFor(t));
  t.teardown(() => store.db.open && store.close());
  const fleet = new FleetRegistry(R2.index);
  parkFleetAtHome(fleet, new Date());
  const rcl = new StandInRcl();
  for (const name of [NAV, '/amr_3/navigate_through_poses', ARM]) rcl.server(name);
  const adapter = new Ros2Adapter({ site: R2.index, fleet, loadBinding: async () => rcl, serverTimeoutMs: 200, cancelTimeoutMs: opts.cancelTimeoutMs ?? 100 });
  t.teardown(() => adapter.close());
  await adapter.start();
  const sent: { device: string; what: string }[] = [];
  const stopAlls: string[][] = [];
  const { vda5050, machine } = standInPorts(R2);
  for (const port of [vda5050, machine]) {
    port.stopAnswer = async (device, what) => (sent.push({ device, what: port.via === 'machine' ? 'machine-stop' : what === 'stop' ? 'stop' : 'stopPause' }), 'sent');
  }
  const ros2 = new Ros2Port({ navigateThrough: (...a) => adapter.navigateThrough(...a), stopAll: (ids) => (stopAlls.push([...(ids ?? [])]), adapter.stopAll(ids)) }, R2.index);
  const service = new StopService({
    store,
    site: R2,
    fleet,
    hub: new EventHub(),
    ports: new DevicePorts(R2.index, { vda5050, machine, ...(opts.ros2 === false ? {} : { ros2 }) }),
    confirmMs: 300,
    resendMs: 50,
  });
  t.teardown(() => service.close());
  return { rcl, adapter, fleet, sent, stopAlls, service };
}

t.test('ROS 2 devices: their goals are cancelled over ROS 2, alongside the others, and they get no VDA 5050 or machine message', async (t) => {
  const r = await ros2Rig(t);
  const goal = r.adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }, { goalId: 'step-1' });
  await until('accepted', () => r.rcl.server(NAV).last);
  const pressing = r.service.stop({ scope: 'all', reason: 'test', actor: 'viewer-1' });
  // Synchronously, before stop() awaited anything: every device, ROS 2 or not, has been told.
  t.same(r.stopAlls, [['amr-3'], ['arm-1']], 'one stopAll per ROS 2 device, at once');
  t.same(r.sent.map((x) => x.device), ['amr-1', 'amr-2', 'cnc-1', 'printer-1', 'conveyor-1'], 'VDA 5050 and machine messages to the others only');
  const { told } = await pressing;
  const by = Object.fromEntries(told.map((d) => [d.device, d]));
  t.same(by['amr-3'], { device: 'amr-3', via: 'ros2', result: 'sent' });
  t.same(by['arm-1'], { device: 'arm-1', via: 'ros2', result: 'sent' });
  t.same(by['amr-1'], { device: 'amr-1', via: 'vda5050', result: 'sent' });
  t.same(await goal.outcome, { status: 'cancelled', reason: 'STOP' });

  r.sent.length = 0;
  const { resumed } = await r.service.release({ actor: 'op', ack: true });
  t.same(resumed.map((d) => d.device), ['amr-1', 'amr-2'], 'stopPause to the VDA 5050 AMRs; amr-3 has nothing to resume');
  t.same(r.sent, [
    { device: 'amr-1', what: 'stopPause' },
    { device: 'amr-2', what: 'stopPause' },
  ]);
});

t.test('a ROS 2 server that does not answer does not hold back the STOP; nor does a missing one', async (t) => {
  const r = await ros2Rig(t, { cancelTimeoutMs: 5_000 });
  r.rcl.server(NAV).onCancel = 'ignore';
  r.rcl.server('/amr_3/navigate_through_poses').onCancel = 'ignore';
  r.rcl.server(ARM).available = false;
  const started = Date.now();
  const { told } = await r.service.stop({ scope: 'all', reason: 'test', actor: 'x' });
  t.ok(Date.now() - started < 2_000, 'answered after confirmMs, not after the adapter gave up');
  const by = Object.fromEntries(told.map((d) => [d.device, d]));
  t.same(by['amr-3'], { device: 'amr-3', via: 'ros2', result: 'unconfirmed' });
  t.match(by['arm-1'], { via: 'ros2', result: 'failed', error: /no action server of arm-1 is running/ });
  t.same(by['cnc-1'], { device: 'cnc-1', via: 'machine', result: 'sent' });
});

t.test('the adapter saying unconfirmed is unconfirmed; without an adapter ROS 2 devices are reported, not sent anything else', async (t) => {
  const r = await ros2Rig(t);
  r.rcl.server(ARM).onCancel = 'ignore';
  const { told } = await r.service.stop({ scope: 'device:arm-1', reason: 'test', actor: 'x' });
  t.same(told, [{ device: 'arm-1', via: 'ros2', result: 'unconfirmed' }], 'the adapter gave up within confirmMs');

  const off = await ros2Rig(t, { ros2: false });
  const { told: offTold } = await off.service.stop({ scope: 'device:amr-3', reason: 'test', actor: 'x' });
  t.same(offTold, [{ device: 'amr-3', via: 'ros2', result: 'failed', error: 'this gateway runs without ROS 2 (PHYGATE_ROS2=off)' }]);
  t.same(off.sent, [], 'not sent VDA 5050 instead');
});

t.test('latched: a ROS 2 device that drives or runs under an active STOP is stopped again', async (t) => {
  const r = await ros2Rig(t);
  await r.service.stop({ scope: 'device:arm-1', reason: 'test', actor: 'x' });
  t.same(r.stopAlls, [['arm-1']]);
  r.fleet.update('amr-3', { state: 'driving' });
  t.same(r.stopAlls, [['arm-1']], 'amr-3 is not covered');
  // Someone starts a trajectory on the stopped arm anyway.
  const foreign = r.rcl.server(ARM).foreignGoal();
  await new Promise((res) => setTimeout(res, 60));
  r.fleet.update('arm-1', { state: 'running' });
  t.same(r.stopAlls, [['arm-1'], ['arm-1']], 'arm-1 runs anyway: told again');
  await until('that goal cancelled', () => foreign.status === GOAL_STATUS.CANCELED, 2_000);
});
