// The edge's localised pose (robots/edge/ros2-base.ts, `localization`): a localizer on the robot
// publishes where the odometry frame lies in the map on TF, and each odometry pose is carried
// through it. Played with the rclnodejs stand-in (test/robots/ros2/rclnodejs-stand-in.ts): what a
// ROS 2 robot would publish on its topics, delivered to the edge's subscriptions.
import t from 'tap';
import { odometryFrame, readBaseOdometry, startRos2Base } from '../../robots/edge/ros2-base.ts';
import { yawToQuaternion } from '../../robots/ros2/poses.ts';
import { StandInRcl } from './ros2/rclnodejs-stand-in.ts';

const NS = '/amr_1';
const odometry = (x: number, y: number, theta: number, frame = 'odom') => ({
  header: { frame_id: frame },
  pose: { pose: { position: { x, y, z: 0 }, orientation: yawToQuaternion(theta) } },
  twist: { twist: { linear: { x: 0.3, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } } },
});
const tfMessage = (parent: string, child: string, x: number, y: number, yaw: number) => ({
  transforms: [{ header: { frame_id: parent }, child_frame_id: child, transform: { translation: { x, y, z: 0 }, rotation: yawToQuaternion(yaw) } }],
});
const round = (p: { x: number; y: number; theta: number } | undefined) => p && { x: +p.x.toFixed(6), y: +p.y.toFixed(6), theta: +p.theta.toFixed(6) };

t.test('with a map frame: no pose until the localizer says where odom lies in the map, then each odometry pose is carried into it', async (t) => {
  const rcl = new StandInRcl();
  const warnings: string[] = [];
  const base = await startRos2Base({ namespace: NS, now: () => 0, loadBinding: async () => rcl, localization: { mapFrame: 'map' }, warn: (l) => warnings.push(l) });
  t.teardown(() => base.close());

  rcl.publish(`${NS}/odom`, odometry(1, 0, 0));
  t.equal(base.odometry(), undefined, 'odometry alone gives no pose: the robot is not driven');
  rcl.publish(`${NS}/odom`, odometry(1, 0, 0));
  t.same(warnings, ["no transform from 'map' to 'odom' on TF yet: the robot has no map pose and is not driven until its localizer publishes one"], 'said once, not per message');

  // AMCL: odom lies 2 m along x and 1 m along y in the map, turned a quarter left.
  rcl.publish(`${NS}/tf`, tfMessage('map', 'odom', 2, 1, Math.PI / 2));
  rcl.publish(`${NS}/odom`, odometry(1, 0, 0));
  t.same(round(base.odometry()), { x: 2, y: 2, theta: +(Math.PI / 2).toFixed(6) }, '1 m ahead in odom is 1 m up the map from (2, 1), facing up');
  t.equal(base.odometry()?.v, 0.3, 'the speed is the odometry twist');

  // The localizer corrects for drift: the same odometry pose lands where the map says.
  rcl.publish(`${NS}/tf`, tfMessage('map', 'odom', 2.5, 1, Math.PI / 2));
  rcl.publish(`${NS}/odom`, odometry(1, 0, 0));
  t.same(round(base.odometry()), { x: 2.5, y: 2, theta: +(Math.PI / 2).toFixed(6) }, 'the new correction moves the pose, not the odometry');

  // A chain through a static frame works too (map → world_fix → odom on tf_static and tf).
  const chained = await startRos2Base({ namespace: '/amr_2', now: () => 0, loadBinding: async () => rcl, localization: { mapFrame: 'map' }, nodeName: 'edge_2' });
  t.teardown(() => chained.close());
  rcl.publish('/amr_2/tf_static', tfMessage('map', 'world_fix', 10, 0, 0));
  rcl.publish('/amr_2/tf', tfMessage('world_fix', 'odom', 0, 5, 0));
  rcl.publish('/amr_2/odom', odometry(1, 1, 0.5));
  t.same(round(chained.odometry()), { x: 11, y: 6, theta: 0.5 }, 'the whole chain from the map to odom');
});

t.test('without a map frame the odometry pose is the map pose, as before; the frame read from the header', async (t) => {
  const rcl = new StandInRcl();
  const base = await startRos2Base({ namespace: NS, now: () => 7, loadBinding: async () => rcl });
  t.teardown(() => base.close());
  rcl.publish(`${NS}/tf`, tfMessage('map', 'odom', 2, 1, Math.PI / 2));
  rcl.publish(`${NS}/odom`, odometry(1, 0, 0));
  t.same(round(base.odometry()), { x: 1, y: 0, theta: 0 }, 'TF is not read');
  t.equal(base.odometry()?.at, 7);
  t.equal(odometryFrame({ header: { frame_id: '/odom_combined' } }), 'odom_combined', "the header's frame, without ROS 1's slash");
  t.equal(odometryFrame({ header: { frame_id: '' } }), 'odom', 'odom when empty');
  t.equal(readBaseOdometry({ pose: {} }, { x: 0, y: 0, theta: 0 }, 0), undefined, 'a malformed message gives nothing');
});
