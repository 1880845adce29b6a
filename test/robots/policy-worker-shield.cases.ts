// The shield's filter decided in the inference worker (runtime.ts `shields`): on the demo floor
// (its zones from site.yaml, its walls from world.sdf through Rapier, built in the worker by the
// module the caller names), a random policy's actions for robots near the keep-out, the slow
// walkway and the walls get exactly the decision the same shield makes on the event loop; rows
// without a profile get none; a profile the worker does not have is the caller's error. Then
// PolicyDrive records the worker's decision on the robot's own shield, and a STOP pressed while
// the worker ran still wins over it.
import t from 'tap';
import { PolicyDrive, type DrivenRobot, type Inference } from '../../robots/policy/drive.ts';
import type { AmrState } from '../../robots/policy/kinematics.ts';
import { checkPolicy } from '../../robots/policy/loader.ts';
import { writeMlpModel } from '../../robots/policy/model-writer.ts';
import { PolicyRuntime, type RobotObservation } from '../../robots/policy/runtime.ts';
import { INTERVENTION_REASONS, Shield, shieldSiteOf, type InterventionReason } from '../../robots/policy/shield.ts';
import { seededRandom } from '../../robots/policy/track-expert.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { createCollisionWorld } from '../../sim/world/collision.ts';
import { DEMO_SITE_DIR } from '../helpers/demo-site.ts';
import { trackMetadata, trackMlp } from './policy-models.ts';

const TICK_S = 0.05;
const loaded = loadSiteFolder(DEMO_SITE_DIR);
const amr = loaded.index.devicesOfKind('amr')[0]!;
const world = await createCollisionWorld(loaded.world.obstacles);
t.teardown(() => world.free());
// Actions up to twice the robot's limits, so the device limit, the acceleration, the zone and the look-ahead all have work.
const md = trackMetadata({
  actions: [
    { name: 'v', unit: 'm/s', scale: 2, min: -2, max: 2 },
    { name: 'omega', unit: 'rad/s', scale: 2, min: -2, max: 2 },
  ],
});
const runtime = await PolicyRuntime.start(new Map([['m', checkPolicy(writeMlpModel(trackMlp(11), { metadata: md }))]]), {
  budgetMs: 60_000,
  shields: {
    site: shieldSiteOf(loaded.index.site),
    walls: { module: new URL('../../sim/world/collision.ts', import.meta.url).href, data: loaded.world.obstacles },
    profiles: [{ id: amr.id, limits: amr.limits, footprint: amr.footprint, tickS: TICK_S }],
  },
});
t.teardown(() => runtime.close());
const here = () => new Shield({ limits: amr.limits, footprint: amr.footprint, site: shieldSiteOf(loaded.index.site, world), tickS: TICK_S });

/** Robots where the shield has work: by the keep-out around the cell, in and around the walkway, along the north wall. */
function states(count: number, seed: number): AmrState[] {
  const r = seededRandom(seed);
  const areas = [
    { x: [23.5, 29.5], y: [0.6, 10] },
    { x: [7, 12.5], y: [9, 19.4] },
    { x: [2, 30], y: [18, 19.6] },
  ];
  const out: AmrState[] = [];
  while (out.length < count) {
    const a = areas[out.length % areas.length]!;
    const s = { x: a.x[0]! + r() * (a.x[1]! - a.x[0]!), y: a.y[0]! + r() * (a.y[1]! - a.y[0]!), theta: (r() * 2 - 1) * Math.PI, v: r() * amr.limits.maxSpeed, omega: (r() * 2 - 1) * 0.5 };
    if (!here().blocked(s.x, s.y, s.theta, 0)) out.push(s);
  }
  return out;
}

t.test('the worker decides as the shield on the event loop does, robot by robot', async (t) => {
  const shield = here();
  const r = seededRandom(5);
  const all = states(150, 7);
  const seen: Record<InterventionReason, number> = Object.fromEntries(INTERVENTION_REASONS.map((k) => [k, 0])) as Record<InterventionReason, number>;
  let compared = 0;
  for (let batch = 0; batch < all.length; batch += 50) {
    const observations = new Map<string, RobotObservation>();
    all.slice(batch, batch + 50).forEach((state, i) => {
      const obs = Array.from({ length: 8 }, () => (r() * 2 - 1) * 3);
      // Every fifth robot asks for no decision: mixed rows in one batch.
      observations.set(`r${batch + i}`, { model: 'm', obs, ...(i % 5 === 4 ? {} : { shield: { profile: amr.id, state } }) });
    });
    const answer = await runtime.tick(observations);
    t.equal(answer.missed, undefined, 'answered');
    for (const [id, o] of observations) {
      const decided = answer.decisions?.get(id);
      if (!o.shield) {
        t.equal(decided, undefined, `${id} asked for no decision and got none`);
        continue;
      }
      const want = shield.decide({ state: o.shield.state, action: answer.actions.get(id) });
      if (!decided || decided.v !== want.v || decided.omega !== want.omega || decided.reasons.join() !== want.reasons.join()) {
        t.fail(`${id}: the worker decided ${JSON.stringify(decided)}, the event loop ${JSON.stringify(want)}`);
        continue;
      }
      compared++;
      for (const k of decided.reasons) seen[k]++;
    }
  }
  t.equal(compared, 120, 'every shielded robot decided alike');
  for (const k of ['device-limit', 'acceleration', 'zone-limit', 'look-ahead'] as const) t.ok(seen[k] > 0, `${k}: ${seen[k]} times`);
});

t.test('a profile the worker does not have is the caller error', async (t) => {
  const [state] = states(1, 3);
  t.throws(() => runtime.tick(new Map([['r', { model: 'm', obs: new Array(8).fill(0), shield: { profile: 'amr-9', state: state! } }]])), /robot r: no shield profile 'amr-9'/);
});

t.test("PolicyDrive records the worker's decision on the robot's shield; a STOP during the tick still wins", async (t) => {
  const [s1, s2, s3] = states(3, 9);
  const stopped = new Set<string>();
  const asked: RobotObservation[] = [];
  const inference: Inference = {
    async tick(obs) {
      asked.push(...obs.values());
      const answer = await runtime.tick(obs);
      stopped.add('b');
      return answer;
    },
  };
  const drive = new PolicyDrive({ inference, stopped: (id) => stopped.has(id), now: () => 0 });
  const robot = (id: string, state: AmrState, profile?: string): DrivenRobot => ({ id, model: 'm', state, obs: [0.2, 0.3, 3, 1, 5, state.v, state.omega, 1], observedAt: 0, shield: here(), ...(profile ? { profile } : {}) });
  const robots = [robot('a', s1!, amr.id), robot('b', s2!, amr.id), robot('c', s3!)];
  const commands = await drive.tick(robots);
  t.same(
    asked.map((o) => o.shield?.profile),
    [amr.id, amr.id, undefined],
    'a and b asked the worker to decide, c not',
  );
  const a = commands.get('a')!;
  t.same(a, here().filter('a', { state: s1!, action: (await runtime.tick(new Map([['a', asked[0]!]]))).actions.get('a') }), "a got the worker's decision");
  const counted = robots[0]!.shield.interventions('a');
  t.same(
    a.reasons.map((k) => counted[k]),
    a.reasons.map(() => 1),
    "and a's shield counted each of its reasons once",
  );
  t.same(commands.get('b'), { v: 0, omega: 0, reasons: ['stop'] }, 'b, stopped while the worker ran, gets zero');
  t.equal(robots[1]!.shield.interventions('b').stop, 1);
  t.ok(commands.get('c'), 'c was filtered on the event loop');
});
