// The route a step's AMR is sent along is the one its check planned (the report's
// steps[].route), from where the AMR stands; only an AMR off that route gets a route found anew.
import t from 'tap';
import { routeFrom, workRequest } from '../../gateway/execution/work-request.ts';
import { PlanSchema, type PlanInput } from '../../planners/plan.ts';
import { findRoute } from '../../planners/route.ts';
import { StepRefusedError } from '../../robots/device-port.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { DEMO_DIR } from '../planners/fixtures/demo.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';

const site = loadSiteFolder(DEMO_DIR);
const amr1 = site.index.device('amr-1')!;
const limits = amr1.kind === 'amr' ? amr1.limits : undefined!;

function fleetWith(at: string): FleetRegistry {
  const fleet = new FleetRegistry(site.index);
  const node = site.index.node(at)!;
  fleet.update('amr-1', { online: true, state: 'idle', at, pose: { x: node.x, y: node.y, theta: 0 } });
  return fleet;
}
const shortest = (from: string, to: string) => {
  const r = findRoute(site.graph, from, to, limits);
  if (!r.ok) throw new Error(`no route ${from} → ${to}`);
  return r.route.nodes;
};
/** A route from `from` to `to` that is not the shortest: it avoids the shortest one's third node (dock-a → sa-1 is a spur). */
function detour(from: string, to: string): string[] {
  const best = shortest(from, to);
  const r = findRoute(site.graph, from, to, limits, {}, { avoid: new Set([best[2]!]) });
  if (!r.ok) throw new Error(`no detour ${from} → ${to}`);
  return r.route.nodes;
}

t.test('the checked route is driven as it is, detour and all', async (t) => {
  const from = site.index.locate('dock-a')!.id;
  const to = site.index.locate('shelf-3')!.id;
  const checked = detour(from, to);
  t.not(checked.join(), shortest(from, to).join(), 'the check planned a detour');
  t.same(routeFrom(site, fleetWith(from), 'amr-1', 'shelf-3', undefined, checked), { nodes: checked });
  t.same(routeFrom(site, fleetWith(from), 'amr-1', 'shelf-3'), { nodes: shortest(from, to) }, 'without a checked route, the shortest');
});

t.test('from a node along the checked route (resumed after a STOP), the rest of it', async (t) => {
  const from = site.index.locate('dock-a')!.id;
  const checked = detour(from, site.index.locate('shelf-3')!.id);
  const mid = checked[2]!;
  t.same(routeFrom(site, fleetWith(mid), 'amr-1', 'shelf-3', undefined, checked), { nodes: checked.slice(2) });
});

t.test('an AMR off the checked route, or a checked route this floor does not have: a route found anew', async (t) => {
  const from = site.index.locate('dock-a')!.id;
  const to = site.index.locate('shelf-3')!.id;
  const checked = detour(from, to);
  const elsewhere = site.index.locate('dock-b')!.id;
  t.notOk(checked.includes(elsewhere));
  t.same(routeFrom(site, fleetWith(elsewhere), 'amr-1', 'shelf-3', undefined, checked), { nodes: shortest(elsewhere, to) });
  const broken = [checked[0]!, to];
  t.same(routeFrom(site, fleetWith(from), 'amr-1', 'shelf-3', undefined, broken), { nodes: shortest(from, to) }, 'a hop that is no edge is not driven');
  t.same(routeFrom(site, fleetWith(from), 'amr-1', 'shelf-3', undefined, checked.slice(0, -1)), { nodes: shortest(from, to) }, 'a route to elsewhere is not driven');
});

t.test('a charge step without `at` goes to the charger its check chose; with no check to say, it is refused', async (t) => {
  const step = PlanSchema.parse({ schema: 'phygate.plan/v1', steps: [{ id: 'juice', action: 'charge', device: 'amr-1', params: {} }] as PlanInput['steps'] }).steps[0]!;
  const from = site.index.locate('dock-a')!.id;
  const charger = site.index.locate('charger-2')!.id;
  const input = { missionId: 'm_1', step, stepIndex: 0, device: 'amr-1', onto: undefined, attempt: 0, ttlMs: 10_000 };
  const request = workRequest(site, fleetWith(from), { ...input, checked: shortest(from, charger) });
  t.same(request !== 'nothing-left' && request.route, { nodes: shortest(from, charger) });
  t.throws(() => workRequest(site, fleetWith(from), input), StepRefusedError);
});
