// The demo site's nav graph against its world: every node and edge clear for the largest AMR.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Site } from '../../planners/site.ts';
import { loadSiteFolder, openSiteFolder, SiteLoadError } from '../../sim/site-folder.ts';
import { createCollisionWorld } from '../../sim/world/collision.ts';
import { parseWorld, type Obstacle } from '../../sim/world/sdf.ts';
import { checkSiteAgainstWorld } from '../../sim/world/validate.ts';
import { demoSiteFolder } from './fixtures/world.ts';

async function check(t: Test, dir: string, edit?: (site: Site) => Site, extra: Obstacle[] = []) {
  const loaded = loadSiteFolder(dir);
  const obstacles = [...parseWorld(loaded.worldSdf, { baseDir: loaded.dir }).obstacles, ...extra];
  const world = await createCollisionWorld(obstacles);
  t.teardown(() => world.free());
  const site = edit ? edit(structuredClone(loaded.index.site)) : loaded.index.site;
  return checkSiteAgainstWorld(site, obstacles, world);
}

t.test('the demo site fits its world: every node and edge is clear', async (t) => {
  t.same(await check(t, demoSiteFolder(t)), []);
});

t.test('a node moved into shelf_rack_2 is reported with every edge touching it', async (t) => {
  const dir = demoSiteFolder(t);
  const file = join(dir, 'site.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('{ id: sa-5, x: 17, y: 4 }', '{ id: sa-5, x: 17, y: 6.8 }'));
  const problems = await check(t, dir);
  t.same(
    problems.map((p) => [p.kind, p.id]),
    [
      ['node', 'sa-5'],
      ['edge', 'sa-4->sa-5'],
      ['edge', 'sa-5->sa-6'],
      ['edge', 'sa-5->shelf-2'],
      ['edge', 'sa-5->park-2'],
    ],
  );
  t.ok(problems.every((p) => p.obstacles.includes('shelf_rack_2')));
  t.equal(
    problems[0]!.message,
    "node 'sa-5' at (17, 6.8): a 0.8 × 0.6 m robot (+0.05 m) turning in place there overlaps shelf_rack_2 (box 2.4 × 1.2 m at (17, 6.8))",
  );
  t.match(problems[3]!.message, /^edge sa-5->shelf-2 from \(17, 6\.8\) to \(17, 5\.3\): .* driving it overlaps shelf_rack_2/);
});

t.test('a station is checked parked at its heading, not turning in place', async (t) => {
  const dir = demoSiteFolder(t);
  const shelf2At = (y: number, theta?: number) => (site: Site): Site => {
    site.nodes.find((n) => n.id === 'shelf-2')!.y = y;
    if (theta !== undefined) site.stations.find((s) => s.id === 'shelf-2')!.theta = theta;
    return site;
  };
  // The rack's face is at y 6.2. Parked facing it at y 5.7 the nose (+0.05 m) is at 6.15: clear,
  // though a robot turning in place there (0.55 m disc) would reach 6.25.
  t.same(await check(t, dir, shelf2At(5.7)), []);
  // At y 5.8 the nose reaches 6.25: the station and the spur that drives in nose first.
  const facing = await check(t, dir, shelf2At(5.8));
  t.same(facing.map((p) => p.id), ['shelf-2', 'sa-5->shelf-2']);
  t.match(facing[0]!.message, /parked at heading 90° there overlaps shelf_rack_2/);
  // Parked sideways (heading 0) it is 0.6 m deep in y: clear; driving in is not.
  t.same((await check(t, dir, shelf2At(5.8, 0))).map((p) => p.id), ['sa-5->shelf-2']);
});

t.test('the largest footprint of the fleet is checked; a site without AMRs has nothing to check', async (t) => {
  const dir = demoSiteFolder(t);
  const wide = (site: Site): Site => {
    const amr = site.devices.find((d) => d.kind === 'amr');
    if (amr?.kind === 'amr') amr.footprint = { length: 0.8, width: 2.2 };
    return site;
  };
  const problems = await check(t, dir, wide);
  t.ok(problems.some((p) => p.id === 'sa-4->ma-3'), 'a 2.2 m wide robot does not fit between the racks');
  t.same(await check(t, dir, (site) => ({ ...site, devices: site.devices.filter((d) => d.kind !== 'amr') })), []);
});

t.test('messages describe what was hit: a model of several shapes, a model that may move', async (t) => {
  const dir = demoSiteFolder(t);
  // booth-in 0.3 m from the booth's south wall; a cart left standing on sa-1.
  const edit = (site: Site): Site => {
    site.nodes.find((n) => n.id === 'booth-in')!.y = 1.5;
    return site;
  };
  const cart: Obstacle = { model: 'cart', link: 'l', collision: 'c', shape: { kind: 'circle', r: 0.3 }, x: 4, y: 4, yaw: 0, zMin: 0, zMax: 1, static: false };
  const problems = await check(t, dir, edit, [cart]);
  const byId = new Map(problems.map((p) => [p.id, p]));
  t.match(byId.get('booth-in')?.message, /overlaps paint_booth \(4 shapes\)$/);
  t.match(byId.get('sa-1')?.message, /overlaps cart \(cylinder r 0\.3 m at \(4, 4\), not static\)$/);
  t.same(byId.get('sa-1->dock-a')?.obstacles, ['cart']);
});

t.test('opening a site folder checks it against its world: a broken site is a clear error naming every collision', async (t) => {
  const good = await openSiteFolder(demoSiteFolder(t));
  t.ok(good.world.obstacles.length > 10, 'the world is loaded with the site');
  const dir = demoSiteFolder(t);
  const file = join(dir, 'site.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('{ id: sa-5, x: 17, y: 4 }', '{ id: sa-5, x: 17, y: 6.8 }'));
  const err = await openSiteFolder(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof SiteLoadError, 'a SiteLoadError');
  const problems = (err as SiteLoadError).problems;
  t.same(problems.map((p) => p.path), ['nodes.sa-5', 'edges.sa-4->sa-5', 'edges.sa-5->sa-6', 'edges.sa-5->shelf-2', 'edges.sa-5->park-2']);
  t.match((err as Error).message, /site\.yaml: nodes\.sa-5: node 'sa-5' at \(17, 6\.8\).*shelf_rack_2/);
});

t.test('a world the loader cannot read is a SiteLoadError naming the world file', async (t) => {
  const dir = demoSiteFolder(t);
  writeFileSync(join(dir, 'world.sdf'), '<sdf version="1.9"><world name="w"><model name="m">');
  t.throws(() => loadSiteFolder(dir), { name: 'SiteLoadError', message: /world\.sdf/ });
});
