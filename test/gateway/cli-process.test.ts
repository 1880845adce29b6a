// The real `phygate` binary, run as a user would (its own file: a child process's coverage is
// left out by test/coverage-map.mjs).
import { once } from 'node:events';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { childEnv, spawnNode } from '../helpers/child-env.ts';
import { demoSiteYaml } from '../helpers/demo-site.ts';
import { BIN } from './gateway-process.ts';
import { REPO_ROOT, tempDirFor } from './harness.ts';

/** Runs `phygate serve` with these PHYGATE_* variables (and no others) until it exits. */
async function serveUntilExit(t: Test, vars: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnNode([BIN, 'serve'], { cwd: REPO_ROOT, env: childEnv(vars) });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

t.test('the phygate bin exits 2 with a configuration error for PHYGATE_PORT=abc', async (t) => {
  const { code, stdout, stderr } = await serveUntilExit(t, { PHYGATE_PORT: 'abc', PHYGATE_DATA_DIR: tempDirFor(t) });
  t.equal(code, 2);
  t.match(stderr, /^configuration error: PHYGATE_PORT: /m);
  t.notMatch(stdout, /serving/, 'it does not start');
});

t.test('a site whose nav graph runs through its world is a clear error at start: exit 2, every collision named', async (t) => {
  const site = tempDirFor(t);
  const demo = join(REPO_ROOT, 'launch/sites/demo');
  cpSync(join(demo, 'world.sdf'), join(site, 'world.sdf'));
  // sa-5 moved from the aisle into shelf_rack_2.
  writeFileSync(join(site, 'site.yaml'), demoSiteYaml().replace('{ id: sa-5, x: 17, y: 4 }', '{ id: sa-5, x: 17, y: 6.8 }'));
  const { code, stdout, stderr } = await serveUntilExit(t, { PHYGATE_PORT: '0', PHYGATE_SITE: site, PHYGATE_DATA_DIR: tempDirFor(t) });
  t.equal(code, 2);
  t.match(stderr, /^site error: .*site\.yaml: nodes\.sa-5: node 'sa-5' at \(17, 6\.8\).*shelf_rack_2/m);
  t.match(stderr, /edges\.sa-5->shelf-2/);
  t.notMatch(stdout, /serving/, 'it does not start');
  t.notMatch(stdout, /pgt_/, 'and creates no token');
});
