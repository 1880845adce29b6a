// The README's "Try it with curl" walkthrough, run as a user pastes it (issue #18: every README
// command copy-paste runnable): the sh block is taken from README.md as it is, and run by bash
// with -e against a real gateway (embedded broker, virtual fleet at 50× speed), in a folder of its
// own. Two things differ from a user's terminal, both outside the block: the gateway listens on a
// free port, so the block's `export PHYGATE=http://127.0.0.1:8080` is pointed at it, and `npm run
// phygate` finds a package.json there whose `phygate` script is this repository's CLI.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { readConfig } from '../gateway/config.ts';
import { startGateway } from '../gateway/main.ts';
import { tempDirFor } from './gateway/harness.ts';
import { until } from './helpers/wait.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** The first ```sh block after the heading. */
export function shBlockAfter(markdown: string, heading: string): string {
  const from = markdown.indexOf(`\n${heading}\n`);
  if (from < 0) throw new Error(`no heading '${heading}'`);
  const m = /```sh\n([\s\S]*?)```/.exec(markdown.slice(from));
  if (!m) throw new Error(`no sh block after '${heading}'`);
  return m[1]!;
}

t.test('the README\'s curl walkthrough runs as written: check passes, the mission is submitted, approved and succeeds', async (t) => {
  const block = shBlockAfter(readFileSync(join(REPO, 'README.md'), 'utf8'), '## Try it with curl');
  t.match(block, /^export PHYGATE=http:\/\/127\.0\.0\.1:8080$/m, 'the block sets the default address');
  const data = tempDirFor(t);
  const g = await startGateway(readConfig({ PHYGATE_PORT: '0', PHYGATE_MQTT_PORT: '0', PHYGATE_DATA_DIR: data, PHYGATE_LOG_LEVEL: 'silent', PHYGATE_FLEET_SPEED: '50' }));
  t.teardown(() => g.close());
  await until('every device online', () => g.fleet.list().every((d) => d.online));

  const here = tempDirFor(t);
  writeFileSync(join(here, 'package.json'), JSON.stringify({ name: 'readme-walkthrough', private: true, scripts: { phygate: `node ${join(REPO, 'gateway/cli/phygate.mjs')}` } }));
  const script = block.replace('export PHYGATE=http://127.0.0.1:8080', `export PHYGATE=${g.url}`);
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: here, env: { ...process.env, PHYGATE_DATA_DIR: data, INIT_CWD: here }, maxBuffer: 16 * 1024 * 1024 });

  // What the block printed: one JSON value a line (jq -c).
  const values = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as unknown);
  const site = values.find((v) => (v as { stations?: unknown }).stations) as { id: string; stations: string[] };
  t.equal(site.id, g.site.index.site.id, 'the site');
  t.ok(site.stations.includes('shelf-2'));
  const robots = values.filter((v) => (v as { online?: unknown }).online !== undefined);
  t.equal(robots.length, g.site.index.site.devices.length, 'one line per device');
  const report = values.find((v) => (v as { verdict?: unknown }).verdict) as { verdict: string; issues: unknown[] };
  t.equal(report.verdict, 'pass', `the check passes: ${JSON.stringify(report.issues)}`);
  const submitted = values.find((v) => (v as { status?: string }).status === 'awaiting_approval') as { id: string; planHash: string };
  t.match(submitted, { id: /^m_/, planHash: /^[0-9a-f]{64}$/ }, 'submitted, awaiting approval');
  t.ok(values.some((v) => (v as { id?: string; status?: string }).id === submitted.id && (v as { status?: string }).status === 'running'), 'approved: it runs');

  // The mission the walkthrough started finishes on the virtual fleet.
  await until('the mission to succeed', () => g.store.missions.get(submitted.id)?.status === 'succeeded', 120_000);
  t.equal(readFileSync(join(here, 'plan.json'), 'utf8').includes('"brackets-to-shelf"'), true, 'plan.json was written where the user stands');
});
