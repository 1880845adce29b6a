// Loading rclnodejs: what is missing is named (the package, a sourced ROS 2, its native part), and
// a module that loads is checked for the members the adapter uses. The module itself is replaced
// by the test's importer; the real import is tested by real-ros.test.ts.
import t from 'tap';
import { loadRclnodejs } from '../../../robots/ros2/binding.ts';
import { Ros2UnavailableError } from '../../../robots/ros2/errors.ts';
import { StandInRcl } from './rclnodejs-stand-in.ts';

const notFound = () => Promise.reject(Object.assign(new Error("Cannot find package 'rclnodejs' imported from /work/robots/ros2/binding.ts"), { code: 'ERR_MODULE_NOT_FOUND' }));

t.test('not installed and not sourced: both are named, with what to do', async (t) => {
  const err = await loadRclnodejs({ env: {}, importModule: notFound }).catch((e: unknown) => e);
  t.ok(err instanceof Ros2UnavailableError);
  t.same((err as Ros2UnavailableError).missing, [
    'rclnodejs is not installed (an optional dependency; install it with ROS 2 sourced: npm install rclnodejs)',
    'ROS 2 is not sourced (ROS_DISTRO is unset; run: source /opt/ros/<distro>/setup.bash)',
  ]);
  t.match((err as Error).message, /^ROS 2 is unavailable: rclnodejs is not installed .*; ROS 2 is not sourced/);
});

t.test('sourced but not installed; installed but its native part does not load', async (t) => {
  await t.rejects(loadRclnodejs({ env: { ROS_DISTRO: 'jazzy' }, importModule: notFound }), { name: 'Ros2UnavailableError', missing: [/^rclnodejs is not installed/] });
  const broken = () => Promise.reject(new Error('librcl.so: cannot open shared object file'));
  await t.rejects(loadRclnodejs({ env: { ROS_DISTRO: 'jazzy' }, importModule: broken }), { name: 'Ros2UnavailableError', missing: ['rclnodejs is installed but does not load: librcl.so: cannot open shared object file'] });
  const unbuilt = () => Promise.reject(Object.assign(new Error("Cannot find module '/app/node_modules/rclnodejs/build/Release/rclnodejs.node'"), { code: 'MODULE_NOT_FOUND' }));
  await t.rejects(loadRclnodejs({ env: { ROS_DISTRO: 'jazzy' }, importModule: unbuilt }), { name: 'Ros2UnavailableError', missing: [/^rclnodejs is installed but does not load: Cannot find module '.*rclnodejs\.node'/] }, 'its native part missing is not "not installed"');
});

t.test('a module that loads with ROS 2 sourced is the binding, from its default export (CommonJS)', async (t) => {
  const rcl = new StandInRcl();
  const asked: string[] = [];
  const binding = await loadRclnodejs({ env: { ROS_DISTRO: 'jazzy' }, importModule: async (name) => (asked.push(name), { default: rcl }) });
  t.equal(binding, rcl);
  t.same(asked, ['rclnodejs']);
  t.equal(await loadRclnodejs({ env: { ROS_DISTRO: 'jazzy' }, importModule: async () => rcl }), rcl, 'or the namespace itself');
});

t.test('a module without the members the adapter uses is refused, naming them', async (t) => {
  await t.rejects(loadRclnodejs({ env: { ROS_DISTRO: 'jazzy' }, importModule: async () => ({ default: { init() {}, createNode() {} } }) }), {
    name: 'Ros2UnavailableError',
    missing: ['the rclnodejs that loaded has no ActionClient, QoS, shutdown (a version this adapter does not know)'],
  });
});
