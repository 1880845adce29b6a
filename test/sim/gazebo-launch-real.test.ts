// The generated launch file run for real: only where Gazebo (`gz`) and ROS 2 (ROS_DISTRO) are
// installed, with ros_gz, nav2_bringup and sdformat_urdf. Gazebo runs headless; the test waits for
// amr_1's pose at its home, for its Nav2 to come up, sends it a NavigateToPose goal and sees it
// arrive. Then, with the simulation in a ROS domain of its own, a gateway whose rehearsals run on
// this Gazebo fleet (PHYGATE_REHEARSAL_FLEET=gazebo) rehearses a plan on it. Elsewhere both are
// skipped and say why.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { generateGazebo, writeGenerated } from '../../sim/gazebo/generate.ts';
import { openSiteFolder } from '../../sim/site-folder.ts';
import { readConfig } from '../../gateway/config.ts';
import { startGateway } from '../../gateway/main.ts';
import { TEST_GATEWAY_ENV } from '../helpers/child-env.ts';
import { callApi } from '../helpers/http.ts';
import { until } from '../helpers/wait.ts';

const gz = spawnSync('gz', ['sim', '--versions'], { encoding: 'utf8' });
const missing = [
  ...(gz.error || gz.status !== 0 ? ['Gazebo (gz sim) is not installed'] : []),
  ...(process.env.ROS_DISTRO ? [] : ['ROS 2 is not sourced (ROS_DISTRO is unset)']),
];
const skip = missing.length > 0 ? `needs Gazebo Harmonic and ROS 2 Jazzy: ${missing.join('; ')}` : false;

/** Runs a command to its end or `ms`, whichever is first; its stdout. `env`: more environment. */
function run(cmd: string, args: string[], ms: number, env: Record<string, string> = {}): Promise<string> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), ms);
    child.on('close', () => {
      clearTimeout(timer);
      done(out);
    });
  });
}

/**
 * `ros2 launch` of the generated launch file in `dir`, headless, in a process group of its own
 * (`env`: more environment), interrupted when `t` ends and killed if it has not exited 20 s later.
 */
function launchSimulation(t: Test, dir: string, env: Record<string, string> = {}): void {
  const launch: ChildProcess = spawn('ros2', ['launch', join(dir, 'gazebo.launch.py'), 'headless:=true'], { detached: true, stdio: 'ignore', env: { ...process.env, ...env } });
  t.teardown(async () => {
    if (launch.exitCode !== null) return;
    const exited = new Promise((r) => launch.once('exit', r));
    process.kill(-launch.pid!, 'SIGINT');
    const killer = setTimeout(() => process.kill(-launch.pid!, 'SIGKILL'), 20_000);
    await exited;
    clearTimeout(killer);
  });
}

/** x and y of the first pose in `ros2 topic echo` output of an Odometry message. */
function position(echo: string): { x: number; y: number } | undefined {
  const m = /position:\s*\n\s*x: (-?[\d.e+-]+)\s*\n\s*y: (-?[\d.e+-]+)/.exec(echo);
  return m ? { x: Number(m[1]), y: Number(m[2]) } : undefined;
}

t.test('the generated launch file brings up Gazebo and Nav2, and amr_1 drives to a goal', { skip, timeout: 900_000 }, async (t) => {
  const site = await openSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
  const dir = t.testdir();
  writeGenerated(dir, generateGazebo(site));
  launchSimulation(t, dir);

  const home = await until('amr_1 ground truth odometry', async () => position(await run('ros2', ['topic', 'echo', '--once', '/amr_1/ground_truth_odom', 'nav_msgs/msg/Odometry'], 15_000)), 180_000, 1000);
  t.ok(Math.abs(home.x - 4) < 0.1 && Math.abs(home.y - 1.5) < 0.1, `amr_1 starts at dock-a (4, 1.5): ${home.x}, ${home.y}`);

  await until('amr_1 bt_navigator active', async () => /active \[3\]/.test(await run('ros2', ['lifecycle', 'get', '/amr_1/bt_navigator'], 10_000)), 300_000, 2000);
  const goal = '{pose: {header: {frame_id: map}, pose: {position: {x: 4.0, y: 4.0}, orientation: {z: 0.7071068, w: 0.7071068}}}}';
  const result = await run('ros2', ['action', 'send_goal', '/amr_1/navigate_to_pose', 'nav2_msgs/action/NavigateToPose', goal], 240_000);
  t.match(result, /SUCCEEDED/, 'Nav2 reports the goal reached');
  const there = position(await run('ros2', ['topic', 'echo', '--once', '/amr_1/ground_truth_odom', 'nav_msgs/msg/Odometry'], 15_000));
  t.ok(there && Math.hypot(there.x - 4, there.y - 4) < 0.3, `amr_1 is at sa-1 (4, 4) in Gazebo: ${JSON.stringify(there)}`);
});

t.test('a rehearsal on the Gazebo fleet: the gateway drives amr_1 in Gazebo over ROS 2, in the simulation\'s own ROS domain', { skip, timeout: 900_000 }, async (t) => {
  const site = await openSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
  const dir = t.testdir();
  writeGenerated(dir, generateGazebo(site));
  // A domain of the simulation's own, apart from the environment's (the floor's).
  const domain = String(100 + (process.pid % 100));
  const inSim = { ROS_DOMAIN_ID: domain };
  launchSimulation(t, dir, inSim);
  await until('amr_1 bt_navigator active', async () => /active \[3\]/.test(await run('ros2', ['lifecycle', 'get', '/amr_1/bt_navigator'], 10_000, inSim)), 300_000, 2000);

  const admin = 'gazebo-rehearsal-admin-token-0123456789';
  const g = await startGateway(
    readConfig({
      ...TEST_GATEWAY_ENV,
      PHYGATE_PORT: '0',
      PHYGATE_MQTT_PORT: '0',
      PHYGATE_DATA_DIR: t.testdir(),
      PHYGATE_LOG_LEVEL: 'silent',
      PHYGATE_ADMIN_TOKEN: admin,
      PHYGATE_REHEARSAL_FLEET: 'gazebo',
      PHYGATE_REHEARSAL_SITE: join(dir, 'site'),
      PHYGATE_REHEARSAL_ROS_DOMAIN: domain,
    }),
  );
  t.teardown(() => g.close());
  const plan = { schema: 'phygate.plan/v1', name: 'amr-1-to-park-1', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'park-1' } }] };
  const m = await callApi<{ id: string }>(g.url, admin, 'POST', '/v1/missions', { plan });
  t.equal(m.status, 201);
  t.equal((await callApi(g.url, admin, 'POST', `/v1/missions/${m.json.id}/rehearse`)).status, 202);
  const r = await until(
    'the rehearsal to end',
    async () => {
      const v = (await callApi<{ rehearsal: { status: string } & Record<string, unknown> }>(g.url, admin, 'GET', `/v1/missions/${m.json.id}`)).json;
      return v.rehearsal.status !== 'running' ? v.rehearsal : undefined;
    },
    600_000,
    1000,
  );
  t.match(r, { status: 'succeeded', fleet: 'gazebo', outcome: 'succeeded' }, JSON.stringify(r));
  const there = position(await run('ros2', ['topic', 'echo', '--once', '/amr_1/ground_truth_odom', 'nav_msgs/msg/Odometry'], 15_000, inSim));
  t.ok(there && Math.hypot(there.x - 13, there.y - 1.5) < 0.3, `amr_1 is at park-1 (13, 1.5) in Gazebo: ${JSON.stringify(there)}`);
  t.equal(g.fleet.get('amr-1')?.at, 'dock-a', "the gateway's own fleet did not move");
});
