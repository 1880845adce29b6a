// The shield on the demo site as the gateway loads it: its zones from site.yaml, its walls and
// machines from world.sdf through Rapier, amr-1's limits and footprint. Random policies started
// next to the keep-out around the cell and in and around the slow walkway never touch the world,
// never enter the keep-out and never go faster than the walkway allows.
import fc from 'fast-check';
import t from 'tap';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { createCollisionWorld } from '../../sim/world/collision.ts';
import { stepAmr, type AmrState } from '../../robots/policy/kinematics.ts';
import { evaluateMlp } from '../../robots/policy/mlp.ts';
import { footprintCorners, polygonsOverlap, Shield, shieldSiteOf } from '../../robots/policy/shield.ts';
import { DEMO_SITE_DIR } from '../sim/fixtures/world.ts';
import { trackMlp } from './policy-models.ts';

const loaded = loadSiteFolder(DEMO_SITE_DIR);
const site = loaded.index.site;
const world = await createCollisionWorld(loaded.world.obstacles);
t.teardown(() => world.free());
const amr = loaded.index.devicesOfKind('amr')[0]!;
const keepOuts = site.zones.flatMap((z) => (z.kind === 'keep-out' ? [z.polygon] : []));
const TICK_S = 0.05;

t.test('the demo site has what this test drives against', async (t) => {
  t.ok(keepOuts.length > 0, 'a keep-out zone');
  t.ok(site.zones.some((z) => z.kind === 'slow'), 'a slow zone');
  t.ok(world.obstacles.length > 0, 'obstacles in its world');
});

t.test('property: random policies on the demo floor stay clear, out and under the limit', async (t) => {
  const shieldSite = shieldSiteOf(site, world);
  const touches = (s: AmrState) => world.footprintHits(s.x, s.y, s.theta, amr.footprint).length > 0;
  const inKeepOut = (s: AmrState) => keepOuts.some((k) => polygonsOverlap(footprintCorners(s.x, s.y, s.theta, amr.footprint), k));
  // Around the keep-out (x 25.8–29.8, y 1.2–7.5) and the walkway (x 9–10.5, y 11–19.8).
  const around = fc.oneof(
    fc.record({ x: fc.double({ min: 23.5, max: 29.5, noNaN: true }), y: fc.double({ min: 0.6, max: 10, noNaN: true }) }),
    fc.record({ x: fc.double({ min: 7, max: 12.5, noNaN: true }), y: fc.double({ min: 9, max: 19.4, noNaN: true }) }),
  );
  let runs = 0;
  let steppedIn = 0;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 30 }), around, fc.double({ min: -Math.PI, max: Math.PI, noNaN: true }), (seed, p, theta) => {
      let s: AmrState = { x: p.x, y: p.y, theta, v: 0, omega: 0 };
      if (touches(s) || inKeepOut(s)) return true;
      runs++;
      const mlp = trackMlp(seed);
      const shield = new Shield({ limits: amr.limits, footprint: amr.footprint, site: shieldSite, tickS: TICK_S });
      for (let k = 0; k < 120; k++) {
        // A goal 3 m ahead-left of wherever the robot is: the random network turns it into anything.
        const out = evaluateMlp(mlp, [0.2, 0.3, 3, 1, 5, s.v, s.omega, Math.min(amr.limits.maxSpeed, shield.zoneLimit(s.x, s.y))]);
        s = stepAmr(s, shield.filter(amr.id, { state: s, action: [out[0]! * 2, out[1]! * 2] }), amr.limits, TICK_S);
        if (touches(s) || inKeepOut(s) || Math.abs(s.v) > shield.zoneLimit(s.x, s.y) + 1e-9) return false;
      }
      const counts = shield.interventions(amr.id);
      steppedIn += counts['look-ahead'] + counts['zone-limit'];
      return true;
    }),
    { numRuns: 40, seed: 42 },
  );
  t.ok(runs >= 20, `${runs} runs started clear`);
  t.ok(steppedIn > 0, `the look-ahead and the zone limit stepped in ${steppedIn} times`);
});
