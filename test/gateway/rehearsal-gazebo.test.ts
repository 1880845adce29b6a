// A rehearsal on the Gazebo fleet over ROS 2 (PHYGATE_REHEARSAL_FLEET=gazebo), against the
// rclnodejs STAND-IN (NOT ROS 2, NOT Gazebo; see test/robots/ros2/rclnodejs-stand-in.ts). The test
// plays the Gazebo simulation's robots in ROS domain 42 as the companion site of
// launch/gazebo/demo/site names them: each AMR's TF (map → base_link) at its pose, and a Nav2
// that takes a NavigateThroughPoses goal, drives the robot along its poses and succeeds. The
// floor's robots are in the environment's domain, with action servers that count what reaches
// them. A plan rehearses to success on the Gazebo fleet and nothing reaches the floor; the
// gateway's start refuses a companion site that does not fit, the floor's own domain, and a
// machine without ROS 2.
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readConfig } from '../../gateway/config.ts';
import { openGazeboFleet } from '../../gateway/rehearsal/gazebo.ts';
import type { Pose } from '../../planners/fleet.ts';
import type { Amr } from '../../planners/site.ts';
import { GOAL_STATUS } from '../../robots/ros2/messages.ts';
import { yawToQuaternion, quaternionToYaw } from '../../robots/ros2/poses.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { until } from '../helpers/wait.ts';
import { StandInRcl } from '../robots/ros2/rclnodejs-stand-in.ts';
import { appFor, demoSiteCopy, REPO_ROOT, type TestApp } from './harness.ts';
import { DEMO_SITE_DIR, withoutPolicies } from '../helpers/demo-site.ts';

const COMPANION = join(REPO_ROOT, 'launch/gazebo/demo/site');
const DOMAIN = 42;
const AMRS = ['amr-1', 'amr-2', 'amr-3'];
const ns = (id: string) => `/${id.replace('-', '_')}`;

/**
 * The Gazebo simulation's robots, played on the stand-in in `domain`: TF every 20 ms, Nav2
 * driving a NavigateThroughPoses goal's poses one per 20 ms, and the simulation's `/clock`
 * advancing 1 s every 20 ms (a simulation 50 times faster than real time, so that its time and
 * the gateway's cannot be mistaken for each other). Returns what reached the floor.
 */
function standInGazebo(t: Test, rcl: StandInRcl, site: TestApp['site'], domain: number) {
  const poses = new Map<string, Pose>();
  const floorGoals: string[] = [];
  for (const id of AMRS) {
    const home = site.index.locate((site.index.device(id) as Amr).home)!;
    poses.set(id, { x: home.x, y: home.y, theta: 0 });
    const through = rcl.server(`${ns(id)}/navigate_through_poses`, domain);
    rcl.server(`${ns(id)}/navigate_to_pose`, domain);
    // The floor's robots of the same names, in the environment's domain.
    for (const action of ['navigate_through_poses', 'navigate_to_pose']) {
      const floor = rcl.server(`${ns(id)}/${action}`);
      floor.onAccepted = () => floorGoals.push(`${id} ${action}`);
    }
    through.onAccepted = (goal) => {
      const steps = (goal.goal.poses as { pose: { position: { x: number; y: number }; orientation: { x: number; y: number; z: number; w: number } } }[]).map((p) => ({ x: p.pose.position.x, y: p.pose.position.y, theta: quaternionToYaw(p.pose.orientation) }));
      let k = 0;
      const drive = setInterval(() => {
        if (!goal.active) return clearInterval(drive);
        const next = steps[k++];
        if (next) return void poses.set(id, next);
        clearInterval(drive);
        goal.finish(GOAL_STATUS.SUCCEEDED);
      }, 20);
      t.teardown(() => clearInterval(drive));
    };
  }
  const clock = { s: 1000 };
  const tf = setInterval(() => {
    clock.s += 1;
    rcl.publish('/clock', { clock: { sec: clock.s, nanosec: 0 } }, domain);
    for (const [id, p] of poses) {
      rcl.publish(`${ns(id)}/tf`, { transforms: [{ header: { stamp: { sec: 1, nanosec: 0 }, frame_id: 'map' }, child_frame_id: 'base_link', transform: { translation: { x: p.x, y: p.y, z: 0 }, rotation: yawToQuaternion(p.theta) } }] }, domain);
    }
  }, 20);
  t.teardown(() => clearInterval(tf));
  return { floorGoals, poses, clock };
}

t.test('a plan rehearsed on the Gazebo fleet over ROS 2, in its own domain: it succeeds, and nothing reaches the floor', async (t) => {
  const site = demoSiteCopy(t, withoutPolicies);
  const rcl = new StandInRcl();
  const config = readConfig({ PHYGATE_REHEARSAL_FLEET: 'gazebo', PHYGATE_REHEARSAL_SITE: COMPANION, PHYGATE_REHEARSAL_ROS_DOMAIN: String(DOMAIN) });
  const gazebo = await openGazeboFleet(config, loadSiteFolder(site), { env: {}, loadBinding: async () => rcl });
  const h = await appFor(t, { siteDir: site, floor: () => ({ rehearsalFleet: gazebo! }) });
  const sim = standInGazebo(t, rcl, h.site, DOMAIN);

  const plan = { schema: 'phygate.plan/v1', name: 'two-amrs', steps: [{ id: 'a', action: 'navigate', device: 'amr-1', params: { to: 'park-1' } }, { id: 'b', action: 'navigate', device: 'amr-2', params: { to: 'shelf-3' } }] };
  const sub = await h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan } });
  t.equal(sub.statusCode, 201, sub.body);
  const m = sub.json() as { id: string; planHash: string; report: { makespanS: number } };
  const simStart = sim.clock.s;
  const res = await h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/rehearse`, headers: h.auth('operator') });
  t.equal(res.statusCode, 202, res.body);
  const r = await until(
    'the rehearsal to end',
    async () => {
      const v = (await h.app.inject({ method: 'GET', url: `/v1/missions/${m.id}`, headers: h.auth('viewer') })).json() as { rehearsal: { status: string } & Record<string, unknown> };
      return v.rehearsal.status !== 'running' ? v.rehearsal : undefined;
    },
    30_000,
  );
  t.match(r, { status: 'succeeded', outcome: 'succeeded', fleet: 'gazebo', speed: 1, checkMakespanS: m.report.makespanS, problems: [] }, JSON.stringify(r));
  const simSpent = sim.clock.s - simStart;
  // Each pose of a route takes the stand-in's Nav2 one 20 ms step, one simulated second: a route
  // of a few poses is seconds of simulated time, where the gateway's clock saw a fraction of one.
  t.ok(typeof r.makespanS === 'number' && r.makespanS >= 3 && r.makespanS <= simSpent + 1, `the makespan on the simulation's clock (/clock): ${String(r.makespanS)} s of the ${simSpent} s it advanced`);
  t.match(r.minSeparation, { robots: ['amr-1', 'amr-2'] }, 'the separation of the robots Gazebo placed, from their TF');
  const sent = rcl.sentGoals.filter((g) => g.action.endsWith('navigate_through_poses'));
  t.same([...new Set(sent.map((g) => g.action))].sort(), ['/amr_1/navigate_through_poses', '/amr_2/navigate_through_poses'], 'goals for amr-1 and amr-2 went out over ROS 2');
  t.same(sim.floorGoals, [], "no goal reached a server of the floor's domain");
  const park = h.site.index.locate('park-1')!;
  const end = sim.poses.get('amr-1')!;
  t.ok(Math.hypot(end.x - park.x, end.y - park.y) < 0.05, 'amr-1 drove to park-1 in the simulation');
  t.equal(h.fleet.get('amr-1')?.at, 'dock-a', 'the real fleet did not move');
  t.equal(rcl.contexts.length, 1, 'one context');
  t.equal(rcl.contexts[0]!.domainId, DOMAIN);
  t.ok(rcl.contexts[0]!.shutDown, 'shut down when the rehearsal ended');
});

t.test('the gateway start refuses a Gazebo rehearsal fleet that does not fit, saying why', async (t) => {
  const site = loadSiteFolder(DEMO_SITE_DIR);
  const rcl = new StandInRcl();
  const ok = async () => rcl;
  const cfg = (env: Record<string, string>) => readConfig({ PHYGATE_REHEARSAL_FLEET: 'gazebo', ...env });
  t.equal(await openGazeboFleet(readConfig({}), site, { loadBinding: ok }), undefined, 'the virtual fleet by default');
  await t.rejects(openGazeboFleet(cfg({ PHYGATE_REHEARSAL_ROS_DOMAIN: '42' }), site, { loadBinding: ok }), /needs PHYGATE_REHEARSAL_SITE .* and PHYGATE_REHEARSAL_ROS_DOMAIN/);
  await t.rejects(
    openGazeboFleet(cfg({ PHYGATE_REHEARSAL_SITE: COMPANION, PHYGATE_REHEARSAL_ROS_DOMAIN: '7', PHYGATE_ROS2: 'on' }), site, { env: { ROS_DOMAIN_ID: '7' }, loadBinding: ok }),
    /PHYGATE_REHEARSAL_ROS_DOMAIN=7 is the ROS domain of the floor's robots \(ROS_DOMAIN_ID=7\)/,
  );
  await t.rejects(openGazeboFleet(cfg({ PHYGATE_REHEARSAL_SITE: COMPANION, PHYGATE_REHEARSAL_ROS_DOMAIN: '0', PHYGATE_ROS2: 'on' }), site, { env: {}, loadBinding: ok }), /ROS_DOMAIN_ID unset: 0/);
  const other = demoSiteCopy(t, (y) => y.replace('- { id: park-2, x: 17, y: 1.5 }', '- { id: park-2, x: 17, y: 1.8 }'));
  await t.rejects(openGazeboFleet(cfg({ PHYGATE_REHEARSAL_SITE: COMPANION, PHYGATE_REHEARSAL_ROS_DOMAIN: '42' }), loadSiteFolder(other), { loadBinding: ok }), /does not fit the gateway's site 'demo': its nav graph is not the site's/);
  await t.rejects(openGazeboFleet(cfg({ PHYGATE_REHEARSAL_SITE: DEMO_SITE_DIR, PHYGATE_REHEARSAL_ROS_DOMAIN: '42' }), site, { loadBinding: ok }), /none of its devices has a ros2 block/);
  await t.rejects(openGazeboFleet(cfg({ PHYGATE_REHEARSAL_SITE: '/nonexistent/site', PHYGATE_REHEARSAL_ROS_DOMAIN: '42' }), site, { loadBinding: ok }), /^PHYGATE_REHEARSAL_SITE: \/nonexistent\/site\/site.yaml: .*cannot read/);
  await t.rejects(openGazeboFleet(cfg({ PHYGATE_REHEARSAL_SITE: COMPANION, PHYGATE_REHEARSAL_ROS_DOMAIN: '42' }), site, { env: {} }), /PHYGATE_REHEARSAL_FLEET=gazebo, but .*ROS 2 is not sourced/);
  t.throws(() => cfg({ PHYGATE_REHEARSAL_ROS_DOMAIN: '300' }), /PHYGATE_REHEARSAL_ROS_DOMAIN/, 'a domain out of range');
  const fine = await openGazeboFleet(cfg({ PHYGATE_REHEARSAL_SITE: COMPANION, PHYGATE_REHEARSAL_ROS_DOMAIN: '42', PHYGATE_ROS2: 'on' }), site, { env: { ROS_DOMAIN_ID: '7' }, loadBinding: ok });
  t.equal(fine?.domainId, 42, "another domain than the floor's is taken");
});
