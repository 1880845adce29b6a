// The real `phygate` binary, run as a user would (its own file: a child process's coverage is
// left out by test/coverage-map.mjs).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import t from 'tap';
import { BIN } from './gateway-process.ts';
import { REPO_ROOT, tempDirFor } from './harness.ts';

t.test('the phygate bin exits 2 with a configuration error for PHYGATE_PORT=abc', async (t) => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PHYGATE_')));
  const child = spawn(process.execPath, [BIN, 'serve'], {
    cwd: REPO_ROOT,
    env: { ...env, PHYGATE_PORT: 'abc', PHYGATE_DATA_DIR: tempDirFor(t) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  t.equal(code, 2);
  t.match(stderr, /^configuration error: PHYGATE_PORT: /m);
  t.notMatch(stdout, /serving/, 'it does not start');
});
