// The ROS 2 adapter's logic, against the rclnodejs stand-in (NOT ROS 2; see
// rclnodejs-stand-in.ts): which goals it sends for a navigate or a trajectory, how it turns
// results and feedback into outcomes and progress, what it cancels on cancel and on STOP, how
// odometry and battery reach the fleet registry, and how it starts and closes.
import t, { type Test } from 'tap';
import { FleetRegistry } from '../../../robots/fleet-registry.ts';
import { Ros2Adapter, type Ros2AdapterOptions } from '../../../robots/ros2/adapter.ts';
import { GoalActiveError, InvalidGoalError, NotRos2DeviceError, Ros2NotStartedError, Ros2UnavailableError } from '../../../robots/ros2/errors.ts';
import { GOAL_STATUS } from '../../../robots/ros2/messages.ts';
import { yawToQuaternion } from '../../../robots/ros2/poses.ts';
import { until } from '../../helpers/wait.ts';
import { StandInRcl } from './rclnodejs-stand-in.ts';
import { ARM_JOINTS, ros2SiteIndex } from './ros2-site.ts';
import { recordingLog, type LogLine } from '../../helpers/log.ts';

const NAV = '/amr_3/navigate_to_pose';
const THROUGH = '/amr_3/navigate_through_poses';
const ARM = '/arm_1/joint_trajectory_controller/follow_joint_trajectory';

interface Rig {
  rcl: StandInRcl;
  fleet: FleetRegistry;
  adapter: Ros2Adapter;
  logs: LogLine[];
}

async function rig(t: Test, opts: Partial<Ros2AdapterOptions> = {}, start = true): Promise<Rig> {
  const site = ros2SiteIndex();
  const rcl = new StandInRcl();
  for (const name of [NAV, THROUGH, ARM]) rcl.server(name);
  const fleet = new FleetRegistry(site);
  const logs: Rig['logs'] = [];
  const adapter = new Ros2Adapter({
    site,
    fleet,
    loadBinding: async () => rcl,
    log: recordingLog(logs),
    serverTimeoutMs: 100,
    cancelTimeoutMs: 100,
    rosDistro: 'jazzy',
    ...opts,
  });
  t.teardown(() => adapter.close());
  if (start) await adapter.start();
  return { rcl, fleet, adapter, logs };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

t.test('start: one node, an action client and a cancel service per action, the subscriptions, spinning', async (t) => {
  const { rcl, adapter } = await rig(t);
  t.equal(rcl.inits, 1);
  t.equal(rcl.node.name, 'phygate_demo');
  t.ok(rcl.node.spinning, 'spinning');
  t.same(adapter.deviceIds(), ['amr-3', 'arm-1'], 'only the devices with a ros2 block');
  t.same(
    rcl.actionClients.map((c) => [c.typeClass, c.actionName]),
    [
      ['nav2_msgs/action/NavigateToPose', NAV],
      ['nav2_msgs/action/NavigateThroughPoses', THROUGH],
      ['control_msgs/action/FollowJointTrajectory', ARM],
    ],
  );
  t.same(
    rcl.node.subscriptions.map((s) => [s.type, s.topic, s.options]),
    [
      ['nav_msgs/msg/Odometry', '/amr_3/odom', { qos: 'qos_profile_sensor_data' }],
      ['sensor_msgs/msg/BatteryState', '/amr_3/battery_state', { qos: 'qos_profile_sensor_data' }],
      ['sensor_msgs/msg/JointState', '/arm_1/joint_states', { qos: 'qos_profile_sensor_data' }],
    ],
  );
  await adapter.start();
  t.equal(rcl.inits, 1, 'a second start() changes nothing');
});

t.test('navigate sends NavigateToPose in the map frame, reports feedback as progress and succeeds', async (t) => {
  const { rcl, adapter, fleet } = await rig(t);
  rcl.publish('/amr_3/odom', { header: { frame_id: 'map' }, pose: { pose: { position: { x: 1.2, y: 8.5 }, orientation: yawToQuaternion(0) } } });
  const progress: unknown[] = [];
  const goal = adapter.navigate('amr-3', { x: 16, y: 13.4, theta: Math.PI / 2 }, { goalId: 'step-fetch', onProgress: (p) => progress.push(p) });
  t.equal(goal.goalId, 'step-fetch');
  t.equal(fleet.get('amr-3')?.state, 'driving', 'driving while the goal runs');
  await until('the goal reaches the server', () => rcl.server(NAV).last);
  const sent = rcl.sentGoals[0]!;
  t.equal(sent.action, NAV);
  t.equal(sent.goal.pose.header.frame_id, 'map');
  t.same(sent.goal.pose.pose.position, { x: 16, y: 13.4, z: 0 });
  const q = sent.goal.pose.pose.orientation;
  t.ok(Math.abs(q.z - Math.SQRT1_2) < 1e-9 && Math.abs(q.w - Math.SQRT1_2) < 1e-9 && q.x === 0 && q.y === 0, 'a quarter turn about z');
  t.equal(sent.goal.behavior_tree, '');
  t.same(adapter.activeGoals(), [{ goalId: 'step-fetch', device: 'amr-3' }]);

  const server = rcl.server(NAV).last!;
  server.feedback({ distance_remaining: 12.5, estimated_time_remaining: { sec: 14, nanosec: 500_000_000 }, number_of_recoveries: 1 });
  t.same(progress, [{ goalId: 'step-fetch', device: 'amr-3', distanceRemaining: 12.5, etaS: 14.5, recoveries: 1 }]);
  server.finish(GOAL_STATUS.SUCCEEDED, { error_code: 0, error_msg: '' });
  t.same(await goal.outcome, { status: 'succeeded' });
  t.same(adapter.activeGoals(), []);
  t.equal(fleet.get('amr-3')?.state, 'idle', 'idle once the goal ended');
});

t.test('results are mapped to outcomes, from both result shapes of rclnodejs', async (t) => {
  for (const shape of ['result', 'response'] as const) {
    const { rcl, adapter } = await rig(t);
    rcl.resultShape = shape;
    const run = async (status: number, result: object) => {
      const goal = adapter.followTrajectory('arm-1', [{ positions: [0, 0.5, 1], timeFromStartS: 2 }]);
      const g = await until('accepted', () => rcl.server(ARM).goals.find((x) => x.active));
      g.finish(status, result);
      return goal.outcome;
    };
    t.same(await run(GOAL_STATUS.SUCCEEDED, { error_code: 0, error_string: '' }), { status: 'succeeded' }, `${shape}: succeeded`);
    t.same(await run(GOAL_STATUS.ABORTED, { error_code: -4, error_string: 'path tolerance violated' }), { status: 'failed', reason: `'${ARM}' aborted the goal: error code -4: path tolerance violated` }, `${shape}: aborted`);
    t.same(await run(GOAL_STATUS.CANCELED, {}), { status: 'cancelled', reason: 'cancelled on the robot' }, `${shape}: cancelled by someone else`);
    t.match(await run(GOAL_STATUS.SUCCEEDED, { error_code: -5, error_string: 'goal tolerance violated' }), { status: 'failed', reason: /succeeded but with error code -5: goal tolerance violated/ }, `${shape}: a success with an error code is a failure`);
    t.match(await run(GOAL_STATUS.EXECUTING, {}), { status: 'failed', reason: /status 2, which is not a final one/ }, `${shape}: not a final status`);
  }
});

t.test('a rejected goal fails, and so does a failing result request', async (t) => {
  const { rcl, adapter } = await rig(t);
  rcl.server(NAV).onGoal = 'reject';
  t.same(await adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }).outcome, { status: 'failed', reason: `'${NAV}' rejected the goal` });
  rcl.server(NAV).onGoal = 'accept';
  const goal = adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 });
  const g = await until('accepted', () => rcl.server(NAV).last);
  g.fail(new Error('rcl_action_take_result failed'));
  t.same(await goal.outcome, { status: 'failed', reason: `'${NAV}': rcl_action_take_result failed` });
});

t.test('no action server: the goal fails after serverTimeoutMs with a clear reason and is never sent', async (t) => {
  const { rcl, adapter } = await rig(t);
  rcl.server(NAV).available = false;
  const started = Date.now();
  const outcome = await adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }).outcome;
  t.same(outcome, { status: 'failed', reason: `no action server '${NAV}' (nav2_msgs/action/NavigateToPose) answered within 0.1 s: is it running for amr-3?` });
  t.ok(Date.now() - started >= 90, 'after the timeout');
  t.same(rcl.sentGoals, [], 'nothing sent');
});

t.test('a server that never answers the goal request: failed after the timeout, and cancelled if it accepts later', async (t) => {
  const { rcl, adapter } = await rig(t);
  rcl.server(NAV).onGoal = 'ignore';
  const goal = adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 });
  t.same(await goal.outcome, { status: 'failed', reason: `'${NAV}' did not accept or reject the goal within 0.1 s` });
  t.same(adapter.activeGoals(), [], 'no longer counted as running');
  rcl.server(NAV).acceptLate();
  const late = await until('the late goal', () => rcl.server(NAV).last);
  await until('cancelled at once', () => late.status === GOAL_STATUS.CANCELED);
  t.equal(late.cancelRequests, 1, 'the robot is never left running a goal reported failed');
});

t.test('one goal per device; wrong devices, bad goals and a stopped adapter are refused at once', async (t) => {
  const { rcl, adapter } = await rig(t);
  const first = adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }, { goalId: 'g1' });
  t.throws(() => adapter.navigate('amr-3', { x: 8, y: 4, theta: 0 }), GoalActiveError);
  t.throws(() => adapter.followTrajectory('arm-1', [{ positions: [0, 0, 0], timeFromStartS: 1 }], { goalId: 'g1' }), { code: 'GOAL_ACTIVE', message: "amr-3 is still working on goal 'g1'; cancel it first" });
  t.throws(() => adapter.navigate('amr-1', { x: 4, y: 4, theta: 0 }), NotRos2DeviceError, 'amr-1 speaks VDA 5050');
  t.throws(() => adapter.navigate('arm-1', { x: 4, y: 4, theta: 0 }), { code: 'NOT_ROS2_DEVICE', message: /'arm-1' is not an AMR of this site driven over ROS 2/ });
  t.throws(() => adapter.followTrajectory('amr-3', []), { message: /not an arm/ });
  t.throws(() => adapter.navigate('nope', { x: 0, y: 0, theta: 0 }), { message: /'nope' is not an AMR of this site/ });
  t.throws(() => adapter.navigateThrough('amr-3', []), InvalidGoalError);
  t.throws(() => adapter.navigate('amr-3', { x: NaN, y: 0, theta: 0 }), InvalidGoalError);
  t.throws(() => adapter.followTrajectory('arm-1', []), { code: 'INVALID_GOAL', message: /at least one point/ });
  t.throws(() => adapter.followTrajectory('arm-1', [{ positions: [0, 0], timeFromStartS: 1 }]), { message: /2 positions; arm-1 has 3 joints \(shoulder_pan_joint/ });
  t.throws(() => adapter.followTrajectory('arm-1', [{ positions: [0, 0, 0], velocities: [0], timeFromStartS: 1 }]), { message: /1 velocities for 3 joints/ });
  t.throws(() => adapter.followTrajectory('arm-1', [{ positions: [0, Infinity, 0], timeFromStartS: 1 }]), { message: /not a finite number/ });
  t.throws(() => adapter.followTrajectory('arm-1', [{ positions: [0, 0, 0], timeFromStartS: 2 }, { positions: [1, 1, 1], timeFromStartS: 2 }]), { message: /point 1: timeFromStartS must rise/ });
  await until('accepted', () => rcl.server(NAV).last);
  rcl.server(NAV).last!.finish(GOAL_STATUS.SUCCEEDED);
  await first.outcome;
  const second = adapter.navigate('amr-3', { x: 8, y: 4, theta: 0 });
  t.ok(second.goalId.startsWith('amr-3-'), 'a made-up goal id when none is given');

  const idle = await rig(t, {}, false);
  t.throws(() => idle.adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }), Ros2NotStartedError);
});

t.test('navigateThrough: the goal shape of the ROS distribution, and poses remaining as progress', async (t) => {
  const poses = [
    { x: 4, y: 10, theta: Math.PI / 2 },
    { x: 8, y: 10, theta: 0 },
  ];
  const jazzy = await rig(t, { rosDistro: 'jazzy' });
  const progress: unknown[] = [];
  const goal = jazzy.adapter.navigateThrough('amr-3', poses, { onProgress: (p) => progress.push(p) });
  const g = await until('accepted', () => jazzy.rcl.server(THROUGH).last);
  t.equal(jazzy.rcl.sentGoals[0]!.action, THROUGH);
  const sent = jazzy.rcl.sentGoals[0]!.goal;
  t.ok(Array.isArray(sent.poses), 'Jazzy: a PoseStamped[]');
  t.same(sent.poses.map((p: any) => [p.header.frame_id, p.pose.position.x, p.pose.position.y]), [
    ['map', 4, 10],
    ['map', 8, 10],
  ]);
  jazzy.rcl.feedbackShape = 'message';
  g.feedback({ distance_remaining: 6, number_of_poses_remaining: 2 });
  t.same(progress, [{ goalId: goal.goalId, device: 'amr-3', distanceRemaining: 6, posesRemaining: 2 }], 'older rclnodejs hands over the FeedbackMessage: unwrapped');
  g.finish(GOAL_STATUS.SUCCEEDED);
  t.same(await goal.outcome, { status: 'succeeded' });

  const kilted = await rig(t, { rosDistro: 'kilted' });
  kilted.adapter.navigateThrough('amr-3', poses);
  await until('sent', () => kilted.rcl.sentGoals[0]);
  const k = kilted.rcl.sentGoals[0]!.goal;
  t.equal(k.poses.header.frame_id, 'map', 'Kilted: a nav_msgs/Goals');
  t.equal(k.poses.goals.length, 2);
});

t.test('followTrajectory sends the joint names and points, with the share of the time done as progress', async (t) => {
  const { rcl, adapter, fleet } = await rig(t);
  rcl.publish('/arm_1/joint_states', { name: ARM_JOINTS, position: [0, 0, 0] });
  const progress: number[] = [];
  const goal = adapter.followTrajectory(
    'arm-1',
    [
      { positions: [0.1, 0.2, 0.3], timeFromStartS: 1.5 },
      { positions: [0.4, 0.5, 0.6], velocities: [0, 0, 0], timeFromStartS: 4 },
    ],
    { goalId: 'cmd-7', onProgress: (p) => progress.push(p.fraction!) },
  );
  t.equal(fleet.get('arm-1')?.state, 'running');
  const g = await until('accepted', () => rcl.server(ARM).last);
  const tr = rcl.sentGoals[0]!.goal.trajectory;
  t.same(tr.joint_names, ARM_JOINTS);
  t.same(tr.points[0], { positions: [0.1, 0.2, 0.3], velocities: [], accelerations: [], effort: [], time_from_start: { sec: 1, nanosec: 500_000_000 } });
  t.same(tr.points[1].time_from_start, { sec: 4, nanosec: 0 });
  g.feedback({ desired: { time_from_start: { sec: 1, nanosec: 0 } } });
  g.feedback({ desired: { time_from_start: { sec: 3, nanosec: 0 } } });
  t.same(progress, [0.25, 0.75]);
  g.finish(GOAL_STATUS.SUCCEEDED, { error_code: 0, error_string: '' });
  t.same(await goal.outcome, { status: 'succeeded' });
  t.equal(fleet.get('arm-1')?.state, 'idle');
});

t.test('cancel(device) cancels that device’s goals only; a handle cancels its own', async (t) => {
  const { rcl, adapter } = await rig(t);
  const nav = adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }, { goalId: 'nav' });
  const arm = adapter.followTrajectory('arm-1', [{ positions: [0, 0, 0], timeFromStartS: 1 }], { goalId: 'arm' });
  await until('both accepted', () => rcl.server(NAV).last && rcl.server(ARM).last);
  t.same(await adapter.cancel('amr-3'), [{ goalId: 'nav', result: 'cancelling' }]);
  t.same(await nav.outcome, { status: 'cancelled', reason: 'cancelled by phygate' });
  t.ok(rcl.server(ARM).last!.active, 'the arm goes on');
  t.same(await adapter.cancel('amr-3'), [], 'nothing left to cancel');
  t.equal(await arm.cancel(), 'cancelling');
  t.same(await arm.outcome, { status: 'cancelled', reason: 'cancelled by phygate' });
  await t.rejects(adapter.cancel('cnc-1'), NotRos2DeviceError);

  // A server that refuses the cancel, one whose link fails, one that does not answer: each
  // reported, and a later cancel asks again.
  const n2 = adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }, { goalId: 'n2' });
  const g = await until('accepted', () => rcl.server(NAV).goals.find((x) => x.active));
  rcl.server(NAV).onCancel = 'reject';
  t.same(await adapter.cancel('amr-3'), [{ goalId: 'n2', result: 'rejected' }]);
  rcl.server(NAV).onCancel = 'throw';
  t.same(await adapter.cancel('amr-3'), [{ goalId: 'n2', result: 'failed', error: 'the cancel request could not be sent' }]);
  rcl.server(NAV).onCancel = 'ignore';
  t.same(await adapter.cancel('amr-3'), [{ goalId: 'n2', result: 'unconfirmed' }]);
  g.finish(GOAL_STATUS.SUCCEEDED);
  t.same(await n2.outcome, { status: 'succeeded' }, 'what the robot did meanwhile is the outcome');
});

t.test('a NavigateThroughPoses goal may take over from the one under way (preempts): the next extension of a route; any other second goal is still refused', async (t) => {
  const { rcl, adapter } = await rig(t);
  const through = '/amr_3/navigate_through_poses';
  rcl.server(through);
  const a = adapter.navigateThrough('amr-3', [{ x: 4, y: 4, theta: 0 }], { goalId: 'route.u0' });
  const b = adapter.navigateThrough('amr-3', [{ x: 8, y: 4, theta: 0 }], { goalId: 'route.u1', preempts: a.goalId });
  const c = adapter.navigateThrough('amr-3', [{ x: 13, y: 4, theta: 0 }], { goalId: 'route.u2', preempts: b.goalId });
  t.throws(() => adapter.navigateThrough('amr-3', [{ x: 15, y: 4, theta: 0 }], { goalId: 'other' }), GoalActiveError, 'a goal that takes over from nothing is refused while one is under way');
  t.throws(() => adapter.navigateThrough('amr-3', [{ x: 15, y: 4, theta: 0 }], { goalId: 'late', preempts: a.goalId }), GoalActiveError, 'taking over from an old goal does not step round the newest');
  await until('three goals on the server', () => rcl.server(through).goals.length === 3);
  rcl.server(through).last!.finish(GOAL_STATUS.SUCCEEDED);
  t.same(await c.outcome, { status: 'succeeded' });
});

t.test('domainId: the node lives on a context of that ROS domain; goals reach only that domain, and close shuts only it down', async (t) => {
  const site = ros2SiteIndex();
  const rcl = new StandInRcl();
  const floor = rcl.server(NAV);
  const rehearsal = rcl.server(NAV, 42);
  const adapter = new Ros2Adapter({ site, fleet: new FleetRegistry(site), loadBinding: async () => rcl, serverTimeoutMs: 100, cancelTimeoutMs: 100, rosDistro: 'jazzy', domainId: 42 });
  t.teardown(() => adapter.close());
  await adapter.start();
  t.equal(rcl.contexts.length, 1, 'one context');
  t.equal(rcl.contexts[0]!.domainId, 42);
  t.ok(rcl.contexts[0]!.initialised, 'initialised by init(context)');
  t.equal(rcl.node.domainId, 42, 'the node is on it');
  const goal = adapter.navigate('amr-3', { x: 5, y: 8, theta: 0 });
  await until('the goal on the domain-42 server', () => rehearsal.last);
  t.equal(floor.goals.length, 0, "nothing reached the environment's domain");
  rehearsal.last!.finish(GOAL_STATUS.SUCCEEDED);
  t.match(await goal.outcome, { status: 'succeeded' });
  const odom = { pose: { pose: { position: { x: 1, y: 1, z: 0 }, orientation: yawToQuaternion(0) } }, twist: { twist: { linear: { x: 0 }, angular: { z: 0 } } } };
  t.equal(rcl.publish('/amr_3/odom', odom), 0, "an odometry message of the environment's domain reaches no subscription");
  t.equal(rcl.publish('/amr_3/odom', odom, 42), 1, "one of domain 42 reaches the adapter's");
  await adapter.close();
  t.ok(rcl.contexts[0]!.shutDown, 'its context is shut down');
  t.equal(rcl.shutdowns, 0, "the default context is left alone (the floor's adapter may use it)");
});

t.test('domainId with an rclnodejs that has no Context class: refused, saying why', async (t) => {
  const site = ros2SiteIndex();
  const rcl = new StandInRcl();
  (rcl as { Context?: unknown }).Context = undefined;
  const adapter = new Ros2Adapter({ site, fleet: new FleetRegistry(site), loadBinding: async () => rcl, domainId: 7 });
  t.teardown(() => adapter.close());
  await t.rejects(adapter.start(), Ros2UnavailableError);
  await t.rejects(adapter.start(), /no Context class, so ROS domain 7 cannot be kept apart/);
});
