// Missions on a device driven over ROS 2: the real executor, mission service, SQLite store and
// ROS 2 adapter, with the rclnodejs stand-in (NOT ROS 2; see test/robots/ros2/rclnodejs-stand-in.ts)
// playing Nav2's action servers. amr-3 has a ros2 block (test/robots/ros2/ros2-site.ts): its
// steps become NavigateThroughPoses goals along the checked route, as far as traffic control has
// granted it, each grant a new goal from the next node on; the last goal's result ends the step;
// pause cancels the goal and resume sends a new one; cancel cancels it.
import { rmSync } from 'node:fs';
import t, { type Test } from 'tap';
import { Executor } from '../../gateway/executor.ts';
import { MissionService } from '../../gateway/missions/service.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import { PlanSchema } from '../../planners/plan.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { DevicePorts } from '../../robots/device-port.ts';
import { Ros2Adapter } from '../../robots/ros2/adapter.ts';
import { Ros2Port } from '../../robots/ros2/port.ts';
import { GOAL_STATUS } from '../../robots/ros2/messages.ts';
import { parkFleetAtHome } from '../../sim/parked-fleet.ts';
import { until } from '../helpers/wait.ts';
import { StandInRcl } from '../robots/ros2/rclnodejs-stand-in.ts';
import { ros2Site } from '../robots/ros2/ros2-site.ts';
import { tempDir } from './harness.ts';
import { StandInPort } from './stand-in-ports.ts';

const THROUGH = '/amr_3/navigate_through_poses';

async function floor(t: Test, withRos2 = true) {
  const site = ros2Site();
  const dir = tempDir();
  const store = openStore(dir);
  const fleet = new FleetRegistry(site.index);
  parkFleetAtHome(fleet, new Date());
  const rcl = new StandInRcl();
  rcl.server(THROUGH);
  // A long silence limit: the parked fleet stands in for odometry here.
  const ros2 = new Ros2Adapter({ site: site.index, fleet, loadBinding: async () => rcl, serverTimeoutMs: 200, cancelTimeoutMs: 200, rosDistro: 'jazzy', silenceMs: 60_000 });
  await ros2.start();
  const vda5050 = new StandInPort('vda5050');
  const ports = new DevicePorts(site.index, { vda5050, machine: new StandInPort('machine'), ...(withRos2 ? { ros2: new Ros2Port(ros2, site.index) } : {}) });
  const executor = new Executor({ store, site, fleet, ports });
  const service = new MissionService({ site, store, fleet, now: () => new Date(), runner: executor });
  t.teardown(async () => {
    executor.close();
    await ros2.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (steps: unknown[]) => {
    const { mission } = await service.submit(PlanSchema.parse({ schema: 'phygate.plan/v1', name: 'ros2-drive', steps }), 'agent');
    await service.approve(mission.id, mission.planHash, 'operator');
    return mission.id;
  };
  return { site, store, fleet, rcl, vda5050, service, executor, start, server: rcl.server(THROUGH) };
}

const status = (store: Store, id: string) => store.missions.get(id)!;

t.test('a navigate step of a ROS 2 AMR is a NavigateThroughPoses goal along the checked route; its result ends the step', async (t) => {
  const f = await floor(t);
  const id = await f.start([{ id: 'go', action: 'navigate', device: 'amr-3', params: { to: 'shelf-3' } }]);
  let g = await until('the goal reached the server', () => f.server.last);
  const report = status(f.store, id).report as { steps: { id: string }[] };
  t.ok(report.steps.some((s) => s.id === 'go'), 'the step was checked');
  const path = f.executor.traffic.pathOf('amr-3')!;
  const nodes = path.nodes;
  const at = (i: number) => f.site.index.locate(nodes[i]!)!;
  const xy = (goal: typeof g) => goal.goal.poses.map((p: { pose: { position: { x: number; y: number } } }) => [p.pose.position.x, p.pose.position.y]);
  t.same(xy(g), nodes.slice(1, path.granted + 1).map((_, k) => [at(k + 1).x, at(k + 1).y]), `the first goal goes through the nodes granted (${path.granted} of ${nodes.length - 1})`);
  t.ok(path.granted < nodes.length - 1, 'not the whole route at once');
  t.same(f.vda5050.sent, [], 'no VDA 5050 order for it');
  g.feedback({ distance_remaining: 5, number_of_poses_remaining: 2 });
  await until('running', () => status(f.store, id).steps[0]!.status === 'running');
  // The robot reports each node it reaches (odometry): each grant is a new goal from the next node on.
  let goals = 1;
  for (let i = 1; i < nodes.length - 1; i++) {
    const before = f.executor.traffic.pathOf('amr-3')!.granted;
    f.fleet.update('amr-3', { at: nodes[i], pose: { x: at(i).x, y: at(i).y, theta: 0 } });
    const granted = f.executor.traffic.pathOf('amr-3')!.granted;
    if (granted === before) continue;
    goals++;
    const goal = await until(`a goal through node ${granted}`, () => (xy(f.server.last!).at(-1)?.join() === [at(granted).x, at(granted).y].join() ? f.server.last : undefined));
    t.same(xy(goal)[0], [at(i + 1).x, at(i + 1).y], `reached ${nodes[i]}: the new goal starts at the next node`);
    g = goal;
  }
  const shelf = f.site.index.locate('shelf-3')!;
  t.same(xy(g).at(-1), [shelf.x, shelf.y], 'the last goal ends at the shelf');
  t.equal(f.server.goals.length, goals, `${goals} goals, each taking over from the one before`);
  g.finish(GOAL_STATUS.SUCCEEDED);
  await until('succeeded', () => status(f.store, id).status === 'succeeded');
  t.pass('the mission succeeded when Nav2 said so');
});

t.test('an aborted goal fails the step and the mission, with the reason', async (t) => {
  const f = await floor(t);
  const id = await f.start([{ id: 'go', action: 'navigate', device: 'amr-3', params: { to: 'shelf-3' } }]);
  const g = await until('the goal reached the server', () => f.server.last);
  g.finish(GOAL_STATUS.ABORTED, { error_code: 103, error_msg: 'no valid path' });
  await until('failed', () => status(f.store, id).status === 'failed');
  const failed = f.store.missions.events(id).find((e) => e.type === 'mission.failed')!.data as { step: string; reason: string };
  t.equal(failed.step, 'go');
  t.match(failed.reason, /^amr-3: .*abort/i, `the reason says what Nav2 did: ${failed.reason}`);
});

t.test('pause cancels the goal (Nav2 cannot pause); resume sends a new one; cancel cancels it', async (t) => {
  const f = await floor(t);
  const id = await f.start([{ id: 'go', action: 'navigate', device: 'amr-3', params: { to: 'shelf-3' } }]);
  const first = await until('the goal reached the server', () => f.server.last);
  f.service.pause(id, 'operator');
  await until('the first goal cancelled', () => !first.active);
  t.equal(status(f.store, id).steps[0]!.status, 'blocked');
  await f.service.resume(id, 'operator');
  const second = await until('a second goal', () => (f.server.goals.length === 2 ? f.server.last : undefined));
  t.ok(second.active, 'the step goes again');
  f.service.cancel(id, 'operator');
  await until('the second goal cancelled', () => !second.active);
  t.equal(status(f.store, id).status, 'cancelled');
});

t.test('without the ROS 2 adapter a ROS 2 device gets nothing, and the step says why', async (t) => {
  const f = await floor(t, false);
  const id = await f.start([{ id: 'go', action: 'navigate', device: 'amr-3', params: { to: 'shelf-3' } }]);
  await until('failed', () => status(f.store, id).status === 'failed');
  t.match(f.store.missions.events(id).find((e) => e.type === 'mission.failed')!.data, { reason: /amr-3 is driven over ros2, and this gateway runs without ROS 2 \(PHYGATE_ROS2=off\)/ });
  t.same(f.server.goals, [], 'no goal');
  t.same(f.vda5050.sent, [], 'and no VDA 5050 order instead');
});
