// The device-port contract (port-contract.ts) against each real port: VDA 5050 with the real
// master and a virtual AMR (vda-5050-lib's vehicle) on an aedes broker; the machine protocol with
// the real master and a virtual CNC mill; ROS 2 with the real adapter over the rclnodejs STAND-IN
// (NOT ROS 2: test/robots/ros2/rclnodejs-stand-in.ts), which plays Nav2's action servers here.
// Each expectation gets a fresh broker, device and port; the devices run 20× (AMR) and 50×
// (mill) faster than the site says, so a work takes a second or two.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import t, { type Test } from 'tap';
import { findRoute } from '../../planners/route.ts';
import type { Amr } from '../../planners/site.ts';
import type { Work, WorkRequest } from '../../robots/device-port.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { MachineMaster } from '../../robots/machine/master.ts';
import { MachinePort } from '../../robots/machine/port.ts';
import { MACHINE_STATES, type MachineCommand, type MachineState } from '../../robots/machine/schemas.ts';
import { machineTopic } from '../../robots/machine/topics.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { Ros2Adapter } from '../../robots/ros2/adapter.ts';
import { GOAL_STATUS } from '../../robots/ros2/messages.ts';
import { Ros2Port } from '../../robots/ros2/port.ts';
import { yawToQuaternion } from '../../robots/ros2/poses.ts';
import { Vda5050Master } from '../../robots/vda5050/master.ts';
import { Vda5050Port } from '../../robots/vda5050/port.ts';
import { hasActiveOrder } from '../../robots/vda5050/progress.ts';
import type { Order, State } from '../../robots/vda5050/schemas.ts';
import { DEFAULT_INTERFACE_NAME, vehicleTopic } from '../../robots/vda5050/topics.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { startVirtualAmr } from '../../sim/virtual-amr.ts';
import { startVirtualMachine } from '../../sim/virtual-machine.ts';
import { startAedes } from '../helpers/brokers.ts';
import { until } from '../helpers/wait.ts';
import { StandInRcl, type ServerGoal } from './ros2/rclnodejs-stand-in.ts';
import { ros2Site } from './ros2/ros2-site.ts';
import { portContract, type PortRig } from './port-contract.ts';

const demo = loadSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
const TTL_MS = 60_000;

/** Closes quietly: a teardown that throws would skip the ones after it. */
const quietly = (close: () => Promise<unknown> | unknown) => async () => {
  try {
    await close();
  } catch {
    // already gone
  }
};

/** What reaches a device over the broker and what it says back, seen by a client of the test's own. */
class Wire {
  /** Every message to or from the device, in the order they arrived here. */
  private readonly passed: { toDevice: boolean; topic: string; body: any }[] = [];
  /** Messages the gateways' clients published to the device. */
  private published = 0;

  private constructor(
    private readonly toDevice: string[],
    private readonly fromDevice: string,
  ) {}

  static async open(t: Test, url: string, toDevice: string[], fromDevice: string): Promise<Wire> {
    const wire = new Wire(toDevice, fromDevice);
    const client: MqttClient = await connectMqtt({ url, clientId: `contract-wire-${randomUUID().slice(0, 8)}` });
    t.teardown(quietly(() => closeMqtt(client, true)));
    client.on('message', (topic, payload) => {
      if (payload.length > 0) wire.passed.push({ toDevice: topic !== fromDevice, topic, body: JSON.parse(payload.toString('utf8')) });
    });
    await client.subscribeAsync([...toDevice, fromDevice], { qos: 1 });
    return wire;
  }

  /** Counts what a gateway's client publishes to the device, so `answered` knows what is still on its way. */
  watch(gateway: MqttClient): void {
    gateway.on('packetsend', (packet) => {
      if (packet.cmd === 'publish' && this.toDevice.includes(packet.topic)) this.published++;
    });
  }

  /** The messages sent to the device on `topic`. */
  sent(topic: string): any[] {
    return this.passed.filter((m) => m.toDevice && m.topic === topic).map((m) => m.body);
  }

  /** What the device published, oldest first. */
  reports(): any[] {
    return this.passed.filter((m) => !m.toDevice).map((m) => m.body);
  }

  last(): any {
    return this.reports().at(-1);
  }

  /** Once everything published to the device has reached it and it has published since: it handles each message as it arrives. */
  async answered(): Promise<void> {
    await until('what was published to the device to reach it', () => this.passed.filter((m) => m.toDevice).length >= this.published);
    const lastIndex = (toDevice: boolean) => this.passed.map((m) => m.toDevice).lastIndexOf(toDevice);
    const lastIn = lastIndex(true);
    await until('the device to answer what reached it', () => lastIndex(false) > lastIn);
  }
}

/** How many times a report began something: `doing` turned true after being false. */
function starts<T>(reports: T[], doing: (r: T) => boolean): number {
  let count = 0;
  let was = false;
  for (const r of reports) {
    const now = doing(r);
    if (now && !was) count++;
    was = now;
  }
  return count;
}

// ---- VDA 5050 ---------------------------------------------------------------------------------

const AMR = 'amr-1';
const amr1 = demo.index.device(AMR) as Amr;
const AMR_SPEED = 20;

function routeFor(graph: typeof demo.graph, amr: Amr, from: string, to: string): string[] {
  const found = findRoute(graph, from, to, amr.limits);
  if (!found.ok) throw new Error(`no route ${from} → ${to}: ${found.reason}`);
  return found.route.nodes;
}

const AMR_ROUTE = routeFor(demo.graph, amr1, 'dock-a', 'shelf-1');

async function vda5050Rig(t: Test): Promise<PortRig> {
  const broker = await startAedes(t);
  const topic = (name: 'order' | 'instantActions' | 'state') => vehicleTopic(DEFAULT_INTERFACE_NAME, amr1.vda5050, name);
  const wire = await Wire.open(t, broker.url, [topic('order'), topic('instantActions')], topic('state'));
  const vehicle = await startVirtualAmr({ brokerUrl: broker.url, site: demo.index, graph: demo.graph, amrId: AMR, startNode: 'dock-a', speed: AMR_SPEED });
  t.teardown(quietly(() => vehicle.close()));

  const open = async () => {
    const client = await connectMqtt({ url: broker.url, clientId: `contract-gateway-${randomUUID().slice(0, 8)}` });
    wire.watch(client);
    const fleet = new FleetRegistry(demo.index);
    const master = new Vda5050Master({ client, site: demo.index, fleet, graph: demo.graph });
    const port = new Vda5050Port(master, fleet);
    await master.start();
    const close = async () => {
      port.close();
      await master.stop();
      await closeMqtt(client, true);
    };
    return { fleet, master, port, close };
  };
  let gateway = await open();
  t.teardown(quietly(() => gateway.close()));
  await until('amr-1 online at dock-a', () => gateway.fleet.get(AMR)?.online && gateway.fleet.get(AMR)?.at === 'dock-a');

  const states = () => wire.reports() as State[];
  const last = () => wire.last() as State | undefined;
  const actionIds = (work: Work) => (work.message as unknown as Order).nodes.flatMap((n) => n.actions.map((a) => a.actionId));
  const request = (attempt: number, missionId = 'm-contract'): WorkRequest => ({
    missionId,
    step: { id: 'fetch', action: 'pick', device: AMR, params: { at: 'shelf-1' } },
    stepIndex: 0,
    attempt,
    device: AMR,
    route: { nodes: AMR_ROUTE },
    ttlMs: TTL_MS,
  });

  const rig: PortRig = {
    port: gateway.port,
    via: 'vda5050',
    channel: 'vda5050.order',
    device: AMR,
    pauseEffect: 'held',
    releases: true,
    follows: true,
    request,
    summary: { route: AMR_ROUTE, releasedThrough: AMR_ROUTE.length - 1 },
    refusals: [
      { request: { ...request(0), step: { id: 'mill', action: 'machine.run', device: AMR, params: { program: 'bracket-v2', count: 1 } } }, says: /^amr-1 is an AMR: it cannot do 'machine\.run'$/ },
      { request: { ...request(0), route: undefined }, says: /^amr-1: no route from where it stands$/ },
      { request: { ...request(0), route: { nodes: routeFor(demo.graph, amr1, 'sa-3', 'shelf-1') } }, says: /^amr-1: the route starts at 'sa-3' but amr-1 is at 'dock-a'$/ },
      { request: { ...request(0), device: 'amr-2', route: { nodes: ['dock-b', 'sa-2'] } }, says: /^amr-2 is offline$/ },
    ],
    delivered: () => wire.sent(topic('order')).length,
    runs: (work) => starts(states(), (s) => s.orderId === work.id && hasActiveOrder(s)),
    working: (work) => last()?.orderId === work.id && last()?.driving === true,
    dropped: (work) => {
      const s = last();
      if (!s || s.orderId !== work.id || hasActiveOrder(s) || s.driving) return false;
      return actionIds(work).some((id) => s.actionStates.find((a) => a.actionId === id)?.actionStatus !== 'FINISHED');
    },
    holding: (work) => {
      const s = last();
      return s?.orderId === work.id && s.paused === true && !s.driving && hasActiveOrder(s);
    },
    idle: () => {
      const s = last();
      return s !== undefined && s.paused === false && !s.driving && !hasActiveOrder(s);
    },
    answered: async () => {
      await wire.answered();
      const { headerId } = last()!;
      await until('the port to hear the answer too', () => (gateway.master.lastState(AMR)?.headerId ?? -1) >= headerId);
    },
    state: () => gateway.fleet.get(AMR),
    // `at` comes only with a state message (ONLINE on the connection topic sets `online` before it).
    reported: () => gateway.fleet.get(AMR)?.at !== undefined,
    restart: async () => {
      await gateway.close();
      gateway = await open();
      return gateway.port;
    },
  };
  return rig;
}

// ---- the machine protocol ---------------------------------------------------------------------

const MACHINE = 'cnc-1';
const SITE_ID = demo.index.site.id;
const MACHINE_SPEED = 50;

async function machineRig(t: Test): Promise<PortRig> {
  const broker = await startAedes(t);
  const topic = (channel: 'command' | 'state') => machineTopic(SITE_ID, MACHINE, channel);
  const wire = await Wire.open(t, broker.url, [topic('command')], topic('state'));
  const machine = await startVirtualMachine({ brokerUrl: broker.url, site: demo.index, siteId: SITE_ID, deviceId: MACHINE, speed: MACHINE_SPEED });
  t.teardown(quietly(() => machine.close()));

  const open = async () => {
    const client = await connectMqtt({ url: broker.url, clientId: `contract-gateway-${randomUUID().slice(0, 8)}` });
    wire.watch(client);
    const fleet = new FleetRegistry(demo.index);
    const master = new MachineMaster({ client, site: demo.index, siteId: SITE_ID, fleet });
    const port = new MachinePort(master, fleet, demo.index);
    // Counted per gateway: a restarted master reports again every acknowledgement the retained state holds.
    const acked = new Map<string, number>();
    master.onAck((a) => acked.set(`${a.commandId} ${a.result}`, (acked.get(`${a.commandId} ${a.result}`) ?? 0) + 1));
    await master.start();
    const close = async () => {
      port.close();
      await master.stop();
      await closeMqtt(client, true);
    };
    return { fleet, port, acked, close };
  };
  let gateway = await open();
  t.teardown(quietly(() => gateway.close()));
  await until('cnc-1 online and idle', () => gateway.fleet.get(MACHINE)?.online && gateway.fleet.get(MACHINE)?.state === 'idle');

  const states = () => wire.reports() as MachineState[];
  const last = () => wire.last() as MachineState | undefined;
  const jobOf = (s: MachineState | undefined) => (s && 'job' in s ? s.job?.commandId : undefined);
  const request = (attempt: number, missionId = 'm-contract'): WorkRequest => ({
    missionId,
    step: { id: 'mill', action: 'machine.run', device: MACHINE, params: { program: 'bracket-v2', count: 1 } },
    stepIndex: 0,
    attempt,
    device: MACHINE,
    ttlMs: TTL_MS,
  });

  return {
    port: gateway.port,
    via: 'machine',
    channel: 'machine.command',
    device: MACHINE,
    pauseEffect: 'continues',
    releases: false,
    follows: true,
    request,
    summary: { count: 1 },
    refusals: [
      { request: { ...request(0), step: { id: 'go', action: 'navigate', device: MACHINE, params: { to: 'shelf-1' } } }, says: /^cnc-1 takes machine commands: it cannot do 'navigate'$/ },
      { request: { ...request(0), count: 0 }, says: /^cnc-1: invalid run command for cnc-1: count: / },
      { request: { ...request(0), device: 'printer-1', step: { id: 'print', action: 'machine.run', device: 'printer-1', params: { program: 'clip-x', count: 1 } } }, says: /^printer-1 is offline: it gets no new work$/ },
    ],
    delivered: () => (wire.sent(topic('command')) as MachineCommand[]).filter((c) => c.action !== 'stop' && c.action !== 'reset').length,
    runs: (work) => starts(states(), (s) => s.state === 'running' && jobOf(s) === work.id),
    working: (work) => last()?.state === 'running' && jobOf(last()) === work.id,
    dropped: (work) => last()?.state === 'stopped' && jobOf(last()) === work.id,
    holding: () => false,
    idle: () => last()?.state !== 'running',
    answered: async () => {
      await wire.answered();
      const acks = last()!.acks.map((a) => `${a.commandId} ${a.result}`);
      const times = (key: string) => acks.filter((a) => a === key).length;
      await until('the port to hear the answer too', () => acks.every((a) => (gateway.acked.get(a) ?? 0) >= times(a)));
    },
    state: () => gateway.fleet.get(MACHINE),
    reported: () => (MACHINE_STATES as readonly string[]).includes(gateway.fleet.get(MACHINE)?.state ?? ''),
    restart: async () => {
      await gateway.close();
      gateway = await open();
      return gateway.port;
    },
  };
}

// ---- ROS 2 over the rclnodejs stand-in --------------------------------------------------------

const ROBOT = 'amr-3';
const THROUGH = '/amr_3/navigate_through_poses';
const TO_POSE = '/amr_3/navigate_to_pose';

async function ros2Rig(t: Test): Promise<PortRig> {
  const site = ros2Site();
  const amr3 = site.index.device(ROBOT) as Amr;
  const route = routeFor(site.graph, amr3, 'charger-1', 'shelf-3');
  const rcl = new StandInRcl();
  const server = rcl.server(THROUGH);
  rcl.server(TO_POSE);

  const open = async () => {
    const fleet = new FleetRegistry(site.index);
    // A long silence limit: the robot's odometry is sent once, as it stands still.
    const adapter = new Ros2Adapter({ site: site.index, fleet, loadBinding: async () => rcl, serverTimeoutMs: 2_000, cancelTimeoutMs: 1_000, rosDistro: 'jazzy', silenceMs: 60_000 });
    await adapter.start();
    const charger = site.index.locate('charger-1')!;
    rcl.publish('/amr_3/odom', {
      header: { frame_id: 'map' },
      pose: { pose: { position: { x: charger.x, y: charger.y, z: 0 }, orientation: yawToQuaternion(Math.PI) } },
      twist: { twist: { linear: { x: 0, y: 0, z: 0 } } },
    });
    return { fleet, port: new Ros2Port(adapter, site.index), close: () => adapter.close() };
  };
  let gateway = await open();
  t.teardown(quietly(() => gateway.close()));
  await until('amr-3 online', () => gateway.fleet.get(ROBOT)?.online);

  /** The stand-in sees no goal ids (rclnodejs makes its own): a goal is the work's when it drives the work's poses. */
  const goalsOf = (work: Work): ServerGoal[] => {
    const want = (work.message as { poses: { x: number; y: number }[] }).poses.map((p) => `${p.x},${p.y}`).join(' ');
    return server.goals.filter((g) => {
      const stamped = (Array.isArray(g.goal.poses) ? g.goal.poses : g.goal.poses.goals) as { pose: { position: { x: number; y: number } } }[];
      return !g.foreign && stamped.map((p) => `${p.pose.position.x},${p.pose.position.y}`).join(' ') === want;
    });
  };
  const request = (attempt: number, missionId = 'm-contract'): WorkRequest => ({
    missionId,
    step: { id: 'go', action: 'navigate', device: ROBOT, params: { to: 'shelf-3' } },
    stepIndex: 0,
    attempt,
    device: ROBOT,
    route: { nodes: route },
    ttlMs: TTL_MS,
  });

  return {
    port: gateway.port,
    via: 'ros2',
    channel: 'ros2.goal',
    device: ROBOT,
    pauseEffect: 'interrupted',
    releases: false,
    follows: false,
    request,
    summary: { route, releasedThrough: route.length - 1 },
    refusals: [
      { request: { ...request(0), step: { id: 'load', action: 'arm.transfer', device: ROBOT, params: { from: 'cnc-1', to: 'shelf-3' } } }, says: /^amr-3: 'arm\.transfer' over ROS 2 needs a trajectory/ },
      { request: { ...request(0), step: { id: 'mill', action: 'machine.run', device: ROBOT, params: { program: 'bracket-v2', count: 1 } } }, says: /^amr-3 is driven over ROS 2: it cannot do 'machine\.run'$/ },
      { request: { ...request(0), route: { nodes: ['charger-1', 'nowhere'] } }, says: /^amr-3: 'nowhere' is neither a station nor a node of this site$/ },
      { request: { ...request(0), route: undefined }, says: /^amr-3: no route from where it stands$/ },
    ],
    delivered: () => rcl.sentGoals.filter((g) => g.action === THROUGH).length,
    runs: (work) => goalsOf(work).length,
    working: (work) => goalsOf(work).some((g) => g.active),
    dropped: (work) => {
      const goals = goalsOf(work);
      return goals.length > 0 && goals.every((g) => !g.active) && goals.at(-1)!.status === GOAL_STATUS.CANCELED;
    },
    holding: () => false,
    idle: () => !server.goals.some((g) => g.active),
    // The stand-in answers on the next turns of the event loop.
    answered: () => new Promise((resolve) => setImmediate(resolve)),
    finish: (work) => {
      const goal = goalsOf(work).find((g) => g.active);
      goal?.feedback({ distance_remaining: 1.5, number_of_poses_remaining: 1 });
      goal?.finish(GOAL_STATUS.SUCCEEDED);
    },
    state: () => gateway.fleet.get(ROBOT),
    reported: () => gateway.fleet.get(ROBOT)?.online === true,
    restart: async () => {
      await gateway.close();
      gateway = await open();
      return gateway.port;
    },
  };
}

t.test('VDA 5050 port: the real master and a virtual AMR on aedes', async (t) => portContract(t, vda5050Rig));
t.test('machine port: the real master and a virtual CNC mill on aedes', async (t) => portContract(t, machineRig));
t.test('ROS 2 port: the real adapter over the rclnodejs stand-in (NOT ROS 2)', async (t) => portContract(t, ros2Rig));
