// The command line: `phygate token create | token list | help`, exit codes (0 ok, 2 usage), and
// configuration read from PHYGATE_* variables, rejected loudly when wrong.
import t from 'tap';
import { ROLES } from '../../gateway/auth/roles.ts';
import { runCli } from '../../gateway/cli/commands.ts';
import { ConfigError, readConfig } from '../../gateway/config.ts';
import { openStore } from '../../gateway/store/index.ts';
import { REPO_ROOT, tempDirFor } from './harness.ts';

/** Runs the CLI in-process, collecting what it prints. */
async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

const TOKEN = /^pgt_[A-Za-z0-9_-]{43}$/;

t.test('token create prints one token, which the store verifies with its role and name', async (t) => {
  const dir = tempDirFor(t);
  const r = await cli(['token', 'create', '--role', 'operator', '--name', 'tablet-1', '--data-dir', dir]);
  t.equal(r.code, 0);
  t.equal(r.out.length, 1, 'stdout is the token alone, so scripts can capture it');
  t.match(r.out[0], TOKEN);
  t.match(r.err.join('\n'), /operator.*tablet-1.*only this once/, 'stderr says what was made');
  const store = openStore(dir);
  t.teardown(() => store.close());
  t.match(store.tokens.verify(r.out[0]!), { role: 'operator', name: 'tablet-1', id: /^tok_/ });

  const second = await cli(['token', 'create', '--role', 'agent', '--name', 'manager-agent', '--data-dir', dir]);
  t.equal(second.code, 0);
  t.not(second.out[0], r.out[0], 'every token is new');
  t.match(store.tokens.verify(second.out[0]!), { role: 'agent', name: 'manager-agent' });
});

t.test('token create with a bad or missing role is 2 and lists the roles', async (t) => {
  const dir = tempDirFor(t);
  for (const args of [['--role', 'root'], ['--role', 'Admin'], []]) {
    const r = await cli(['token', 'create', ...args, '--name', 'x', '--data-dir', dir]);
    t.equal(r.code, 2, JSON.stringify(args));
    t.same(r.out, [], `${JSON.stringify(args)}: no token printed`);
    for (const role of ROLES) t.match(r.err.join('\n'), role, `${JSON.stringify(args)}: mentions ${role}`);
  }
  const store = openStore(dir);
  t.teardown(() => store.close());
  t.equal(store.tokens.list().length, 0, 'nothing was stored');
});

t.test('token create without a name is 2', async (t) => {
  const dir = tempDirFor(t);
  for (const args of [[], ['--name', '']]) {
    const r = await cli(['token', 'create', '--role', 'viewer', ...args, '--data-dir', dir]);
    t.equal(r.code, 2, JSON.stringify(args));
    t.match(r.err.join('\n'), /--name/);
    t.same(r.out, []);
  }
  const store = openStore(dir);
  t.teardown(() => store.close());
  t.equal(store.tokens.list().length, 0, 'nothing was stored');
});

t.test('token list shows every token without its secret', async (t) => {
  const dir = tempDirFor(t);
  const made = await cli(['token', 'create', '--role', 'operator', '--name', 'tablet-1', '--data-dir', dir]);
  const secret = made.out[0]!;
  const other = await cli(['token', 'create', '--role', 'viewer', '--name', 'wallboard', '--data-dir', dir]);
  t.equal(other.code, 0);
  {
    const store = openStore(dir);
    const wallboard = store.tokens.list().find((x) => x.name === 'wallboard')!;
    store.tokens.revoke(wallboard.id);
    store.close();
  }

  const r = await cli(['token', 'list', '--data-dir', dir]);
  t.equal(r.code, 0);
  t.equal(r.out.length, 2, 'one line per token');
  const [tablet, wallboard] = r.out.map((l) => l.split('\t'));
  t.match(tablet, [/^tok_/, 'operator', 'tablet-1', /^\d{4}-\d\d-\d\dT/]);
  t.equal(tablet!.length, 4, 'a live token has no revoked column');
  t.match(wallboard, [/^tok_/, 'viewer', 'wallboard', /^\d{4}-/, /^revoked \d{4}-/]);
  const all = r.out.join('\n') + r.err.join('\n');
  t.notMatch(all, secret, 'the secret is not shown');
  t.notMatch(all, /pgt_/, 'nor any token');
});

t.test('token list of an empty data folder prints nothing and is 0', async (t) => {
  const r = await cli(['token', 'list', '--data-dir', tempDirFor(t)]);
  t.equal(r.code, 0);
  t.same(r.out, []);
});

t.test('usage errors are 2: unknown command, unknown subcommand, unknown option, missing value', async (t) => {
  const dir = tempDirFor(t);
  const cases: Record<string, string[]> = {
    'unknown command': ['deploy'],
    'token without a subcommand': ['token', '--data-dir', dir],
    'unknown token subcommand': ['token', 'delete', '--data-dir', dir],
    'unknown option': ['token', 'list', '--data-dir', dir, '--verbose'],
    'option without its value': ['token', 'create', '--name', 'x', '--data-dir', dir, '--role'],
    'a stray argument': ['token', 'list', 'extra', '--data-dir', dir],
  };
  for (const [what, argv] of Object.entries(cases)) {
    const r = await cli(argv);
    t.equal(r.code, 2, what);
    t.ok(r.err.join('\n').length > 0, `${what}: says why on stderr`);
    t.same(r.out, [], `${what}: nothing on stdout`);
  }
  t.match((await cli(['deploy'])).err.join('\n'), /unknown command 'deploy'[\s\S]*Usage/, 'the unknown command is named, with the usage');
});

t.test('help prints the usage and is 0', async (t) => {
  for (const arg of ['help', '--help', '-h']) {
    const r = await cli([arg]);
    t.equal(r.code, 0, arg);
    const text = r.out.join('\n');
    t.match(text, /Usage:/);
    t.match(text, /token create --role ROLE --name N/);
    t.match(text, ROLES.join(', '), 'lists the roles');
    t.same(r.err, []);
  }
});

t.test('readConfig: defaults, and a ConfigError naming the variable when a value is wrong', async (t) => {
  const d = readConfig({});
  t.match(d, { PHYGATE_PORT: 8080, PHYGATE_HOST: '127.0.0.1', PHYGATE_RATE_LIMIT: 600, PHYGATE_BODY_LIMIT: 256 * 1024, PHYGATE_VIRTUAL_FLEET: true, PHYGATE_LOG_LEVEL: 'info' });
  t.equal(d.PHYGATE_ADMIN_TOKEN, undefined, 'no admin token by default');
  t.equal(readConfig({ PHYGATE_PORT: '9090' }).PHYGATE_PORT, 9090, 'numbers are parsed');
  t.equal(readConfig({ PHYGATE_PORT: '' }).PHYGATE_PORT, 8080, 'an empty variable counts as unset');
  t.equal(readConfig({ PHYGATE_VIRTUAL_FLEET: '0' }).PHYGATE_VIRTUAL_FLEET, false);
  t.equal(readConfig({ HOME: '/x', PATH: '/y' } as NodeJS.ProcessEnv).PHYGATE_PORT, 8080, 'other variables are ignored');

  const bad: Record<string, string> = {
    PHYGATE_PORT: 'abc',
    PHYGATE_RATE_LIMIT: '0',
    PHYGATE_ADMIN_TOKEN: 'short',
    PHYGATE_LOG_LEVEL: 'loud',
    PHYGATE_VIRTUAL_FLEET: 'yes',
    PHYGATE_MQTT_URL: 'not a url',
  };
  for (const [name, value] of Object.entries(bad)) {
    t.throws(() => readConfig({ [name]: value }), { name: 'ConfigError', message: new RegExp(`^${name}: `) }, `${name}=${value}`);
  }
  t.throws(() => readConfig({ PHYGATE_PORT: '70000' }), ConfigError, 'a port above 65535');
  try {
    readConfig({ PHYGATE_PORT: 'abc', PHYGATE_HOST: '', PHYGATE_BODY_LIMIT: '-1' });
    t.fail('should throw');
  } catch (e) {
    t.ok(e instanceof ConfigError, 'a ConfigError');
    t.match((e as Error).message, /PHYGATE_PORT: .*; PHYGATE_BODY_LIMIT: /, 'every wrong variable is named at once');
  }
});
