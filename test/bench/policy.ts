// The policy benchmark, section (j) of `npm run bench` (or alone: `node --import tsx test/bench/policy.ts`).
//
// Two questions of the policy issue, each answered against a baseline measured in the same run,
// and the pilot's pace at the virtual fleet's speed factors:
//
// 1. Inference per control tick for 1, 10 and 50 robots on one model: the shipped amr.track model
//    (launch/policies/amr-track.onnx) in the policy runtime (a worker thread, one onnxruntime batch
//    per tick), against the analytic controller — the tracking teacher the policy was trained on
//    (`expertAction`, plain arithmetic on the event loop) — on the same observations. Also the
//    shield's filter for the same robots (it runs on the event loop, on the demo's walls through
//    Rapier), and the whole tick as the pilot runs it (PolicyDrive: hold, inference, filter). The
//    sizes are measured in turn, round after round, so a busy moment of the machine falls on all.
//
// 2. STOP with 50 policy-driven robots at 20 Hz: the STOP of section (f) (test/bench/stop.ts: the
//    gateway side in this process, POST /v1/stop → the last of 50 stand-ins over a real broker),
//    in blocks of BLOCK rounds that take turns: without policies, and while the virtual fleet's
//    policy pilot (sim/policy-pilot.ts: the real runtime, PolicyDrive and shields, in this process
//    as in the gateway) drives 50 robots on the demo's nav graph at 20 Hz in real time. The robots
//    are bench vehicles driving edge after edge, and a STOP does not pause them (the stand-ins get
//    it): the pilot's full work goes on through every round, the worst case for the event loop.
//    Also the event loop's own delay (monitorEventLoopDelay) and utilisation in each kind of block.
//
// 3. The pilot's pace: one policy-driven robot in the virtual fleet's pilot at 1, 20, 50 and 100×,
//    simulated seconds driven per real second against the speed asked (the baseline: the wall
//    clock × speed), and the CPU it took per simulated minute.
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { existsSync, realpathSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pointInPolygon } from '../../planners/geometry.ts';
import { indexSite, type Amr } from '../../planners/site.ts';
import { trackObservation, type PathPose } from '../../robots/policy/amr-track.ts';
import { PolicyDrive, type DrivenRobot } from '../../robots/policy/drive.ts';
import { stepAmr, ZERO_COMMAND, type AmrState } from '../../robots/policy/kinematics.ts';
import { loadPolicyFile } from '../../robots/policy/loader.ts';
import { PolicyRuntime, type RobotObservation } from '../../robots/policy/runtime.ts';
import { polygonsOverlap, Shield, shieldSiteOf, type ShieldedCommand } from '../../robots/policy/shield.ts';
import { expertAction, seededRandom } from '../../robots/policy/track-expert.ts';
import { PolicyPilot, type PilotedVehicle } from '../../sim/policy-pilot.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { createCollisionWorld } from '../../sim/world/collision.ts';
import { table } from './format.ts';
import { demoSite, fleetSite } from './generate.ts';
import { MOSQUITTO, ms, quantile, Resources, startAedes, startMosquitto, times } from './mqtt.ts';
import { startStopRig, type Samples } from './stop.ts';

const MODEL = fileURLToPath(new URL('../../launch/policies/amr-track.onnx', import.meta.url));
const SIZES = [1, 10, 50];
const INFER_WARMUP = 30;
const INFER_ROUNDS = 400;
const ROBOTS = 50;
const STOP_WARMUP = 10;
/** STOP rounds of each kind, in blocks of BLOCK taking turns. */
const STOP_ROUNDS = 160;
const BLOCK = 20;
const GOAL_STOP_RATIO = 1.2;

// ---- where the robots drive: the demo's nav graph, away from its keep-out zones -------------

interface Leg {
  from: string;
  to: string;
  path: PathPose[];
  maxSpeed: number;
}

/** Every edge of the demo in each direction it may be driven, as a path; none into or through a keep-out zone. */
function demoLegs(site: LoadedSite): Map<string, Leg[]> {
  const s = site.index.site;
  const keepOuts = s.zones.filter((z) => z.kind === 'keep-out').map((z) => z.polygon);
  const byFrom = new Map<string, Leg[]>();
  for (const e of s.edges) {
    for (const [from, to] of e.oneWay ? [[e.from, e.to]] : [[e.from, e.to], [e.to, e.from]]) {
      const a = site.index.node(from!)!;
      const b = site.index.node(to!)!;
      if (keepOuts.some((k) => pointInPolygon([a.x, a.y], k) || pointInPolygon([b.x, b.y], k) || polygonsOverlap([[a.x, a.y], [b.x, b.y]], k))) continue;
      const heading = Math.atan2(b.y - a.y, b.x - a.x);
      const leg = { from: from!, to: to!, path: [{ x: a.x, y: a.y, theta: heading }, { x: b.x, y: b.y, theta: heading }], maxSpeed: e.maxSpeed ?? Infinity };
      byFrom.set(from!, [...(byFrom.get(from!) ?? []), leg]);
    }
  }
  return byFrom;
}

/**
 * A robot the bench drives with the pilot: edge after edge of the demo's graph, the next one drawn
 * at random at each node (never straight back if there is another way), never paused.
 */
class BenchVehicle implements PilotedVehicle {
  state: AmrState;
  /** Control ticks driven. */
  acts = 0;
  private segment = 0;
  faulted: string | undefined;
  shield: Shield | undefined;

  constructor(
    readonly id: string,
    private readonly amr: Amr,
    private readonly legs: Map<string, Leg[]>,
    private leg: Leg,
    private readonly random: () => number,
  ) {
    const [a] = leg.path;
    this.state = { x: a!.x, y: a!.y, theta: a!.theta, v: 0, omega: 0 };
  }

  sense(): { state: AmrState; obs: ArrayLike<number> } {
    const limit = () => Math.min(this.amr.limits.maxSpeed, this.leg.maxSpeed, this.shield?.zoneLimit(this.state.x, this.state.y) ?? Infinity);
    let o = trackObservation(this.leg.path, this.state, limit(), this.segment);
    if (o.obs[4]! < 0.1) {
      const next = this.legs.get(this.leg.to)!;
      const onward = next.filter((l) => l.to !== this.leg.from);
      const choices = onward.length > 0 ? onward : next;
      this.leg = choices[Math.floor(this.random() * choices.length)]!;
      this.segment = 0;
      o = trackObservation(this.leg.path, this.state, limit(), 0);
    }
    this.segment = o.segment;
    return { state: this.state, obs: o.obs };
  }

  stopped(): boolean {
    return false;
  }

  moving(): boolean {
    return Math.abs(this.state.v) > 1e-6 || Math.abs(this.state.omega) > 1e-6;
  }

  act(command: ShieldedCommand | undefined, dtS: number): void {
    this.acts++;
    this.state = stepAmr(this.state, command ?? ZERO_COMMAND, this.amr.limits, dtS);
  }

  fault(message: string): void {
    this.faulted = message;
  }
}

/** `n` bench vehicles spread over the legs of the demo (seeded). */
function benchVehicles(site: LoadedSite, amrs: readonly Amr[], seed: number): BenchVehicle[] {
  const legs = demoLegs(site);
  const all = [...legs.values()].flat();
  const random = seededRandom(seed);
  return amrs.map((amr, i) => new BenchVehicle(amr.id, amr, legs, all[(i * 7) % all.length]!, random));
}

// ---- 1. inference per tick --------------------------------------------------------------

interface PerSize {
  robots: number;
  infer: number[];
  shield: number[];
  drive: number[];
  analytic: number[];
}

async function benchInference(): Promise<void> {
  console.log(`  1. inference per control tick: ${MODEL.split('/').slice(-3).join('/')} in the policy runtime (a worker thread, one batch of`);
  console.log(`  every robot per tick) against the analytic controller (expertAction, the tracking teacher the model was trained on)`);
  console.log(`  on the same observations; ${INFER_ROUNDS} rounds after ${INFER_WARMUP} warm-up, the sizes in turn each round`);
  const site = demoSite();
  const amr = site.index.devicesOfKind('amr')[0]!;
  const policy = await loadPolicyFile(MODEL);
  // A large budget: the bench times every answer rather than missing slow ones.
  const runtime = await PolicyRuntime.start(new Map([['amr-track', policy]]), { budgetMs: 10_000 });
  const world = await createCollisionWorld(site.world.obstacles);
  try {
    const shieldSite = shieldSiteOf(site.index.site, world);
    const tickS = 1 / policy.metadata.rateHz;
    const shield = new Shield({ limits: amr.limits, footprint: amr.footprint, site: shieldSite, tickS });
    let now = 0;
    const drive = new PolicyDrive({ inference: runtime, stopped: () => false, now: () => now });
    // Robots on the demo's edges, each a little way along its leg at 0.5 m/s: real observations,
    // and the shield's look-ahead near the walls and machines where the legs run.
    const random = seededRandom(7);
    const legs = [...demoLegs(site).values()].flat();
    const robotsOf = (n: number): DrivenRobot[] =>
      Array.from({ length: n }, (_, i) => {
        const leg = legs[(i * 7) % legs.length]!;
        const [a, b] = leg.path as [PathPose, PathPose];
        const f = 0.2 + 0.6 * random();
        const state: AmrState = { x: a.x + (b.x - a.x) * f, y: a.y + (b.y - a.y) * f, theta: a.theta + (random() - 0.5) * 0.2, v: 0.5, omega: 0 };
        const obs = trackObservation(leg.path, state, Math.min(amr.limits.maxSpeed, leg.maxSpeed, shield.zoneLimit(state.x, state.y))).obs;
        return { id: `amr-${i}`, model: 'amr-track', state, obs, observedAt: 0, shield };
      });
    const cases = SIZES.map((n) => ({ n, robots: robotsOf(n) }));
    const out: PerSize[] = SIZES.map((robots) => ({ robots, infer: [], shield: [], drive: [], analytic: [] }));
    let sink = 0;
    for (let round = 0; round < INFER_WARMUP + INFER_ROUNDS; round++) {
      const keep = round >= INFER_WARMUP;
      // The order turns each round: what ran just before (and how long the worker has slept) is the same for every size.
      for (let j = 0; j < cases.length; j++) {
        const k = (j + round) % cases.length;
        const { robots } = cases[k]!;
        const asking = new Map<string, RobotObservation>(robots.map((r) => [r.id, { model: r.model, obs: r.obs }]));
        // A tick of the same batch size first, as in a running fleet (onnxruntime's first run of a
        // new shape plans its memory again).
        await runtime.tick(asking);
        let t0 = performance.now();
        const answer = await runtime.tick(asking);
        const tInfer = performance.now() - t0;
        if (answer.missed) throw new Error(`a tick of ${robots.length} robots was missed (${answer.missed})`);
        t0 = performance.now();
        for (const r of robots) sink += shield.filter(r.id, { state: r.state, action: answer.actions.get(r.id) }).v;
        const tShield = performance.now() - t0;
        t0 = performance.now();
        await drive.tick(robots);
        const tDrive = performance.now() - t0;
        t0 = performance.now();
        for (const r of robots) sink += expertAction(r.obs)[0];
        const tAnalytic = performance.now() - t0;
        if (keep) {
          out[k]!.infer.push(tInfer);
          out[k]!.shield.push(tShield);
          out[k]!.drive.push(tDrive);
          out[k]!.analytic.push(tAnalytic);
        }
      }
    }
    if (!Number.isFinite(sink)) console.log('  !! a non-finite command');
    const us = (x: number) => (x * 1000).toFixed(x < 0.01 ? 2 : x < 0.1 ? 1 : 0);
    const p = (xs: number[], q: number) => quantile(xs, q);
    table(
      ['robots', 'inference p50 ms', 'p99 ms', 'per robot p50 µs', 'shield p50 ms', 'p99 ms', 'whole tick p50 ms', 'p99 ms', 'analytic p50 µs', 'p99 µs', 'inference/analytic p50', 'p99'],
      out.map((r) => [
        String(r.robots),
        ms(p(r.infer, 0.5)),
        ms(p(r.infer, 0.99)),
        us(p(r.infer, 0.5) / r.robots),
        ms(p(r.shield, 0.5)),
        ms(p(r.shield, 0.99)),
        ms(p(r.drive, 0.5)),
        ms(p(r.drive, 0.99)),
        us(p(r.analytic, 0.5)),
        us(p(r.analytic, 0.99)),
        times(p(r.infer, 0.5) / p(r.analytic, 0.5)),
        times(p(r.infer, 0.99) / p(r.analytic, 0.99)),
      ]),
    );
    console.log(`  inference = runtime.tick (post to the worker, onnxruntime run of [n, 8], answer back; after a tick of the same size, as in a running`);
    console.log(`  fleet); shield = Shield.filter for each robot`);
    console.log(`  (event loop, demo walls via Rapier); whole tick = PolicyDrive.tick (hold, inference, filter); analytic = expertAction per robot`);
    const one = out[0]!;
    const fifty = out[out.length - 1]!;
    console.log(`  batching: ${fifty.robots} robots cost ${times(p(fifty.infer, 0.5) / p(one.infer, 0.5))} one robot's inference (p50); the budget of a tick at ${policy.metadata.rateHz} Hz is ${ms(runtime.budgetMs)} ms`);
  } finally {
    await runtime.close();
    world.free();
  }
}

// ---- 2. STOP with 50 policy-driven robots --------------------------------------------------

/** The demo with `n` clones of amr-1, each driven by the shipped policy. */
function policyFleet(n: number): LoadedSite {
  const demo = demoSite();
  const site = fleetSite(n).site;
  return { ...demo, index: indexSite({ ...site, devices: site.devices.map((d) => (d.kind === 'amr' ? { ...d, policy: { model: MODEL } } : d)) }) };
}

/** The blocks of one kind: STOP's times, each block's event-loop delay p99 and max (ns), and the loop's busy time. */
interface Blocks {
  stop: Samples;
  delayP99: number[];
  delayMax: number[];
  busyMs: number;
  wallMs: number;
  /** Control ticks the vehicles were driven in these blocks. */
  ticks: number;
}

async function benchStopUnderPolicies(): Promise<void> {
  console.log(`  2. STOP with ${ROBOTS} policy-driven robots at 20 Hz: POST /v1/stop → the last of ${ROBOTS} stand-ins (section (f)'s set-up), in`);
  console.log(`  blocks of ${BLOCK} rounds taking turns: without policies, and while the policy pilot drives ${ROBOTS} robots in this process`);
  const res = new Resources();
  try {
    const broker = existsSync(MOSQUITTO) ? await startMosquitto(res) : await startAedes(res);
    if (broker.kind === 'aedes') console.log(`  !! ${MOSQUITTO} not found: measured on aedes`);
    const rig = await startStopRig(broker, res, ROBOTS);
    const site = policyFleet(ROBOTS);
    const logged: string[] = [];
    const started = await PolicyPilot.start({ site, speed: 1, log: (l) => logged.push(l) });
    const pilot = started.pilot;
    if (!pilot) throw new Error(`the pilot did not start: ${[...started.refused.values()].join('; ')}`);
    res.add('the policy pilot', () => pilot.close());
    const amrs = site.index.devicesOfKind('amr');
    const vehicles = benchVehicles(site, amrs, 3);
    const on = () => {
      vehicles.forEach((v, i) => (v.shield = pilot.attach(amrs[i]!, v)));
      // A pilot whose loop sleeps while nothing drives has `nudge` to wake it.
      (pilot as { nudge?: () => void }).nudge?.();
    };
    // A vehicle gets a new shield at each attach: its counts are added up at each detach.
    const counts: Record<string, number> = {};
    const off = () =>
      vehicles.forEach((v) => {
        pilot.detach(v.id);
        for (const [k, n] of Object.entries(v.shield?.interventions(v.id) ?? {})) counts[k] = (counts[k] ?? 0) + n;
        v.shield = undefined;
      });

    const blocksOf = (): Blocks => ({ stop: { last: [], first: [], returned: [] }, delayP99: [], delayMax: [], busyMs: 0, wallMs: 0, ticks: 0 });
    const without = blocksOf();
    const withP = blocksOf();
    // One monitor, on all along (one turned on and off counts the time it was off as a delay), reset per block.
    const monitor: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
    monitor.enable();
    res.add('the event-loop monitor', () => void monitor.disable());
    let round = 0;
    const runBlock = async (into: Blocks, rounds: number, keep: boolean) => {
      monitor.reset();
      const elu = performance.eventLoopUtilization();
      const t0 = performance.now();
      const acts0 = vehicles[0]!.acts;
      for (let i = 0; i < rounds; i++) await rig.stopRound(round++, keep ? into.stop : undefined);
      into.wallMs += performance.now() - t0;
      into.busyMs += performance.eventLoopUtilization(elu).active;
      into.delayP99.push(monitor.percentile(99));
      into.delayMax.push(monitor.max);
      into.ticks += vehicles[0]!.acts - acts0;
    };
    // Warm-up: the runtime's first batches, the vehicles getting under way.
    on();
    await runBlock(blocksOf(), STOP_WARMUP, false);
    for (let b = 0; b < STOP_ROUNDS / BLOCK; b++) {
      off();
      await runBlock(without, BLOCK, true);
      on();
      await runBlock(withP, BLOCK, true);
    }
    off();
    const pilotMs = withP.wallMs;
    const pilotTicks = withP.ticks;
    const faults = vehicles.filter((v) => v.faulted);

    const row = (label: string, m: Blocks) => [
      label,
      String(m.stop.last.length),
      ms(quantile(m.stop.last, 0.5)),
      ms(quantile(m.stop.last, 0.99)),
      ms(quantile(m.stop.last, 1)),
      ms(quantile(m.delayP99, 0.5) / 1e6),
      ms(Math.max(...m.delayMax) / 1e6),
      `${((m.busyMs / m.wallMs) * 100).toFixed(0)} %`,
    ];
    console.log(`  broker: ${broker.description}`);
    table(
      ['gateway process', 'rounds', 'STOP p50 ms', 'p99 ms', 'max ms', 'loop delay p99 ms', 'max ms', 'loop busy'],
      [row('without policies', without), row(`${ROBOTS} policy-driven robots, 20 Hz`, withP)],
    );
    console.log(`  STOP = POST /v1/stop → the last of ${ROBOTS} stand-ins' startPause; loop delay = monitorEventLoopDelay (1 ms resolution): the median`);
    console.log(`  of the blocks' p99, and the largest; loop busy = event-loop utilisation. The vehicles were driven ${pilotTicks} control ticks in ${(pilotMs / 1000).toFixed(1)} s of policy blocks`);
    console.log(`  (${(pilotTicks / (pilotMs / 1000)).toFixed(1)} Hz), ${counts['missed-tick'] ?? 0} robot-ticks missed; shield interventions: ${JSON.stringify(counts)}`);
    if (faults.length) console.log(`  !! ${faults.length} vehicles faulted: ${faults[0]!.faulted}`);
    // The pilot's log, robot names taken out: what happened, and how often.
    const kinds = new Map<string, number>();
    for (const l of logged) kinds.set(l.replace(/^amr-\d+: /, ''), (kinds.get(l.replace(/^amr-\d+: /, '')) ?? 0) + 1);
    if (logged.length) console.log(`  the pilot's log: ${[...kinds].map(([k, n]) => `${n} × ${k}`).join('; ')}`);
    const notSent = [...rig.notSent].map(([k, n]) => `${n} ${k}`).join(', ');
    if (notSent) console.log(`  !! deliveries not 'sent': ${notSent}`);
    const ratio = quantile(withP.stop.last, 0.99) / quantile(without.stop.last, 0.99);
    console.log(`  loop delay p99 with/without: ${times(quantile(withP.delayP99, 0.5) / quantile(without.delayP99, 0.5))}`);
    console.log(
      `  goal: STOP p99 with ${ROBOTS} policy-driven robots ≤ ${GOAL_STOP_RATIO}× without: ${ratio <= GOAL_STOP_RATIO ? 'PASS' : 'MISS'} (${times(ratio)}; p50 ${times(quantile(withP.stop.last, 0.5) / quantile(without.stop.last, 0.5))})`,
    );
  } finally {
    await res.closeAll();
  }
}

// ---- 3. the pilot at the virtual fleet's speed factors -----------------------------------

const PACE_SPEEDS = [1, 20, 50, 100];
const PACE_WALL_MS = 3000;

/**
 * One policy-driven robot driving without pause in the virtual fleet's pilot at each speed factor:
 * the simulated seconds it drove per real second against the speed asked (1.00: it keeps pace),
 * and the process's CPU per simulated minute. The gateway's tests and rehearsals run the demo's
 * policy AMR at 20–100×.
 */
export async function benchPilotPace(): Promise<void> {
  console.log(`  3. the pilot's pace: one policy-driven robot driving for ${PACE_WALL_MS / 1000} s at each speed factor, simulated time it drove`);
  console.log(`  against the wall clock × speed`);
  const site = policyFleet(1);
  const amr = site.index.devicesOfKind('amr')[0]!;
  const rows: string[][] = [];
  for (const speed of PACE_SPEEDS) {
    const started = await PolicyPilot.start({ site, speed, log: () => {} });
    const pilot = started.pilot;
    if (!pilot) throw new Error(`the pilot did not start: ${[...started.refused.values()].join('; ')}`);
    try {
      const [vehicle] = benchVehicles(site, [amr], 5);
      vehicle!.shield = pilot.attach(amr, vehicle!);
      pilot.nudge();
      await new Promise((r) => setTimeout(r, 300));
      const acts0 = vehicle!.acts;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, PACE_WALL_MS));
      const wallS = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const simS = (vehicle!.acts - acts0) * pilot.tickS;
      const pace = simS / (wallS * speed);
      rows.push([`${speed}×`, `${((pilot.tickS * 1000) / speed).toFixed(2)} ms`, (simS / wallS).toFixed(1), pace.toFixed(2), `${((cpu.user + cpu.system) / 1000 / (simS / 60)).toFixed(0)} ms`, String(pilot.behind)]);
    } finally {
      await pilot.close();
    }
  }
  table(['speed', 'tick due every', 'sim s / real s', 'pace (1.00 = keeps up)', 'CPU per sim min', 'backlogs dropped'], rows);
}

// ---- the section ---------------------------------------------------------------------------

export async function benchPolicy(): Promise<void> {
  const began = performance.now();
  console.log(`(j) policies: inference per tick, and STOP while ${ROBOTS} robots are driven by a policy`);
  console.log(`  ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  try {
    await benchInference();
    console.log('');
    await benchStopUnderPolicies();
    console.log('');
    await benchPilotPace();
  } catch (err) {
    console.log(`  !! the policy benchmark failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  }
  console.log(`  section wall time ${((performance.now() - began) / 1000).toFixed(1)} s`);
}

const main = process.argv[1] ? pathToFileURL(realpathSync(process.argv[1])).href : '';
if (import.meta.url === main) await benchPolicy();
