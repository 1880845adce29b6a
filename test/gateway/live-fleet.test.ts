// The whole gateway in one process as `npm start` runs it: the embedded broker, the masters and
// the virtual fleet over real MQTT. The API shows the fleet live, and moving when an order runs.
import t, { type Test } from 'tap';
import { readConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import { findRoute } from '../../planners/route.ts';
import { tempDirFor } from './harness.ts';
import { until } from '../helpers/wait.ts';
import { TEST_GATEWAY_ENV } from '../helpers/child-env.ts';


async function gateway(t: Test, env: Record<string, string> = {}): Promise<Gateway> {
  const config = readConfig({
    ...TEST_GATEWAY_ENV,
    PHYGATE_PORT: '0',
    PHYGATE_MQTT_PORT: '0',
    PHYGATE_DATA_DIR: tempDirFor(t),
    PHYGATE_LOG_LEVEL: 'silent',
    PHYGATE_FLEET_SPEED: '20',
    PHYGATE_ADMIN_TOKEN: 'test-admin-token-0123456789',
    ...env,
  });
  const g = await startGateway(config);
  t.teardown(() => g.close());
  return g;
}

const ADMIN = { authorization: 'Bearer test-admin-token-0123456789' };

t.test('npm start: every device of the demo site is online over MQTT, with the AMRs where they stand', async (t) => {
  const g = await gateway(t);
  t.ok(g.embeddedBroker, 'no PHYGATE_MQTT_URL: the embedded broker');
  t.match(g.mqttUrl, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
  await until('every device online', () => g.fleet.list().every((d) => d.online));
  const res = await fetch(`${g.url}/v1/robots`, { headers: ADMIN });
  t.equal(res.status, 200);
  const { robots } = (await res.json()) as { robots: { id: string; online: boolean; at?: string; pose?: { x: number; y: number }; soc?: number; state: string }[] };
  t.same(robots.map((r) => r.id), ['amr-1', 'amr-2', 'amr-3', 'arm-1', 'cnc-1', 'printer-1', 'conveyor-1']);
  t.ok(robots.every((r) => r.online), 'all online');
  t.match(robots[0], { id: 'amr-1', at: 'dock-a', pose: { x: 4, y: 1.5 }, soc: Number, state: 'idle' }, 'the VDA 5050 state of amr-1');
  t.match(robots.find((r) => r.id === 'cnc-1'), { state: 'idle' }, 'the machine-protocol state of cnc-1');
});

t.test('an order from a route moves amr-1: the API shows it driving, then at shelf-1 with a tote', async (t) => {
  const g = await gateway(t);
  await until('amr-1 online', () => g.fleet.get('amr-1')!.online);
  const amr1Device = g.site.index.device('amr-1');
  if (amr1Device?.kind !== 'amr') throw new Error('amr-1 is an AMR');
  const route = findRoute(g.site.graph, 'dock-a', 'shelf-1', amr1Device.limits);
  t.ok(route.ok);
  if (!route.ok) return;
  const poses: { x: number; y: number }[] = [];
  const off = g.fleet.onChange((s) => s.id === 'amr-1' && s.pose && poses.push({ x: s.pose.x, y: s.pose.y }));
  t.teardown(off);
  const done = new Promise<void>((resolve) => g.vda5050.onOrderProgress((p) => p.deviceId === 'amr-1' && p.finished && resolve()));
  await g.vda5050.sendOrder('amr-1', { route: route.route.nodes, actionsAtEnd: ['pick'] });
  await until('amr-1 driving', () => g.fleet.get('amr-1')!.state === 'driving');
  await done;
  const res = await fetch(`${g.url}/v1/robots/amr-1`, { headers: ADMIN });
  const amr1 = (await res.json()) as { at: string; cargo: number; pose: { x: number; y: number } };
  t.match(amr1, { at: 'shelf-1', cargo: 1 });
  const shelf = g.site.index.node('shelf-1')!;
  t.ok(Math.hypot(amr1.pose.x - shelf.x, amr1.pose.y - shelf.y) < 0.2, 'its pose is at shelf-1');
  const distinct = new Set(poses.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`));
  t.ok(distinct.size >= 5, `the API saw it on the way (${distinct.size} distinct poses)`);
});

t.test('PHYGATE_VIRTUAL_FLEET=0: nothing answers, every device is offline and a check says DEVICE_OFFLINE', async (t) => {
  const g = await gateway(t, { PHYGATE_VIRTUAL_FLEET: '0' });
  t.equal(g.virtualFleet, undefined);
  await new Promise((r) => setTimeout(r, 300));
  t.ok(g.fleet.list().every((d) => !d.online), 'all offline');
  const res = await fetch(`${g.url}/v1/plans/check`, {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ plan: { schema: 'phygate.plan/v1', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }] } }),
  });
  const report = (await res.json()) as { verdict: string; issues: { code: string }[] };
  t.equal(report.verdict, 'fail');
  t.ok(report.issues.some((i) => i.code === 'DEVICE_OFFLINE'));
});
