// `phygate launch gazebo`: the generated world and models pass sdformat's validator, the launch
// file compiles and names only ROS 2 Jazzy packages, every YAML carries the keys its reader
// expects, the bridges join the models' Gazebo topics, and the committed demo output is what
// the generator makes today.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../../gateway/cli/commands.ts';
import { Ros2AmrSchema, type Amr } from '../../planners/site.ts';
import { FILTER_NODES, gazeboRobots, generateGazebo, INTEGER_PARAMS, LAUNCH_USES, nav2Params, rosParamsYaml, writeGenerated } from '../../sim/gazebo/generate.ts';
import { openSiteFolder, type LoadedSite } from '../../sim/site-folder.ts';
import { startVirtualFleet } from '../../sim/virtual-fleet.ts';
import { startMosquitto } from '../helpers/brokers.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DEMO = join(REPO, 'launch/sites/demo');
const COMMITTED = join(REPO, 'launch/gazebo/demo');

const demo = await openSiteFolder(DEMO);
const generated = generateGazebo(demo);
const text = (path: string) => {
  const v = generated.get(path);
  if (v === undefined) throw new Error(`not generated: ${path}`);
  return v.toString();
};
const amrs = demo.index.devicesOfKind('amr');
const robots = gazeboRobots(demo.index.site, new Set(['arm_1']));

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? listFiles(p) : [relative(COMMITTED, p)];
  });
}

t.test('the committed demo output is what the generator makes (regenerate with npm run gen:gazebo)', async (t) => {
  const committed = listFiles(COMMITTED).sort();
  t.same(committed, [...generated.keys()].sort(), 'the same files, none stale, none missing');
  for (const [path, data] of generated) {
    const on = readFileSync(join(COMMITTED, path));
    t.ok(on.equals(Buffer.from(data)), `${path} is up to date`);
  }
});

t.test('generating twice gives the same bytes', async (t) => {
  const again = generateGazebo(demo);
  for (const [path, data] of generated) t.ok(Buffer.from(data).equals(Buffer.from(again.get(path)!)), path);
});

t.test('robots: namespaces from ros2 blocks or derived from the ids, model names unique in the world', async (t) => {
  t.same(
    robots.map((r) => [r.id, r.namespace, r.model]),
    [
      ['amr-1', '/amr_1', 'amr_1'],
      ['amr-2', '/amr_2', 'amr_2'],
      ['amr-3', '/amr_3', 'amr_3'],
      // the world already has a model `arm_1` (the arm's pedestal)
      ['arm-1', '/arm_1', 'arm_1_robot'],
    ],
  );
  const site = structuredClone(demo.index.site);
  const amr = site.devices.find((d) => d.id === 'amr-2') as Amr;
  amr.ros2 = Ros2AmrSchema.parse({ namespace: '/floor/robot_b' });
  const named = gazeboRobots(site, new Set());
  t.same(named[1], { id: 'amr-2', kind: 'amr', namespace: '/floor/robot_b', model: 'floor_robot_b' }, "a ros2 block's namespace is used");
});

const ign = spawnSync('ign', ['sdf', '--versions'], { encoding: 'utf8' });
const noIgn = ign.error ? `ign (sdformat's command line) is not installed here (${ign.error.message}); CI has it` : false;
const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const noPython = python.error ? `python3 is not installed here (${python.error.message})` : false;

t.test('every generated SDF passes sdformat (ign sdf -k)', { skip: noIgn }, async (t) => {
  const dir = t.testdir();
  writeGenerated(dir, generated);
  const sdfs = [...generated.keys()].filter((p) => p.endsWith('.sdf'));
  t.same(sdfs.sort(), ['models/amr_1/model.sdf', 'models/amr_2/model.sdf', 'models/amr_3/model.sdf', 'models/arm_1_robot/model.sdf', 'site/world.sdf', 'world.sdf']);
  // Only the world and the models: the companion site's world.sdf is the site's own, checked by
  // test/sim/world-sdf.cases.ts. The world includes every model (model://, found through SDF_PATH),
  // so its check covers them too; each model is also checked on its own.
  const check = (file: string) => spawnSync('ign', ['sdf', '-k', join(dir, file)], { encoding: 'utf8', env: { ...process.env, SDF_PATH: join(dir, 'models') } });
  for (const file of sdfs.filter((p) => !p.startsWith('site/'))) {
    const r = check(file);
    t.equal(r.status, 0, `${file}: ${r.stdout}${r.stderr}`);
    t.match(r.stdout, /Valid\./, `${file} is valid`);
  }
  // The validator does catch a broken model: two links of the same name.
  const broken = text('models/amr_1/model.sdf').replace('<link name="lidar_link">', '<link name="imu_link">');
  writeFileSync(join(dir, 'models/amr_1/model.sdf'), broken);
  const r = check('world.sdf');
  t.not(r.status, 0, 'a world including a broken model fails');
});

t.test('the world: Harmonic systems, and every robot included once at its home', async (t) => {
  const world = text('world.sdf');
  for (const [file, name] of [
    ['gz-sim-physics-system', 'gz::sim::systems::Physics'],
    ['gz-sim-sensors-system', 'gz::sim::systems::Sensors'],
    ['gz-sim-scene-broadcaster-system', 'gz::sim::systems::SceneBroadcaster'],
    ['gz-sim-user-commands-system', 'gz::sim::systems::UserCommands'],
    ['gz-sim-imu-system', 'gz::sim::systems::Imu'],
  ]) {
    t.equal(world.split(`<plugin filename="${file}" name="${name}">`).length - 1, 1, `${name} once`);
  }
  const includes = [...world.matchAll(/<include>\s*<uri>model:\/\/([^<]+)<\/uri>\s*<name>([^<]+)<\/name>\s*<pose>([^<]+)<\/pose>/g)].map((m) => [m[1], m[2], m[3]!.split(' ').map(Number)]);
  t.same(
    includes,
    [
      ['amr_1', 'amr_1', [4, 1.5, 0, 0, 0, -1.5708]],
      ['amr_2', 'amr_2', [8, 1.5, 0, 0, 0, -1.5708]],
      ['amr_3', 'amr_3', [1.2, 8.5, 0, 0, 0, 3.1416]],
      // on top of the world's 0.8 m pedestal at the arm's pose
      ['arm_1_robot', 'arm_1_robot', [17.2, 14.4, 0.8, 0, 0, 0]],
    ],
  );
  t.ok(world.includes(demo.worldSdf.slice(demo.worldSdf.indexOf('<model name="ground_plane">'), demo.worldSdf.indexOf('</world>')).trimEnd()), "the site's world is in it unchanged");
});

t.test("the AMR model: the site's footprint, mass and limits, and the systems a Nav2 robot needs", async (t) => {
  const sdf = text('models/amr_1/model.sdf');
  const amr = amrs[0]!;
  const tag = (name: string) => [...sdf.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1]);
  t.same(tag('max_linear_velocity'), [String(amr.limits.maxSpeed)]);
  t.same(tag('max_linear_acceleration'), [String(amr.limits.maxAccel)]);
  t.same(tag('min_linear_acceleration'), [String(-amr.limits.maxDecel)]);
  t.same(tag('max_angular_velocity'), [String(amr.limits.maxTurnRate)]);
  const masses = tag('mass').map(Number);
  t.equal(Math.round(masses.slice(0, 3).reduce((a, b) => a + b, 0) * 1000) / 1000, amr.massKg, 'chassis and wheels weigh massKg');
  t.match(sdf, new RegExp(`<size>${amr.footprint.length} `), "the chassis is the footprint's length");
  t.ok(Math.abs(Number(tag('capacity')[0]) * 24 - amr.battery.capacityWh) < 1e-3, "the site's battery capacity (Ah at 24 V)");
  for (const plugin of ['gz-sim-linearbatteryplugin-system" name="gz::sim::systems::LinearBatteryPlugin', 'gz-sim-diff-drive-system" name="gz::sim::systems::DiffDrive', 'gz-sim-odometry-publisher-system" name="gz::sim::systems::OdometryPublisher', 'gz-sim-joint-state-publisher-system" name="gz::sim::systems::JointStatePublisher']) {
    t.ok(sdf.includes(`<plugin filename="${plugin}">`), plugin.split('"')[0]!);
  }
  t.match(sdf, /<sensor name="lidar" type="gpu_lidar">/);
  t.match(sdf, /<sensor name="imu" type="imu">/);
  const arm = text('models/arm_1_robot/model.sdf');
  t.ok(arm.includes('<plugin filename="gz-sim-joint-trajectory-controller-system" name="gz::sim::systems::JointTrajectoryController">'));
  t.same([...arm.matchAll(/<joint_name>([^<]+)<\/joint_name>/g)].map((m) => m[1]), ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint']);
});

t.test("every model is within sdformat_urdf's rules, so robot_state_publisher can read it", async (t) => {
  // From sdformat_urdf's README ("Limitations that result in Errors"): one <model> not in a
  // <world>, without a <pose>, nothing nested; box, cylinder, mesh and sphere only; continuous,
  // fixed, prismatic and revolute joints; a tree from the canonical link, which is nobody's child.
  for (const r of robots) {
    const sdf = text(`models/${r.model}/model.sdf`);
    t.equal(sdf.split('<model ').length - 1, 1, `${r.model}: one model`);
    t.notMatch(sdf, /<world/);
    t.notMatch(sdf, /<model name="[^"]+">\s*<pose/, 'no model pose');
    const shapes = new Set([...sdf.matchAll(/<geometry><(\w+)>/g)].map((m) => m[1]));
    for (const shape of shapes) t.ok(['box', 'cylinder', 'mesh', 'sphere'].includes(shape!), `${r.model}: ${shape}`);
    const joints = [...sdf.matchAll(/<joint name="([^"]+)" type="(\w+)">\s*<parent>([^<]+)<\/parent>\s*<child>([^<]+)<\/child>/g)].map((m) => ({ type: m[2]!, parent: m[3]!, child: m[4]! }));
    const links = [...sdf.matchAll(/<link name="([^"]+)">/g)].map((m) => m[1]!);
    t.equal(joints.length, links.length - 1, `${r.model}: a tree (${links.length} links)`);
    for (const j of joints) t.ok(['continuous', 'fixed', 'prismatic', 'revolute'].includes(j.type), `${r.model}: ${j.type} joint`);
    t.notOk(joints.some((j) => j.child === links[0]), 'the canonical (first) link is nobody\'s child');
    t.notOk(joints.some((j) => j.parent === 'world'), 'no joint to the world');
    t.same(new Set(joints.map((j) => j.child)).size, joints.length, 'no link is the child of two joints');
    const visuals = [...sdf.matchAll(/<visual name="([^"]+)">/g)].map((m) => m[1]);
    t.equal(new Set(visuals).size, visuals.length, 'visual names unique (they name the URDF materials)');
  }
});

t.test('the launch file compiles and names only ROS 2 Jazzy packages and what they install', async (t) => {
  const launch = text('gazebo.launch.py');
  if (noPython) t.comment(`not compiled: ${noPython}`);
  else {
    // py_compile on a copy: it writes __pycache__ beside the file.
    const dir = t.testdir({ 'gazebo.launch.py': launch });
    const r = spawnSync('python3', ['-m', 'py_compile', join(dir, 'gazebo.launch.py')], { encoding: 'utf8' });
    t.equal(r.status, 0, `py_compile: ${r.stderr}`);
    const bad = spawnSync('python3', ['-m', 'py_compile', join(t.testdir({ 'x.py': `${launch}\n    def broken(:\n` }), 'x.py')], { encoding: 'utf8' });
    t.not(bad.status, 0, 'and py_compile does reject a broken file');
  }
  // Python modules: the standard library's os, PyYAML (a dependency of ROS 2's launch) and ROS 2's launch API.
  const imports = [...launch.matchAll(/^(?:from (\S+) import|import (\S+))/gm)].map((m) => m[1] ?? m[2]);
  t.same([...new Set(imports)].sort(), ['ament_index_python.packages', 'launch', 'launch.actions', 'launch.conditions', 'launch.launch_description_sources', 'launch.substitutions', 'launch_ros.actions', 'os', 'yaml']);
  const packages = new Set([...launch.matchAll(/(?:package=|get_package_share_directory\()'([^']+)'/g)].map((m) => m[1]!));
  t.same([...packages].sort(), Object.keys(LAUNCH_USES).sort(), 'the packages used are the ones listed');
  const executables = [...launch.matchAll(/package='([^']+)',\s*executable='([^']+)'/g)].map((m) => [m[1]!, m[2]!] as const);
  t.ok(executables.length >= 5, 'nodes found');
  for (const [pkg, exe] of executables) t.ok((LAUNCH_USES as Record<string, readonly string[]>)[pkg]?.includes(exe), `${pkg}/${exe} is listed`);
  const launches = [...launch.matchAll(/os\.path\.join\((gz_sim|nav2_bringup), 'launch', '([^']+)'\)/g)].map((m) => m[2]);
  t.same([...new Set(launches)].sort(), ['bringup_launch.py', 'gz_sim.launch.py']);
  // What the list holds is what ROS 2 Jazzy's packages install (their launch folders and executables).
  t.same(LAUNCH_USES, {
    ros_gz_sim: ['gz_sim.launch.py'],
    ros_gz_bridge: ['parameter_bridge'],
    robot_state_publisher: ['robot_state_publisher'],
    nav2_bringup: ['bringup_launch.py'],
    nav2_map_server: ['map_server', 'costmap_filter_info_server'],
    nav2_lifecycle_manager: ['lifecycle_manager'],
  });
  // Every file the launch file reads is generated.
  for (const m of launch.matchAll(/os\.path\.join\(HERE, '([^']+)'(?:, '([^']+)')?\)/g)) {
    const path = [m[1], m[2]].filter(Boolean).join('/');
    if (path === 'models' || path === 'world.sdf') continue;
    if (m[2] === undefined && ['bridges', 'maps', 'nav2'].includes(m[1]!)) continue;
    t.ok(generated.has(path), `${path} exists`);
  }
  for (const r of robots) t.match(launch, `{'id': '${r.id}', 'namespace': '${r.namespace}', 'model': '${r.model}'}`);
});

// ros_gz_bridge's message pairs (its README's table of ROS type ↔ Gazebo type) for what the bridges carry.
const BRIDGE_TYPES: Record<string, string> = {
  'rosgraph_msgs/msg/Clock': 'gz.msgs.Clock',
  'geometry_msgs/msg/Twist': 'gz.msgs.Twist',
  'nav_msgs/msg/Odometry': 'gz.msgs.Odometry',
  'tf2_msgs/msg/TFMessage': 'gz.msgs.Pose_V',
  'sensor_msgs/msg/LaserScan': 'gz.msgs.LaserScan',
  'sensor_msgs/msg/Imu': 'gz.msgs.IMU',
  'sensor_msgs/msg/JointState': 'gz.msgs.Model',
  'trajectory_msgs/msg/JointTrajectory': 'gz.msgs.JointTrajectory',
  'std_msgs/msg/Float32': 'gz.msgs.Float',
  'sensor_msgs/msg/BatteryState': 'gz.msgs.BatteryState',
};

t.test("the bridges: ros_gz_bridge's keys, its type pairs, and the models' own Gazebo topics", async (t) => {
  const clock = parseYaml(text('bridges/clock.yaml'));
  t.same(clock, [{ ros_topic_name: '/clock', gz_topic_name: '/clock', ros_type_name: 'rosgraph_msgs/msg/Clock', gz_type_name: 'gz.msgs.Clock', direction: 'GZ_TO_ROS' }]);
  for (const r of robots) {
    const entries = parseYaml(text(`bridges/${r.model}.yaml`)) as Record<string, string>[];
    const sdf = text(`models/${r.model}/model.sdf`);
    const gzTopics = new Set([...sdf.matchAll(/<(?:topic|odom_topic|tf_topic)>([^<]+)</g)].map((m) => m[1]));
    // JointTrajectoryController's progress: its topic + `_progress`.
    for (const m of sdf.matchAll(/JointTrajectoryController">\s*<topic>([^<]+)</g)) gzTopics.add(`${m[1]}_progress`);
    // LinearBatteryPlugin's topic is made from the model's and the battery's names.
    for (const m of sdf.matchAll(/<battery_name>([^<]+)</g)) gzTopics.add(`/model/${r.model}/battery/${m[1]}/state`);
    for (const e of entries) {
      t.same(Object.keys(e).sort(), ['direction', 'gz_topic_name', 'gz_type_name', 'ros_topic_name', 'ros_type_name'], `${r.model} ${e.ros_topic_name}: keys`);
      t.equal(BRIDGE_TYPES[e.ros_type_name!], e.gz_type_name, `${e.ros_type_name} ↔ ${e.gz_type_name}`);
      t.ok(['GZ_TO_ROS', 'ROS_TO_GZ'].includes(e.direction!), 'a direction');
      t.ok(gzTopics.has(e.gz_topic_name), `${r.model}: ${e.gz_topic_name} is a topic of the model`);
      t.notOk(e.ros_topic_name!.startsWith('/'), 'relative: resolved in the namespace');
    }
    const topics = entries.map((e) => e.ros_topic_name);
    const expected = r.kind === 'amr' ? ['cmd_vel', 'odom', 'tf', 'ground_truth_odom', 'scan', 'imu', 'joint_states', 'battery_state'] : ['joint_states', 'joint_trajectory', 'joint_trajectory_progress'];
    t.same(topics, expected, `${r.model}'s topics`);
  }
});

// From Nav2's configuration guide (docs.nav2.org, "Configuration Guide", Jazzy): the servers
// nav2_bringup starts, and the parameters each needs here (plugin lists name their plugins).
const NAV2_NODES = ['amcl', 'map_server', 'bt_navigator', 'controller_server', 'planner_server', 'smoother_server', 'behavior_server', 'waypoint_follower', 'velocity_smoother', 'collision_monitor', 'docking_server'];
const NAV2_KEYS: Record<string, string[]> = {
  amcl: ['base_frame_id', 'global_frame_id', 'odom_frame_id', 'scan_topic', 'robot_model_type', 'set_initial_pose', 'initial_pose'],
  bt_navigator: ['global_frame', 'robot_base_frame', 'odom_topic', 'navigators'],
  controller_server: ['controller_plugins', 'goal_checker_plugins', 'progress_checker_plugins', 'speed_limit_topic', 'odom_topic'],
  planner_server: ['planner_plugins'],
  smoother_server: ['smoother_plugins'],
  behavior_server: ['behavior_plugins', 'local_frame', 'global_frame', 'robot_base_frame', 'max_rotational_vel', 'rotational_acc_lim'],
  waypoint_follower: ['waypoint_task_executor_plugin'],
  velocity_smoother: ['max_velocity', 'min_velocity', 'max_accel', 'max_decel', 'feedback', 'odom_topic'],
  collision_monitor: ['base_frame_id', 'odom_frame_id', 'cmd_vel_in_topic', 'cmd_vel_out_topic', 'polygons', 'observation_sources'],
  docking_server: ['dock_plugins', 'base_frame', 'fixed_frame'],
  keepout_filter_mask_server: ['frame_id', 'topic_name', 'yaml_filename'],
  speed_filter_mask_server: ['frame_id', 'topic_name', 'yaml_filename'],
  keepout_costmap_filter_info_server: ['type', 'filter_info_topic', 'mask_topic', 'base', 'multiplier'],
  speed_costmap_filter_info_server: ['type', 'filter_info_topic', 'mask_topic', 'base', 'multiplier'],
  lifecycle_manager_costmap_filters: ['autostart', 'node_names'],
};
const COSTMAP_KEYS = ['global_frame', 'robot_base_frame', 'resolution', 'footprint', 'plugins', 'filters'];
/** Plugin lists: every name in the list is a key with a `plugin`. */
const PLUGIN_LISTS: Record<string, string[]> = {
  bt_navigator: ['navigators'],
  controller_server: ['controller_plugins', 'goal_checker_plugins', 'progress_checker_plugins'],
  planner_server: ['planner_plugins'],
  smoother_server: ['smoother_plugins'],
  behavior_server: ['behavior_plugins'],
  docking_server: ['dock_plugins'],
};

t.test('Nav2 parameters: the keys Nav2 Jazzy reads, with the footprint, speeds and accelerations of site.yaml', async (t) => {
  for (const r of robots.filter((r) => r.kind === 'amr')) {
    const amr = demo.index.device(r.id) as Amr;
    const yaml = text(`nav2/${r.model}.yaml`);
    const doc = parseYaml(yaml) as Record<string, any>;
    t.same(doc, nav2Params(demo.index, amr, 0.05), 'the file holds the parameters as made');
    // ROS 2 refuses an integer for a double parameter: only the integer ones are written bare.
    for (const line of yaml.split('\n')) {
      const bare = /^\s*([A-Za-z_]+): -?\d+$/.exec(line);
      if (bare) t.ok(INTEGER_PARAMS.has(bare[1]!), `${r.model}: ${line.trim()} is an integer parameter`);
      t.notMatch(line, /^\s*- -?\d+$/, 'no integer in a list of doubles');
    }
    for (const node of [...NAV2_NODES, ...FILTER_NODES, 'lifecycle_manager_costmap_filters']) t.type(doc[node]?.ros__parameters, 'object', `${r.model}: ${node}.ros__parameters`);
    for (const [node, keys] of Object.entries(NAV2_KEYS)) {
      for (const k of keys) t.not(doc[node].ros__parameters[k], undefined, `${node}.${k}`);
    }
    for (const [node, lists] of Object.entries(PLUGIN_LISTS)) {
      for (const list of lists) {
        for (const name of doc[node].ros__parameters[list]) t.type(doc[node].ros__parameters[name]?.plugin, 'string', `${node}.${name}.plugin`);
      }
    }
    const { maxSpeed, maxAccel, maxDecel, maxTurnRate } = amr.limits;
    const hx = amr.footprint.length / 2;
    const hy = amr.footprint.width / 2;
    for (const which of ['local_costmap', 'global_costmap']) {
      const c = doc[which][which].ros__parameters;
      for (const k of COSTMAP_KEYS) t.not(c[k], undefined, `${which}.${k}`);
      t.same(JSON.parse(c.footprint), [[hx, hy], [hx, -hy], [-hx, -hy], [-hx, hy]], `${which}: the site's footprint`);
      for (const name of [...c.plugins, ...c.filters]) t.type(c[name]?.plugin, 'string', `${which}.${name}.plugin`);
      t.equal(c.keepout_filter.plugin, 'nav2_costmap_2d::KeepoutFilter');
      t.equal(c.keepout_filter.filter_info_topic, doc.keepout_costmap_filter_info_server.ros__parameters.filter_info_topic, `${which}: keepout info topic`);
    }
    const g = doc.global_costmap.global_costmap.ros__parameters;
    t.equal(g.speed_filter.plugin, 'nav2_costmap_2d::SpeedFilter');
    t.equal(g.speed_filter.filter_info_topic, doc.speed_costmap_filter_info_server.ros__parameters.filter_info_topic);
    t.equal(g.speed_filter.speed_limit_topic, doc.controller_server.ros__parameters.speed_limit_topic, 'the controller hears the speed filter');
    t.equal(doc.keepout_costmap_filter_info_server.ros__parameters.type, 0, 'keepout filter');
    t.equal(doc.speed_costmap_filter_info_server.ros__parameters.type, 2, 'absolute speed filter');
    t.same(doc.lifecycle_manager_costmap_filters.ros__parameters.node_names, [...FILTER_NODES]);
    const v = doc.velocity_smoother.ros__parameters;
    t.same([v.max_velocity[0], v.max_velocity[2], v.max_accel[0], v.max_decel[0]], [maxSpeed, maxTurnRate, maxAccel, -maxDecel], 'velocity smoother limits');
    const follow = doc.controller_server.ros__parameters.FollowPath;
    t.equal(follow.desired_linear_vel, maxSpeed);
    t.equal(follow.rotate_to_heading_angular_vel, maxTurnRate);
    const home = demo.index.locate(amr.home)!;
    t.same(doc.amcl.ros__parameters.initial_pose, { x: home.x, y: home.y, z: 0, yaw: demo.index.station(amr.home)!.theta }, 'AMCL starts at home');
    t.same(doc.docking_server.ros__parameters.docks, ['charger_1', 'charger_2'], "the site's chargers are docks");
  }
});

t.test('ROS parameter YAML: doubles keep their decimal point, integer parameters stay integers', async (t) => {
  t.equal(rosParamsYaml({ n: { ros__parameters: { x: 4, width: 4, v: [1, 0.5], type: 0, f: 0.25 } } }), 'n:\n  ros__parameters:\n    x: 4.0\n    width: 4\n    v:\n      - 1.0\n      - 0.5\n    type: 0\n    f: 0.25\n');
});

t.test('map YAMLs carry what map_server reads', async (t) => {
  for (const name of ['map', 'keepout', 'speed']) {
    const y = parseYaml(text(`maps/${name}.yaml`));
    t.same(Object.keys(y).sort(), ['free_thresh', 'image', 'mode', 'negate', 'occupied_thresh', 'origin', 'resolution'], name);
    t.equal(y.image, `${name}.pgm`);
    t.ok(generated.has(`maps/${y.image}`));
    t.same(y.origin, [0, 0, 0], "the site's origin");
    t.equal(y.mode, name === 'map' ? 'trinary' : 'raw');
  }
});

t.test('the companion site opens, and its AMRs are driven over ROS 2 in the Gazebo namespaces', async (t) => {
  const dir = t.testdir();
  writeGenerated(dir, generated);
  const site: LoadedSite = await openSiteFolder(join(dir, 'site'));
  for (const r of robots.filter((r) => r.kind === 'amr')) {
    const d = site.index.device(r.id) as Amr;
    t.equal(d.ros2?.namespace, r.namespace, `${r.id}'s namespace`);
    t.equal(d.ros2?.odomTopic, 'ground_truth_odom', `${r.id} reads its pose in the map frame`);
    t.equal(d.ros2?.batteryTopic, 'battery_state', `${r.id} reads its simulated battery`);
  }
  t.equal(site.worldHash === demo.worldHash, false, 'a different site (the ros2 blocks)');
  t.same(site.world.obstacles, demo.world.obstacles, 'the same hall');
  t.match(readFileSync(join(dir, 'site/site.yaml'), 'utf8'), /use_sim_time/, 'the clock is explained');
});

t.test('phygate launch gazebo and phygate map from the command line', async (t) => {
  const run = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, (l) => out.push(l), (l) => err.push(l));
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const help = await run(['launch', 'gazebo', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /^phygate launch gazebo --out DIR/);
  t.match((await run(['map', '--help'])).out, /^phygate map \[--site DIR\]/);
  t.match((await run(['help'])).out, /phygate launch gazebo --out DIR/, 'in the usage');
  const noOut = await run(['launch', 'gazebo', '--site', DEMO]);
  t.equal(noOut.code, 2);
  t.match(noOut.err, /^--out DIR is required/);
  t.equal((await run(['launch', 'rviz'])).code, 2, 'only gazebo');
  const badRes = await run(['map', '--resolution=-1']);
  t.equal(badRes.code, 2);
  t.match(badRes.err, /--resolution must be a number of metres above 0 and at most 1, not '-1'/);

  const out = t.testdir();
  const r = await run(['launch', 'gazebo', '--site', DEMO, '--out', out]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /wrote 26 files for the Gazebo fleet of site 'demo'/);
  t.ok(readFileSync(join(out, 'maps/map.pgm')).equals(generated.get('maps/map.pgm') as Buffer), 'the files written are the generated ones');
  const maps = join(t.testdir(), 'm');
  const m = await run(['map', '--site', DEMO, '--out', maps, '--resolution', '0.1']);
  t.equal(m.code, 0, m.err);
  t.match(m.out, /301 × 201 cells of 0\.1 m/);
  t.same(readdirSync(maps).sort(), ['keepout.pgm', 'keepout.yaml', 'map.pgm', 'map.yaml', 'speed.pgm', 'speed.yaml']);
});


t.test("on the companion site the virtual fleet leaves the Gazebo AMRs to ROS 2 and runs the rest", async (t) => {
  const broker = await startMosquitto(t);
  const dir = t.testdir();
  writeGenerated(dir, generated);
  const site = await openSiteFolder(join(dir, 'site'));
  const vf = await startVirtualFleet({ brokerUrl: broker.url, site });
  t.teardown(() => vf.close());
  t.same([...vf.amrs.keys()], [], 'no VDA 5050 twin of an AMR driven over ROS 2');
  t.same([...vf.machines.keys()], ['arm-1', 'cnc-1', 'printer-1', 'conveyor-1'], 'the arm and the machines stay virtual');
  const plain = await startVirtualFleet({ brokerUrl: broker.url, site: demo });
  t.teardown(() => plain.close());
  t.same([...plain.amrs.keys()], ['amr-1', 'amr-2', 'amr-3'], 'on the demo site itself every AMR is virtual');
});
