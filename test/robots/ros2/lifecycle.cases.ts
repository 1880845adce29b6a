// Starting and closing the ROS 2 adapter, against the rclnodejs stand-in (NOT ROS 2): an
// unavailable ROS 2 is a clear error, a start that fails half-way leaves nothing behind, close()
// ends every goal, destroys the node, shuts rclnodejs down and can be called again.
import t from 'tap';
import { FleetRegistry } from '../../../robots/fleet-registry.ts';
import { Ros2Adapter } from '../../../robots/ros2/adapter.ts';
import { Ros2NotStartedError, Ros2UnavailableError } from '../../../robots/ros2/errors.ts';
import { GOAL_STATUS } from '../../../robots/ros2/messages.ts';
import { until } from '../../helpers/wait.ts';
import { StandInRcl } from './rclnodejs-stand-in.ts';
import { ros2SiteIndex } from './ros2-site.ts';
import { recordingLog } from '../../helpers/log.ts';

const NAV = '/amr_3/navigate_to_pose';

function adapterWith(rcl: StandInRcl | (() => Promise<never>), logs: string[] = []) {
  const site = ros2SiteIndex();
  return new Ros2Adapter({
    site,
    fleet: new FleetRegistry(site),
    loadBinding: typeof rcl === 'function' ? rcl : async () => rcl,
    log: { ...recordingLog(), error: (_o: object, msg: string) => void logs.push(msg), warn: (_o: object, msg: string) => void logs.push(msg), info: (_o: object, msg: string) => void logs.push(msg) },
    nodeName: 'phygate_test',
  });
}

t.test('an unavailable ROS 2 fails start() with the loader’s error; nothing is started', async (t) => {
  const a = adapterWith(() => Promise.reject(new Ros2UnavailableError(['rclnodejs is not installed', 'ROS 2 is not sourced (ROS_DISTRO is unset)'])));
  await t.rejects(a.start(), { name: 'Ros2UnavailableError', code: 'ROS2_UNAVAILABLE', message: 'ROS 2 is unavailable: rclnodejs is not installed; ROS 2 is not sourced (ROS_DISTRO is unset)' });
  t.throws(() => a.navigate('amr-3', { x: 4, y: 4, theta: 0 }), { code: 'NOT_STARTED', message: 'the ROS 2 adapter is not started' });
  await a.close();
  await t.rejects(a.start(), Ros2NotStartedError, 'closed for good');
});

t.test('a start that fails half-way destroys what it made, and can be tried again', async (t) => {
  const rcl = new StandInRcl();
  rcl.failCreateNode = true;
  const a = adapterWith(rcl);
  t.teardown(() => a.close());
  await t.rejects(a.start(), { message: 'rcl_node_init failed' });
  t.equal(rcl.shutdowns, 1, 'rclnodejs shut down again');
  rcl.failCreateNode = false;
  await a.start();
  t.equal(rcl.node.name, 'phygate_test');
  t.equal(rcl.inits, 2);
});

t.test('close(): goals end as failed, the node is destroyed, rclnodejs shut down, once', async (t) => {
  const rcl = new StandInRcl();
  rcl.server(NAV);
  const logs: string[] = [];
  const a = adapterWith(rcl, logs);
  await a.start();
  const goal = a.navigate('amr-3', { x: 4, y: 4, theta: 0 }, { goalId: 'g', onProgress: () => { throw new Error('a progress listener with a bug'); } });
  const g = await until('accepted', () => rcl.server(NAV).last);
  g.feedback({ distance_remaining: 3 });
  t.ok(logs.some((m) => /handling a ROS 2 message failed/.test(m)), "a listener's bug is logged, not thrown");
  const node = rcl.node;
  await a.close();
  t.same(await goal.outcome, { status: 'failed', reason: 'the ROS 2 adapter closed before the goal ended' });
  t.ok(node.destroyed, 'node destroyed');
  t.equal(rcl.shutdowns, 1);
  await a.close();
  t.equal(rcl.shutdowns, 1, 'idempotent');
  t.throws(() => a.navigate('amr-3', { x: 4, y: 4, theta: 0 }), { message: 'the ROS 2 adapter is closed' });
  g.finish(GOAL_STATUS.SUCCEEDED);
  t.same(await goal.outcome, { status: 'failed', reason: 'the ROS 2 adapter closed before the goal ended' }, 'settled once');
  t.equal(rcl.publish('/amr_3/odom', {}), 0, 'nothing is delivered any more');
});

t.test('close() during start() waits for it, then undoes it', async (t) => {
  const rcl = new StandInRcl();
  const a = adapterWith(rcl);
  const starting = a.start();
  const closing = a.close();
  await t.rejects(starting, { code: 'NOT_STARTED', message: 'the ROS 2 adapter is closed' });
  await closing;
  t.ok(rcl.node.destroyed);
  t.equal(rcl.shutdowns, 1);
});

t.test('errors while closing are logged, not thrown', async (t) => {
  const rcl = new StandInRcl();
  const logs: string[] = [];
  const a = adapterWith(rcl, logs);
  await a.start();
  rcl.node.destroy = () => {
    throw new Error('already gone');
  };
  rcl.shutdown = () => {
    throw new Error('context invalid');
  };
  await a.close();
  t.ok(logs.includes('destroying the ROS 2 node failed'));
  t.ok(logs.includes('rclnodejs shutdown failed'));
});
