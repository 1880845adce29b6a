// The benchmark's generator builds what it claims: valid halls whose stations sit on spurs, one
// home dock per AMR, and shift plans that check without errors for about the hours asked for.
import t from 'tap';
import { MAX_STEPS, PlanSchema, type Plan } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import { crossCheckSite, SiteSchema, type Site } from '../../planners/site.ts';
import { checkInSim } from '../../sim/checker.ts';
import { parkedFleetState } from '../../sim/parked-fleet.ts';
import { demoSite, demoTwentyStepPlan, fleetSite, generateShift, generateShiftPlans, generateSite, prepareSite } from './generate.ts';

const NOW = new Date('2026-11-24T08:00:00Z');

function check(site: Site, plan: Plan, soc = 0.9): CheckReport {
  const s = prepareSite(site);
  return checkInSim({ site: s.index, graph: s.graph, worldHash: s.worldHash, plan, fleet: parkedFleetState(s.index, NOW, soc), now: NOW });
}

const errors = (r: CheckReport) => r.issues.filter((i) => i.severity === 'error').map((i) => `${i.code} ${i.step}: ${i.message}`);

/** Nodes reachable from `start` along the directed nav graph (forward, or backward with `reverse`). */
function reachable(site: Site, start: string, reverse = false): Set<string> {
  const next = new Map<string, string[]>(site.nodes.map((n) => [n.id, []]));
  for (const e of site.edges) {
    const [a, b] = reverse ? [e.to, e.from] : [e.from, e.to];
    next.get(a)!.push(b);
    if (!e.oneWay) next.get(b)!.push(a);
  }
  const seen = new Set([start]);
  const todo = [start];
  while (todo.length > 0) for (const n of next.get(todo.pop()!)!) if (!seen.has(n)) todo.push(n), seen.add(n);
  return seen;
}

const sites = new Map([1, 10].map((n) => [n, generateSite(n)]));

for (const [robots, site] of sites) {
  t.test(`the generated hall for ${robots} AMR(s) is a valid site`, async (t) => {
    t.ok(SiteSchema.safeParse(site).success, 'SiteSchema accepts it');
    t.same(crossCheckSite(site), [], 'crossCheckSite finds no problems');
    const kinds = (k: string) => site.devices.filter((d) => d.kind === k).length;
    t.equal(kinds('amr'), robots, 'one AMR per robot');
    const cells = Math.ceil(robots / 5);
    for (const k of ['cnc', 'printer', 'conveyor', 'arm']) t.equal(kinds(k), cells, `a ${k} per five AMRs`);
    t.equal(site.stations.filter((s) => s.kind === 'charger').length, Math.ceil(robots / 4), 'a charger per four AMRs');
    t.ok(site.stations.filter((s) => s.kind === 'shelf').length >= robots, 'a shelf per AMR at least');
  });

  t.test(`every station of the ${robots}-AMR hall is on a spur; every AMR has its own dock`, async (t) => {
    const stationNodes = new Set(site.stations.map((s) => s.node));
    for (const s of site.stations) {
      const edges = site.edges.filter((e) => e.from === s.node || e.to === s.node);
      t.equal(edges.length, 1, `${s.id} has degree 1`);
      const other = edges[0]!.from === s.node ? edges[0]!.to : edges[0]!.from;
      t.notOk(stationNodes.has(other), `${s.id}'s spur leads to the aisle, not another station`);
      t.notOk(edges[0]!.oneWay, `${s.id}'s spur is two-way`);
    }
    const homes = site.devices.flatMap((d) => (d.kind === 'amr' ? [d.home] : []));
    t.equal(new Set(homes).size, homes.length, 'no two AMRs share a home');
    for (const h of homes) t.equal(site.stations.find((s) => s.id === h)?.kind, 'dock', `${h} is a dock`);
  });

  t.test(`the ${robots}-AMR hall is one strongly connected graph, and each arm reaches its stations`, async (t) => {
    const all = site.nodes.length;
    const start = site.nodes[0]!.id;
    t.equal(reachable(site, start).size, all, 'every node can be reached');
    t.equal(reachable(site, start, true).size, all, 'every node can be left');
    const at = new Map(site.nodes.map((n) => [n.id, n]));
    for (const arm of site.devices) {
      if (arm.kind !== 'arm') continue;
      for (const s of arm.reaches) {
        const n = at.get(site.stations.find((x) => x.id === s)!.node)!;
        t.ok(Math.hypot(n.x - arm.pose.x, n.y - arm.pose.y) <= arm.reachM, `${arm.id} reaches ${s}`);
      }
    }
  });
}

t.test('the one-hour shifts pass PlanSchema and check without errors', async (t) => {
  for (const [robots, site] of sites) {
    const plan = generateShift(site, robots, 1);
    t.ok(PlanSchema.safeParse(plan).success, `${robots} AMR(s): PlanSchema accepts it`);
    t.ok(plan.steps.length <= MAX_STEPS, `${robots} AMR(s): ${plan.steps.length} steps`);
    const amrs = new Set(plan.steps.filter((s) => s.action === 'pick').map((s) => s.device));
    t.equal(amrs.size, robots, `${robots} AMR(s): every AMR works`);
    const r = check(site, plan);
    t.same(errors(r), [], `${robots} AMR(s): no errors (${r.verdict})`);
    if (robots === 10) {
      t.ok(r.makespanS >= 0.5 * 3600 && r.makespanS <= 2 * 3600, `the 10-AMR hour takes ${(r.makespanS / 3600).toFixed(2)} h simulated`);
      for (const kind of ['pick', 'drop', 'machine.run', 'arm.transfer', 'convey']) t.ok(plan.steps.some((s) => s.action === kind), `it has ${kind} steps`);
      const perAmr = new Map<string, number>();
      for (const s of plan.steps) if (s.action === 'pick') perAmr.set(s.device, (perAmr.get(s.device) ?? 0) + 1);
      t.ok([...perAmr.values()].every((n) => n >= 2), 'every AMR repeats its cycle');
    }
  }
});

t.test('fixed work per AMR, for scaling, checks without errors', async (t) => {
  for (const [robots, site] of sites) {
    const plan = generateShift(site, robots, 1, { cyclesPerAmr: 1 });
    const picks = plan.steps.filter((s) => s.action === 'pick');
    t.equal(picks.length, robots, `${robots} AMR(s): one cycle each`);
    t.same(errors(check(site, plan)), [], `${robots} AMR(s): no errors`);
  }
  const fifty = generateShift(generateSite(50), 50, 1, { cyclesPerAmr: 1 });
  t.ok(fifty.steps.length <= MAX_STEPS, `50 AMRs × 1 cycle fits one plan (${fifty.steps.length} steps)`);
});

t.test('an AMR low on charge charges, and the check finds its battery fine', async (t) => {
  const site = sites.get(1)!;
  const plan = generateShift(site, 1, 3, { soc: 0.27 });
  t.ok(plan.steps.some((s) => s.action === 'charge'), 'the shift has a charge step');
  t.same(errors(check(site, plan, 0.27)), [], 'no BATTERY_LOW or other error');
  t.notOk(generateShift(site, 1, 1).steps.some((s) => s.action === 'charge'), 'a full battery needs no charge within the hour');
});

t.test('a shift too big for one plan is refused, and cut into plans that fit', async (t) => {
  const site = generateSite(50);
  t.throws(() => generateShift(site, 50, 1), /over the plan limit of 200/);
  const plans = generateShiftPlans(site, 50, 1);
  t.ok(plans.length > 1, `${plans.length} plans`);
  for (const p of plans) t.ok(PlanSchema.safeParse(p).success && p.steps.length <= MAX_STEPS, `${p.name}: ${p.steps.length} steps`);
  const ids = plans.flatMap((p) => p.steps.map((s) => s.id));
  t.equal(new Set(ids).size, ids.length, 'no step in two plans');
  t.same(generateShiftPlans(site, 50, 1), plans, 'the same input gives the same plans');
});

t.test('the demo 20-step plan checks with pass or warn', async (t) => {
  const demo = demoSite();
  const plan = demoTwentyStepPlan();
  t.equal(plan.steps.length, 20);
  t.same([...new Set(plan.steps.map((s) => s.device))].sort(), ['amr-1', 'amr-2', 'amr-3', 'arm-1', 'cnc-1', 'conveyor-1', 'printer-1']);
  const r = checkInSim({ site: demo.index, graph: demo.graph, worldHash: demo.worldHash, plan, fleet: parkedFleetState(demo.index, NOW), now: NOW });
  t.ok(r.verdict === 'pass' || r.verdict === 'warn', `verdict ${r.verdict}: ${r.issues.map((i) => i.code).join(', ')}`);
  t.equal(r.steps.length, 20, 'every step is scheduled');
});

t.test("the MQTT benchmarks' fleet: the demo site with its AMRs replaced by numbered clones of amr-1", async (t) => {
  const site = fleetSite(3);
  const amrs = site.devicesOfKind('amr');
  t.same(amrs.map((a) => a.id), ['amr-0001', 'amr-0002', 'amr-0003']);
  t.same(amrs.map((a) => a.vda5050.serialNumber), ['amr-0001', 'amr-0002', 'amr-0003'], 'each vehicle answers to its own serial number');
  const model = demoSite().index.devicesOfKind('amr').find((a) => a.id === 'amr-1')!;
  t.ok(amrs.every((a) => a.vda5050.manufacturer === model.vda5050.manufacturer && a.home === model.home), "clones of amr-1: its manufacturer and home");
  const others = (ids: string[]) => ids.filter((id) => !id.startsWith('amr-')).sort();
  t.same(others(site.site.devices.map((d) => d.id)), others(demoSite().index.site.devices.map((d) => d.id)), 'the machines stay');
});

t.test('the generator refuses nonsense', async (t) => {
  t.throws(() => generateSite(0), RangeError);
  t.throws(() => generateSite(2.5), RangeError);
  t.throws(() => generateShift(sites.get(1)!, 2, 1), /no device 'amr-2'/);
  t.throws(() => generateShift(sites.get(1)!, 1, 0), RangeError);
});
