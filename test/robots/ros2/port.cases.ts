// The ROS 2 port's sends, with the real adapter over the rclnodejs stand-in (NOT ROS 2; see
// rclnodejs-stand-in.ts): a goal id it has seen is never started again, also once the goal ended
// (a delivery retry that comes late must not drive the route a second time). The rest of the
// port's contract runs in test/robots/port-contract.test.ts.
import t, { type Test } from 'tap';
import type { StepSignal } from '../../../robots/device-port.ts';
import { FleetRegistry } from '../../../robots/fleet-registry.ts';
import { Ros2Adapter } from '../../../robots/ros2/adapter.ts';
import { GOAL_STATUS } from '../../../robots/ros2/messages.ts';
import { Ros2Port } from '../../../robots/ros2/port.ts';
import { until } from '../../helpers/wait.ts';
import { StandInRcl } from './rclnodejs-stand-in.ts';
import { ros2SiteIndex } from './ros2-site.ts';

const THROUGH = '/amr_3/navigate_through_poses';

/** The stand-in takes a goal without timers (its server is up): by the next turn of the event loop, a goal sent is on it. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

async function rig(t: Test) {
  const site = ros2SiteIndex();
  const rcl = new StandInRcl();
  const server = rcl.server(THROUGH);
  rcl.server('/amr_3/navigate_to_pose');
  const adapter = new Ros2Adapter({ site, fleet: new FleetRegistry(site), loadBinding: async () => rcl, serverTimeoutMs: 1_000, cancelTimeoutMs: 1_000, rosDistro: 'jazzy' });
  t.teardown(() => adapter.close());
  await adapter.start();
  const port = new Ros2Port(adapter, site);
  const signals: StepSignal[] = [];
  port.onSignal((s) => signals.push(s));
  const work = (attempt: number) =>
    port.prepare({
      missionId: 'm-1',
      step: { id: 'go', action: 'navigate', device: 'amr-3', params: { to: 'shelf-3' } },
      stepIndex: 0,
      attempt,
      device: 'amr-3',
      route: { nodes: ['charger-1', 'ma-1', 'ma-2'] },
      ttlMs: 60_000,
    });
  return { server, port, signals, work };
}

t.test('a work whose goal succeeded is not started again when it is sent late', async (t) => {
  const r = await rig(t);
  const work = r.work(0);
  await r.port.send(work);
  const goal = await until('the goal on the server', () => r.server.last);
  goal.finish(GOAL_STATUS.SUCCEEDED);
  await until('done', () => r.signals.some((s) => s.type === 'done'));
  await r.port.send(work);
  await settled();
  t.equal(r.server.goals.length, 1, 'one goal');
  t.same(r.signals.map((s) => s.type), ['accepted', 'done']);

  await r.port.send(r.work(1));
  await until('another attempt of the step is another goal', () => r.server.goals.length === 2);
});

t.test('a work whose goal was cancelled is not started again when it is sent late', async (t) => {
  const r = await rig(t);
  const work = r.work(0);
  await r.port.send(work);
  await until('the goal on the server', () => r.server.last);
  r.port.abort(work, 'the step was cancelled');
  await until('aborted', () => r.signals.some((s) => s.type === 'aborted'));
  await r.port.send(work);
  await settled();
  t.equal(r.server.goals.length, 1, 'one goal');
  t.notOk(r.server.last!.active, 'and it stays cancelled');
});

t.test('an aborted goal says why it was cancelled: the reason the port was given', async (t) => {
  const r = await rig(t);
  const work = r.work(0);
  await r.port.send(work);
  await until('the goal on the server', () => r.server.last);
  r.port.abort(work, "step 'go' did not finish within 5 s");
  const end = await until('aborted', () => r.signals.find((s) => s.type === 'aborted'));
  t.match(end, { device: 'amr-3', reason: "amr-3: step 'go' did not finish within 5 s" });
});
