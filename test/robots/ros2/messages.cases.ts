// Poses, durations and the messages read from and sent to ROS 2, and the site's ROS 2 names.
import t from 'tap';
import { ros2Devices, resolveName } from '../../../robots/ros2/devices.ts';
import { fromDuration, readBattery, readOdometry, toDuration } from '../../../robots/ros2/messages.ts';
import { poseOf, quaternionToYaw, routePoses, yawToQuaternion } from '../../../robots/ros2/poses.ts';
import { outcomeOf, progressOf } from '../../../robots/ros2/goal.ts';
import { ros2SiteIndex } from './ros2-site.ts';

const site = ros2SiteIndex();
const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;

t.test('yaw ↔ quaternion, for every quadrant and for a quaternion that is not normalised', async (t) => {
  for (const yaw of [0, 0.3, Math.PI / 2, 2.9, -0.7, -Math.PI / 2, -3.1]) {
    t.ok(close(quaternionToYaw(yawToQuaternion(yaw)), yaw), `yaw ${yaw}`);
  }
  const q = yawToQuaternion(1.2);
  t.ok(close(quaternionToYaw({ x: q.x * 3, y: q.y * 3, z: q.z * 3, w: q.w * 3 }), 1.2), 'scale does not matter');
  t.ok(close(quaternionToYaw(yawToQuaternion(Math.PI)), Math.PI));
});

t.test('poseOf: a station stands on its node with its heading; a node has heading 0', async (t) => {
  t.same(poseOf(site, 'cnc-1'), { x: 16, y: 13.4, theta: 1.5708 });
  t.same(poseOf(site, 'charger-1'), { x: 1.2, y: 8.5, theta: 3.1416 });
  t.same(poseOf(site, 'ma-3'), { x: 15, y: 10, theta: 0 });
  t.throws(() => poseOf(site, 'dock-z'), { code: 'UNKNOWN_LOCATION', message: "'dock-z' is neither a station nor a node of this site" });
});

t.test('routePoses: one pose per node after the start, facing the way it was reached, the last turned as asked', async (t) => {
  const poses = routePoses(site, ['sa-4', 'ma-3', 'na-3', 'cnc-1'], 1.5708);
  t.same(poses.map((p) => [p.x, p.y]), [
    [15, 10],
    [16, 12],
    [16, 13.4],
  ]);
  t.ok(close(poses[0]!.theta, Math.PI / 2), 'north');
  t.ok(close(poses[1]!.theta, Math.atan2(2, 1)));
  t.equal(poses[2]!.theta, 1.5708);
  t.same(routePoses(site, ['sa-1']), []);
  t.same(routePoses(site, ['sa-1', 'sa-2']).map((p) => p.theta), [0], 'no final heading asked: the way it drove');
  t.throws(() => routePoses(site, ['sa-1', 'nowhere']), { code: 'UNKNOWN_LOCATION' });
});

t.test('durations', async (t) => {
  t.same(toDuration(1.5), { sec: 1, nanosec: 500_000_000 });
  t.same(toDuration(2), { sec: 2, nanosec: 0 });
  t.same(toDuration(0.9999999999), { sec: 1, nanosec: 0 }, 'rounding never leaves nanosec at 1e9');
  t.equal(fromDuration({ sec: 3, nanosec: 250_000_000 }), 3.25);
  t.equal(fromDuration(undefined), undefined);
  t.equal(fromDuration({ sec: 1 }), undefined);
});

t.test('reading odometry and battery state', async (t) => {
  const r = readOdometry({ header: { frame_id: '' }, pose: { pose: { position: { x: 1, y: 2 }, orientation: { x: 0, y: 0, z: 0, w: 1 } } } })!;
  t.same(r, { pose: { x: 1, y: 2, theta: 0 }, frame: undefined, speed: undefined });
  t.equal(readOdometry({ pose: { pose: { position: { x: 1, y: 2 }, orientation: { x: 0, y: 0, z: 0, w: 1 } } }, twist: { twist: { linear: { x: 3, y: 4 } } } })!.speed, 5);
  t.equal(readOdometry({}), undefined);
  t.equal(readOdometry(null), undefined);
  t.same(readBattery({ percentage: 0.5, power_supply_status: 1 }), { soc: 0.5, charging: true });
  t.same(readBattery({ percentage: -0.2 }), { soc: 0, charging: false });
  t.same(readBattery({ percentage: NaN }), { soc: undefined, charging: false });
  t.same(readBattery(undefined), { soc: undefined, charging: false });
});

t.test('outcomes and progress read defensively', async (t) => {
  const action = { type: 'nav2_msgs/action/NavigateToPose', name: '/a/navigate_to_pose' } as const;
  t.same(outcomeOf(action, { result: {} }, 4), { status: 'succeeded' }, 'Humble: an Empty result');
  t.same(outcomeOf(action, undefined, 6), { status: 'failed', reason: "'/a/navigate_to_pose' aborted the goal" });
  t.same(outcomeOf(action, { error_code: 104, error_msg: '' }, 6), { status: 'failed', reason: "'/a/navigate_to_pose' aborted the goal: error code 104" });
  t.same(outcomeOf(action, { error_code: 0, error_msg: 'preempted' }, 5), { status: 'cancelled', reason: 'cancelled on the robot (preempted)' });
  t.same(outcomeOf(action, {}, 5, 'STOP'), { status: 'cancelled', reason: 'STOP' });
  t.same(progressOf(undefined), {});
  t.same(progressOf({ distance_remaining: NaN }), {}, 'not a number: left out');
  t.same(progressOf({ desired: { time_from_start: { sec: 9, nanosec: 0 } } }, 4), { fraction: 1 }, 'clamped');
});

t.test('ROS 2 names: relative ones under the namespace, absolute ones as written', async (t) => {
  t.equal(resolveName('/amr_1', 'odom'), '/amr_1/odom');
  t.equal(resolveName('/amr_1', '/odom'), '/odom');
  t.equal(resolveName('/', 'navigate_to_pose'), '/navigate_to_pose');
  t.match(ros2Devices(site), [
    { id: 'amr-3', kind: 'amr', frame: 'map', navigate: { name: '/amr_3/navigate_to_pose' }, navigateThrough: { name: '/amr_3/navigate_through_poses' } },
    { id: 'arm-1', kind: 'arm', joints: ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint'], trajectory: { name: '/arm_1/joint_trajectory_controller/follow_joint_trajectory' } },
  ]);
});
