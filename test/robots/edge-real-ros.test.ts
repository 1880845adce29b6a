// `phygate edge` against real ROS 2 and the real rclnodejs: only where ROS 2 is sourced
// (ROS_DISTRO set) with rclnodejs installed. A bare base is played by an rclnodejs node in this
// process that subscribes to the edge's Twist on /amr_1/cmd_vel, integrates it with the motion
// model in real time and publishes nav_msgs/msg/Odometry on /amr_1/odom: commands and odometry
// travel over DDS. An order from the real master over a real Mosquitto is driven to its end.
//
// Without ROS_DISTRO this file still checks something true: the command refuses to start,
// saying exactly what is missing, after the policy and its certificate were accepted.
import { existsSync } from 'node:fs';
import t from 'tap';
import { runCli } from '../../gateway/cli/commands.ts';
import type { Amr } from '../../planners/site.ts';
import { startEdge } from '../../robots/edge/edge.ts';
import { startRos2Base, TWIST } from '../../robots/edge/ros2-base.ts';
import { stepAmr, type AmrState } from '../../robots/policy/kinematics.ts';
import { loadRclnodejs } from '../../robots/ros2/binding.ts';
import { ODOMETRY } from '../../robots/ros2/devices.ts';
import { yawToQuaternion } from '../../robots/ros2/poses.ts';
import { until } from '../helpers/wait.ts';
import { CERTIFIED, edgeMaster, edgeSite as site } from './edge-fixtures.ts';

const installed = existsSync(new URL('../../node_modules/rclnodejs/package.json', import.meta.url));

if (!process.env.ROS_DISTRO) {
  t.test('without ROS 2 sourced, phygate edge with a certified policy refuses to start, naming what is missing', async (t) => {
    // The shipped policy and its certificate: accepted as they are, no verification to run first.
    const { model, cert: goodCert } = CERTIFIED;
    const errors: string[] = [];
    const code = await runCli(['edge', '--site', site.dir, '--device', 'amr-1', '--policy', model, '--certificate', goodCert, '--broker', 'mqtt://127.0.0.1:1'], () => {}, (l) => errors.push(l));
    t.equal(code, 2, 'exit status 2');
    const said = errors.join('\n');
    t.match(said, /^edge refused: ROS 2 is unavailable: .*ROS 2 is not sourced \(ROS_DISTRO is unset; run: source \/opt\/ros\/<distro>\/setup\.bash\)/, 'ROS_DISTRO unset');
    if (!installed) t.match(said, /rclnodejs is not installed \(an optional dependency/, 'rclnodejs is not installed');
  });
  t.test('real ROS 2: an order driven over DDS', { skip: 'ROS_DISTRO is unset: source a ROS 2 distribution and install rclnodejs to run it' }, async () => {});
} else {
  t.test(`real ROS 2 (${process.env.ROS_DISTRO}): an order is driven over DDS, Twist out and odometry in`, async (t) => {
    const { model, cert: goodCert } = CERTIFIED;
    const rcl: any = await loadRclnodejs();
    const amr = site.index.device('amr-1') as Amr;
    const { broker, master, fleet, progress } = await edgeMaster(t);

    // The robot: Twist in, the motion model at 50 Hz in real time, Odometry out.
    const dock = site.index.node('dock-a')!;
    let state: AmrState = { x: dock.x, y: dock.y, theta: site.index.station('dock-a')!.theta, v: 0, omega: 0 };
    let command = { v: 0, omega: 0 };
    let twists = 0;
    let timer: NodeJS.Timeout | undefined;
    function startRobot(): void {
      const robot = rcl.createNode('phygate_edge_test_robot', '/amr_1');
      robot.createSubscription(TWIST, 'cmd_vel', {}, (m: any) => {
        twists++;
        command = { v: m.linear.x, omega: m.angular.z };
      });
      const odom = robot.createPublisher(ODOMETRY, 'odom');
      robot.spin();
      let last = performance.now();
      timer = setInterval(() => {
        const now = performance.now();
        state = stepAmr(state, command, amr.limits, (now - last) / 1000);
        last = now;
        odom.publish({
          header: { frame_id: 'odom' },
          child_frame_id: 'base_link',
          pose: { pose: { position: { x: state.x, y: state.y, z: 0 }, orientation: yawToQuaternion(state.theta) } },
          twist: { twist: { linear: { x: state.v, y: 0, z: 0 }, angular: { x: 0, y: 0, z: state.omega } } },
        });
      }, 20);
      t.teardown(() => clearInterval(timer));
    }

    const edge = await startEdge({
      site,
      deviceId: 'amr-1',
      brokerUrl: broker.url,
      policyFile: model,
      certificateFile: goodCert,
      // The robot's node shares the context the edge's base initialises; the edge waits for its odometry.
      startBase: async (now) => {
        const base = await startRos2Base({ namespace: '/amr_1', now, nodeName: 'phygate_edge_test', loadBinding: async () => rcl });
        startRobot();
        return base;
      },
    });
    t.teardown(() => edge.close());

    await until('amr-1 online at dock-a', () => fleet.get('amr-1')?.online === true && fleet.get('amr-1')?.at === 'dock-a', 20_000);
    await master.sendOrder('amr-1', { route: ['dock-a', 'sa-1'] });
    const done = await until('the order finished', () => progress.find((p) => p.finished || p.failed), 60_000);
    t.notOk(done.failed, 'not failed');
    t.equal(master.lastState('amr-1')?.lastNodeId, 'sa-1', 'its state says it reached sa-1');
    t.ok(twists > 0, `${twists} Twists arrived over DDS`);
    const end = site.index.node('sa-1')!;
    t.ok(Math.hypot(state.x - end.x, state.y - end.y) <= 0.1, 'the robot stands on sa-1');
  });
}
