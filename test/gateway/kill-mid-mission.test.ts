// kill -9 of the gateway while a mission runs on the (in-process) virtual fleet, then a restart
// on the same SQLite file: the database is intact, the mission is there, no step was dispatched
// twice, and it ends honestly: the fleet died with the gateway, so cnc-1 lost its job, and the
// mill's command, sent again from the outbox, is refused by the restarted machine as issued
// before it started. (With the fleet in its own process the mission carries on: fault-kill.test.ts.)
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import t from 'tap';
import { DATABASE_FILE } from '../../gateway/store/database.ts';
import { until } from '../helpers/wait.ts';
import { call, startGatewayProcess, waitHealthy } from './gateway-process.ts';
import { canonicalPlan, demoSiteCopy, tempDirFor } from './harness.ts';
import { withoutPolicies } from '../helpers/demo-site.ts';

t.test('SIGKILL mid-mission with the fleet in the same process: intact store, no step twice, the lost job ends the mission honestly', async (t) => {
  const dataDir = tempDirFor(t);
  // The AMRs on the analytic motion model: this is about the store.
  const env = { PHYGATE_FLEET_SPEED: '10', PHYGATE_SITE: demoSiteCopy(t, withoutPolicies) };
  const first = await startGatewayProcess(t, { dataDir, port: 0, env });
  const token = first.bootstrapToken!;
  await waitHealthy(first.url);
  await until('the fleet online', async () => {
    const r = await call(first.url, token, 'GET', '/v1/robots');
    return (r.json.robots as { online: boolean }[]).every((d) => d.online);
  });
  const sub = await call(first.url, token, 'POST', '/v1/missions', { plan: canonicalPlan() });
  const { id, planHash } = sub.json as { id: string; planHash: string };
  const approved = await call(first.url, token, 'POST', `/v1/missions/${id}/approve`, { planHash });
  t.equal(approved.json.status, 'running');
  // The courier's fetch (about 32 s of floor time, 3 s at 10x) finishes; the mill (360 s) is still running.
  await until('fetch succeeded', async () => {
    const m = await call(first.url, token, 'GET', `/v1/missions/${id}`);
    return (m.json.steps as { id: string; status: string }[]).find((s) => s.id === 'fetch')?.status === 'succeeded';
  });
  first.child.kill('SIGKILL');
  t.same(await first.exited, { code: null, signal: 'SIGKILL' });

  const db = new Sqlite(join(dataDir, DATABASE_FILE), { fileMustExist: true, readonly: true });
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'PRAGMA integrity_check after kill -9');
  db.close();

  const second = await startGatewayProcess(t, { dataDir, port: 0, env });
  await waitHealthy(second.url);
  const after = await until('the mission over', async () => {
    const m = await call(second.url, token, 'GET', `/v1/missions/${id}`);
    return m.json.status === 'failed' || m.json.status === 'succeeded' ? m.json : undefined;
  });
  t.equal(after.status, 'failed', 'the job died with the fleet: the mission fails');
  const steps = Object.fromEntries((after.steps as { id: string; status: string }[]).map((s) => [s.id, s.status]));
  t.equal(steps.fetch, 'succeeded', 'what finished stays finished');
  t.equal(steps.mill, 'failed', 'the mill was in flight and is failed');
  t.equal(steps.load, 'cancelled', 'nothing after it started');
  await second.stop('SIGTERM');

  const check = new Sqlite(join(dataDir, DATABASE_FILE), { fileMustExist: true, readonly: true });
  t.teardown(() => check.close());
  const failed = check.prepare("SELECT data FROM events WHERE mission_id = ? AND type = 'mission.failed'").pluck().get(id) as string;
  t.match(JSON.parse(failed), { step: 'mill', reason: /cnc-1.*expired/ }, 'the reason names the device and why');
  const entry = check.prepare("SELECT outcome FROM outbox WHERE mission_id = ? AND step_id = 'mill'").pluck().get(id);
  t.match(entry, /^(failed|expired)$/, 'its outbox entry is settled');
  const dispatched = check.prepare("SELECT json_extract(data, '$.step') FROM events WHERE mission_id = ? AND type = 'step.dispatched'").pluck().all(id) as string[];
  t.same(dispatched.sort(), ['fetch', 'mill'], 'each step dispatched at most once, across the kill');
});
