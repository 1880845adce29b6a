// Taking access away: DELETE /v1/tokens/{id} and `phygate token revoke` (the next request with
// the token is 401, also on a gateway that is running), and tokens that expire on the app's clock.
import t from 'tap';
import { expiryOf, runCli } from '../../gateway/cli/commands.ts';
import { openStore } from '../../gateway/store/index.ts';
import { appFor, FIXED_NOW, tempDirFor } from './harness.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

t.test('DELETE /v1/tokens/{id} (admin) revokes: the next request with the token is 401', async (t) => {
  const h = await appFor(t);
  const tablet = h.store.tokens.create('operator', 'tablet-lost');
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(tablet.token) })).statusCode, 200, 'works before');

  const asOperator = await h.app.inject({ method: 'DELETE', url: `/v1/tokens/${tablet.id}`, headers: h.auth('operator') });
  t.equal(asOperator.statusCode, 403, 'an operator may not revoke');
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(tablet.token) })).statusCode, 200, 'still works');

  const res = await h.app.inject({ method: 'DELETE', url: `/v1/tokens/${tablet.id}`, headers: h.auth('admin') });
  t.equal(res.statusCode, 200);
  t.same(res.json(), { id: tablet.id, name: 'tablet-lost', role: 'operator', createdAt: String(h.store.tokens.get(tablet.id)!.createdAt), revokedAt: FIXED_NOW().toISOString(), expiresAt: null });
  const after = await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(tablet.token) });
  t.equal(after.statusCode, 401);
  t.equal(after.json().code, 'UNAUTHORIZED');

  const again = await h.app.inject({ method: 'DELETE', url: `/v1/tokens/${tablet.id}`, headers: h.auth('admin') });
  t.equal(again.statusCode, 200, 'revoking twice is not an error');
  t.equal(again.json().revokedAt, res.json().revokedAt, 'the first revocation stands');

  const unknown = await h.app.inject({ method: 'DELETE', url: '/v1/tokens/tok_NOSUCHTOKEN', headers: h.auth('admin') });
  t.equal(unknown.statusCode, 404);
  t.match(unknown.json(), { code: 'NOT_FOUND', message: /tok_NOSUCHTOKEN/ });
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: h.auth('operator') })).statusCode, 200, 'other tokens are untouched');

  t.match(h.store.audit.list().map((r) => [r.method, r.path, r.status]), [['DELETE', `/v1/tokens/${tablet.id}`, 403], ['DELETE', `/v1/tokens/${tablet.id}`, 200], ['DELETE', `/v1/tokens/${tablet.id}`, 200], ['DELETE', '/v1/tokens/tok_NOSUCHTOKEN', 404]], 'each attempt is in the audit log');

  const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  t.ok(doc.paths['/v1/tokens/{id}']?.delete, 'the API description has it');
  t.ok(doc.paths['/v1/tokens/{id}']!.delete!.responses['404'], 'with its 404');
});

t.test('phygate token revoke <id|name> revokes a token a running gateway then refuses', async (t) => {
  const h = await appFor(t);
  const bot = h.store.tokens.create('agent', 'planner-bot');
  const wall = h.store.tokens.create('viewer', 'wallboard');
  for (const token of [bot.token, wall.token]) t.equal((await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(token) })).statusCode, 200);

  const byName = await cli(['token', 'revoke', 'planner-bot', '--data-dir', h.dataDir]);
  t.equal(byName.code, 0, byName.err.join('\n'));
  t.match(byName.out.join('\n'), new RegExp(`revoked agent token 'planner-bot' \\(${bot.id}\\)`));
  const byId = await cli(['token', 'revoke', wall.id, '--data-dir', h.dataDir]);
  t.equal(byId.code, 0);
  for (const token of [bot.token, wall.token]) {
    const res = await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(token) });
    t.equal(res.statusCode, 401, 'the running app refuses it on its next request');
  }
  t.equal((await cli(['token', 'revoke', wall.id, '--data-dir', h.dataDir])).code, 0, 'by id again: said so, not an error');
  const gone = await cli(['token', 'revoke', 'planner-bot', '--data-dir', h.dataDir]);
  t.equal(gone.code, 1, 'by name, a revoked token is no longer found');
  t.match(gone.err.join('\n'), /no token with the id or name 'planner-bot'/);

  h.store.tokens.create('viewer', 'twin');
  h.store.tokens.create('viewer', 'twin');
  const twins = await cli(['token', 'revoke', 'twin', '--data-dir', h.dataDir]);
  t.equal(twins.code, 2, 'a name two live tokens share is not enough');
  t.match(twins.err.join('\n'), /2 live tokens are named 'twin'; revoke one by its id: tok_\w+, tok_\w+/);
  t.equal(h.store.tokens.list().filter((x) => x.name === 'twin' && x.revokedAt === null).length, 2, 'neither was revoked');
  t.equal((await cli(['token', 'revoke', '--data-dir', h.dataDir])).code, 2, 'no id or name: usage');
});

t.test('a token past its expiry is 401 TOKEN_EXPIRED, by the app clock', async (t) => {
  let now = FIXED_NOW().getTime();
  const h = await appFor(t, { now: () => new Date(now) });
  const temp = h.store.tokens.create('operator', 'contractor', { now: FIXED_NOW(), expiresAt: new Date(now + 3_600_000) });
  t.equal(temp.expiresAt, '2026-11-24T09:00:00.000Z');
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(temp.token) })).statusCode, 200, 'before');
  now += 3_599_999;
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(temp.token) })).statusCode, 200, 'a millisecond before');
  now += 1;
  const expired = await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: bearer(temp.token) });
  t.equal(expired.statusCode, 401, 'at its expiry');
  t.match(expired.json(), { code: 'TOKEN_EXPIRED', message: /expired/ });
  t.match(expired.headers['www-authenticate'], /Bearer/);
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/whoami', headers: h.auth('operator') })).statusCode, 200, 'tokens without expiry go on');
  t.throws(() => h.store.tokens.create('viewer', 'x', { now: FIXED_NOW(), expiresAt: FIXED_NOW() }), RangeError, 'an expiry must be in the future');
});

t.test('phygate token create --expires: a duration or a time; token list shows it', async (t) => {
  const dir = tempDirFor(t);
  const before = Date.now();
  const r = await cli(['token', 'create', '--role', 'agent', '--name', 'trial', '--expires', '30d', '--data-dir', dir]);
  t.equal(r.code, 0, r.err.join('\n'));
  t.match(r.err.join('\n'), /expires 20\d\d-/);
  const store = openStore(dir);
  t.teardown(() => store.close());
  const made = store.tokens.verify(r.out[0]!)!;
  const at = Date.parse(made.expiresAt!);
  t.ok(at >= before + 30 * 86_400_000 && at <= Date.now() + 30 * 86_400_000, 'thirty days from now');
  t.match((await cli(['token', 'list', '--data-dir', dir])).out.join('\n'), new RegExp(`trial\\t.*\\texpires ${made.expiresAt}`));
  const bad = await cli(['token', 'create', '--role', 'agent', '--name', 'x', '--expires', 'soon', '--data-dir', dir]);
  t.equal(bad.code, 2);
  t.match(bad.err.join('\n'), /--expires must be/);

  const now = new Date('2026-11-24T08:00:00Z');
  t.equal(expiryOf('30d', now)?.toISOString(), '2026-12-24T08:00:00.000Z');
  t.equal(expiryOf('12h', now)?.toISOString(), '2026-11-24T20:00:00.000Z');
  t.equal(expiryOf('45m', now)?.toISOString(), '2026-11-24T08:45:00.000Z');
  t.equal(expiryOf('2027-01-01T00:00:00Z', now)?.toISOString(), '2027-01-01T00:00:00.000Z');
  for (const no of ['0d', '2026-01-01', 'soon', '30', '-1d', '2027-13-45']) t.equal(expiryOf(no, now), null, no);
});
