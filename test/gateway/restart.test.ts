// A real `phygate serve` process, stopped and started again on the same data folder: what was
// answered with a 2xx is still there afterwards, whether the stop was graceful or a SIGKILL.
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import t, { type Test } from 'tap';
import { DATABASE_FILE } from '../../gateway/store/database.ts';
import { call, freePort, startGatewayProcess, waitHealthy } from './gateway-process.ts';
import { canonicalPlan, demoSiteCopy, tempDirFor } from './harness.ts';
import { withoutPolicies } from '../helpers/demo-site.ts';
import { until } from '../helpers/wait.ts';

/**
 * The demo site with every AMR on the analytic motion model: what is tested here is the store
 * across restarts, and five gateway starts each bringing up amr-3's policy runtime took this file
 * past its time limit on a loaded machine.
 */
function analytic(t: Test): Record<string, string> {
  return { PHYGATE_SITE: demoSiteCopy(t, withoutPolicies) };
}

t.test('SIGTERM stops the gateway gracefully (exit 0); a restart keeps missions and tokens', async (t) => {
  const dataDir = tempDirFor(t);

  const port = await freePort();
  const first = await startGatewayProcess(t, { dataDir, port, env: analytic(t) });
  t.equal(first.url, `http://127.0.0.1:${port}`, 'listens where PHYGATE_HOST/PHYGATE_PORT say');
  const token = first.bootstrapToken;
  t.match(token, /^pgt_[A-Za-z0-9_-]{43}$/, 'an empty data folder prints a bootstrap admin token');
  if (!token) return;
  t.equal(first.lines.filter((l) => l.includes(token)).length, 1, 'printed exactly once');
  await waitHealthy(first.url);

  const anonymous = await fetch(`${first.url}/v1/missions`);
  t.equal(anonymous.status, 401, 'the API needs a token over real HTTP too');
  const submitted = await call(first.url, token, 'POST', '/v1/missions', { plan: canonicalPlan() });
  t.equal(submitted.status, 201, 'submitted: 201');
  t.equal(submitted.headers.get('location'), `/v1/missions/${submitted.json.id}`, 'with its Location');
  const { id, planHash } = submitted.json as { id: string; planHash: string };
  const approved = await call(first.url, token, 'POST', `/v1/missions/${id}/approve`, { planHash });
  t.equal(approved.status, 200, 'approve: 200');
  t.equal(approved.json.status, 'running', 'approved, and started at once on the virtual fleet');

  const exit = await first.stop('SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'exit code 0, not killed by the signal');
  t.ok(first.lines.some((l) => /SIGTERM: shutting down/.test(l)), 'it says it is shutting down');
  t.equal(first.stderr().trim(), '', 'nothing on stderr');
  await t.rejects(fetch(`${first.url}/healthz`, { signal: AbortSignal.timeout(2000) }), 'the port is closed');

  const second = await startGatewayProcess(t, { dataDir, port: 0, env: analytic(t) });
  t.notOk(second.bootstrapToken, 'no new bootstrap token: one exists already');
  t.notOk(second.lines.some((l) => /pgt_/.test(l)), 'no token of any kind is printed');
  await waitHealthy(second.url);
  const after = await call(second.url, token, 'GET', `/v1/missions/${id}`);
  t.equal(after.status, 200, 'the old token still works');
  t.equal(after.json.planHash, planHash, 'with the same planHash');
  // The virtual fleet ran inside the first process and restarted with the second: cnc-1 lost the
  // job it was running. Its command is sent again (same commandId) and the machine answers that it
  // was issued before it started, so the mission ends honestly instead of pretending.
  const ended = await until('the mission over', async () => {
    const m = await call(second.url, token, 'GET', `/v1/missions/${id}`);
    return m.json.status === 'failed' || m.json.status === 'succeeded' ? m.json : undefined;
  });
  t.equal(ended.status, 'failed', 'the machine restarted with the gateway: its job is lost');
  t.match(ended.steps.find((s: { id: string }) => s.id === 'mill'), { status: 'failed' }, 'the mill failed');
  const listed = await call(second.url, token, 'GET', '/v1/missions');
  t.same(listed.json.missions.map((m: { id: string }) => m.id), [id], 'and it is the only one');
  t.same(await second.stop('SIGTERM'), { code: 0, signal: null }, 'the second run stops gracefully too');
});

t.test('after a SIGKILL a restart has every mission that was answered 201, in an intact database', async (t) => {
  const dataDir = tempDirFor(t);

  const first = await startGatewayProcess(t, { dataDir, port: 0, env: analytic(t) });
  const token = first.bootstrapToken!;
  t.match(token, /^pgt_/, 'a bootstrap token');
  await waitHealthy(first.url);
  const submitted = await call(first.url, token, 'POST', '/v1/missions', { plan: canonicalPlan() });
  t.equal(submitted.status, 201, 'submitted: 201');
  const { id, planHash } = submitted.json as { id: string; planHash: string };

  const exit = await first.stop('SIGKILL');
  t.same(exit, { code: null, signal: 'SIGKILL' }, 'killed, no chance to clean up');

  const second = await startGatewayProcess(t, { dataDir, port: 0, env: analytic(t) });
  t.notOk(second.bootstrapToken, 'the bootstrap token survived the kill, so none is made');
  await waitHealthy(second.url);
  const after = await call(second.url, token, 'GET', `/v1/missions/${id}`);
  t.equal(after.status, 200, 'the mission answered 201 before the kill is there');
  t.equal(after.json.status, 'awaiting_approval', 'still awaiting approval');
  t.equal(after.json.planHash, planHash, 'with the same planHash');
  t.equal(after.json.steps.length, 4, 'with all its steps');
  const approved = await call(second.url, token, 'POST', `/v1/missions/${id}/approve`, { planHash });
  t.equal(approved.status, 200, 'and it can be approved after the restart');

  const db = new Sqlite(join(dataDir, DATABASE_FILE), { fileMustExist: true });
  try {
    t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'PRAGMA integrity_check');
    t.same(db.pragma('foreign_key_check'), [], 'no dangling references');
    const types = db.prepare('SELECT type FROM events WHERE mission_id = ? ORDER BY seq').pluck().all(id);
    t.same(types.slice(0, 3), ['mission.created', 'mission.approved', 'mission.running'], 'the audit trail agrees');
    const dispatched = db.prepare("SELECT json_extract(data, '$.step') FROM events WHERE mission_id = ? AND type = 'step.dispatched'").pluck().all(id) as string[];
    t.same(dispatched, [...new Set(dispatched)], 'no step was dispatched twice');
  } finally {
    db.close();
  }
  t.same(await second.stop('SIGTERM'), { code: 0, signal: null }, 'graceful stop');
});
