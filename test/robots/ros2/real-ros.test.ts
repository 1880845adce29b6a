// The ROS 2 adapter against real ROS 2 and the real rclnodejs: only where ROS 2 is sourced
// (ROS_DISTRO set), with rclnodejs installed and nav2_msgs available. A robot is played by an
// rclnodejs action server and odometry, TF and AMCL pose publishers in this process; goals,
// feedback, results, STOP, odometry and the map pose travel over DDS.
//
// Without ROS_DISTRO this file still checks something true: that the adapter, loading the real
// module, reports itself unavailable and says exactly what is missing.
import { existsSync } from 'node:fs';
import t from 'tap';
import { FleetRegistry } from '../../../robots/fleet-registry.ts';
import { Ros2Adapter } from '../../../robots/ros2/adapter.ts';
import { loadRclnodejs } from '../../../robots/ros2/binding.ts';
import { Ros2UnavailableError } from '../../../robots/ros2/errors.ts';
import { until } from '../../helpers/wait.ts';
import { ros2SiteIndex } from './ros2-site.ts';

/** Whether one of the SIGINT listeners is rclnodejs's (the one that calls its shutdownAll). */
const rclnodejsOnSigint = () => process.listeners('SIGINT').some((f) => /shutdownAll/.test(String(f)));

const installed = existsSync(new URL('../../../node_modules/rclnodejs/package.json', import.meta.url));

if (!process.env.ROS_DISTRO) {
  t.test('without ROS 2 sourced the adapter reports itself unavailable, naming what is missing', async (t) => {
    const site = ros2SiteIndex();
    const adapter = new Ros2Adapter({ site, fleet: new FleetRegistry(site) });
    const err = await adapter.start().catch((e: unknown) => e);
    t.ok(err instanceof Ros2UnavailableError, 'Ros2UnavailableError');
    const missing = (err as Ros2UnavailableError).missing;
    t.ok(missing.includes('ROS 2 is not sourced (ROS_DISTRO is unset; run: source /opt/ros/<distro>/setup.bash)'), 'ROS_DISTRO unset');
    if (!installed) t.match(missing[0], /^rclnodejs is not installed \(an optional dependency/, 'rclnodejs is not installed');
    t.throws(() => adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }), { code: 'NOT_STARTED' }, 'and takes no goals');
    await adapter.close();
  });
} else {
  t.test(`real ROS 2 (${process.env.ROS_DISTRO}): a goal succeeds with feedback, STOP cancels one, odometry reaches the fleet`, async (t) => {
    const rcl: any = await loadRclnodejs();
    // rclnodejs installs its SIGINT handler (it shuts every context down) when it is first loaded.
    t.ok(rclnodejsOnSigint(), "rclnodejs's SIGINT handler is there once it is loaded");
    const site = ros2SiteIndex();
    const fleet = new FleetRegistry(site);
    const adapter = new Ros2Adapter({ site, fleet, loadBinding: async () => rcl, nodeName: 'phygate_real_ros_test', serverTimeoutMs: 10_000, cancelTimeoutMs: 3_000 });
    t.teardown(() => adapter.close());
    await adapter.start();
    t.notOk(rclnodejsOnSigint(), 'the adapter took it away: the gateway shuts ROS 2 down itself');

    // The robot: a NavigateToPose server that finishes in 0.3 s unless cancelled, and odometry.
    const robot = rcl.createNode('phygate_test_robot');
    const NavigateToPose = rcl.require('nav2_msgs/action/NavigateToPose');
    let hold = false;
    new rcl.ActionServer(
      robot,
      'nav2_msgs/action/NavigateToPose',
      '/amr_3/navigate_to_pose',
      async (goal: any) => {
        goal.publishFeedback({ distance_remaining: 2.5 });
        const end = Date.now() + (hold ? 10_000 : 300);
        while (Date.now() < end && !goal.isCancelRequested) await new Promise((r) => setTimeout(r, 20));
        if (goal.isCancelRequested) goal.canceled();
        else goal.succeed();
        return new NavigateToPose.Result();
      },
      undefined,
      undefined,
      () => rcl.CancelResponse.ACCEPT,
    );
    const odom = robot.createPublisher('nav_msgs/msg/Odometry', '/amr_3/odom');
    robot.spin();
    const timer = setInterval(() => odom.publish({ header: { frame_id: 'map' }, pose: { pose: { position: { x: 4, y: 4, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } } } }), 50);
    t.teardown(() => clearInterval(timer));

    await until('amr-3 online from odometry', () => fleet.get('amr-3')?.online, 10_000);
    t.same(fleet.get('amr-3')!.pose, { x: 4, y: 4, theta: 0 });
    t.equal(fleet.get('amr-3')!.at, 'sa-1');

    const distances: number[] = [];
    const ok = adapter.navigate('amr-3', { x: 8, y: 4, theta: 0 }, { onProgress: (p) => p.distanceRemaining !== undefined && distances.push(p.distanceRemaining) });
    t.same(await ok.outcome, { status: 'succeeded' });
    t.ok(distances.length > 0 && Math.abs(distances[0]! - 2.5) < 1e-6, 'feedback arrived');

    hold = true;
    const held = adapter.navigate('amr-3', { x: 8, y: 4, theta: 0 });
    await new Promise((r) => setTimeout(r, 500));
    const [r] = await adapter.stopAll(['amr-3']);
    t.match(r, { device: 'amr-3', result: 'cancelled' });
    t.same(await held.outcome, { status: 'cancelled', reason: 'STOP' });
  });

  t.test(`real ROS 2 (${process.env.ROS_DISTRO}): the map pose from TF (tf_static latched) and from amcl_pose, through the map transform`, async (t) => {
    const rcl: any = await loadRclnodejs();
    // Site (x, y, θ) is map (100 − y, −20 + x, θ + π/2); charger-1, site (1.2, 8.5), is map (91.5, −18.8).
    const mapTransform = { x: 100, y: -20, theta: Math.PI / 2 };
    const yaw = (theta: number) => ({ x: 0, y: 0, z: Math.sin(theta / 2), w: Math.cos(theta / 2) });
    const link = (parent: string, child: string, x: number, y: number, theta: number, z = 0) => ({
      header: { stamp: { sec: 0, nanosec: 0 }, frame_id: parent },
      child_frame_id: child,
      transform: { translation: { x, y, z }, rotation: yaw(theta) },
    });
    for (const poseSource of ['tf', 'amcl_pose'] as const) {
      const site = ros2SiteIndex({ poseSource, mapTransform });
      const fleet = new FleetRegistry(site);
      const adapter = new Ros2Adapter({ site, fleet, loadBinding: async () => rcl, nodeName: `phygate_real_ros_pose_${poseSource}` });
      await adapter.start();
      const robot = rcl.createNode(`phygate_test_pose_robot_${poseSource}`);
      const Q = rcl.QoS;
      const latched = new Q(Q.HistoryPolicy.RMW_QOS_POLICY_HISTORY_KEEP_LAST, 1, Q.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_RELIABLE, Q.DurabilityPolicy.RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL);
      // Published once, possibly before the gateway's subscription is matched: only a latched subscription gets it.
      robot.createPublisher('tf2_msgs/msg/TFMessage', '/amr_3/tf_static', { qos: latched }).publish({ transforms: [link('base_footprint', 'base_link', 0, 0, 0, 0.1)] });
      robot
        .createPublisher('geometry_msgs/msg/PoseWithCovarianceStamped', '/amr_3/amcl_pose', { qos: latched })
        .publish({ header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'map' }, pose: { pose: { position: { x: 91.5, y: -18.8, z: 0 }, orientation: yaw(Math.PI / 2) } } });
      const tf = robot.createPublisher('tf2_msgs/msg/TFMessage', '/amr_3/tf');
      robot.spin();
      const timer = setInterval(() => tf.publish({ transforms: [link('map', 'odom', 90, -25, Math.PI / 2), link('odom', 'base_footprint', 6.2, -1.5, 0)] }), 50);
      try {
        await until(`amr-3 placed by ${poseSource}`, () => fleet.get('amr-3')?.at === 'charger-1', 10_000);
        const p = fleet.get('amr-3')!.pose!;
        t.ok(Math.abs(p.x - 1.2) < 1e-6 && Math.abs(p.y - 8.5) < 1e-6 && Math.abs(p.theta) < 1e-6, `${poseSource}: site pose ${JSON.stringify(p)}`);
      } finally {
        clearInterval(timer);
        robot.destroy();
        await adapter.close();
      }
    }
  });
}
