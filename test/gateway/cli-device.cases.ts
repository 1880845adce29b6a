// `phygate device credentials ID`: a device's MQTT login for the embedded broker, printed once;
// the data folder keeps only a salted scrypt hash, so its files never hold the password; running
// it again rotates the login; an id the site does not have is refused and nothing is stored.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../../gateway/cli/commands.ts';
import { openStore } from '../../gateway/store/index.ts';
import { tempDirFor } from './harness.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

/** Every byte of the data folder (the database, its WAL and anything else). */
const folderBytes = (dir: string) => Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));

t.test('prints username and password once; only a hash is stored; again rotates it', async (t) => {
  const dir = tempDirFor(t);
  const r = await cli(['device', 'credentials', 'amr-1', '--data-dir', dir]);
  t.equal(r.code, 0, 'exit 0');
  t.equal(r.out.length, 2, 'stdout is the login alone');
  t.equal(r.out[0], 'username: amr-1');
  const password = /^password: ([A-Za-z0-9_-]{43})$/.exec(r.out[1]!)?.[1];
  t.ok(password, '32 random bytes, base64url');
  const errText = r.err.join('\n');
  t.match(errText, /shown only this once/);
  t.match(errText, /may publish on uagv\/v2\/phygate\/amr-1\/state, uagv\/v2\/phygate\/amr-1\/connection, uagv\/v2\/phygate\/amr-1\/factsheet, uagv\/v2\/phygate\/amr-1\/visualization/);
  t.match(errText, /subscribe to uagv\/v2\/phygate\/amr-1\/order, uagv\/v2\/phygate\/amr-1\/instantActions/);

  t.notOk(folderBytes(dir).includes(Buffer.from(password!)), 'the password is in no file of the data folder');
  const store = openStore(dir);
  t.teardown(() => store.close());
  t.equal(await store.deviceCredentials.verify('amr-1', password!), 'amr-1', 'the stored hash verifies it');
  t.equal(await store.deviceCredentials.verify('amr-1', `${password}x`), undefined);
  t.match(store.deviceCredentials.list(), [{ deviceId: 'amr-1', username: 'amr-1' }]);
  t.notOk(JSON.stringify(store.deviceCredentials.list()).includes(password!), 'the listing shows no secret');

  const again = await cli(['device', 'credentials', 'amr-1', '--data-dir', dir]);
  t.equal(again.code, 0);
  const rotated = /^password: (.+)$/.exec(again.out[1]!)![1]!;
  t.not(rotated, password, 'a new password');
  t.equal(await store.deviceCredentials.verify('amr-1', password!), undefined, 'the old one no longer works');
  t.equal(await store.deviceCredentials.verify('amr-1', rotated), 'amr-1', 'the new one does');
  t.equal(store.deviceCredentials.list().length, 1, 'still one login for amr-1');

  const machine = await cli(['device', 'credentials', 'cnc-1', '--data-dir', dir]);
  t.equal(machine.code, 0);
  t.match(machine.err.join('\n'), /may publish on phygate\/v1\/demo\/cnc-1\/state, phygate\/v1\/demo\/cnc-1\/connection\n.*subscribe to phygate\/v1\/demo\/cnc-1\/command/);
});

t.test('an id the site does not have: exit 2 naming the devices, nothing stored; usage errors are 2', async (t) => {
  const dir = tempDirFor(t);
  const r = await cli(['device', 'credentials', 'amr-9', '--data-dir', dir]);
  t.equal(r.code, 2);
  t.same(r.out, [], 'no password printed');
  t.match(r.err.join('\n'), /no device 'amr-9' in site 'demo'; its devices are: amr-1, amr-2, amr-3, .*cnc-1/);
  const store = openStore(dir);
  t.teardown(() => store.close());
  t.same(store.deviceCredentials.list(), []);
  for (const args of [['device'], ['device', 'credentials'], ['device', 'credentials', 'a', 'b'], ['device', 'passwords', 'amr-1']]) {
    const u = await cli([...args, '--data-dir', dir]);
    t.equal(u.code, 2, JSON.stringify(args));
    t.match(u.err.join('\n'), /usage: phygate device credentials DEVICE_ID/);
  }
});
