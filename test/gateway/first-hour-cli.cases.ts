// Issue #18, the first hour at the command line: a typo in a PHYGATE_* variable is named with the
// setting meant; a data folder that cannot hold the store says which path, why and what to do
// (exit 2, no stack); every command answers --help; paths typed by the user are read where they
// stand, not where npm runs the script; token create says where the token went.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runCli, usageOf, userPath } from '../../gateway/cli/commands.ts';
import { unknownVariables } from '../../gateway/config.ts';
import { openStore, StoreOpenError } from '../../gateway/store/index.ts';
import { canonicalPlan, tempDirFor } from './harness.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out, err };
}

t.test('an unknown PHYGATE_* variable is a warning naming the setting meant; settings and the tools\' own variables are not', async (t) => {
  const warnings = unknownVariables({ PHYGATE_PROT: '9000', PHYGATE_PORT: '8080', PHYGATE_BENCH_FLEETS: '10', PHYGATE_TEST_MOSQUITTO: 'x', PHYGATE_ZZZZZZZZZZZZZZZZ: '1', PATH: '/bin' });
  t.equal(warnings.length, 2, warnings.join('\n'));
  t.match(warnings[0], /^PHYGATE_PROT is not a phygate setting and is ignored; did you mean PHYGATE_PORT\?/);
  t.match(warnings[1], /^PHYGATE_ZZZZZZZZZZZZZZZZ is not a phygate setting and is ignored \(/, 'no guess when nothing is near');
  t.same(unknownVariables({ PHYGATE_SITE: 'x', PHYGATE_MQTT_MAX_PACKET: '1' }), []);
});

t.test('a data "folder" that is a file: StoreOpenError naming the path and the variable; the CLI exits 2 with it, no stack', async (t) => {
  const dir = tempDirFor(t);
  const file = join(dir, 'not-a-folder');
  writeFileSync(file, 'x');
  t.throws(() => openStore(file), StoreOpenError);
  t.throws(() => openStore(join(file, 'below')), { message: /it, or a folder on its path, is a file; set PHYGATE_DATA_DIR/ });
  const r = await cli(['token', 'create', '--role', 'agent', '--name', 'a', '--data-dir', file]);
  t.equal(r.code, 2);
  t.match(r.err.join('\n'), new RegExp(`^data folder error: the data folder '${file}' cannot be created: it, or a folder on its path, is a file; set PHYGATE_DATA_DIR \\(or --data-dir\\)`));
  t.notMatch(r.err.join('\n'), /\n\s+at /, 'no stack trace');
});

t.test('every command answers --help with its own usage, exit 0', async (t) => {
  for (const command of ['serve', 'check', 'fleet', 'token', 'audit', 'device', 'policy']) {
    const r = await cli([command, '--help']);
    t.equal(r.code, 0, `${command} --help: exit 0`);
    t.match(r.out.join('\n'), new RegExp(`^Usage:\\n  phygate ${command}`), `${command}: its usage`);
    t.equal(r.out.join('\n'), usageOf(command));
  }
  t.match((await cli(['check', '-h'])).out.join('\n'), /check: PLAN\.json is a plan/, "check's own paragraph");
  t.equal(usageOf('nothing'), undefined);
});

t.test('paths typed by the user are read where npm was started (INIT_CWD), and token create says where the token went', async (t) => {
  const here = tempDirFor(t);
  writeFileSync(join(here, 'plan.json'), JSON.stringify(canonicalPlan()));
  mkdirSync(join(here, 'data'));
  const before = process.env.INIT_CWD;
  process.env.INIT_CWD = here;
  t.teardown(() => {
    if (before === undefined) delete process.env.INIT_CWD;
    else process.env.INIT_CWD = before;
  });
  t.equal(userPath('plan.json'), join(here, 'plan.json'));
  const checked = await cli(['check', 'plan.json', '--json']);
  t.not(checked.code, 2, `the plan was read from ${here}: ${checked.err.join(' ')}`);
  t.match(JSON.parse(checked.out.join('\n')), { verdict: /^(pass|warn|fail)$/ });
  const token = await cli(['token', 'create', '--role', 'agent', '--name', 'a', '--data-dir', 'data']);
  t.equal(token.code, 0);
  t.match(token.err.join('\n'), `stored in ${join(here, 'data')}`);
  const store = openStore(join(here, 'data'));
  t.teardown(() => store.close());
  t.ok(store.tokens.verify(token.out[0]!), 'the token is in the folder the user named');
});
