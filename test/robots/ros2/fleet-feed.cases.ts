// What ROS 2 devices report reaches the fleet registry, against the rclnodejs stand-in (NOT
// ROS 2): odometry → pose (heading from the quaternion) and the node it stands on, BatteryState →
// state of charge (NaN: unknown, not empty), joint states → the arm is there; silence → offline.
// amr-3 takes its pose from odometry here (poseSource 'odom', ros2-site.ts); the map pose from TF
// or amcl_pose, and the map transform, are in map-pose.cases.ts.
import t, { type Test } from 'tap';
import type { DeviceState } from '../../../planners/fleet.ts';
import { FleetRegistry } from '../../../robots/fleet-registry.ts';
import { Ros2Adapter, type Ros2AdapterOptions } from '../../../robots/ros2/adapter.ts';
import { yawToQuaternion } from '../../../robots/ros2/poses.ts';
import { until } from '../../helpers/wait.ts';
import { StandInRcl } from './rclnodejs-stand-in.ts';
import { ros2SiteIndex } from './ros2-site.ts';
import { recordingLog, type LogLine } from '../../helpers/log.ts';

async function rig(t: Test, opts: Partial<Ros2AdapterOptions> = {}) {
  const site = ros2SiteIndex();
  const rcl = new StandInRcl();
  const fleet = new FleetRegistry(site);
  const updates: DeviceState[] = [];
  fleet.onChange((s) => updates.push(s));
  const logs: LogLine[] = [];
  let now = 1_000_000;
  const adapter = new Ros2Adapter({ site, fleet, loadBinding: async () => rcl, log: recordingLog(logs), now: () => now, updateMs: 200, ...opts });
  t.teardown(() => adapter.close());
  await adapter.start();
  return { rcl, fleet, updates, logs, adapter, advance: (ms: number) => (now += ms) };
}

const odom = (x: number, y: number, theta: number, extra: object = {}) => ({
  header: { frame_id: 'map' },
  pose: { pose: { position: { x, y, z: 0 }, orientation: yawToQuaternion(theta) } },
  twist: { twist: { linear: { x: 0, y: 0, z: 0 } } },
  ...extra,
});

t.test('odometry: the pose with its heading, the node it stands on, online; routine updates at most every updateMs', async (t) => {
  const { rcl, fleet, updates, advance } = await rig(t);
  t.equal(fleet.get('amr-3')?.online, false, 'offline until it says something');
  rcl.publish('/amr_3/odom', odom(1.25, 8.4, 2.5));
  const s = fleet.get('amr-3')!;
  t.equal(s.online, true);
  t.equal(s.state, 'idle');
  t.equal(s.at, 'charger-1', 'within 0.5 m of the charger-1 node');
  t.equal(s.pose!.x, 1.25);
  t.equal(s.pose!.y, 8.4);
  t.ok(Math.abs(s.pose!.theta - 2.5) < 1e-9, 'heading from the quaternion');
  t.equal(s.lastSeen, new Date(1_000_000).toISOString());
  t.equal(updates.length, 1);

  advance(50);
  rcl.publish('/amr_3/odom', odom(2.5, 8.4, 0));
  t.equal(updates.length, 1, 'not within updateMs');
  advance(200);
  rcl.publish('/amr_3/odom', odom(3, 8.4, -3));
  t.equal(updates.length, 2, 'after updateMs');
  t.equal(fleet.get('amr-3')!.pose!.x, 3);
  t.equal(fleet.get('amr-3')!.at, 'charger-1', 'between nodes: the last node it stood on');

  // Driving (by odometry's twist) is a change of activity: it goes through at once.
  advance(10);
  rcl.publish('/amr_3/odom', odom(3.2, 8.4, 0, { twist: { twist: { linear: { x: 0.8, y: 0, z: 0 } } } }));
  t.equal(updates.length, 3);
  t.equal(fleet.get('amr-3')!.state, 'driving');
});

t.test('odometry in another frame is warned about once; a malformed message keeps the pose', async (t) => {
  const { rcl, fleet, logs } = await rig(t);
  rcl.publish('/amr_3/odom', odom(4, 4, 0, { header: { frame_id: 'odom' } }));
  rcl.publish('/amr_3/odom', odom(4, 4, 0, { header: { frame_id: 'odom' } }));
  t.equal(logs.filter((l) => /in frame 'odom', not 'map'/.test(l.msg)).length, 1);
  t.equal(fleet.get('amr-3')!.at, 'sa-1');
  rcl.publish('/amr_3/odom', { pose: { pose: { position: { x: NaN, y: 1 }, orientation: { x: 0, y: 0, z: 0, w: 1 } } } });
  t.same(fleet.get('amr-3')!.pose, { x: 4, y: 4, theta: 0 }, 'unchanged');
});

t.test('battery: percentage 0..1 as the state of charge; NaN leaves it as it was; charging shows', async (t) => {
  const { rcl, fleet, advance } = await rig(t, { updateMs: 0 });
  rcl.publish('/amr_3/battery_state', { percentage: 0.42, power_supply_status: 2 });
  t.equal(fleet.get('amr-3')!.soc, 0.42);
  advance(1);
  rcl.publish('/amr_3/battery_state', { percentage: NaN, power_supply_status: 2 });
  t.equal(fleet.get('amr-3')!.soc, 0.42, 'not measured: the last known value stays');
  t.equal(fleet.get('amr-3')!.online, true, 'but it is there');
  advance(1);
  rcl.publish('/amr_3/battery_state', { percentage: 1.5, power_supply_status: 1 });
  t.equal(fleet.get('amr-3')!.soc, 1, 'clamped');
  t.equal(fleet.get('amr-3')!.state, 'charging');
});

t.test('joint states bring the arm online; silence takes any device offline, and a message brings it back', async (t) => {
  const { rcl, fleet, logs, advance } = await rig(t, { silenceMs: 100 });
  rcl.publish('/arm_1/joint_states', { name: ['a'], position: [0] });
  rcl.publish('/amr_3/odom', odom(4, 4, 0));
  t.equal(fleet.get('arm-1')!.online, true);
  advance(150);
  await until('both marked offline', () => !fleet.get('arm-1')!.online && !fleet.get('amr-3')!.online, 2_000, 10);
  t.equal(fleet.get('arm-1')!.state, 'silent');
  t.ok(logs.some((l) => l.level === 'warn' && /arm-1 silent for 0 s over ROS 2: marked offline/.test(l.msg)));
  rcl.publish('/arm_1/joint_states', { name: ['a'], position: [0] });
  t.equal(fleet.get('arm-1')!.online, true, 'back at once');
  t.equal(fleet.get('amr-1')!.state, 'never connected', 'devices not driven over ROS 2 are left alone');
});
