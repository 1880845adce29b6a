// The shield on the demo site as the gateway loads it: its zones from site.yaml, its walls and
// machines from world.sdf through Rapier, amr-1's limits and footprint. Random policies started
// next to the keep-out around the cell and in and around the slow walkway never touch the world,
// never enter the keep-out and never go faster than the walkway allows; and random policies on
// random edges of the demo's nav graph (the one into the paint booth's keep-out among them), told
// to follow the edge, do the same and get a zero command from the tick of a STOP on.
import fc from 'fast-check';
import t from 'tap';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { createCollisionWorld } from '../../sim/world/collision.ts';
import { trackObservation, type PathPose } from '../../robots/policy/amr-track.ts';
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

t.test('property: random policies on random demo edges stay clear, out and under the limit, and stop at STOP', async (t) => {
  const shieldSite = shieldSiteOf(site, world);
  const touches = (s: AmrState) => world.footprintHits(s.x, s.y, s.theta, amr.footprint).length > 0;
  const inKeepOut = (s: AmrState) => keepOuts.some((k) => polygonsOverlap(footprintCorners(s.x, s.y, s.theta, amr.footprint), k));
  // Every edge in each direction it may be driven, as the path the observation is built on.
  const legs = site.edges.flatMap((e) => (e.oneWay ? [[e.from, e.to]] : [[e.from, e.to], [e.to, e.from]])).map(([from, to]): PathPose[] => {
    const a = loaded.index.node(from!)!;
    const b = loaded.index.node(to!)!;
    const heading = Math.atan2(b.y - a.y, b.x - a.x);
    return [
      { x: a.x, y: a.y, theta: heading },
      { x: b.x, y: b.y, theta: heading },
    ];
  });
  const intoKeepOut = legs.findIndex((p) => !inKeepOut({ ...p[0]!, v: 0, omega: 0 }) && inKeepOut({ ...p[1]!, v: 0, omega: 0 }));
  t.ok(intoKeepOut >= 0, 'an edge of the demo leads into a keep-out zone');
  let runs = 0;
  let stops = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 30 }),
      // Every fourth run drives the edge into the keep-out: a random draw would rarely pick it.
      fc.oneof({ arbitrary: fc.integer({ min: 0, max: legs.length - 1 }), weight: 3 }, { arbitrary: fc.constant(intoKeepOut), weight: 1 }),
      fc.double({ min: -0.3, max: 0.3, noNaN: true }),
      fc.double({ min: -Math.PI, max: Math.PI, noNaN: true }),
      fc.integer({ min: 10, max: 100 }),
      (seed, leg, offset, theta, stopTick) => {
        const path = legs[leg]!;
        const [a] = path;
        let s: AmrState = { x: a!.x - Math.sin(a!.theta) * offset, y: a!.y + Math.cos(a!.theta) * offset, theta, v: 0, omega: 0 };
        if (touches(s) || inKeepOut(s)) return true;
        runs++;
        const mlp = trackMlp(seed);
        const shield = new Shield({ limits: amr.limits, footprint: amr.footprint, site: shieldSite, tickS: TICK_S });
        let segment = 0;
        for (let k = 0; k < 120; k++) {
          const now = k * TICK_S * 1000;
          let command = shield.hold(amr.id, { now, stopped: k >= stopTick, observedAt: now });
          if (k >= stopTick && (!command || command.v !== 0 || command.omega !== 0)) return false;
          if (!command) {
            const o = trackObservation(path, s, Math.min(amr.limits.maxSpeed, shield.zoneLimit(s.x, s.y)), segment);
            segment = o.segment;
            const out = evaluateMlp(mlp, o.obs);
            command = shield.filter(amr.id, { state: s, action: [out[0]! * 2, out[1]! * 2] });
          }
          s = stepAmr(s, command, amr.limits, TICK_S);
          if (touches(s) || inKeepOut(s) || Math.abs(s.v) > shield.zoneLimit(s.x, s.y) + 1e-9) return false;
        }
        stops += shield.interventions(amr.id).stop;
        return true;
      },
    ),
    { numRuns: 40, seed: 7 },
  );
  t.ok(runs >= 20, `${runs} runs started clear`);
  t.ok(stops > 0, `STOP answered with zero ${stops} times`);
});
