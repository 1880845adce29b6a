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
  t.same(body.chain, { ok: true, rows: 4, pending: 0 });

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

t.test('a failed audit write is logged, without a token in the URL; the request still succeeds', async (t) => {
  const { PassThrough } = await import('node:stream');
  const log = new PassThrough();
  let text = '';
  log.on('data', (d: Buffer) => (text += d.toString()));
  const h = await appFor(t, { logStream: log, config: { PHYGATE_LOG_LEVEL: 'error' } });
  const raw = new Sqlite(path.join(h.dataDir, DATABASE_FILE));
  t.teardown(() => raw.close());
  raw.exec("CREATE TRIGGER audit_no_insert BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
  const res = await post(h, `/v1/stop?access%5Ftoken=${h.tokens.viewer}`, { scope: 'all', reason: 'audit down' }, h.auth('viewer'));
  t.equal(res.statusCode, 200, 'the stop went through');
  t.equal(h.store.stops.active().length, 1);
  t.same(h.store.audit.list(), []);
  t.match(text, /could not write the audit row/);
  t.match(text, /access%5Ftoken=REDACTED/, 'the URL is logged redacted');
  t.notMatch(text, h.tokens.viewer);
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

/** `n` rows appended in one transaction (one fsync, not n). */
function fill(store: ReturnType<typeof openStore>, n: number): void {
  store.db.transaction(() => {
    for (let i = 0; i < n; i++) store.audit.append({ actor: 'agent-test', role: 'agent', method: 'POST', path: '/v1/missions', status: 201, code: null, requestId: `r${i}`, at: new Date(Date.UTC(2026, 10, 24, 8, 0, 0, i)) });
  })();
}

t.test('GET /v1/audit verifies no more rows than it returns, from a checkpoint kept in the database', async (t) => {
  const h = await appFor(t);
  fill(h.store, 3000);
  const read = async (query: string) => {
    const before = h.store.audit.rowsVerified;
    const res = await h.app.inject({ method: 'GET', url: `/v1/audit${query}`, headers: h.auth('admin') });
    t.equal(res.statusCode, 200, query);
    const body = res.json() as { entries: AuditEntry[]; chain: { ok: boolean; rows?: number; pending?: number } };
    return { ...body, cost: h.store.audit.rowsVerified - before };
  };
  // The whole chain on every read, before: 3000 rows hashed to return 10.
  const first = await read('?afterSeq=2990&limit=10');
  t.equal(first.entries.length, 10);
  t.ok(first.cost <= first.entries.length, `the first read hashed ${first.cost} rows`);
  t.same(first.chain, { ok: true, rows: 10, pending: 2990 }, 'verified as far as it read, and says how far behind it is');

  let reads = 1;
  let chain = first.chain;
  while (chain.pending! > 0) {
    const page = await read('?limit=1000');
    reads++;
    t.ok(page.cost <= page.entries.length + 1, `read ${reads}: ${page.cost} rows hashed for ${page.entries.length} returned (+ the checkpoint's row)`);
    chain = page.chain;
  }
  t.same(chain, { ok: true, rows: 3000, pending: 0 }, 'reads together verify the whole log');
  t.equal(reads, 4, 'in three more pages of 1000');

  const quiet = await read('?afterSeq=3000');
  t.same(quiet.entries, []);
  t.ok(quiet.cost <= 1, 'a read past the end costs the checkpoint row at most');
  t.same(quiet.chain, { ok: true, rows: 3000, pending: 0 });

  // A fresh store on the same file (a restart) goes on from the stored checkpoint.
  const again = openStore(h.dataDir);
  t.teardown(() => again.close());
  t.same(again.audit.verifyIncrementally(5), { ok: true, rows: 3000, pending: 0 });
  t.ok(again.audit.rowsVerified <= 1);
});

t.test('a row tampered with after the checkpoint is found; one before it is found by the full check', async (t) => {
  const h = await appFor(t);
  fill(h.store, 40);
  t.same(h.store.audit.verifyIncrementally(10), { ok: true, rows: 10, pending: 30 }, 'checkpoint at 10');
  const { runCli } = await import('../../gateway/cli/commands.ts');
  const said: string[] = [];
  t.equal(await runCli(['audit', 'verify', '--data-dir', h.dataDir], (l) => said.push(l), (l) => said.push(l)), 0, 'phygate audit verify: 0 while untouched');
  t.same(said, ['audit log: 40 rows, the whole hash chain verifies']);
  t.equal(await runCli(['audit', 'check', '--data-dir', h.dataDir], () => {}, () => {}), 2, 'another subcommand: usage');
  const raw = new Sqlite(path.join(h.dataDir, DATABASE_FILE));
  t.teardown(() => raw.close());
  raw.exec('DROP TRIGGER audit_no_update');

  raw.prepare("UPDATE audit SET actor = 'someone-else' WHERE seq = 15").run();
  const res = await h.app.inject({ method: 'GET', url: '/v1/audit?limit=20', headers: h.auth('admin') });
  t.match(res.json(), { chain: { ok: false, seq: 15, reason: /hash does not match/ } }, 'after the checkpoint: found by the next read');
  t.match(h.store.audit.verifyIncrementally(100), { ok: false, seq: 15 }, 'and again on every read: the checkpoint did not move past it');

  raw.prepare("UPDATE audit SET actor = 'agent-test' WHERE seq = 15").run();
  raw.prepare("UPDATE audit SET status = 200 WHERE seq = 5").run();
  t.same(h.store.audit.verifyIncrementally(100), { ok: true, rows: 40, pending: 0 }, 'before the checkpoint: reads do not see it (README, "Audit log")');
  t.match(h.store.audit.verify(), { ok: false, seq: 5 }, 'the full check does');
  const out: string[] = [];
  t.equal(await runCli(['audit', 'verify', '--data-dir', h.dataDir], (l) => out.push(l), (l) => out.push(l)), 1, 'phygate audit verify exits 1');
  t.match(out.join('\n'), /row 5 does not verify/);

  // Rewriting the chain from before the checkpoint to its end, hashes and all, changes the checkpoint's row: that shows.
  raw.prepare('UPDATE audit SET status = 201 WHERE seq = 5').run();
  const rows = raw.prepare('SELECT * FROM audit ORDER BY seq').all() as Parameters<typeof auditHash>[1][];
  let prev = GENESIS_HASH;
  for (const r of rows) {
    const actor = r.seq === 3 ? 'forged' : r.actor;
    const hash = auditHash(prev, { ...r, actor });
    raw.prepare('UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(actor, prev, hash, r.seq);
    prev = hash;
  }
  t.same(h.store.audit.verify(), { ok: true, rows: 40 }, 'a rewritten chain verifies from the start');
  t.match(h.store.audit.verifyIncrementally(100), { ok: false, seq: 40, reason: /changed since it was verified/ }, 'but not against the checkpoint');
});

t.test('refused requests without a valid token become one row per address, route, status and code, with a count', async (t) => {
  let now = Date.parse('2026-11-24T08:00:00Z');
  const h = await appFor(t, { now: () => new Date(now), config: { PHYGATE_RATE_LIMIT_ANONYMOUS: 100 } });
  // A flood: 400 anonymous POSTs to routes that do not exist, each a new path, and 100 with a bad token.
  for (let i = 0; i < 400; i++) await h.app.inject({ method: 'POST', url: `/v1/nowhere-${i}`, payload: {} });
  for (let i = 0; i < 100; i++) await h.app.inject({ method: 'POST', url: '/v1/missions', headers: { authorization: 'Bearer pgt_guess' }, payload: {} });
  t.same(h.store.audit.list(), [], 'nothing written yet: gathered for the minute');

  const submit = await post(h, '/v1/missions', { plan: canonicalPlan() }, h.auth('agent'));
  t.equal(submit.statusCode, 201);
  const rows = h.store.audit.list();
  t.equal(rows.length, 4, 'three gathered rows, then the authenticated one: the log keeps its order');
  t.match(rows, [
    { actor: 'anonymous', method: 'POST', path: '/v1/nowhere-0', status: 404, code: 'NOT_FOUND', count: 100, address: '127.0.0.1' },
    { actor: 'anonymous', path: '/v1/nowhere-100', status: 429, code: 'RATE_LIMITED', count: 300, address: '127.0.0.1' },
    { actor: 'anonymous', path: '/v1/missions', status: 429, code: 'RATE_LIMITED', count: 100, address: '127.0.0.1' },
    { actor: 'agent-test', path: '/v1/missions', status: 201 },
  ]);
  t.notOk('count' in rows[3]!, 'an authenticated request is one row, without a count');
  t.equal(rows.reduce((n, r) => n + (r.count ?? 1), 0), 501, 'every request is counted');
  t.same(h.store.audit.verify(), { ok: true, rows: 4 }, 'count and address are in the hash');

  // A new minute starts a new row; the app's close writes what is gathered.
  await h.app.inject({ method: 'POST', url: '/v1/nowhere', payload: {}, remoteAddress: '10.0.0.9' });
  now += 60_000;
  await h.app.inject({ method: 'POST', url: '/v1/nowhere', payload: {}, remoteAddress: '10.0.0.9' });
  t.equal(h.store.audit.list({ afterSeq: 4 }).length, 1, "the last minute's row is written as the next minute's first request comes");
  await h.app.close();
  t.match(h.store.audit.list({ afterSeq: 4 }), [
    { address: '10.0.0.9', count: 1, at: '2026-11-24T08:00:00.000Z' },
    { address: '10.0.0.9', count: 1, at: '2026-11-24T08:01:00.000Z' },
  ]);
});

t.test('the gathered rows are bounded even from many addresses', async (t) => {
  const { AnonymousAuditBatch } = await import('../../gateway/audit-batch.ts');
  const written: { address?: string; path: string; count?: number }[] = [];
  const batch = new AnonymousAuditBatch((e) => written.push(e), () => new Date(0), 60_000, 3);
  const entry = { actor: 'anonymous', role: null, method: 'POST', status: 401, code: 'UNAUTHORIZED', requestId: 'r' };
  for (let i = 0; i < 1000; i++) batch.add({ ...entry, path: '/v1/missions', address: `10.0.${i >> 8}.${i & 255}` }, '/v1/missions');
  t.equal(batch.pending, 4, 'three addresses, then one row for the rest');
  batch.flush();
  t.same(written.map((w) => [w.address, w.count]), [['10.0.0.0', 1], ['10.0.0.1', 1], ['10.0.0.2', 1], ['(many)', 997]]);

  // Authenticated rows written between the flood's requests each flush what is gathered first;
  // the window's row budget still holds: 3 rows, then one for the rest, once.
  written.length = 0;
  for (let i = 0; i < 1000; i++) {
    batch.add({ ...entry, path: '/v1/missions', address: `10.1.${i >> 8}.${i & 255}` }, '/v1/missions');
    batch.flushBefore();
  }
  batch.flush();
  t.same(written.map((w) => [w.address, w.count]), [['10.1.0.0', 1], ['10.1.0.1', 1], ['10.1.0.2', 1], ['(many)', 997]], 'four rows for a thousand flushes');
});

t.test('rows and tokens from before the migration that added count, address and expiry still verify', async (t) => {
  const { createHash } = await import('node:crypto');
  const { MIGRATIONS } = await import('../../gateway/store/database.ts');
  const dir = tempDirFor(t);
  const before = MIGRATIONS.findIndex((sql) => sql.includes('audit_checkpoint'));
  t.ok(before > 0, 'the migration is there');
  const old = databaseAt(dir, before);
  // The hash as it was written then: sha256(prev_hash || the canonical JSON of nine fields).
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= 3; seq++) {
    const row = { actor: 'ana', at: `2026-11-0${seq}T00:00:00.000Z`, code: null, method: 'POST', path: '/v1/missions', requestId: `r${seq}`, role: 'agent', seq, status: 201 };
    const hash = createHash('sha256').update(prev).update(JSON.stringify(row)).digest('hex');
    old.prepare('INSERT INTO audit (seq, at, actor, role, method, path, status, code, request_id, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(seq, row.at, row.actor, row.role, row.method, row.path, row.status, row.code, row.requestId, prev, hash);
    prev = hash;
  }
  old.prepare("INSERT INTO tokens (id, name, role, token_hash, created_at) VALUES ('tok_OLD', 'old', 'viewer', ?, '2026-11-01T00:00:00.000Z')").run(createHash('sha256').update('pgt_old-token').digest('hex'));
  old.close();

  const store = openStore(dir);
  t.teardown(() => store.close());
  t.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  t.same(store.audit.verify(), { ok: true, rows: 3 }, 'the old rows keep their hashes');
  t.same(store.audit.verifyIncrementally(10), { ok: true, rows: 3, pending: 0 });
  t.notOk('count' in store.audit.list()[0]!, 'and have no count');
  store.audit.append({ actor: 'anonymous', role: null, method: 'POST', path: '/x', status: 404, code: 'NOT_FOUND', requestId: 'r4', count: 7, address: '10.0.0.1' });
  t.same(store.audit.verify(), { ok: true, rows: 4 }, 'a new row with a count links to them');
  t.same(store.tokens.verify('pgt_old-token'), { id: 'tok_OLD', name: 'old', role: 'viewer', expiresAt: null }, 'an old token never expires');
});
