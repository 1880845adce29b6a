// The generated launch file run for real: only where Gazebo (`gz`) and ROS 2 (ROS_DISTRO) are
// installed, with ros_gz, nav2_bringup and sdformat_urdf. Gazebo runs headless; the test waits for
// amr_1's pose at its home, for its Nav2 to come up, sends it a NavigateToPose goal and sees it
// arrive. Elsewhere it is skipped and says why.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { generateGazebo, writeGenerated } from '../../sim/gazebo/generate.ts';
import { openSiteFolder } from '../../sim/site-folder.ts';
import { until } from '../helpers/wait.ts';

const gz = spawnSync('gz', ['sim', '--versions'], { encoding: 'utf8' });
const missing = [
  ...(gz.error || gz.status !== 0 ? ['Gazebo (gz sim) is not installed'] : []),
  ...(process.env.ROS_DISTRO ? [] : ['ROS 2 is not sourced (ROS_DISTRO is unset)']),
];
const skip = missing.length > 0 ? `needs Gazebo Harmonic and ROS 2 Jazzy: ${missing.join('; ')}` : false;

/** Runs a command to its end or `ms`, whichever is first; its stdout. */
function run(cmd: string, args: string[], ms: number): Promise<string> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), ms);
    child.on('close', () => {
      clearTimeout(timer);
      done(out);
    });
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
  const launch: ChildProcess = spawn('ros2', ['launch', join(dir, 'gazebo.launch.py'), 'headless:=true'], { detached: true, stdio: 'ignore' });
  t.teardown(async () => {
    if (launch.exitCode !== null) return;
    const exited = new Promise((r) => launch.once('exit', r));
    process.kill(-launch.pid!, 'SIGINT');
    const killer = setTimeout(() => process.kill(-launch.pid!, 'SIGKILL'), 20_000);
    await exited;
    clearTimeout(killer);
  });

  const home = await until('amr_1 ground truth odometry', async () => position(await run('ros2', ['topic', 'echo', '--once', '/amr_1/ground_truth_odom', 'nav_msgs/msg/Odometry'], 15_000)), 180_000, 1000);
  t.ok(Math.abs(home.x - 4) < 0.1 && Math.abs(home.y - 1.5) < 0.1, `amr_1 starts at dock-a (4, 1.5): ${home.x}, ${home.y}`);

  await until('amr_1 bt_navigator active', async () => /active \[3\]/.test(await run('ros2', ['lifecycle', 'get', '/amr_1/bt_navigator'], 10_000)), 300_000, 2000);
  const goal = '{pose: {header: {frame_id: map}, pose: {position: {x: 4.0, y: 4.0}, orientation: {z: 0.7071068, w: 0.7071068}}}}';
  const result = await run('ros2', ['action', 'send_goal', '/amr_1/navigate_to_pose', 'nav2_msgs/action/NavigateToPose', goal], 240_000);
  t.match(result, /SUCCEEDED/, 'Nav2 reports the goal reached');
  const there = position(await run('ros2', ['topic', 'echo', '--once', '/amr_1/ground_truth_odom', 'nav_msgs/msg/Odometry'], 15_000));
  t.ok(there && Math.hypot(there.x - 4, there.y - 4) < 0.3, `amr_1 is at sa-1 (4, 4) in Gazebo: ${JSON.stringify(there)}`);
});
