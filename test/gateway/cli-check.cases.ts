// `phygate check PLAN.json`: the check of POST /v1/plans/check from the command line, run
// in-process on the demo site. Exit status 0 pass/warn, 1 fail, 2 unreadable input or site.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { XMLValidator } from 'fast-xml-parser';
import { runCli } from '../../gateway/cli/commands.ts';
import { DEMO_SITE_DIR, demoSiteCopy } from './harness.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** One AMR drives from its home (dock-a) to shelf-1: no slow zone, nobody else moves. */
const passingPlan = {
  schema: 'phygate.plan/v1',
  name: 'to-shelf',
  steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }],
};

/** Well-formed, but names a station the demo site does not have. */
const failingPlan = {
  schema: 'phygate.plan/v1',
  name: 'to-nowhere',
  steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'dock-z' } }],
};

const files = (t: Test, contents: Record<string, unknown>) =>
  t.testdir(Object.fromEntries(Object.entries(contents).map(([name, v]) => [name, typeof v === 'string' ? v : JSON.stringify(v, null, 2)])));

t.test('a passing plan: exit 0 and a summary with the verdict, makespan, steps and routes', async (t) => {
  const dir = files(t, { 'plan.json': passingPlan });
  const r = await cli(['check', join(dir, 'plan.json'), '--site', DEMO_SITE_DIR]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^verdict: PASS \(no issues\)$/m, 'the verdict line');
  t.match(r.out, /^plan: to-shelf, planHash [0-9a-f]{12}…, site demo /m);
  t.match(r.out, /^makespan: \d+\.\d s$/m);
  t.match(r.out, /^roles: none$/m);
  t.match(r.out, /^ {2}go\s+amr-1\s+0\.0–\d+\.\d s {2}route \d+ nodes, \d+\.\d m$/m, 'one line per step: id, device, start–end, route length');
  t.match(r.out, /^issues: none$/m);
  t.equal(r.err, '', 'nothing on stderr');
});

t.test('the wrapped form {plan, assume} of the README, roles and what-if state', async (t) => {
  const plan = { ...passingPlan, roles: { courier: { kind: 'amr' } }, steps: [{ id: 'go', action: 'navigate', device: '$courier', params: { to: 'shelf-1' } }] };
  const dir = files(t, {
    'plan.json': { plan },
    'offline.json': { plan: { ...passingPlan }, assume: { 'amr-1': { online: false } } },
  });
  const ok = await cli(['check', join(dir, 'plan.json'), '--site', DEMO_SITE_DIR]);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /^roles: \$courier → amr-[123]$/m, 'role assignments are printed');

  const offline = await cli(['check', join(dir, 'offline.json'), '--site', DEMO_SITE_DIR]);
  t.equal(offline.code, 1, 'the assume in the file is used: amr-1 offline fails');
  t.match(offline.out, /^ERROR DEVICE_OFFLINE go: /m);
});

t.test('a failing plan: exit 1, each issue with its severity, code, step and hint', async (t) => {
  const dir = files(t, { 'plan.json': failingPlan });
  const r = await cli(['check', join(dir, 'plan.json'), '--site', DEMO_SITE_DIR]);
  t.equal(r.code, 1);
  t.match(r.out, /^verdict: FAIL \(1 error\)$/m);
  t.match(r.out, /^ERROR UNKNOWN_LOCATION go: .*dock-z/m, 'SEVERITY CODE step: message');
  t.match(r.out, /^ {2}hint: .*dock-a/m, 'the hint names the stations that exist');
  t.match(r.out, /^ {2}go\s+-\s+not scheduled \(see its issue\)$/m, 'a step that could not be scheduled says so');
});

t.test('--json prints the report and nothing else', async (t) => {
  const dir = files(t, { 'plan.json': failingPlan });
  const r = await cli(['check', join(dir, 'plan.json'), '--site', DEMO_SITE_DIR, '--json']);
  t.equal(r.code, 1, 'the exit status still follows the verdict');
  const report = JSON.parse(r.out);
  t.equal(report.verdict, 'fail');
  t.match(report, { planHash: /^[0-9a-f]{64}$/, worldHash: /^[0-9a-f]{64}$/, issues: [{ code: 'UNKNOWN_LOCATION', step: 'go', hint: String }] });
});

t.test('--svg writes the picture of the plan', async (t) => {
  const dir = files(t, { 'plan.json': passingPlan });
  const svgFile = join(dir, 'plan.svg');
  const r = await cli(['check', join(dir, 'plan.json'), '--site', DEMO_SITE_DIR, '--svg', svgFile]);
  t.equal(r.code, 0, r.err);
  t.ok(existsSync(svgFile), 'the file exists');
  const svg = readFileSync(svgFile, 'utf8');
  t.ok(svg.startsWith('<svg'), 'an SVG document');
  t.equal(XMLValidator.validate(svg), true, 'well-formed');
  t.match(svg, /<title>to-shelf<\/title>/, "titled with the plan's name");
  t.match(svg, /class="route" data-device="amr-1" data-step="go"/, 'with the route of the step');
  t.match(r.out, new RegExp(`wrote the plan picture to ${svgFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'and says so');

  const both = await cli(['check', join(dir, 'plan.json'), '--site', DEMO_SITE_DIR, '--json', '--svg', join(dir, 'again.svg')]);
  t.equal(JSON.parse(both.out).verdict, 'pass', 'with --json, stdout stays the report alone');
  t.match(both.err, /wrote the plan picture/, 'the note goes to stderr');
  t.ok(existsSync(join(dir, 'again.svg')));

  const unwritable = await cli(['check', join(dir, 'plan.json'), '--site', DEMO_SITE_DIR, '--svg', join(dir, 'no-such-dir', 'x.svg')]);
  t.equal(unwritable.code, 2, 'a picture that cannot be written is 2');
  t.match(unwritable.err, /cannot write .*x\.svg/);
});

t.test('unreadable input is 2: missing file, bad JSON, schema problems with their paths', async (t) => {
  const dir = files(t, {
    'broken.json': '{ "schema": "phygate.plan/v1", ',
    'bare-bad.json': { ...passingPlan, colour: 'red', steps: [{ id: 'go', action: 'fly', device: 'amr-1', params: {} }] },
    'wrapped-bad.json': { plan: { ...passingPlan, priority: 11 }, extra: true },
  });
  const missing = await cli(['check', join(dir, 'nope.json'), '--site', DEMO_SITE_DIR]);
  t.equal(missing.code, 2);
  t.match(missing.err, /cannot read .*nope\.json/);

  const broken = await cli(['check', join(dir, 'broken.json'), '--site', DEMO_SITE_DIR]);
  t.equal(broken.code, 2);
  t.match(broken.err, /broken\.json is not valid JSON/);
  t.equal(broken.out, '', 'no report');

  const bare = await cli(['check', join(dir, 'bare-bad.json'), '--site', DEMO_SITE_DIR]);
  t.equal(bare.code, 2);
  t.match(bare.err, /does not have the required shape/);
  t.match(bare.err, /^ {2}colour: unknown field 'colour'$/m, 'an unknown field, by path');
  t.match(bare.err, /^ {2}steps\.0\.action: /m, 'an unknown action, by path');

  const wrapped = await cli(['check', join(dir, 'wrapped-bad.json'), '--site', DEMO_SITE_DIR]);
  t.equal(wrapped.code, 2);
  t.match(wrapped.err, /^ {2}plan\.priority: /m, 'paths of the wrapped form start at plan.');
  t.match(wrapped.err, /^ {2}extra: unknown field 'extra'$/m);
});

t.test('--assume: laid over the plan, checked against the site', async (t) => {
  const dir = files(t, {
    'plan.json': passingPlan,
    'offline.json': { 'amr-1': { online: false } },
    'unknown.json': { 'amr-9': { soc: 0.5 }, 'amr-1': { at: 'dock-z' } },
    'bad-shape.json': { 'amr-1': { soc: 2 } },
  });
  const plan = join(dir, 'plan.json');
  const offline = await cli(['check', plan, '--site', DEMO_SITE_DIR, '--assume', join(dir, 'offline.json')]);
  t.equal(offline.code, 1);
  t.match(offline.out, /^ERROR DEVICE_OFFLINE go: /m);

  const unknown = await cli(['check', plan, '--site', DEMO_SITE_DIR, '--assume', join(dir, 'unknown.json')]);
  t.equal(unknown.code, 2);
  t.match(unknown.err, /^ {2}assume\.amr-9: no device 'amr-9'/m);
  t.match(unknown.err, /^ {2}assume\.amr-1\.at: no station or node 'dock-z'/m);

  const bad = await cli(['check', plan, '--site', DEMO_SITE_DIR, '--assume', join(dir, 'bad-shape.json')]);
  t.equal(bad.code, 2);
  t.match(bad.err, /^ {2}assume\.amr-1\.soc: /m);
});

t.test('the site: --site, else PHYGATE_SITE; a broken one is 2', async (t) => {
  const dir = files(t, { 'plan.json': passingPlan });
  const plan = join(dir, 'plan.json');
  const noSite = await cli(['check', plan, '--site', join(dir, 'no-such-site')]);
  t.equal(noSite.code, 2);
  t.match(noSite.err, /^site error: .*site\.yaml/m);

  const before = process.env.PHYGATE_SITE;
  t.teardown(() => {
    if (before === undefined) delete process.env.PHYGATE_SITE;
    else process.env.PHYGATE_SITE = before;
  });
  process.env.PHYGATE_SITE = join(dir, 'elsewhere');
  const fromEnv = await cli(['check', plan]);
  t.equal(fromEnv.code, 2, 'PHYGATE_SITE is used without --site');
  t.match(fromEnv.err, /elsewhere/);
  const flagWins = await cli(['check', plan, '--site', DEMO_SITE_DIR]);
  t.equal(flagWins.code, 0, '--site wins over PHYGATE_SITE');
  delete process.env.PHYGATE_SITE;
  const byDefault = await cli(['check', plan]);
  t.equal(byDefault.code, 0, 'the demo site by default');
  t.match(byDefault.out, /site demo /);
});

t.test('usage errors are 2, and help lists the command', async (t) => {
  const none = await cli(['check']);
  t.equal(none.code, 2);
  t.match(none.err, /usage: phygate check PLAN\.json/);
  const two = await cli(['check', 'a.json', 'b.json']);
  t.equal(two.code, 2);
  const unknown = await cli(['check', 'a.json', '--colour']);
  t.equal(unknown.code, 2);
  t.match(unknown.err, /Unknown option '--colour'/);
  const help = await cli(['help']);
  t.match(help.out, /phygate check PLAN\.json \[--site DIR\] \[--assume FILE\] \[--json\] \[--svg FILE\]/);
});

t.test('a deadlocked plan: the stuck step and the steps after it are marked, the DEADLOCK says who and what to do', async (t) => {
  const plan = {
    schema: 'phygate.plan/v1',
    steps: [
      { id: 'park', action: 'navigate', device: 'amr-3', params: { to: 'dock-a' } },
      { id: 'after-park', action: 'wait', device: 'amr-3', params: { seconds: 5 }, after: ['park'] },
    ],
  };
  const dir = files(t, { 'plan.json': plan });
  // Where idle robots stay (policy `idle: stay`), amr-1 stands at dock-a for good.
  const r = await cli(['check', join(dir, 'plan.json'), '--site', demoSiteCopy(t, (yaml) => yaml.replace('idle: make-way', 'idle: stay'))]);
  t.equal(r.code, 1);
  t.match(r.out, /^ {2}park\s+amr-3\s+0\.0 s – stuck at [\d.]+ s, never finishes/m);
  t.match(r.out, /^ {2}after-park\s+-\s+never starts \(it waits on a step that never finishes\)$/m);
  t.match(r.out, /^ERROR DEADLOCK park: amr-3 cannot set off from 'charger-1' for 'dock-a'.*amr-1 stands at 'dock-a'/m);
  t.match(r.out, /^ {2}hint: add a step that moves amr-1 away/m);

  const madeWay = await cli(['check', join(dir, 'plan.json'), '--site', DEMO_SITE_DIR]);
  t.equal(madeWay.code, 0, 'on the demo floor as it is (idle: make-way), amr-1 makes way');
  t.match(madeWay.out, /MAKE_WAY park: amr-1 stands at 'dock-a' with nothing left to do, in amr-3's way: it makes way to 'park-1'/);
});
