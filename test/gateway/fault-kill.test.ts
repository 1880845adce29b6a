// kill -9 of the gateway mid-mission, as on a real floor: the fleet in its own process
// (`phygate fleet --speed 20`), a real Mosquitto, the gateway as a child process with a real
// SQLite file. It is killed twice — while cnc-1 mills (a machine command in flight) and while the
// courier carries (a VDA 5050 order in flight) — and restarted each time. The outbox is
// reconciled with what the devices report: the mission runs to succeeded, each step dispatched
// once, and no device ever received a second command for a step (a listener on the broker counts
// every order and command published).
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import mqtt from 'mqtt';
import t, { type Test } from 'tap';
import { DATABASE_FILE } from '../../gateway/store/database.ts';
import { startMosquitto } from '../helpers/brokers.ts';
import { until } from '../helpers/wait.ts';
import { call, spawnFleet, startGatewayProcess, waitHealthy, type GatewayProcess } from './gateway-process.ts';
import { canonicalPlan, demoSiteCopy, tempDirFor } from './harness.ts';
import { withoutPolicies } from '../helpers/demo-site.ts';

const TOKEN = 'test-admin-token-0123456789';

/** Every order and job command on the broker, by the id it carries. */
async function listen(t: Test, url: string): Promise<{ orders: string[]; updates: string[]; commands: string[] }> {
  const seen = { orders: [] as string[], updates: [] as string[], commands: [] as string[] };
  const client = await mqtt.connectAsync(url, { clientId: `fault-kill-listener-${process.pid}`, reconnectPeriod: 500 });
  t.teardown(() => client.endAsync(true));
  await client.subscribeAsync(['uagv/v2/+/+/order', 'phygate/v1/+/+/command'], { qos: 1 });
  client.on('message', (topic, payload) => {
    const m = JSON.parse(payload.toString()) as { orderId?: string; orderUpdateId?: number; commandId?: string; action?: string };
    if (topic.endsWith('/order')) {
      seen.orders.push(m.orderId!);
      seen.updates.push(`${m.orderId} #${m.orderUpdateId}`);
    }
    else if (m.action !== 'stop' && m.action !== 'reset') seen.commands.push(m.commandId!);
  });
  return seen;
}

t.test('SIGKILL of the gateway while a machine job and then an order are in flight: restarted, it carries the mission to succeeded, nothing sent twice', async (t) => {
  const broker = await startMosquitto(t);
  const dataDir = tempDirFor(t);
  // The AMRs on the analytic motion model, in the gateway and the fleet: this is about the store.
  const site = demoSiteCopy(t, withoutPolicies);
  const env = { PHYGATE_MQTT_URL: broker.url, PHYGATE_VIRTUAL_FLEET: '0', PHYGATE_ADMIN_TOKEN: TOKEN, PHYGATE_SITE: site };
  const seen = await listen(t, broker.url);
  spawnFleet(t, broker.url, 20, site);
  const start = async (): Promise<GatewayProcess> => {
    const g = await startGatewayProcess(t, { dataDir, port: 0, env });
    await waitHealthy(g.url);
    return g;
  };
  const mission = async (g: GatewayProcess) => (await call(g.url, TOKEN, 'GET', `/v1/missions/${id}`)).json as { status: string; steps: { id: string; status: string }[] };
  const stepIs = (g: GatewayProcess, step: string, status: string) => async () => (await mission(g)).steps.find((s) => s.id === step)!.status === status;
  const kill = async (g: GatewayProcess) => {
    g.child.kill('SIGKILL');
    t.same(await g.exited, { code: null, signal: 'SIGKILL' }, 'killed');
    const db = new Sqlite(join(dataDir, DATABASE_FILE), { fileMustExist: true, readonly: true });
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'PRAGMA integrity_check after kill -9');
    db.close();
  };

  let g = await start();
  await until('the fleet online', async () => ((await call(g.url, TOKEN, 'GET', '/v1/robots')).json.robots as { online: boolean }[]).every((d) => d.online));
  const sub = await call(g.url, TOKEN, 'POST', '/v1/missions', { plan: canonicalPlan() });
  const { id, planHash } = sub.json as { id: string; planHash: string };
  t.equal((await call(g.url, TOKEN, 'POST', `/v1/missions/${id}/approve`, { planHash })).json.status, 'running');

  // The mill runs 360 s of floor time, 18 s at 20x: kill the gateway while it runs.
  await until('the mill running', stepIs(g, 'mill', 'running'), 30_000);
  await kill(g);
  g = await start();
  t.equal((await mission(g)).status, 'running', 'after the restart the mission goes on');
  await until('load dispatched', async () => (await mission(g)).steps.find((s) => s.id === 'load')!.status !== 'pending', 60_000);
  t.pass('the mill ended and the mission went on to the load');

  // The carry is an order to the courier: kill the gateway while it drives.
  await until('carry running', stepIs(g, 'carry', 'running'), 60_000);
  await kill(g);
  g = await start();
  const done = await until(
    'the mission over',
    async () => {
      const m = await mission(g);
      return m.status === 'succeeded' || m.status === 'failed' ? m : undefined;
    },
    60_000,
  );
  t.equal(done.status, 'succeeded', 'the mission succeeded across two kills');
  t.same(done.steps.map((s) => s.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  await g.stop('SIGTERM');

  const db = new Sqlite(join(dataDir, DATABASE_FILE), { fileMustExist: true, readonly: true });
  t.teardown(() => db.close());
  const dispatched = db.prepare("SELECT json_extract(data, '$.step') FROM events WHERE mission_id = ? AND type = 'step.dispatched'").pluck().all(id) as string[];
  t.same(dispatched.sort(), ['carry', 'fetch', 'load', 'mill'], 'each step dispatched exactly once across the kills');
  const entries = db.prepare('SELECT id, step_id, outcome FROM outbox WHERE mission_id = ? ORDER BY created_at').all(id) as { id: string; step_id: string; outcome: string }[];
  t.same(entries.map((e) => [e.step_id, e.outcome]), [['mill', 'succeeded'], ['fetch', 'succeeded'], ['load', 'succeeded'], ['carry', 'succeeded']], 'one outbox entry a step, each settled');
  t.same([...new Set(seen.orders)].sort(), entries.filter((e) => e.step_id === 'fetch' || e.step_id === 'carry').map((e) => e.id).sort(), 'the broker saw one order id a step');
  t.same([...new Set(seen.commands)].sort(), entries.filter((e) => e.step_id === 'mill' || e.step_id === 'load').map((e) => e.id).sort(), 'and one command id a step');
  // An order goes out as its first part and updates that release the rest of its route (traffic control).
  t.same(seen.updates, [...new Set(seen.updates)], `each order message (order id and update) published once: ${seen.updates.join(', ')}`);
  t.ok(seen.updates.every((u) => u.endsWith(' #0') || seen.updates.includes(u.replace(/#(\d+)$/, (_, n: string) => `#${Number(n) - 1}`))), 'updates follow one another, none skipped');
  t.equal(seen.commands.length, 2, 'each command published once: the restarted gateway followed what the devices ran instead of sending again');
});
