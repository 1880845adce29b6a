// The site's optional `ros2` block: which devices are driven over ROS 2, with what defaults, and
// what the schema refuses.
import t from 'tap';
import { crossCheckSite, protocolOf, SiteSchema, type Device } from '../../planners/site.ts';
import { ros2Site } from '../robots/ros2/ros2-site.ts';

const base = ros2Site().index.site;
const amr = base.devices.find((d) => d.id === 'amr-1')!;
const arm = base.devices.find((d) => d.id === 'arm-1')!;
const parseDevice = (d: object) => SiteSchema.safeParse({ ...base, devices: [d] });

t.test('an AMR block gets Nav2’s default names; an arm block needs its joints', async (t) => {
  const r = parseDevice({ ...amr, ros2: { namespace: '/amr_1' } });
  t.ok(r.success);
  t.same((r.data!.devices[0] as Extract<Device, { kind: 'amr' }>).ros2, {
    namespace: '/amr_1',
    frame: 'map',
    mapTransform: { x: 0, y: 0, theta: 0 },
    poseSource: 'tf',
    baseFrame: 'base_link',
    tfTopic: 'tf',
    tfStaticTopic: 'tf_static',
    poseTopic: 'amcl_pose',
    navigateAction: 'navigate_to_pose',
    navigateThroughAction: 'navigate_through_poses',
    odomTopic: 'odom',
    batteryTopic: 'battery_state',
    behaviorTree: '',
  });
  const a = parseDevice({ ...arm, ros2: { namespace: '/arm', joints: ['j1'] } });
  t.match((a.data!.devices[0] as Extract<Device, { kind: 'arm' }>).ros2, { trajectoryAction: 'follow_joint_trajectory', jointStatesTopic: 'joint_states', joints: ['j1'] });
  t.notOk(parseDevice({ ...arm, ros2: { namespace: '/arm' } }).success, 'joints are required');
  t.notOk(parseDevice({ ...arm, ros2: { namespace: '/arm', joints: [] } }).success, 'at least one joint');
});

t.test('ROS 2 names and namespaces are checked; unknown keys are refused', async (t) => {
  for (const namespace of ['amr_1', '/amr-1', '/1amr', '', '/amr_1/']) {
    t.notOk(parseDevice({ ...amr, ros2: { namespace } }).success, `namespace '${namespace}'`);
  }
  for (const namespace of ['/', '/amr_1', '/floor_2/amr_1']) t.ok(parseDevice({ ...amr, ros2: { namespace } }).success, `namespace '${namespace}'`);
  t.ok(parseDevice({ ...amr, ros2: { namespace: '/a', odomTopic: '/localization/odom' } }).success, 'an absolute topic');
  t.notOk(parseDevice({ ...amr, ros2: { namespace: '/a', odomTopic: 'odom topic' } }).success);
  t.notOk(parseDevice({ ...amr, ros2: { namespace: '/a', speed: 2 } }).success, 'strict');
  t.ok(parseDevice({ ...amr, ros2: { namespace: '/a', baseFrame: 'amr_1/base_footprint', poseSource: 'amcl_pose' } }).success, 'a prefixed frame');
  t.notOk(parseDevice({ ...amr, ros2: { namespace: '/a', poseSource: 'gps' } }).success, 'a pose source of the three');
  t.notOk(parseDevice({ ...amr, ros2: { namespace: '/a', mapTransform: { x: 1, y: 2, theta: 0, scale: 2 } } }).success, 'a rigid transform: no scale');
  t.notOk(parseDevice({ ...amr, ros2: { namespace: '/a', mapTransform: { x: 'one' } } }).success, 'metres are numbers');
  const partial = parseDevice({ ...amr, ros2: { namespace: '/a', mapTransform: { theta: 1.5 } } });
  t.same((partial.data!.devices[0] as Extract<Device, { kind: 'amr' }>).ros2!.mapTransform, { x: 0, y: 0, theta: 1.5 }, 'what is left out is 0');
  t.notOk(parseDevice({ ...base.devices.find((d) => d.kind === 'cnc'), ros2: { namespace: '/cnc' } }).success, 'machines have no ros2 block');
});

t.test('the protocol of each device: a ros2 block wins', async (t) => {
  t.same(
    base.devices.map((d) => [d.id, protocolOf(d)]),
    [
      ['amr-1', 'vda5050'],
      ['amr-2', 'vda5050'],
      ['amr-3', 'ros2'],
      ['arm-1', 'ros2'],
      ['cnc-1', 'machine'],
      ['printer-1', 'machine'],
      ['conveyor-1', 'machine'],
    ],
  );
});

t.test('two devices in one ROS 2 namespace are a site problem', async (t) => {
  const devices = base.devices.map((d) => (d.id === 'amr-2' ? { ...d, ros2: { ...(base.devices.find((x) => x.id === 'amr-3') as any).ros2 } } : d));
  const problems = crossCheckSite(SiteSchema.parse({ ...base, devices }));
  t.same(problems, [{ path: 'devices.2.ros2.namespace', message: "device 'amr-3' has the ROS 2 namespace '/amr_3' of 'amr-2'" }]);
  t.same(crossCheckSite(base), []);
});
