// docs/site-guide.md is a walkthrough a new user follows (issue #18): its example site folder is
// valid, the plan it shows passes on it, and it names every part of site.yaml and every kind of
// device the schema has.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { PlanSchema } from '../planners/plan.ts';
import { SiteSchema } from '../planners/site.ts';
import { checkOnSite } from '../sim/checker.ts';
import { validateSiteFolder } from '../sim/site-folder.ts';

const path = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const guide = readFileSync(path('docs/site-guide.md'), 'utf8');

t.test("the guide's example site is valid and the guide's plan passes on it", async (t) => {
  const { site, problems } = await validateSiteFolder(path('launch/sites/example-cell'));
  t.same(problems, []);
  const json = /```json\n([\s\S]*?)```/.exec(guide)?.[1];
  t.ok(json, 'the guide has a plan');
  const report = checkOnSite(site!, PlanSchema.parse(JSON.parse(json!)));
  t.equal(report.verdict, 'pass', JSON.stringify(report.issues));
  t.equal(site!.world.obstacles.length, site!.index.site.walls!.length, 'its walls are its obstacles');
});

t.test('the guide names every field of site.yaml and every kind of device', async (t) => {
  for (const key of Object.keys(SiteSchema.shape)) t.match(guide, new RegExp(`\`${key}\`|^\\s*${key}:`, 'm'), `site.yaml's \`${key}\`, in the text or an example`);
  for (const kind of ['amr', 'arm', 'cnc', 'printer', 'conveyor']) t.match(guide, new RegExp(`\`${kind}\``), `device kind \`${kind}\``);
});
