// The request audit log: every state-changing request, accepted or refused, is one row of an
// append-only hash chain; admins read it with GET /v1/audit, and tampering shows.
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import t, { type Test } from 'tap';
import { auditHash, GENESIS_HASH, type AuditEntry } from '../../gateway/store/audit.ts';
import { DATABASE_FILE, SCHEMA_VERSION } from '../../gateway/store/database.ts';
import { openStore } from '../../gateway/store/index.ts';
import { databaseAt } from '../store/fixtures/old-database.ts';
import { appFor, canonicalPlan, tempDirFor, type TestApp } from './harness.ts';

const post = (h: TestApp, url: string, payload: object, headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url, headers, payload });

/** An app with the four kinds of rows: a submit, a refused approve, a 401 and a 403. */
async function withTraffic(t: Test) {
  const h = await appFor(t);
  const submitted = await post(h, '/v1/missions', { plan: canonicalPlan() }, h.auth('agent'));
  t.equal(submitted.statusCode, 201, 'submit');
  const id = (submitted.json() as { id: string }).id;
  const refused = await post(h, `/v1/missions/${id}/approve?why=test`, { planHash: 'f'.repeat(64) }, h.auth('operator'));
  t.equal(refused.statusCode, 409, 'approve with the wrong planHash');
  t.equal((await post(h, '/v1/stop', { scope: 'all', reason: 'no token' })).statusCode, 401, 'no token');
  t.equal((await post(h, '/v1/stop/release', { ack: true }, h.auth('viewer'))).statusCode, 403, 'viewer may not release');
  return { h, id };
}

t.test('each state-changing request, accepted or refused, is one row; reads are none', async (t) => {
  const { h, id } = await withTraffic(t);
  for (const url of ['/v1/missions', `/v1/missions/${id}`, '/v1/stop', '/healthz', '/v1/nowhere']) {
    await h.app.inject({ method: 'GET', url, headers: h.auth('viewer') });
  }
  await h.app.inject({ method: 'HEAD', url: '/v1/missions', headers: h.auth('viewer') });
  await h.app.inject({ method: 'GET', url: '/v1/audit', headers: h.auth('viewer') });

  const rows = h.store.audit.list();
  t.equal(rows.length, 4, 'four rows, none for the GETs and the HEAD');
  t.match(rows, [
    { seq: 1, actor: 'agent-test', role: 'agent', method: 'POST', path: '/v1/missions', status: 201, code: null, requestId: String, prevHash: GENESIS_HASH },
    { seq: 2, actor: 'operator-test', role: 'operator', method: 'POST', path: `/v1/missions/${id}/approve`, status: 409, code: 'PLAN_HASH_MISMATCH' },
    { seq: 3, actor: 'anonymous', role: null, method: 'POST', path: '/v1/stop', status: 401, code: 'UNAUTHORIZED' },
    { seq: 4, actor: 'viewer-test', role: 'viewer', method: 'POST', path: '/v1/stop/release', status: 403, code: 'FORBIDDEN' },
  ]);
  t.notOk(rows[1]!.path.includes('?'), 'the query string is not kept');
  t.equal(rows[0]!.at, '2026-11-24T08:00:00.000Z', "the app's clock");
  t.equal(new Set(rows.map((r) => r.requestId)).size, 4, 'one request id each');
  for (let i = 1; i < rows.length; i++) t.equal(rows[i]!.prevHash, rows[i - 1]!.hash, `row ${i + 1} links to row ${i}`);
  t.same(h.store.audit.verify(), { ok: true, rows: 4 });

  // A request refused before any route (no such route, bad JSON) is a row too.
  t.equal((await post(h, '/v1/nowhere', {}, h.auth('agent'))).statusCode, 404);
  const bad = await h.app.inject({ method: 'POST', url: '/v1/stop/release', headers: { ...h.auth('operator'), 'content-type': 'application/json' }, payload: '{' });
  t.equal(bad.statusCode, 400);
  t.match(h.store.audit.list({ afterSeq: 4 }), [
    { seq: 5, actor: 'anonymous', path: '/v1/nowhere', status: 404, code: 'NOT_FOUND' },
    { seq: 6, actor: 'operator-test', path: '/v1/stop/release', status: 400, code: 'INVALID_JSON' },
  ]);
});

t.test('GET /v1/audit is for admins and carries the chain check', async (t) => {
  const { h } = await withTraffic(t);
  const asOperator = await h.app.inject({ method: 'GET', url: '/v1/audit', headers: h.auth('operator') });
  t.equal(asOperator.statusCode, 403);
  t.equal(asOperator.json().code, 'FORBIDDEN');

  const res = await h.app.inject({ method: 'GET', url: '/v1/audit', headers: h.auth('admin') });
  t.equal(res.statusCode, 200);
  const body = res.json() as { entries: AuditEntry[]; chain: unknown };
  t.same(body.entries, h.store.audit.list(), 'every row, oldest first');
  t.same(body.entries.map((e) => e.status), [201, 409, 401, 403]);
  t.same(body.chain, { ok: true, rows: 4 });

  const page = await h.app.inject({ method: 'GET', url: '/v1/audit?afterSeq=1&limit=2', headers: h.auth('admin') });
  t.same((page.json() as { entries: AuditEntry[] }).entries.map((e) => e.seq), [2, 3]);
  const tooMany = await h.app.inject({ method: 'GET', url: '/v1/audit?limit=5000', headers: h.auth('admin') });
  t.equal(tooMany.statusCode, 400);
  t.equal(tooMany.json().code, 'VALIDATION_FAILED');
  t.equal(h.store.audit.list().length, 4, 'reading the log wrote nothing');
});

t.test('the table is append-only; an edit behind the triggers shows in verify()', async (t) => {
  const { h } = await withTraffic(t);
  const raw = new Sqlite(path.join(h.dataDir, DATABASE_FILE));
  t.teardown(() => raw.close());
  t.throws(() => raw.prepare("UPDATE audit SET actor = 'someone-else' WHERE seq = 2").run(), /audit is append-only/);
  t.throws(() => raw.prepare('DELETE FROM audit WHERE seq = 3').run(), /audit is append-only/);
  t.same(h.store.audit.verify(), { ok: true, rows: 4 }, 'untouched');

  raw.exec('DROP TRIGGER audit_no_update');
  raw.prepare('UPDATE audit SET status = 200, code = NULL WHERE seq = 2').run();
  t.match(h.store.audit.verify(), { ok: false, seq: 2, reason: /hash does not match/ });
  const res = await h.app.inject({ method: 'GET', url: '/v1/audit', headers: h.auth('admin') });
  t.match(res.json(), { chain: { ok: false, seq: 2 } }, 'the API says so too');

  // Recomputing the edited row's hash only moves the break to the next row.
  const row = raw.prepare('SELECT * FROM audit WHERE seq = 2').get() as { seq: number; at: string; actor: string; role: string | null; method: string; path: string; status: number; code: string | null; request_id: string; prev_hash: string };
  raw.prepare('UPDATE audit SET hash = ? WHERE seq = 2').run(auditHash(row.prev_hash, row));
  t.match(h.store.audit.verify(), { ok: false, seq: 3, reason: /prev_hash/ });
});

t.test('a row removed from the middle breaks the chain', async (t) => {
  const { h } = await withTraffic(t);
  const raw = new Sqlite(path.join(h.dataDir, DATABASE_FILE));
  t.teardown(() => raw.close());
  raw.exec('DROP TRIGGER audit_no_delete');
  raw.prepare('DELETE FROM audit WHERE seq = 2').run();
  t.match(h.store.audit.verify(), { ok: false, seq: 3, reason: /missing/ });
});

t.test('the store: append links rows, list pages, bad arguments are refused', async (t) => {
  const dir = tempDirFor(t);
  const store = openStore(dir);
  t.teardown(() => store.db.open && store.close());
  t.same(store.audit.verify(), { ok: true, rows: 0 }, 'an empty log verifies');
  const entry = { actor: 'a', role: 'admin', method: 'DELETE', path: '/x', status: 204, code: null, requestId: 'r1' };
  const first = store.audit.append({ ...entry, at: new Date('2026-01-01T00:00:00Z') });
  t.match(first, { seq: 1, at: '2026-01-01T00:00:00.000Z', prevHash: GENESIS_HASH, hash: /^[0-9a-f]{64}$/ });
  const second = store.audit.append({ ...entry, requestId: 'r2' });
  t.equal(second.prevHash, first.hash);
  t.not(second.hash, first.hash);
  t.same(store.audit.list({ limit: 1 }), [first]);
  t.same(store.audit.list({ afterSeq: 1 }), [second]);
  t.throws(() => store.audit.list({ limit: 0 }), RangeError);
  t.throws(() => store.audit.list({ afterSeq: -1 }), RangeError);
  store.close();
  const again = openStore(dir);
  t.teardown(() => again.close());
  t.same(again.audit.list(), [first, second], 'on disk');
  t.same(again.audit.verify(), { ok: true, rows: 2 });
});

t.test('a failed audit write is logged, the request still succeeds', async (t) => {
  const h = await appFor(t);
  const raw = new Sqlite(path.join(h.dataDir, DATABASE_FILE));
  t.teardown(() => raw.close());
  raw.exec("CREATE TRIGGER audit_no_insert BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
  const res = await post(h, '/v1/stop', { scope: 'all', reason: 'audit down' }, h.auth('viewer'));
  t.equal(res.statusCode, 200, 'the stop went through');
  t.equal(h.store.stops.active().length, 1);
  t.same(h.store.audit.list(), []);
});

t.test('the migration adds the audit table to a database made before it', async (t) => {
  const dir = tempDirFor(t);
  // The audit table came with the third migration.
  databaseAt(dir, 2).close();
  const store = openStore(dir);
  t.teardown(() => store.close());
  t.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  t.equal(store.audit.append({ actor: 'x', role: null, method: 'POST', path: '/', status: 401, code: 'UNAUTHORIZED', requestId: 'r' }).seq, 1);
});
