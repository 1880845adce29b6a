// STOP over ROS 2, against the rclnodejs stand-in (NOT ROS 2): `stopAll` cancels every goal on
// the action servers of the devices in scope, the adapter's own and anyone else's, leaves the
// other devices alone, never throws, and says for each device what it could and could not do.
import t, { type Test } from 'tap';
import { FleetRegistry } from '../../../robots/fleet-registry.ts';
import { Ros2Adapter, type Ros2AdapterOptions } from '../../../robots/ros2/adapter.ts';
import { CANCEL_ALL_REQUEST } from '../../../robots/ros2/cancel-all.ts';
import { GOAL_STATUS } from '../../../robots/ros2/messages.ts';
import { until } from '../../helpers/wait.ts';
import { StandInRcl } from './rclnodejs-stand-in.ts';
import { ros2SiteIndex } from './ros2-site.ts';

const NAV = '/amr_3/navigate_to_pose';
const THROUGH = '/amr_3/navigate_through_poses';
const ARM = '/arm_1/joint_trajectory_controller/follow_joint_trajectory';

async function rig(t: Test, opts: Partial<Ros2AdapterOptions> = {}, start = true) {
  const site = ros2SiteIndex();
  const rcl = new StandInRcl();
  for (const name of [NAV, THROUGH, ARM]) rcl.server(name);
  const adapter = new Ros2Adapter({ site, fleet: new FleetRegistry(site), loadBinding: async () => rcl, serverTimeoutMs: 100, cancelTimeoutMs: 100, ...opts });
  t.teardown(() => adapter.close());
  if (start) await adapter.start();
  return { rcl, adapter };
}

t.test('STOP cancels the goals of the devices in scope only, its own and foreign ones, on every action server', async (t) => {
  const { rcl, adapter } = await rig(t);
  const nav = adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }, { goalId: 'mine' });
  const arm = adapter.followTrajectory('arm-1', [{ positions: [0, 0, 0], timeFromStartS: 1 }]);
  await until('both accepted', () => rcl.server(NAV).last && rcl.server(ARM).last);
  const foreign = rcl.server(THROUGH).foreignGoal();

  const results = await adapter.stopAll(['amr-3']);
  t.same(results, [{ device: 'amr-3', result: 'cancelled', goals: ['mine'] }]);
  t.same(
    rcl.cancelRequests.map((r) => r.service),
    [`${NAV}/_action/cancel_goal`, `${THROUGH}/_action/cancel_goal`],
    'both of amr-3’s action servers were asked',
  );
  t.same(rcl.cancelRequests[0]!.request, CANCEL_ALL_REQUEST);
  t.same(CANCEL_ALL_REQUEST.goal_info.goal_id.uuid, new Array(16).fill(0), 'a zero goal id: every goal');
  t.same(await nav.outcome, { status: 'cancelled', reason: 'STOP' });
  await until('the foreign goal cancelled', () => foreign.status === GOAL_STATUS.CANCELED);
  t.ok(rcl.server(ARM).last!.active, 'arm-1 was not in scope: its goal goes on');
  t.same(adapter.activeGoals(), [{ goalId: arm.goalId, device: 'arm-1' }]);

  // Only someone else's goal on the arm: still cancelled, and the device reported as such.
  rcl.server(ARM).last!.finish(GOAL_STATUS.SUCCEEDED);
  await arm.outcome;
  rcl.server(ARM).foreignGoal();
  t.same(await adapter.stopAll(['arm-1']), [{ device: 'arm-1', result: 'cancelled', goals: [] }]);
  t.same(await adapter.stopAll(), [
    { device: 'amr-3', result: 'idle', goals: [] },
    { device: 'arm-1', result: 'idle', goals: [] },
  ], 'nothing running anywhere: idle, every ROS 2 device by default');
});

t.test('a goal still waiting for its server is never sent after a STOP', async (t) => {
  const { rcl, adapter } = await rig(t, { serverTimeoutMs: 2_000 });
  rcl.server(NAV).available = false;
  rcl.server(THROUGH).available = false;
  const goal = adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }, { goalId: 'early' });
  const [r] = await adapter.stopAll(['amr-3']);
  t.match(r, { device: 'amr-3', result: 'failed', goals: ['early'], error: /no action server of amr-3 is running/ }, 'no server to tell: failed, and said so');
  t.same(await goal.outcome, { status: 'cancelled', reason: 'STOP (before it was sent)' });
  rcl.server(NAV).available = true;
  await new Promise((res) => setTimeout(res, 50));
  t.same(rcl.sentGoals, [], 'the server came up; the goal did not go out');
});

t.test('a goal on its way when STOP comes is cancelled as soon as the server accepts it', async (t) => {
  const { rcl, adapter } = await rig(t, { serverTimeoutMs: 2_000 });
  rcl.server(NAV).onGoal = 'ignore';
  const goal = adapter.navigate('amr-3', { x: 4, y: 4, theta: 0 }, { goalId: 'in-flight' });
  await until('requested', () => rcl.sentGoals.length > 0);
  const [r] = await adapter.stopAll(['amr-3']);
  t.same(r, { device: 'amr-3', result: 'cancelled', goals: ['in-flight'] }, 'the servers answered; ours was under way');
  rcl.server(NAV).acceptLate();
  t.same(await goal.outcome, { status: 'cancelled', reason: 'STOP' });
  t.equal(rcl.server(NAV).last!.cancelRequests, 1);
});

t.test('what a STOP cannot do is reported per device, never thrown', async (t) => {
  const { rcl, adapter } = await rig(t);
  rcl.server(ARM).onCancel = 'reject';
  rcl.server(NAV).onCancel = 'ignore';
  const results = await adapter.stopAll(['amr-3', 'arm-1', 'amr-1', 'ghost']);
  t.same(results, [
    { device: 'amr-3', result: 'unconfirmed', goals: [], error: 'no answer within 100 ms' },
    { device: 'arm-1', result: 'failed', goals: [], error: `${ARM} refused to cancel its goals` },
    { device: 'amr-1', result: 'failed', goals: [], error: "'amr-1' is not a device of this site driven over ROS 2" },
    { device: 'ghost', result: 'failed', goals: [], error: "'ghost' is not a device of this site driven over ROS 2" },
  ]);
  rcl.server(ARM).onCancel = 'throw';
  t.match(await adapter.stopAll(['arm-1']), [{ result: 'failed', error: `cancelling on ${ARM} failed: the cancel request could not be sent` }]);
  // One of two servers missing is fine: the one that is there answered.
  rcl.server(THROUGH).available = false;
  rcl.server(NAV).onCancel = 'accept';
  t.same(await adapter.stopAll(['amr-3']), [{ device: 'amr-3', result: 'idle', goals: [] }]);

  const idle = await rig(t, {}, false);
  t.same(await idle.adapter.stopAll(['amr-3']), [{ device: 'amr-3', result: 'failed', goals: [], error: 'the ROS 2 adapter is not started: nothing was sent' }]);
  await idle.adapter.close();
  t.match(await idle.adapter.stopAll(['amr-3']), [{ result: 'failed', error: /is closed/ }]);
});
