// `phygate policy verify`: an amr.track policy rolled out in closed loop, faster than real time,
// on every edge (both ways) and station approach of a site's nav graph, through the safety shield
// with the site's walls and keep-out zones, each under a nominal run and perturbed ones (start
// pose offsets, observation noise, a tick of latency, a slower robot). One onnxruntime batch per
// tick drives every roll-out at once. The figures are checked against thresholds and written as a
// certificate bound to the model's SHA-256 and the site's world hash.
import type { InferenceSession } from 'onnxruntime-node';
import { runProfile, turnTime, type Piece } from '../planners/motion.ts';
import { findRoute } from '../planners/route.ts';
import { trackObservation, type PathPose } from '../robots/policy/amr-track.ts';
import { CERTIFICATE_SCHEMA, checkTimeScale, type Certificate, type CertificateFigures, type CertificateThresholds } from '../robots/policy/certificate.ts';
import { INPUT_NAME, OUTPUT_NAME } from '../robots/policy/contract.ts';
import { stepAmr, wrapAngle, ZERO_COMMAND, type AmrState, type MotionCommand } from '../robots/policy/kinematics.ts';
import { createSession, type LoadedPolicy } from '../robots/policy/loader.ts';
import { RouteTrack } from '../robots/policy/route-track.ts';
import { footprintCorners, INTERVENTION_REASONS, polygonsOverlap, Shield, shieldSiteOf, type InterventionReason } from '../robots/policy/shield.ts';
import { arrived, NOMINAL, noisy, poseError, seededRandom, slowerLimits, startState, type Perturbation } from '../robots/policy/track-expert.ts';
import type { Amr } from '../planners/site.ts';
import { policyFloorHash } from './policy-gate.ts';
import type { LoadedSite } from './site-folder.ts';
import { createCollisionWorld, type CollisionWorld } from './world/collision.ts';

export const DEFAULT_THRESHOLDS: CertificateThresholds = {
  minSuccessRate: 0.95,
  maxCrossTrackM: 0.35,
  maxFinalPositionM: 0.1,
  maxFinalHeadingRad: 0.1,
  minWallClearanceM: 0.05,
  maxKeepOutEntries: 0,
  maxTimeRatio: 2,
};

export interface VerifyOptions {
  /** The AMR whose limits and footprint the roll-outs use; default the site's first. */
  device?: string;
  seed?: number;
  /** Roll-outs per edge: the nominal one and variants − 1 perturbed ones. Default 4. */
  variants?: number;
  /** Only the first this many edges (for quick runs); default every one. */
  maxEdges?: number;
  /** Only the first this many station-to-station routes (for quick runs); default every one. */
  maxRoutes?: number;
  thresholds?: CertificateThresholds;
  /** The certificate's time; default now. */
  now?: Date;
}

/** One edge driven from its start to its end: a path of poses, and the analytic time of the same motion. */
export interface VerifyEdge {
  from: string;
  to: string;
  station?: string;
  path: PathPose[];
  pieces: Piece[];
  edgeMaxSpeed: number;
  analyticS: number;
}

export interface SkippedEdge {
  from: string;
  to: string;
  reason: string;
}

/**
 * Every arc of the nav graph, ending turned to the station's heading where it leads to a station.
 * An arc into or out of a keep-out zone is skipped: the shield never lets a policy drive there, so
 * a policy-driven robot does not serve it, and the certificate lists it.
 */
export function verifyEdges(site: LoadedSite, limits: Parameters<typeof runProfile>[1]): { edges: VerifyEdge[]; skipped: SkippedEdge[] } {
  const edges: VerifyEdge[] = [];
  const skipped: SkippedEdge[] = [];
  const stationAt = new Map(site.index.site.stations.map((s) => [s.node, s]));
  for (const [from, arcs] of site.graph.arcs) {
    const a = site.graph.points.get(from)!;
    for (const arc of arcs) {
      if (arc.keepOut.length > 0) {
        skipped.push({ from, to: arc.to, reason: `crosses keep-out zone ${arc.keepOut.join(', ')}: the shield stops a policy-driven robot before it` });
        continue;
      }
      const b = site.graph.points.get(arc.to)!;
      const heading = Math.atan2(b[1] - a[1], b[0] - a[0]);
      const path: PathPose[] = [
        { x: a[0], y: a[1], theta: heading },
        { x: b[0], y: b[1], theta: heading },
      ];
      const station = stationAt.get(arc.to);
      let analyticS = runProfile(arc.pieces, limits).boundaryS.at(-1)!;
      if (station) {
        path.push({ x: b[0], y: b[1], theta: station.theta });
        analyticS += turnTime(heading, station.theta, limits);
      }
      edges.push({ from, to: arc.to, station: station?.id, path, pieces: arc.pieces, edgeMaxSpeed: arc.edgeMaxSpeed, analyticS });
    }
  }
  return { edges, skipped };
}

/** A route between two stations as the check times it: its nodes, their edges' speed limits, the headings at both ends. */
export interface VerifyRoute {
  from: string;
  to: string;
  nodes: string[];
  /** The speed limit of each edge of the route (edge k joins node k and k + 1). */
  edgeMaxSpeeds: number[];
  startTheta: number;
  endTheta: number;
  analyticS: number;
}

/**
 * Every route from one station to another that the check could give a robot (the fastest one,
 * clear of keep-out zones), from standing at the first station to standing turned at the second:
 * what a plan's drives are made of, corners and all.
 */
export function verifyRoutes(site: LoadedSite, limits: Parameters<typeof runProfile>[1]): VerifyRoute[] {
  const stations = site.index.site.stations;
  const routes: VerifyRoute[] = [];
  for (const a of stations) {
    for (const b of stations) {
      if (a === b || a.node === b.node) continue;
      const found = findRoute(site.graph, a.node, b.node, limits, { start: a.theta, end: b.theta });
      if (!found.ok) continue;
      const nodes = found.route.nodes;
      const edgeMaxSpeeds = nodes.slice(1).map((to, k) => site.graph.arcs.get(nodes[k]!)!.find((arc) => arc.to === to)!.edgeMaxSpeed);
      routes.push({ from: a.id, to: b.id, nodes: [...nodes], edgeMaxSpeeds, startTheta: a.theta, endTheta: b.theta, analyticS: found.route.timeS });
    }
  }
  return routes;
}

/** The perturbations of one edge: nominal first, then seeded draws. */
function perturbations(variants: number, random: () => number): Perturbation[] {
  const out: Perturbation[] = [NOMINAL];
  for (let k = 1; k < variants; k++) {
    out.push({
      startAlong: (random() * 2 - 1) * 0.1,
      startLeft: (random() * 2 - 1) * 0.15,
      startTurn: (random() * 2 - 1) * 0.3,
      noise: 0.01,
      // Alternating, so every edge gets both a late robot and a slower one when variants ≥ 3.
      latency: k % 2 === 1,
      slower: k % 2 === 0 ? 0.8 : 1,
    });
  }
  return out;
}

interface Rollout {
  id: string;
  edge: VerifyEdge;
  p: Perturbation;
  state: AmrState;
  segment: number;
  pending: MotionCommand;
  ticks: number;
  budget: number;
  done: boolean;
  arrivedAt: number | null;
  worstCrossTrack: number;
  keepOut: boolean;
  wall: boolean;
}

/** Rolls the policy out on the site and returns its certificate (passed or not). */
export async function verifyPolicy(policy: LoadedPolicy, site: LoadedSite, opts: VerifyOptions = {}): Promise<Certificate> {
  const amrs = site.index.devicesOfKind('amr');
  const device = opts.device ? amrs.find((d) => d.id === opts.device) : amrs[0];
  if (!device) throw new Error(opts.device ? `the site has no AMR '${opts.device}'` : 'the site has no AMR to verify a policy for');
  const seed = opts.seed ?? 1;
  const variants = opts.variants ?? 4;
  const thresholds = opts.thresholds ?? DEFAULT_THRESHOLDS;
  const md = policy.metadata;
  const tickS = 1 / md.rateHz;
  const random = seededRandom(seed);
  const all = verifyEdges(site, device.limits);
  const edges = all.edges.slice(0, opts.maxEdges ?? Infinity);
  const world = await createCollisionWorld(site.world.obstacles);
  let session: InferenceSession | undefined;
  try {
    session = await createSession(policy);
    const shield = new Shield({ limits: device.limits, footprint: device.footprint, site: shieldSiteOf(site.index.site, world), tickS });
    const keepOuts = site.index.site.zones.flatMap((z) => (z.kind === 'keep-out' ? [z.polygon] : []));
    const rollouts: Rollout[] = [];
    for (const edge of edges) {
      perturbations(variants, random).forEach((p, k) => {
        let state = startState(edge.path, p);
        // A perturbed start that would already touch a wall is not a start the robot can have.
        if (world.footprintHits(state.x, state.y, state.theta, device.footprint).length > 0) state = startState(edge.path, { ...p, startAlong: 0, startLeft: 0 });
        const slowest = Math.min(device.limits.maxSpeed, edge.edgeMaxSpeed, ...edge.pieces.map((x) => x.maxSpeed));
        const budget = Math.ceil((2 * edge.analyticS / p.slower + 10 + (Math.PI / device.limits.maxTurnRate) * 2 + 1 / slowest) / tickS);
        rollouts.push({ id: `${edge.from}>${edge.to}#${k}`, edge, p, state, segment: 0, pending: ZERO_COMMAND, ticks: 0, budget, done: false, arrivedAt: null, worstCrossTrack: 0, keepOut: false, wall: false });
      });
    }
    let clearance = 1;
    for (;;) {
      const active = rollouts.filter((r) => !r.done);
      if (active.length === 0) break;
      const truths = active.map((r) => {
        const limit = Math.min(device.limits.maxSpeed, r.edge.edgeMaxSpeed, shield.zoneLimit(r.state.x, r.state.y));
        const track = trackObservation(r.edge.path, r.state, limit, r.segment);
        r.segment = track.segment;
        return track.obs;
      });
      const actions = await infer(session, policy, active.map((r, j) => noisy(truths[j]!, r.p.noise, random)));
      active.forEach((r, j) => {
        const command = shield.filter(r.id, { state: r.state, action: actions[j]! });
        const limits = slowerLimits(device.limits, r.p.slower);
        r.state = stepAmr(r.state, r.p.latency ? r.pending : command, limits, tickS);
        r.pending = command;
        r.ticks++;
        r.worstCrossTrack = Math.max(r.worstCrossTrack, Math.abs(truths[j]![0]!));
        const s = r.state;
        if (keepOuts.some((k) => polygonsOverlap(footprintCorners(s.x, s.y, s.theta, device.footprint), k))) r.keepOut = true;
        clearance = wallClearance(world, s, device.footprint, clearance);
        if (clearance <= 0) r.wall = true;
        if (arrived(r.edge.path, s)) {
          r.arrivedAt = r.ticks * tickS;
          r.done = true;
        } else if (r.ticks >= r.budget) r.done = true;
      });
    }
    const routes = await rollRoutes(verifyRoutes(site, device.limits).slice(0, opts.maxRoutes ?? Infinity), { session, policy, shield, graph: site.graph, limits: device.limits, tickS });
    return certify(policy, site, device.id, { seed, variants, tickS }, thresholds, edges, all.skipped, rollouts, routes, shield, clearance, opts.now ?? new Date());
  } finally {
    await session?.release();
    world.free();
  }
}

/** A route driven by the policy, nominally: its time to arrive (null: it did not within its budget). */
export interface RouteRollout {
  route: VerifyRoute;
  arrivedAt: number | null;
}

/**
 * Every route driven by the policy through the shield, from standing at its first station, edge by
 * edge as a policy-driven AMR of the virtual fleet follows a route (robots/policy/route-track.ts):
 * the time a plan's drive takes with this policy, against the analytic profile the check uses.
 */
async function rollRoutes(
  routes: VerifyRoute[],
  ctx: { session: InferenceSession; policy: LoadedPolicy; shield: Shield; graph: LoadedSite['graph']; limits: Parameters<typeof runProfile>[1]; tickS: number },
): Promise<RouteRollout[]> {
  const { session, shield, limits, tickS } = ctx;
  const live = routes.map((route, k) => {
    const [x, y] = ctx.graph.points.get(route.nodes[0]!)!;
    const state: AmrState = { x, y, theta: route.startTheta, v: 0, omega: 0 };
    return {
      id: `route ${route.from}>${route.to}#${k}`,
      route,
      track: new RouteTrack(ctx.graph, route.nodes, route.endTheta, { limits }, state),
      state,
      ticks: 0,
      budget: Math.ceil((2 * route.analyticS + 10) / tickS),
      arrivedAt: null as number | null,
      done: false,
    };
  });
  for (;;) {
    const active = live.filter((r) => !r.done);
    if (active.length === 0) break;
    const observations = active.map((r) => {
      const limit = Math.min(limits.maxSpeed, r.route.edgeMaxSpeeds[r.track.index]!, shield.zoneLimit(r.state.x, r.state.y));
      const way = r.track.track;
      const track = trackObservation(way.path, r.state, limit, way.segment);
      way.segment = track.segment;
      return track.obs;
    });
    const actions = await infer(session, ctx.policy, observations);
    active.forEach((r, j) => {
      r.state = stepAmr(r.state, shield.filter(r.id, { state: r.state, action: actions[j]! }), limits, tickS);
      r.ticks++;
      if (r.track.advance(r.state) === 'end') {
        r.arrivedAt = r.ticks * tickS;
        r.done = true;
      } else if (r.ticks >= r.budget) r.done = true;
    });
  }
  return live.map((r) => ({ route: r.route, arrivedAt: r.arrivedAt }));
}

/**
 * One batch through the model: each robot's observation scaled as its description says, one row
 * each, and each row of actions scaled and clamped to the description's limits.
 */
async function infer(session: InferenceSession, policy: LoadedPolicy, observations: readonly ArrayLike<number>[]): Promise<number[][]> {
  const md = policy.metadata;
  const n = md.observations.length;
  const seen = new Float32Array(observations.length * n);
  observations.forEach((obs, j) => {
    for (let i = 0; i < n; i++) seen[j * n + i] = obs[i]! * md.observations[i]!.scale;
  });
  const ort = await import('onnxruntime-node');
  const out = await session.run({ [INPUT_NAME]: new ort.Tensor('float32', seen, [observations.length, n]) });
  const raw = out[OUTPUT_NAME]!.data as Float32Array;
  const m = md.actions.length;
  return observations.map((_, j) => md.actions.map((a, k) => Math.min(a.max, Math.max(a.min, raw[j * m + k]! * a.scale))));
}

/** The least clearance so far, lowered if the footprint here is nearer a wall (found to 5 mm). */
function wallClearance(world: CollisionWorld, s: AmrState, footprint: { length: number; width: number }, sofar: number): number {
  if (world.footprintHits(s.x, s.y, s.theta, footprint, sofar).length === 0) return sofar;
  if (world.footprintHits(s.x, s.y, s.theta, footprint, 0).length > 0) return 0;
  let [lo, hi] = [0, sofar];
  while (hi - lo > 0.005) {
    const mid = (lo + hi) / 2;
    if (world.footprintHits(s.x, s.y, s.theta, footprint, mid).length > 0) hi = mid;
    else lo = mid;
  }
  return lo;
}

function certify(
  policy: LoadedPolicy,
  site: LoadedSite,
  device: string,
  settings: { seed: number; variants: number; tickS: number },
  thresholds: CertificateThresholds,
  edges: VerifyEdge[],
  skipped: SkippedEdge[],
  rollouts: Rollout[],
  routes: RouteRollout[],
  shield: Shield,
  clearance: number,
  now: Date,
): Certificate {
  const interventions = Object.fromEntries(INTERVENTION_REASONS.map((r) => [r, 0])) as Record<InterventionReason, number>;
  let worstFinalPosition = 0;
  let worstFinalHeading = 0;
  let succeeded = 0;
  const ratios: number[] = [];
  const ok = (r: Rollout) => r.arrivedAt !== null && !r.keepOut && !r.wall;
  for (const r of rollouts) {
    for (const [reason, c] of Object.entries(shield.interventions(r.id))) interventions[reason as InterventionReason] += c;
    const err = poseError(r.edge.path, r.state);
    worstFinalPosition = Math.max(worstFinalPosition, err.position);
    worstFinalHeading = Math.max(worstFinalHeading, Math.abs(wrapAngle(err.heading)));
    if (ok(r)) succeeded++;
    if (r.p === NOMINAL) ratios.push(r.arrivedAt === null ? Infinity : r.arrivedAt / Math.max(r.edge.analyticS, settings.tickS));
  }
  const figures: CertificateFigures = {
    rollouts: rollouts.length,
    succeeded,
    successRate: rollouts.length === 0 ? 0 : succeeded / rollouts.length,
    worstCrossTrackM: round(Math.max(0, ...rollouts.map((r) => r.worstCrossTrack))),
    worstFinalPositionM: round(worstFinalPosition),
    worstFinalHeadingRad: round(worstFinalHeading),
    minWallClearanceM: round(clearance),
    wallContacts: rollouts.filter((r) => r.wall).length,
    keepOutEntries: rollouts.filter((r) => r.keepOut).length,
    interventions,
    timeRatio: ratioFigures(ratios),
    routes: {
      driven: routes.length,
      arrived: routes.filter((r) => r.arrivedAt !== null).length,
      timeRatio: ratioFigures(routes.map((r) => (r.arrivedAt === null ? Infinity : r.arrivedAt / Math.max(r.route.analyticS, settings.tickS)))),
    },
  };
  const failures: string[] = [];
  if (rollouts.length === 0) failures.push('no edge to roll out on');
  if (figures.successRate < thresholds.minSuccessRate) failures.push(`success rate ${pct(figures.successRate)} is below ${pct(thresholds.minSuccessRate)}`);
  if (figures.keepOutEntries > thresholds.maxKeepOutEntries) failures.push(`${figures.keepOutEntries} roll-out(s) entered a keep-out zone`);
  if (figures.wallContacts > 0) failures.push(`${figures.wallContacts} roll-out(s) touched a wall or machine`);
  if (figures.worstCrossTrackM > thresholds.maxCrossTrackM) failures.push(`worst cross-track error ${figures.worstCrossTrackM} m is above ${thresholds.maxCrossTrackM} m`);
  if (figures.worstFinalPositionM > thresholds.maxFinalPositionM) failures.push(`worst final position error ${figures.worstFinalPositionM} m is above ${thresholds.maxFinalPositionM} m`);
  if (figures.worstFinalHeadingRad > thresholds.maxFinalHeadingRad) failures.push(`worst final heading error ${figures.worstFinalHeadingRad} rad is above ${thresholds.maxFinalHeadingRad} rad`);
  if (figures.minWallClearanceM < thresholds.minWallClearanceM) failures.push(`least clearance to walls ${figures.minWallClearanceM} m is below ${thresholds.minWallClearanceM} m`);
  if (figures.timeRatio.worst > thresholds.maxTimeRatio) failures.push(`the slowest nominal edge took ${figures.timeRatio.worst}× its analytic time, above ${thresholds.maxTimeRatio}×`);
  const lost = routes.filter((r) => r.arrivedAt === null);
  if (lost.length > 0) failures.push(`${lost.length} route(s) between stations not driven to the end (${lost.slice(0, 3).map((r) => `${r.route.from} → ${r.route.to}`).join(', ')}${lost.length > 3 ? ', …' : ''})`);
  else if (figures.routes.timeRatio.worst > thresholds.maxTimeRatio) failures.push(`the slowest route between stations took ${figures.routes.timeRatio.worst}× its analytic time, above ${thresholds.maxTimeRatio}×`);
  return {
    schema: CERTIFICATE_SCHEMA,
    model: { sha256: policy.sha256, name: policy.metadata.name, version: policy.metadata.version, controls: policy.metadata.controls },
    site: { id: site.index.site.id, floorHash: policyFloorHash(site, site.index.device(device) as Amr), device },
    verifiedAt: now.toISOString(),
    settings: { seed: settings.seed, variants: settings.variants, rateHz: 1 / settings.tickS, edges: edges.length },
    thresholds,
    figures,
    edges: edges.map((edge) => {
      const mine = rollouts.filter((r) => r.edge === edge);
      const nominal = mine.find((r) => r.p === NOMINAL);
      return { from: edge.from, to: edge.to, ...(edge.station ? { station: edge.station } : {}), analyticS: round(edge.analyticS), nominalS: nominal?.arrivedAt == null ? null : round(nominal.arrivedAt), rollouts: mine.length, succeeded: mine.filter(ok).length };
    }),
    skipped,
    failures,
    passed: failures.length === 0,
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** The mean of the finite ratios and the worst of all (one that never arrived counts as 10⁶). */
function ratioFigures(ratios: number[]): { mean: number; worst: number } {
  const finite = ratios.filter(Number.isFinite);
  return {
    mean: round(finite.length === 0 ? 0 : finite.reduce((a, b) => a + b, 0) / finite.length),
    worst: round(Math.max(0, ...ratios.map((x) => (Number.isFinite(x) ? x : 1e6)))),
  };
}
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The figures as lines for a terminal. */
export function describeCertificate(cert: Certificate): string[] {
  const f = cert.figures;
  const reasons = Object.entries(f.interventions).filter(([, c]) => c > 0).map(([r, c]) => `${r} ${c}`);
  const slowest = [...cert.edges].filter((e) => e.nominalS !== null).sort((a, b) => b.nominalS! / Math.max(b.analyticS, 1e-9) - a.nominalS! / Math.max(a.analyticS, 1e-9))[0];
  return [
    `policy ${cert.model.name} ${cert.model.version} (sha256 ${cert.model.sha256}) on site ${cert.site.id} (floor ${cert.site.floorHash.slice(0, 12)}…), as ${cert.site.device}`,
    `${cert.settings.edges} edges and station approaches × ${cert.settings.variants} roll-outs (nominal, then start offsets, observation noise, a tick of latency, a slower robot) at ${cert.settings.rateHz} Hz`,
    `success rate: ${pct(f.successRate)} (${f.succeeded} of ${f.rollouts})`,
    `worst cross-track error: ${f.worstCrossTrackM} m`,
    `worst final pose error: ${f.worstFinalPositionM} m, ${f.worstFinalHeadingRad} rad`,
    `least clearance to walls: ${f.minWallClearanceM >= 1 ? '≥ 1' : f.minWallClearanceM} m; wall contacts: ${f.wallContacts}`,
    `keep-out entries: ${f.keepOutEntries}`,
    `shield interventions: ${reasons.length > 0 ? reasons.join(', ') : 'none'}`,
    `time per edge against the analytic profile (nominal): mean ${f.timeRatio.mean}×, worst ${f.timeRatio.worst}×${slowest ? ` (${slowest.from} → ${slowest.to}: ${slowest.nominalS} s against ${slowest.analyticS} s)` : ''}`,
    `time per route between stations against the analytic profile: mean ${f.routes.timeRatio.mean}×, worst ${f.routes.timeRatio.worst}× (${f.routes.arrived} of ${f.routes.driven} routes driven to the end); the plan check times this policy's drives at ${checkTimeScale(cert)}×`,
    ...cert.skipped.map((e) => `not driven: ${e.from} → ${e.to} (${e.reason})`),
    cert.passed ? 'PASSED' : `FAILED: ${cert.failures.join('; ')}`,
  ];
}
