// A ROS 2 AMR placed on the site by its map pose, against the rclnodejs stand-in (NOT ROS 2; see
// rclnodejs-stand-in.ts): the pose from AMCL's `amcl_pose` or from TF (map → odom →
// base_footprint → base_link) reaches the fleet in site coordinates through a map transform that
// is not the identity; goals to a station go out in map coordinates; a zone-scoped STOP finds the
// robot by that pose; odometry as the pose source is warned about at start; and rclnodejs's own
// SIGINT handler is taken away as soon as it is loaded.
import t, { type Test } from 'tap';
import type { Pose } from '../../../planners/fleet.ts';
import { EventHub } from '../../../gateway/events.ts';
import { StopService } from '../../../gateway/stop.ts';
import { openStore } from '../../../gateway/store/index.ts';
import { DevicePorts } from '../../../robots/device-port.ts';
import { FleetRegistry } from '../../../robots/fleet-registry.ts';
import { Ros2Adapter } from '../../../robots/ros2/adapter.ts';
import { Ros2Port } from '../../../robots/ros2/port.ts';
import { normalizeAngle, poseOf, quaternionToYaw, yawToQuaternion } from '../../../robots/ros2/poses.ts';
import { tempDirFor } from '../../gateway/harness.ts';
import { standInPorts } from '../../gateway/stand-in-ports.ts';
import { recordingLog, type LogLine } from '../../helpers/log.ts';
import { until } from '../../helpers/wait.ts';
import { StandInQoS, StandInRcl } from './rclnodejs-stand-in.ts';
import { ros2Site } from './ros2-site.ts';

const NAV = '/amr_3/navigate_to_pose';
const THROUGH = '/amr_3/navigate_through_poses';
const ARM = '/arm_1/joint_trajectory_controller/follow_joint_trajectory';

// The site's origin lies at (100, -20) in amr-3's map, the site's x axis along the map's y axis:
// site (x, y, θ) is map (100 − y, −20 + x, θ + π/2), and map (X, Y, Θ) is site (Y + 20, 100 − X, Θ − π/2).
const MAP_TRANSFORM = { x: 100, y: -20, theta: Math.PI / 2 };
const toMap = (p: Pose): Pose => ({ x: 100 - p.y, y: -20 + p.x, theta: normalizeAngle(p.theta + Math.PI / 2) });

const near = (a: Pose | undefined, b: Pose) => a !== undefined && Math.abs(a.x - b.x) < 1e-9 && Math.abs(a.y - b.y) < 1e-9 && Math.abs(normalizeAngle(a.theta - b.theta)) < 1e-9;

async function rig(t: Test, amr3: Record<string, unknown>, rcl = new StandInRcl()) {
  const site = ros2Site({ mapTransform: MAP_TRANSFORM, ...amr3 });
  for (const name of [NAV, THROUGH, ARM]) rcl.server(name);
  const fleet = new FleetRegistry(site.index);
  const logs: LogLine[] = [];
  const adapter = new Ros2Adapter({ site: site.index, fleet, loadBinding: async () => rcl, log: recordingLog(logs), serverTimeoutMs: 500, cancelTimeoutMs: 200, updateMs: 0, rosDistro: 'jazzy' });
  t.teardown(() => adapter.close());
  await adapter.start();
  return { site, rcl, fleet, adapter, logs };
}

const amclPose = (p: Pose, frame = 'map') => ({
  header: { stamp: { sec: 5, nanosec: 0 }, frame_id: frame },
  pose: { pose: { position: { x: p.x, y: p.y, z: 0 }, orientation: yawToQuaternion(p.theta) }, covariance: new Array(36).fill(0) },
});

const tf = (parent: string, child: string, p: Pose, z = 0) => ({
  header: { stamp: { sec: 5, nanosec: 0 }, frame_id: parent },
  child_frame_id: child,
  transform: { translation: { x: p.x, y: p.y, z }, rotation: yawToQuaternion(p.theta) },
});

t.test("rclnodejs's SIGINT handler is removed once it is loaded, before init; a version without the call is warned about", async (t) => {
  const { rcl, logs } = await rig(t, {});
  t.same(rcl.signalHandlersRemoved, [{ initsBefore: 0 }], 'called once, before init()');
  t.notOk(logs.some((l) => /removeSignalHandlers/.test(l.msg)));

  const old = new StandInRcl();
  Object.defineProperty(old, 'removeSignalHandlers', { value: undefined });
  const r = await rig(t, {}, old);
  t.equal(r.rcl.inits, 1, 'it starts all the same');
  t.ok(r.logs.some((l) => l.level === 'warn' && /no removeSignalHandlers\(\): on SIGINT it shuts ROS 2 down before the gateway has stopped the devices/.test(l.msg)));
});

t.test('poseSource tf (the default): tf sensor-data, tf_static latched, odometry for motion only', async (t) => {
  const { rcl, logs } = await rig(t, { poseSource: undefined });
  const subs = rcl.node.subscriptions.filter((s) => s.topic.startsWith('/amr_3/'));
  t.same(
    subs.map((s) => [s.type, s.topic]),
    [
      ['nav_msgs/msg/Odometry', '/amr_3/odom'],
      ['sensor_msgs/msg/BatteryState', '/amr_3/battery_state'],
      ['tf2_msgs/msg/TFMessage', '/amr_3/tf'],
      ['tf2_msgs/msg/TFMessage', '/amr_3/tf_static'],
    ],
  );
  t.same(subs[2]!.options, { qos: 'qos_profile_sensor_data' });
  const latched = (subs[3]!.options as { qos: StandInQoS }).qos;
  t.ok(latched instanceof StandInQoS, 'a QoS profile, not a name');
  t.same({ history: latched.history, depth: latched.depth, reliability: latched.reliability, durability: latched.durability }, { history: 1, depth: 100, reliability: 1, durability: 1 }, 'keep last 100, reliable, transient local');
  t.notOk(logs.some((l) => /odometry, which drifts/.test(l.msg)), 'no warning');
});

t.test('poseSource tf: map → odom → base_footprint → base_link composed, in site coordinates; other frames and odometry do not move it', async (t) => {
  const { rcl, fleet } = await rig(t, { poseSource: 'tf', baseFrame: 'base_link' });
  // As a robot does: the static base_footprint → base_link once (latched), then odometry's and the localizer's transforms.
  rcl.publish('/amr_3/tf_static', { transforms: [tf('base_footprint', 'base_link', { x: 0, y: 0, theta: 0 }, 0.12), tf('base_link', 'laser', { x: 0.3, y: 0, theta: 0 }, 0.2)] });
  rcl.publish('/amr_3/tf', { transforms: [tf('odom', 'base_footprint', { x: 2, y: 0, theta: Math.PI / 2 })] });
  t.equal(fleet.get('amr-3')?.online, false, 'not placed until the chain reaches the map');
  // The localizer puts odom at (90, -25) in the map, turned a quarter: the robot stands at map (90, -23), facing π.
  rcl.publish('/amr_3/tf', { transforms: [tf('map', 'odom', { x: 90, y: -25, theta: Math.PI / 2 })] });
  const s = fleet.get('amr-3')!;
  t.equal(s.online, true);
  // map (90, -23, π) is site (−23 + 20, 100 − 90, π − π/2) = (-3, 10, π/2).
  t.ok(near(s.pose, { x: -3, y: 10, theta: Math.PI / 2 }), `site pose ${JSON.stringify(s.pose)}`);

  // Drive it onto the charger-1 node, site (1.2, 8.5): map (91.5, -18.8). Through odometry's transform, map → odom unchanged.
  // odom (X, Y) ↦ map (90 − Y, −25 + X): base_footprint at odom (6.2, -1.5).
  rcl.publish('/amr_3/tf', { transforms: [tf('odom', 'base_footprint', { x: 6.2, y: -1.5, theta: 0 })] });
  t.ok(near(fleet.get('amr-3')!.pose, { x: 1.2, y: 8.5, theta: 0 }), `site pose ${JSON.stringify(fleet.get('amr-3')!.pose)}`);
  t.equal(fleet.get('amr-3')!.at, 'charger-1', 'standing on the charger-1 node, in site terms');

  const before = fleet.get('amr-3')!.pose;
  rcl.publish('/amr_3/tf', { transforms: [tf('base_link', 'laser', { x: 5, y: 5, theta: 1 })] });
  rcl.publish('/amr_3/odom', { header: { frame_id: 'odom' }, pose: { pose: { position: { x: 40, y: 40, z: 0 }, orientation: yawToQuaternion(0) } }, twist: { twist: { linear: { x: 0.5, y: 0, z: 0 } } } });
  t.same(fleet.get('amr-3')!.pose, before, 'a sensor frame and odometry leave the pose as it was');
  t.equal(fleet.get('amr-3')!.state, 'driving', 'odometry still says it moves');
});

t.test('poseSource amcl_pose: the latched pose in the map frame, in site coordinates; another frame is warned about once', async (t) => {
  const { rcl, fleet, logs } = await rig(t, { poseSource: 'amcl_pose' });
  const sub = rcl.node.subscriptions.find((s) => s.topic === '/amr_3/amcl_pose')!;
  t.equal(sub.type, 'geometry_msgs/msg/PoseWithCovarianceStamped');
  t.ok((sub.options as { qos: unknown }).qos instanceof StandInQoS, 'latched: AMCL publishes only when its estimate changes');
  t.equal(rcl.node.subscriptions.filter((s) => s.type === 'tf2_msgs/msg/TFMessage').length, 0, 'no TF');

  // booth-in, site (27.5, 4), facing 0 → map (96, 7.5), facing π/2.
  rcl.publish('/amr_3/amcl_pose', amclPose({ x: 96, y: 7.5, theta: Math.PI / 2 }));
  t.ok(near(fleet.get('amr-3')!.pose, { x: 27.5, y: 4, theta: 0 }), `site pose ${JSON.stringify(fleet.get('amr-3')!.pose)}`);
  t.equal(fleet.get('amr-3')!.at, 'booth-in');
  rcl.publish('/amr_3/odom', { header: { frame_id: 'odom' }, pose: { pose: { position: { x: 1, y: 1, z: 0 }, orientation: yawToQuaternion(0) } } });
  t.equal(fleet.get('amr-3')!.at, 'booth-in', 'odometry does not move it');
  t.notOk(logs.some((l) => /not 'map'/.test(l.msg)));
  rcl.publish('/amr_3/amcl_pose', amclPose({ x: 96, y: 7.5, theta: 0 }, 'odom'));
  rcl.publish('/amr_3/amcl_pose', amclPose({ x: 96, y: 7.5, theta: 0 }, 'odom'));
  t.equal(logs.filter((l) => /amr-3: the pose is in frame 'odom', not 'map'/.test(l.msg)).length, 1);
});

t.test('poseSource odom: warned about at start; its pose crosses the map transform too', async (t) => {
  const { rcl, fleet, logs } = await rig(t, { poseSource: 'odom' });
  t.ok(logs.some((l) => l.level === 'warn' && /amr-3: its fleet pose comes from odometry, which drifts from the map/.test(l.msg)));
  rcl.publish('/amr_3/odom', { header: { frame_id: 'map' }, pose: { pose: { position: { x: 96, y: 7.5, z: 0 }, orientation: yawToQuaternion(Math.PI / 2) } } });
  t.ok(near(fleet.get('amr-3')!.pose, { x: 27.5, y: 4, theta: 0 }));
});

t.test('goals go out in map coordinates: NavigateToPose to a station, and a route to a station through the port', async (t) => {
  const { site, rcl, adapter } = await rig(t, { poseSource: 'amcl_pose' });
  const cnc = poseOf(site.index, 'cnc-1'); // site (16, 13.4), facing π/2
  void adapter.navigate('amr-3', cnc, { goalId: 'to-cnc' });
  await until('the goal on the server', () => rcl.server(NAV).last);
  const g = rcl.sentGoals.find((s) => s.action === NAV)!.goal;
  t.equal(g.pose.header.frame_id, 'map');
  const sent = { x: g.pose.pose.position.x, y: g.pose.pose.position.y, theta: quaternionToYaw(g.pose.pose.orientation) };
  t.ok(near(sent, { x: 86.6, y: -4, theta: cnc.theta + Math.PI / 2 }), `cnc-1 in the map: ${JSON.stringify(sent)}`);
  await adapter.cancel('amr-3');
  await until('cancelled', () => adapter.activeGoals('amr-3').length === 0);

  const port = new Ros2Port(adapter, site.index);
  const work = port.prepare({
    missionId: 'm-1',
    step: { id: 'charge', action: 'navigate', device: 'amr-3', params: { to: 'charger-1' } },
    stepIndex: 0,
    attempt: 0,
    device: 'amr-3',
    route: { nodes: ['sa-1', 'ma-1', 'charger-1'] },
    ttlMs: 60_000,
  });
  await port.send(work);
  await until('the route on the server', () => rcl.server(THROUGH).last);
  const poses = (rcl.sentGoals.find((s) => s.action === THROUGH)!.goal.poses as any[]).map((p) => ({
    frame: p.header.frame_id,
    x: p.pose.position.x,
    y: p.pose.position.y,
    theta: quaternionToYaw(p.pose.orientation),
  }));
  t.same(poses.map((p) => p.frame), ['map', 'map']);
  // ma-1, site (4, 10), reached heading +y (π/2) → map (90, -16), facing π; charger-1, site (1.2, 8.5), the station's heading 3.1416 → map (91.5, -18.8).
  t.ok(near(poses[0], { x: 90, y: -16, theta: Math.PI }), JSON.stringify(poses[0]));
  t.ok(near(poses[1], toMap({ x: 1.2, y: 8.5, theta: 3.1416 })), JSON.stringify(poses[1]));
});

t.test('a zone-scoped STOP finds the robot by its map pose, carried into site coordinates', async (t) => {
  const { site, rcl, fleet, adapter } = await rig(t, { poseSource: 'amcl_pose' });
  const store = openStore(tempDirFor(t));
  t.teardown(() => store.db.open && store.close());
  const { vda5050, machine } = standInPorts(site);
  const ros2 = new Ros2Port(adapter, site.index);
  const service = new StopService({ store, site, fleet, hub: new EventHub(), ports: new DevicePorts(site.index, { vda5050, machine, ros2 }), confirmMs: 300, resendMs: 50 });
  t.teardown(() => service.close());

  // In the map, (96, 7.5) is far from the paint booth's polygon (x 25.8..29.8, y 1.2..7.5); in site coordinates it is booth-in, inside it.
  rcl.publish('/amr_3/amcl_pose', amclPose({ x: 96, y: 7.5, theta: Math.PI / 2 }));
  const { told } = await service.stop({ scope: 'zone:paint-booth', reason: 'someone in the booth', actor: 'viewer-1' });
  t.same(told.map((d) => [d.device, d.via]), [['amr-3', 'ros2']], 'amr-3, and only it, is in the zone');
  t.ok(rcl.cancelRequests.some((r) => r.service === `${NAV}/_action/cancel_goal`), 'its goals were cancelled over ROS 2');
  await service.release({ actor: 'op', ack: true });

  // sa-1, site (4, 4), is map (96, -16): outside the booth either way; not told.
  rcl.publish('/amr_3/amcl_pose', amclPose(toMap({ x: 4, y: 4, theta: 0 })));
  t.equal(fleet.get('amr-3')!.at, 'sa-1');
  const second = await service.stop({ scope: 'zone:paint-booth', reason: 'again', actor: 'viewer-1' });
  t.same(second.told, [], 'nothing in the zone');
});
