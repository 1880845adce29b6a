// PHYGATE_ROS2 in the configuration and the composition root: off by default; `on` starts the
// ROS 2 adapter, and a machine without a usable ROS 2 makes the start fail with a configuration
// error that says what is missing (and leaves nothing running).
import t from 'tap';
import { ConfigError, readConfig } from '../../gateway/config.ts';
import { startGateway } from '../../gateway/main.ts';
import { tempDirFor } from './harness.ts';
import { TEST_GATEWAY_ENV } from '../helpers/child-env.ts';

t.test('PHYGATE_ROS2 is off unless set to on; anything else is a configuration error', async (t) => {
  t.equal(readConfig({}).PHYGATE_ROS2, 'off');
  t.equal(readConfig({ PHYGATE_ROS2: 'on' }).PHYGATE_ROS2, 'on');
  t.equal(readConfig({ PHYGATE_ROS2: 'off' }).PHYGATE_ROS2, 'off');
  t.throws(() => readConfig({ PHYGATE_ROS2: 'yes' }), { name: 'ConfigError', message: /^PHYGATE_ROS2: / });
});

t.test('PHYGATE_ROS2=on: without ROS 2 the gateway does not start and says why; with it, the adapter runs', async (t) => {
  const config = readConfig({
    ...TEST_GATEWAY_ENV,
    PHYGATE_PORT: '0',
    PHYGATE_MQTT_PORT: '0',
    PHYGATE_DATA_DIR: tempDirFor(t),
    PHYGATE_LOG_LEVEL: 'silent',
    PHYGATE_VIRTUAL_FLEET: '0',
    PHYGATE_ADMIN_TOKEN: 'test-admin-token-0123456789',
    PHYGATE_ROS2: 'on',
  });
  if (!process.env.ROS_DISTRO) {
    // A gateway that starts after all is closed again, so a failing check cannot leave it running.
    const err = await startGateway(config).then(
      (g) => (t.teardown(() => g.close()), g),
      (e: unknown) => e,
    );
    t.ok(err instanceof ConfigError, 'a configuration error, which the CLI prints as one');
    t.match((err as Error).message, /^PHYGATE_ROS2=on, but ROS 2 is unavailable: .*ROS 2 is not sourced \(ROS_DISTRO is unset/);
    // Everything started before the adapter was closed again: the same data folder opens at once.
    const again = await startGateway({ ...config, PHYGATE_ROS2: 'off' });
    t.equal(again.ros2, undefined);
    await again.close();
  } else {
    const g = await startGateway(config);
    t.teardown(() => g.close());
    t.same(g.ros2?.deviceIds(), [], 'the demo site has no ROS 2 devices, but the adapter runs');
  }
});
