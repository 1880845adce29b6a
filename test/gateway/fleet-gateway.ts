// The whole gateway as `npm start` runs it, in this process: its embedded broker on a free port, a
// store in a temporary folder, the virtual fleet at `speed`, an admin token the test knows. Closed
// when the test ends; resolves once every device is online (or withheld by the gateway, which it
// then never will be). Its site is a copy of the demo with every AMR on the analytic motion model
// unless `env` names one (PHYGATE_SITE): a policy-driven AMR at these speeds keeps a core busy,
// and only the policy tests are about it.
import type { Test } from 'tap';
import { readConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import { until } from '../helpers/wait.ts';
import { demoSiteCopy, tempDirFor } from './harness.ts';
import { withoutPolicies } from '../helpers/demo-site.ts';
import { TEST_GATEWAY_ENV } from '../helpers/child-env.ts';

export async function fleetGateway(t: Test, opts: { speed: number; adminToken: string; env?: Record<string, string> }): Promise<Gateway> {
  const g = await startGateway(
    readConfig({
      ...TEST_GATEWAY_ENV,
      PHYGATE_PORT: '0',
      PHYGATE_MQTT_PORT: '0',
      PHYGATE_DATA_DIR: tempDirFor(t),
      PHYGATE_LOG_LEVEL: 'silent',
      PHYGATE_FLEET_SPEED: String(opts.speed),
      PHYGATE_ADMIN_TOKEN: opts.adminToken,
      PHYGATE_SITE: opts.env?.PHYGATE_SITE ?? demoSiteCopy(t, withoutPolicies),
      ...opts.env,
    }),
  );
  t.teardown(() => g.close());
  if (g.virtualFleet) await until('the fleet online', () => g.fleet.list().every((d) => d.online || d.unavailable !== undefined));
  return g;
}
