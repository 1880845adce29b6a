// The check benchmark (`npm run bench`): how long `checkInSim` takes on realistic plans, against
// the targets of the issue — a 20-step plan checked in ≤ 20 ms (p50), an hour of a 10-AMR shift
// simulated in ≤ 1 s (≥ 3,600× real time) — how the cost grows with the fleet, and, as a baseline
// measured in the same run, what the static half of the check (planners/check.ts with a simulator
// that does nothing) costs on the same plans. CI machines are noisy: read medians and ratios.
// Section (e), test/bench/mqtt.ts, measures the VDA 5050 master on a real broker: state ingestion
// from 100 and 1,000 vehicles at 10 Hz, next to vda-5050-lib's MasterController under the same
// load, and order dispatch. Section (f), test/bench/stop.ts, times STOP from the HTTP request to the
// last of 100 devices; section (g), test/bench/missions.ts, the ingestion of 1,000 vehicles' states
// while the executor runs 100 missions, against the same gateway without missions; sections (h)
// and (i), test/bench/traffic.ts, a 10-AMR shift executed on the virtual fleet: how soon a node
// reached grants the nodes ahead, and the run's makespan against the checked one; section (j),
// test/bench/policy.ts, inference per control tick for 1, 10 and 50 policy-driven robots against
// the analytic controller, and STOP with 50 policy-driven robots at 20 Hz against without.
import os from 'node:os';
import { checkPlan, type Simulate } from '../../planners/check.ts';
import type { Commitment } from '../../planners/commitments.ts';
import type { FleetState } from '../../planners/fleet.ts';
import { PlanSchema, type Plan } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import { checkInSim } from '../../sim/checker.ts';
import { parkedFleetState } from '../../sim/parked-fleet.ts';
import { demoSite, demoTwentyStepPlan, generateShift, generateShiftPlans, generateSite, hallLayout, prepareSite, type BenchSite } from './generate.ts';
import { table } from './format.ts';
import { benchMissions } from './missions.ts';
import { benchMqtt } from './mqtt.ts';
import { benchPolicy } from './policy.ts';
import { benchStop } from './stop.ts';
import { benchTraffic } from './traffic.ts';

const NOW = new Date('2026-11-24T08:00:00Z');
const TARGET_P50_MS = 20;
const TARGET_SPEEDUP = 3600;
const SCALE_ROBOTS = [1, 10, 50];
/** Fleets whose one-hour shift is checked (cut into plans of at most 200 steps). */
const HOUR_ROBOTS = [1, 10, 50, 100];
/** Work per AMR in the single-plan scaling case: 50 AMRs × 1 cycle is what fits one plan of 200 steps. */
const SCALE_CYCLES = 1;

interface Case {
  label: string;
  site: BenchSite;
  plan: Plan;
  fleet: FleetState;
}

const noSimulation: Simulate = () => ({ makespanS: 0, steps: [], devices: [], issues: [] });

function fullCheck(c: Case): CheckReport {
  return checkInSim({ site: c.site.index, graph: c.site.graph, worldHash: c.site.worldHash, plan: c.plan, fleet: c.fleet, now: NOW });
}

function staticCheck(c: Case): CheckReport {
  return checkPlan({ site: c.site.index, graph: c.site.graph, worldHash: c.site.worldHash, plan: c.plan, fleet: c.fleet, now: NOW, simulate: noSimulation });
}

interface Timing {
  full: number[];
  static: number[];
}

/**
 * Time the full and the static check, interleaved so both see the same machine. Warm-up runs
 * first; then at least `minRuns` pairs, more while within `budgetMs`, at most `maxRuns`.
 */
function measure(c: Case, o: { warmup: number; minRuns: number; maxRuns: number; budgetMs: number }): Timing {
  return measureInTurn([c], o)[0]!;
}

/**
 * Time several cases in turn, round after round (each round: every case's full and static check
 * once), so a machine that gets busier or quieter during the measurement affects all alike and
 * their ratios hold. Warm-up runs first; at least `minRuns` rounds, more while within `budgetMs`.
 */
function measureInTurn(cases: Case[], o: { warmup: number; minRuns: number; maxRuns: number; budgetMs: number }): Timing[] {
  for (let i = 0; i < o.warmup; i++) {
    for (const c of cases) {
      fullCheck(c);
      staticCheck(c);
    }
  }
  const out: Timing[] = cases.map(() => ({ full: [], static: [] }));
  const began = performance.now();
  for (let round = 0; round < o.maxRuns && (round < o.minRuns || performance.now() - began < o.budgetMs); round++) {
    cases.forEach((c, k) => {
      let t = performance.now();
      fullCheck(c);
      out[k]!.full.push(performance.now() - t);
      t = performance.now();
      staticCheck(c);
      out[k]!.static.push(performance.now() - t);
    });
  }
  return out;
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
const median = (xs: readonly number[]) => quantile(xs, 0.5);

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const times = (x: number) => `${x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)}x`;
const hours = (s: number) => `${(s / 3600).toFixed(2)} h`;


/** Verdict and issue codes with counts, e.g. `warn: ROBOT_CONFLICT×83, SPEED_LIMIT×2`. */
function summary(r: CheckReport): string {
  const codes = new Map<string, number>();
  for (const i of r.issues) codes.set(i.code, (codes.get(i.code) ?? 0) + 1);
  const list = [...codes].sort(([a], [b]) => a.localeCompare(b)).map(([c, n]) => `${c}×${n}`);
  return `${r.verdict}${list.length ? `: ${list.join(', ')}` : ''}`;
}

function verdictCheck(label: string, r: CheckReport): void {
  if (r.verdict === 'fail') {
    console.log(`  !! ${label} fails its check — the generator is wrong:`);
    for (const i of r.issues.filter((x) => x.severity === 'error').slice(0, 5)) console.log(`     ${i.code} ${i.step ?? ''}: ${i.message}`);
    process.exitCode = 1;
  }
}

const benchStart = performance.now();
const cpus = os.cpus();
console.log('phygate check benchmark');
console.log(`  node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log('  full = checkInSim (static checks + simulation); static = checkPlan with a simulator that returns an empty estimate');
console.log('  times are wall-clock milliseconds (performance.now) of one check, plan already parsed; p50 = median\n');

const ratios: { plan: string; steps: number; full: number; static: number }[] = [];

// ---- (a) the demo's 20-step plan ---------------------------------------------------------
{
  const demo = demoSite();
  const site: BenchSite = { index: demo.index, graph: demo.graph, worldHash: demo.worldHash };
  const c: Case = { label: 'demo 20 steps', site, plan: demoTwentyStepPlan(), fleet: parkedFleetState(demo.index, NOW) };
  const report = fullCheck(c);
  const t = measure(c, { warmup: 50, minRuns: 300, maxRuns: 300, budgetMs: 0 });
  const parse: number[] = [];
  const raw = JSON.parse(JSON.stringify(c.plan)) as unknown;
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    PlanSchema.parse(raw);
    parse.push(performance.now() - t0);
  }
  const p50 = median(t.full);
  console.log(`(a) demo site, 20-step plan (amr-1..3, cnc-1, arm-1, printer-1, conveyor-1)`);
  console.log(`  check: ${summary(report)}; simulated makespan ${report.makespanS.toFixed(0)} s`);
  verdictCheck('the demo plan', report);
  table(
    ['check', 'runs', 'p50 ms', 'p95 ms', 'min ms', 'max ms'],
    [
      ['full', String(t.full.length), ms(p50), ms(quantile(t.full, 0.95)), ms(Math.min(...t.full)), ms(Math.max(...t.full))],
      ['static', String(t.static.length), ms(median(t.static)), ms(quantile(t.static, 0.95)), ms(Math.min(...t.static)), ms(Math.max(...t.static))],
      ['parse (PlanSchema, not in full)', String(parse.length), ms(median(parse)), ms(quantile(parse, 0.95)), ms(Math.min(...parse)), ms(Math.max(...parse))],
    ],
  );
  console.log(`  target p50 ≤ ${TARGET_P50_MS} ms: ${p50 <= TARGET_P50_MS ? 'MET' : 'MISSED'} (p50 ${ms(p50)} ms, ${times(TARGET_P50_MS / p50)} headroom)\n`);
  ratios.push({ plan: c.label, steps: c.plan.steps.length, full: p50, static: median(t.static) });
}

// ---- (a2) the same plan with 10 missions already committed -------------------------------
{
  const demo = demoSite();
  const fleet = parkedFleetState(demo.index, NOW);
  const plan = demoTwentyStepPlan();
  // Ten small missions approved before it, as a queue on a small shop floor: each sends an AMR
  // to a station and runs a machine job (the cnc or the printer, in turn).
  const stations = ['shelf-1', 'shelf-2', 'shelf-3', 'dock-b', 'charger-2', 'conveyor-1-out', 'shelf-1', 'shelf-2', 'shelf-3', 'dock-b'];
  const committed: Commitment[] = stations.map((to, k) => ({
    missionId: `m_bench_${k}`,
    plan: PlanSchema.parse({
      schema: 'phygate.plan/v1',
      name: `queued-${k}`,
      steps: [
        { id: 'go', action: 'navigate', device: `amr-${(k % 3) + 1}`, params: { to } },
        k % 2 === 0 ? { id: 'make', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2' } } : { id: 'make', action: 'machine.run', device: 'printer-1', params: { program: 'clip-x' } },
      ],
    }),
    assignments: {},
    over: new Set<string>(),
  }));
  const run = (withCommitted: boolean) => checkInSim({ site: demo.index, graph: demo.graph, worldHash: demo.worldHash, plan, fleet, now: NOW, ...(withCommitted ? { committed } : {}) });
  const timed = (withCommitted: boolean) => {
    const t0 = performance.now();
    run(withCommitted);
    return performance.now() - t0;
  };
  for (let i = 0; i < 50; i++) timed(i % 2 === 0);
  const alone: number[] = [];
  const behind: number[] = [];
  // Interleaved, so both see the same machine.
  for (let i = 0; i < 300; i++) {
    alone.push(timed(false));
    behind.push(timed(true));
  }
  const report = run(true);
  const ratio = median(behind) / median(alone);
  console.log(`(a2) the same 20-step plan with 10 missions already committed (${committed.reduce((n, c) => n + c.plan.steps.length, 0)} steps: each an AMR drive and a machine job)`);
  console.log(`  check: ${summary(report)}; makespan ${report.makespanS.toFixed(0)} s (alone ${run(false).makespanS.toFixed(0)} s)`);
  table(
    ['check', 'runs', 'p50 ms', 'p95 ms'],
    [
      ['empty floor', String(alone.length), ms(median(alone)), ms(quantile(alone, 0.95))],
      ['10 missions committed', String(behind.length), ms(median(behind)), ms(quantile(behind, 0.95))],
    ],
  );
  console.log(`  goal ≤ 3x the check on an empty floor: ${ratio <= 3 ? 'MET' : 'MISSED'} (${times(ratio)}; the committed steps are simulated with the plan's)\n`);
}

// ---- (b) one hour of a 10-AMR shift ------------------------------------------------------
const sites = new Map<number, { site: ReturnType<typeof generateSite>; bench: BenchSite; fleet: FleetState }>();
const siteFor = (robots: number) => {
  let s = sites.get(robots);
  if (!s) {
    const site = generateSite(robots);
    const bench = prepareSite(site);
    s = { site, bench, fleet: parkedFleetState(bench.index, NOW) };
    sites.set(robots, s);
  }
  return s;
};
{
  const s = siteFor(10);
  const c: Case = { label: 'shift 10 AMRs, 1 h', site: s.bench, plan: generateShift(s.site, 10, 1), fleet: s.fleet };
  const report = fullCheck(c);
  const t = measure(c, { warmup: 2, minRuns: 9, maxRuns: 30, budgetMs: 5000 });
  const wall = median(t.full);
  const speedup = report.makespanS / (wall / 1000);
  console.log(`(b) one-hour shift, 10 AMRs + 2 cncs, 2 printers, 2 conveyors, 2 arms`);
  console.log(`  site: ${s.site.name}: ${s.site.nodes.length} nodes, ${s.site.edges.length} edges, ${s.site.stations.length} stations`);
  console.log(`  check: ${summary(report)}`);
  verdictCheck('the 10-AMR shift', report);
  const wait = report.devices.reduce((sum, d) => sum + (d.waitS ?? 0), 0);
  table(
    ['plan', 'steps', 'makespan', 'wall p50 ms', 'wall min..max ms', 'runs', 'sim/wall'],
    [[c.label, String(c.plan.steps.length), `${report.makespanS.toFixed(0)} s (${hours(report.makespanS)})`, ms(wall), `${ms(Math.min(...t.full))}..${ms(Math.max(...t.full))}`, String(t.full.length), times(speedup)]],
  );
  console.log(`  AMRs wait for each other ${wait.toFixed(0)} s in total (ROBOT_CONFLICT)`);
  console.log(`  target ≥ ${TARGET_SPEEDUP}x real time (1 h in ≤ 1 s): ${speedup >= TARGET_SPEEDUP ? 'MET' : 'MISSED'} (${times(speedup)}; an hour of this shift takes ${ms((3600 / report.makespanS) * wall)} ms)\n`);
  ratios.push({ plan: c.label, steps: c.plan.steps.length, full: wall, static: median(t.static) });
}

// ---- (c) scaling with the fleet ----------------------------------------------------------
{
  console.log(`(c) scaling: 1, 10 and 50 AMRs, the same work per AMR`);
  console.log(`  one plan each: every AMR does ${SCALE_CYCLES} feed cycle (pick at its shelf, drop at the cell's cnc, printer or conveyor) and the`);
  console.log(`  machines, arm and conveyor process it; plans are limited to 200 steps, and 50 AMRs × ${SCALE_CYCLES} cycle is what fits`);
  console.log(`  the three are measured in turn, round after round, so each sees the same machine (the ratio is what counts)`);
  const rows: string[][] = [];
  const cases = SCALE_ROBOTS.map((robots) => {
    const s = siteFor(robots);
    const c: Case = { label: `${robots} AMR${robots === 1 ? '' : 's'} × ${SCALE_CYCLES} cycle`, site: s.bench, plan: generateShift(s.site, robots, 1, { cyclesPerAmr: SCALE_CYCLES }), fleet: s.fleet };
    const report = fullCheck(c);
    verdictCheck(c.label, report);
    return { robots, s, c, report };
  });
  const timings = measureInTurn(
    cases.map((x) => x.c),
    { warmup: 3, minRuns: 9, maxRuns: 200, budgetMs: 9000 },
  );
  let base: { wall: number; perStep: number } | undefined;
  let worst = 0;
  cases.forEach(({ robots, s, c, report }, k) => {
    const t = timings[k]!;
    const wall = median(t.full);
    const perStep = wall / c.plan.steps.length;
    base ??= { wall, perStep };
    worst = Math.max(worst, perStep / base.perStep);
    const layout = hallLayout(robots);
    rows.push([
      c.label,
      String(s.site.nodes.length),
      `${layout.widthM}x${layout.depthM} m`,
      String(c.plan.steps.length),
      hours(report.makespanS),
      ms(wall),
      times(wall / base.wall),
      ms(perStep),
      times(perStep / base.perStep),
      ms(median(t.static)),
      times(wall / median(t.static)),
      String(t.full.length),
      summary(report),
    ]);
    ratios.push({ plan: c.label, steps: c.plan.steps.length, full: wall, static: median(t.static) });
  });
  table(['plan', 'nodes', 'hall', 'steps', 'makespan', 'full p50 ms', 'vs 1 AMR', 'ms/step', 'vs 1 AMR', 'static p50 ms', 'full/static', 'runs', 'check'], rows);
  console.log(`  goal: the cost per step within 4x of one AMR's at ${SCALE_ROBOTS.at(-1)} AMRs: ${worst <= 4 ? 'MET' : 'MISSED'} (${times(worst)})`);

  console.log(`\n  one-hour shifts, cut into plans of ≤ 200 steps (whole cells; how an agent would submit a large fleet's hour),`);
  console.log(`  each checked on its own against the whole site (the other plans' AMRs stand at their docks);`);
  console.log(`  full ms = sum over the plans of each plan's median; makespan = the longest plan's`);
  const hourRows: string[][] = [];
  let hourBase: { wall: number; perStep: number } | undefined;
  let hourOfMost = 0;
  for (const robots of HOUR_ROBOTS) {
    const s = siteFor(robots);
    const plans = generateShiftPlans(s.site, robots, 1);
    let wall = 0;
    let stat = 0;
    let steps = 0;
    let makespan = 0;
    let runs = Infinity;
    const reports: CheckReport[] = [];
    plans.forEach((plan, k) => {
      const c: Case = { label: `${robots} AMRs part ${k + 1}`, site: s.bench, plan, fleet: s.fleet };
      const report = fullCheck(c);
      verdictCheck(`${robots}-AMR hour, plan ${k + 1}`, report);
      const t = measure(c, { warmup: 2, minRuns: 5, maxRuns: 100, budgetMs: 2000 });
      wall += median(t.full);
      stat += median(t.static);
      steps += plan.steps.length;
      makespan = Math.max(makespan, report.makespanS);
      runs = Math.min(runs, t.full.length);
      reports.push(report);
    });
    hourBase ??= { wall, perStep: wall / steps };
    hourOfMost = wall;
    hourRows.push([
      `${robots} AMR${robots === 1 ? '' : 's'} × 1 h`,
      String(plans.length),
      plans.map((p) => p.steps.length).join('+'),
      hours(makespan),
      ms(wall),
      times(wall / hourBase.wall),
      ms(wall / steps),
      times(wall / steps / hourBase.perStep),
      ms(stat),
      times(wall / stat),
      times(makespan / (wall / 1000)),
      summary({ ...reports[0]!, verdict: reports.some((r) => r.verdict === 'fail') ? 'fail' : reports.some((r) => r.verdict === 'warn') ? 'warn' : 'pass', issues: reports.flatMap((r) => r.issues) }),
    ]);
    ratios.push({ plan: `${robots} AMR${robots === 1 ? '' : 's'} × 1 h (${plans.length} plan${plans.length === 1 ? '' : 's'})`, steps, full: wall, static: stat });
  }
  table(['shift', 'plans', 'steps', 'makespan', 'full ms', 'vs 1 AMR', 'ms/step', 'vs 1 AMR', 'static ms', 'full/static', 'sim/wall', 'checks (all plans)'], hourRows);
  console.log(`  goal: a one-hour shift of ${HOUR_ROBOTS.at(-1)} AMRs checked in under 1 s: ${hourOfMost < 1000 ? 'MET' : 'MISSED'} (${ms(hourOfMost)} ms)`);
  console.log('');
}

// ---- (d) the static half as a same-run baseline -------------------------------------------
{
  console.log(`(d) baseline: the static check alone (checkPlan, empty simulation) on the same plans, same run`);
  table(
    ['plan', 'steps', 'static p50 ms', 'full p50 ms', 'full/static', 'simulation share'],
    ratios.map((r) => [r.plan, String(r.steps), ms(r.static), ms(r.full), times(r.full / r.static), `${(((r.full - r.static) / r.full) * 100).toFixed(0)} %`]),
  );
}

// ---- (e) MQTT: state ingestion and order dispatch (test/bench/mqtt.ts) ----------------------
console.log('');
await benchMqtt();

// ---- (f) STOP latency: HTTP → 100 devices over a real broker (test/bench/stop.ts) ------------
console.log('');
await benchStop();

// ---- (g) state ingestion with 100 missions running (test/bench/missions.ts) ------------------
console.log('');
await benchMissions();

// ---- (h), (i) traffic at run time: grant latency, run against checked makespan (test/bench/traffic.ts)
console.log('');
await benchTraffic();

// ---- (j) policies: inference per tick, STOP with 50 policy-driven robots (test/bench/policy.ts)
console.log('');
await benchPolicy();

console.log(`\n  bench wall time ${((performance.now() - benchStart) / 1000).toFixed(1)} s`);
