// How close robots came during a run, from sampled positions: the closest approach between two
// samples is found (robots crossing between samples), and overlapping footprint discs are named
// with the robots and the nearest node.
import t from 'tap';
import { SeparationWatch } from '../../sim/separation.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { DEMO_SITE_DIR } from '../gateway/harness.ts';

const site = loadSiteFolder(DEMO_SITE_DIR).index;
// The demo AMRs are 0.8 m × 0.6 m: the disc each sweeps turning has a radius of 0.5 m.
const pos = (entries: [string, number, number][]) => new Map(entries.map(([id, x, y]) => [id, { x, y }]));

t.test('robots that pass each other between two samples are found at their closest', async (t) => {
  const w = new SeparationWatch(site);
  // amr-1 drives east along y = 4 through sa-2 (8, 4); amr-2 drives west along y = 4.6: at no sample are they close.
  w.sample(0, pos([['amr-1', 5, 4], ['amr-2', 11, 4.6]]));
  w.sample(2, pos([['amr-1', 11, 4], ['amr-2', 5, 4.6]]));
  const { closest, overlaps } = w.result();
  t.same(closest?.robots, ['amr-1', 'amr-2']);
  t.equal(closest?.distanceM, 0.6, 'centre to centre when they pass');
  t.equal(closest?.gapM, -0.4, 'their discs overlap by 0.4 m');
  t.same(closest?.at, { x: 8, y: 4.3 });
  t.equal(closest?.near, 'sa-2');
  t.equal(closest?.tS, 1);
  t.equal(overlaps.length, 1, 'one pair overlapped');
});

t.test('robots that keep their distance overlap nowhere', async (t) => {
  const w = new SeparationWatch(site);
  w.sample(0, pos([['amr-1', 4, 1.5], ['amr-2', 8, 1.5], ['amr-3', 1.2, 8.5]]));
  w.sample(1, pos([['amr-1', 4, 4], ['amr-2', 8, 1.5], ['amr-3', 1.2, 8.5]]));
  const { closest, overlaps } = w.result();
  t.same(overlaps, []);
  t.same(closest?.robots, ['amr-1', 'amr-2'], 'the closest pair');
  t.equal(closest?.distanceM, 4);
  t.equal(closest?.gapM, 3);
});

t.test('one robot alone has no closest approach; a robot missing from a sample is left out of its interval', async (t) => {
  const w = new SeparationWatch(site);
  w.sample(0, pos([['amr-1', 4, 4]]));
  w.sample(1, pos([['amr-1', 5, 4], ['amr-2', 5, 4]]));
  t.equal(w.result().closest, undefined, 'amr-2 was not in the first sample: no interval for the pair yet');
  w.sample(2, pos([['amr-1', 5, 4], ['amr-2', 5.2, 4]]));
  t.equal(w.result().overlaps[0]?.near, 'sa-1', 'named once both are seen');
});
