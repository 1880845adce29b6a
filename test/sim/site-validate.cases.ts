// Writing your own site (issue #18): `phygate site validate DIR` reports every problem it can find
// at once, each with its file and path; a site may have no Gazebo world and draw its walls in
// site.yaml, which the checker then reads as it reads a world file.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runCli } from '../../gateway/cli/commands.ts';
import { copyDemoSite } from '../helpers/demo-site.ts';
import { openSiteFolder, validateSiteFolder, wallsWorld } from '../../sim/site-folder.ts';

/** The demo site folder copied, with `edit` applied to site.yaml and world.sdf removed when asked. */
function siteCopy(t: Test, edit: (yaml: string) => string, withWorld = true): string {
  const dir = t.testdir();
  copyDemoSite(dir);
  const file = join(dir, 'site.yaml');
  const before = readFileSync(file, 'utf8');
  const after = edit(before);
  if (after === before) throw new Error('the edit changed nothing');
  writeFileSync(file, after);
  if (!withWorld) rmSync(join(dir, 'world.sdf'));
  return dir;
}

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const HALL = `walls:
  - { id: south, from: [0, 0], to: [30, 0] }
  - { id: north, from: [0, 20], to: [30, 20] }
  - { id: west, from: [0, 0], to: [0, 20] }
  - { id: east, from: [30, 0], to: [30, 20] }
mapId:`;

t.test('a site without a world file: its walls come from site.yaml, as boxes the checker reads', async (t) => {
  const dir = siteCopy(t, (y) => y.replace('world: world.sdf\nmapId:', HALL), false);
  const site = await openSiteFolder(dir);
  t.equal(site.world.obstacles.length, 4, 'four walls, four obstacles');
  const south = site.world.obstacles.find((o) => o.model === 'wall-south')!;
  t.match(south, { x: 15, y: 0, shape: { kind: 'box', hx: 15.1, hy: 0.1 } }, 'centre, length plus thickness, thickness');
  t.equal(site.worldSdf, wallsWorld(site.index.site), 'the world hashed and handed to Gazebo is the walls world');
  t.match((await cli(['site', 'validate', dir])).out, /valid — site 'demo'.*\nworld of 4 walls in site\.yaml: 4 obstacle shapes read/);

  const blocked = siteCopy(t, (y) => y.replace('world: world.sdf\nmapId:', `${HALL.replace('mapId:', '')}  - { id: across, from: [4, 2], to: [4, 6] }\nmapId:`), false);
  const r = await cli(['site', 'validate', blocked]);
  t.equal(r.code, 1);
  t.match(r.err, /site\.yaml nodes\.sa-1: /, 'a node inside a wall drawn in site.yaml is found as with a world file');
});

t.test('site validate reports every problem it can at once: the site file and the world file together', async (t) => {
  const dir = siteCopy(t, (y) => y.replace('world: world.sdf', 'world: missing.sdf').replace('{ id: sa-2, x: 8, y: 4 }', '{ id: sa-1, x: 8, y: 4 }'));
  const r = await cli(['site', 'validate', dir]);
  t.equal(r.code, 1);
  t.match(r.err, /^site folder .*: \d+ problems/);
  t.match(r.err, /site\.yaml nodes\.1\.id: node 'sa-1' is defined twice/, 'a cross-check problem');
  t.match(r.err, /missing\.sdf world: cannot read the world file/, 'and, in the same run, the world file');
  const shape = siteCopy(t, (y) => y.replace('mapId: demo-hall', 'mapId: 7').replace('world: world.sdf', 'world: missing.sdf'));
  const s = await validateSiteFolder(shape);
  t.same(s.problems.map((p) => p.path).sort(), ['mapId', 'world'], 'a shape problem and the world, together');
  const both = siteCopy(t, (y) => y.replace('mapId:', `${HALL.replace('mapId:', '')}mapId:`));
  t.match((await validateSiteFolder(both)).problems, [{ path: 'walls', message: /walls are read only for a site without a world file/ }]);
  t.equal((await cli(['site', 'validate'])).code, 2, 'no folder: usage');
  t.match((await cli(['site', '--help'])).out, /phygate site validate DIR/);
});
