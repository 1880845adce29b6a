import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { isRole, roleAllows, ROLES, type Role } from '../../gateway/auth/roles.ts';
import { openStore } from '../../gateway/store/index.ts';
import { sha256 } from '../../planners/plan.ts';
import { dataDir } from './fixtures/data-dir.ts';

t.test('roles are ordered viewer < agent < operator < admin', async (t) => {
  t.same(ROLES, ['viewer', 'agent', 'operator', 'admin']);
  for (const [i, have] of ROLES.entries()) {
    for (const [j, need] of ROLES.entries()) {
      t.equal(roleAllows(have, need), i >= j, `${have} ${i >= j ? 'may' : 'may not'} act as ${need}`);
    }
  }
  t.ok(isRole('operator'));
  t.notOk(isRole('root'));
  t.notOk(isRole(3));
});

t.test('create, verify, list, count, revoke', async (t) => {
  const store = openStore(dataDir(t));
  t.teardown(() => store.close());
  const { tokens } = store;
  t.equal(tokens.count(), 0);

  const ana = tokens.create('operator', 'ana');
  t.match(ana, { name: 'ana', role: 'operator' });
  t.match(ana.id, /^tok_[0-9A-Z]{26}$/);
  t.match(ana.token, /^pgt_[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  const bot = tokens.create('agent', 'planner-bot');
  t.not(bot.token, ana.token);

  t.same(tokens.verify(ana.token), { id: ana.id, name: 'ana', role: 'operator', expiresAt: null });
  t.same(tokens.verify(bot.token), { id: bot.id, name: 'planner-bot', role: 'agent', expiresAt: null });
  t.equal(tokens.verify(`${ana.token}x`), undefined, 'wrong token');
  t.equal(tokens.verify(ana.token.slice(4)), undefined, 'without its prefix');
  t.equal(tokens.verify(''), undefined);
  t.equal(tokens.verify(sha256(ana.token)), undefined, 'the stored hash is not a token');
  t.equal(tokens.count(), 2);

  const listed = tokens.list();
  t.same(listed.map((r) => Object.keys(r).sort()), Array(2).fill(['createdAt', 'expiresAt', 'id', 'name', 'revokedAt', 'role']));
  t.same(listed.map((r) => [r.id, r.revokedAt]), [[ana.id, null], [bot.id, null]]);

  t.equal(tokens.revoke(ana.id), true);
  t.equal(tokens.revoke(ana.id), false, 'already revoked');
  t.equal(tokens.revoke('tok_unknown'), false);
  t.equal(tokens.verify(ana.token), undefined, 'revoked tokens no longer verify');
  t.ok(tokens.verify(bot.token));
  t.equal(tokens.count(), 1);
  t.ok(tokens.list().find((r) => r.id === ana.id)?.revokedAt, 'revoked tokens stay listed, marked');
});

t.test('create refuses an unknown role', async (t) => {
  const store = openStore(dataDir(t));
  t.teardown(() => store.close());
  t.throws(() => store.tokens.create('root' as Role, 'x'), TypeError);
  t.equal(store.tokens.count(), 0);
});

t.test('the database files never hold the plaintext token', async (t) => {
  const dir = dataDir(t);
  const store = openStore(dir);
  const made = ROLES.map((role) => store.tokens.create(role, `${role}-token`));
  // Read while open, so recent writes are still in the WAL, then again after close has checkpointed.
  const files = () =>
    fs
      .readdirSync(dir)
      .filter((f) => f.startsWith('phygate.db'))
      .map((f) => fs.readFileSync(path.join(dir, f)));
  const check = (when: string) => {
    const bytes = Buffer.concat(files());
    for (const { token } of made) {
      t.equal(bytes.indexOf(token), -1, `${when}: no plaintext token`);
      t.equal(bytes.indexOf(token.slice(4)), -1, `${when}: no token secret without prefix`);
      t.not(bytes.indexOf(sha256(token)), -1, `${when}: its hash is there, so these are the right files`);
    }
  };
  t.ok(fs.existsSync(path.join(dir, 'phygate.db-wal')));
  check('open');
  store.close();
  check('closed');

  const reopened = openStore(dir);
  t.teardown(() => reopened.close());
  for (const { token, role } of made) t.equal(reopened.tokens.verify(token)?.role, role, 'still valid after reopen');
});
