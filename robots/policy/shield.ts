// The safety shield between a policy and its robot, on the caller's side of the runtime, pure and
// synchronous (time comes in as `now`), so the policy cannot bypass it and tests run it on fake
// time. Per tick and robot:
//   - STOP or pause, or an observation older than two ticks: zero command, and the policy is not
//     asked (`hold`, called before the runtime);
//   - no actions (a missed tick) or a non-finite one: zero command;
//   - otherwise the action is clamped to the device's limits, its reachable speed change and the
//     slow zone's speed limit, and the motion is looked ahead: the command for one tick and then
//     braking to a stand (what a zero command next tick would do) must keep the footprint, grown
//     by a margin, off walls and keep-out zones and under every slow zone's limit. A command whose
//     held motion would meet one within the horizon is slowed first. When no slower command is
//     safe, the command is zero: the braking it starts was checked on the tick before.
// Every intervention is counted per robot by reason; the zero commands that mean something is
// wrong (stale, missed, non-finite) also raise an alert, once per run of them.
import { pointInPolygon, segmentsIntersect, type Point } from '../../planners/geometry.ts';
import type { Site } from '../../planners/site.ts';
import { reachableSpeed, stepAmr, ZERO_COMMAND, type AmrLimits, type AmrState, type MotionCommand } from './kinematics.ts';

export type InterventionReason = 'stop' | 'stale' | 'missed-tick' | 'non-finite' | 'device-limit' | 'zone-limit' | 'acceleration' | 'look-ahead';
export const INTERVENTION_REASONS: readonly InterventionReason[] = ['stop', 'stale', 'missed-tick', 'non-finite', 'device-limit', 'zone-limit', 'acceleration', 'look-ahead'];

export interface Footprint {
  length: number;
  width: number;
}

/** The walls: what the site's collision world answers (sim/world/collision.ts has this shape). */
export interface Walls {
  footprintHits(x: number, y: number, yaw: number, footprint: Footprint, margin?: number): readonly string[];
  circleHits(x: number, y: number, radius: number): readonly string[];
}

export interface ShieldSite {
  keepOuts: readonly { id: string; polygon: readonly Point[] }[];
  slowZones: readonly { id: string; polygon: readonly Point[]; maxSpeed: number }[];
  walls?: Walls;
}

/** The zones of a site as the shield reads them, with the walls of its world if there is one. */
export function shieldSiteOf(site: Pick<Site, 'zones'>, walls?: Walls): ShieldSite {
  return {
    keepOuts: site.zones.filter((z) => z.kind === 'keep-out').map((z) => ({ id: z.id, polygon: z.polygon })),
    slowZones: site.zones.flatMap((z) => (z.kind === 'slow' ? [{ id: z.id, polygon: z.polygon, maxSpeed: z.maxSpeed }] : [])),
    walls,
  };
}

export interface ShieldOptions {
  limits: AmrLimits;
  footprint: Footprint;
  site: ShieldSite;
  /** Seconds per tick (1 / the policy's rateHz). */
  tickS: number;
  /** How far ahead a held command is looked at, s. Default 1. */
  horizonS?: number;
  /** Grown on every side of the footprint for walls and keep-outs, m. Default 0.05. */
  margin?: number;
  onAlert?: (alert: ShieldAlert) => void;
}

export interface ShieldAlert {
  robot: string;
  reason: 'stale' | 'missed-tick' | 'non-finite';
  message: string;
}

export interface ShieldedCommand extends MotionCommand {
  /** What the shield changed, empty when the action went through as it was. */
  reasons: InterventionReason[];
}

export interface HoldInput {
  now: number;
  /** STOP or pause covers the robot. */
  stopped: boolean;
  /** When the robot's observation was taken, ms (same clock as `now`). */
  observedAt: number;
}

export interface FilterInput {
  state: AmrState;
  /** [v, ω] in m/s and rad/s; undefined when the tick was missed. */
  action: ArrayLike<number> | undefined;
}

/** A shield's answer to one action before it is counted: the command, what changed, and what is wrong (a zero command). */
export interface ShieldDecision extends ShieldedCommand {
  alert?: { reason: 'missed-tick' | 'non-finite'; message: string };
}

function zeroDecision(reason: 'missed-tick' | 'non-finite', message: string): ShieldDecision {
  return { ...ZERO_COMMAND, reasons: [reason], alert: { reason, message } };
}

/** Scales of v tried, in order, when the command as asked is not safe. */
const SLOWER = [1, 0.5, 0.25, 0];
const EPS = 1e-9;

export class Shield {
  private readonly counts = new Map<string, Record<InterventionReason, number>>();
  private readonly alerting = new Map<string, ShieldAlert['reason']>();
  private readonly horizonTicks: number;
  private readonly margin: number;

  constructor(private readonly opts: ShieldOptions) {
    if (!(opts.tickS > 0)) throw new Error(`a shield needs a positive tick, not ${opts.tickS}`);
    this.horizonTicks = Math.max(1, Math.round((opts.horizonS ?? 1) / opts.tickS));
    this.margin = opts.margin ?? 0.05;
  }

  /** Before asking the policy: a zero command when the robot is stopped or its observation is stale, else undefined. */
  hold(robot: string, input: HoldInput): ShieldedCommand | undefined {
    if (input.stopped) return this.zero(robot, 'stop');
    const ageMs = input.now - input.observedAt;
    if (!(ageMs <= 2 * this.opts.tickS * 1000)) return this.zero(robot, 'stale', `observation is ${Math.round(ageMs)} ms old (two ticks are ${Math.round(2 * this.opts.tickS * 1000)} ms)`);
    return undefined;
  }

  /** The command sent to the robot for the policy's action (decide, then record). */
  filter(robot: string, input: FilterInput): ShieldedCommand {
    return this.record(robot, this.decide(input));
  }

  /**
   * What the shield makes of the policy's action, without counting it: pure, so it runs wherever
   * the shield's world is (the inference worker decides for the pilot's robots, the robot's own
   * shield records it on the event loop).
   */
  decide(input: FilterInput): ShieldDecision {
    const { action, state } = input;
    if (!action) return zeroDecision('missed-tick', 'the policy gave no action this tick');
    const asked = { v: Number(action[0]), omega: Number(action[1]) };
    if (action.length < 2 || !Number.isFinite(asked.v) || !Number.isFinite(asked.omega)) return zeroDecision('non-finite', `the policy's action is not finite: [${Array.from(action).join(', ')}]`);
    const { limits, tickS } = this.opts;
    const reasons: InterventionReason[] = [];
    let v = asked.v;
    let omega = asked.omega;
    if (Math.abs(v) > limits.maxSpeed || Math.abs(omega) > limits.maxTurnRate) {
      reasons.push('device-limit');
      v = Math.max(-limits.maxSpeed, Math.min(limits.maxSpeed, v));
      omega = Math.max(-limits.maxTurnRate, Math.min(limits.maxTurnRate, omega));
    }
    const reachable = reachableSpeed(state.v, v, limits, tickS);
    if (Math.abs(reachable - v) > EPS) {
      reasons.push('acceleration');
      v = reachable;
    }
    const zoneLimit = Math.min(this.zoneLimit(state.x, state.y), this.zoneLimit(...nextCentre(state, v, omega, tickS)));
    if (Math.abs(v) > zoneLimit) {
      // Slowing to the limit may take more than a tick; the robot slows as fast as it can.
      reasons.push('zone-limit');
      v = reachableSpeed(state.v, Math.sign(v) * zoneLimit, limits, tickS);
    }
    const chosen = this.lookAhead(state, { v, omega });
    if (chosen.v !== v || chosen.omega !== omega) reasons.push('look-ahead');
    return { v: chosen.v, omega: chosen.omega, reasons };
  }

  /** Counts a decision's interventions for `robot` (and raises its alert, once per run of them); the command to send. */
  record(robot: string, decision: ShieldDecision): ShieldedCommand {
    if (decision.alert) return this.zero(robot, decision.alert.reason, decision.alert.message);
    this.alerting.delete(robot);
    for (const r of decision.reasons) this.count(robot, r);
    return { v: decision.v, omega: decision.omega, reasons: decision.reasons };
  }

  /** Interventions on `robot` by reason, since the shield was made. */
  interventions(robot: string): Readonly<Record<InterventionReason, number>> {
    return this.counts.get(robot) ?? emptyCounts();
  }

  /** The lowest speed limit of the slow zones the point is in (Infinity in none). */
  zoneLimit(x: number, y: number): number {
    let limit = Infinity;
    for (const z of this.opts.site.slowZones) if (z.maxSpeed < limit && pointInPolygon([x, y], z.polygon)) limit = z.maxSpeed;
    return limit;
  }

  /** Whether a robot's footprint at this pose, grown by `margin`, touches a wall or a keep-out zone. */
  blocked(x: number, y: number, theta: number, margin = this.margin, near: Near = this.everything()): boolean {
    const { footprint, site } = this.opts;
    if (near.walls && site.walls && site.walls.footprintHits(x, y, theta, footprint, margin).length > 0) return true;
    if (near.keepOuts.length === 0) return false;
    const box = footprintCorners(x, y, theta, footprint, margin);
    return near.keepOuts.some((k) => polygonsOverlap(box, k));
  }

  private everything(): Near {
    return { walls: true, keepOuts: this.opts.site.keepOuts.map((k) => k.polygon) };
  }

  /**
   * What the look-ahead from this state can reach at all: a disc around the robot as far as it can
   * drive over the horizon and brake, plus its footprint. One query for the walls and a box test
   * per keep-out, so the poses of the look-ahead are checked only against what is near (in open
   * floor, against nothing).
   */
  private near(state: AmrState): Near {
    const { limits, footprint, site, tickS } = this.opts;
    const reach =
      limits.maxSpeed * (this.horizonTicks + 1) * tickS + (limits.maxSpeed * limits.maxSpeed) / (2 * limits.maxDecel) + limits.maxSpeed * tickS + Math.hypot(footprint.length, footprint.width) / 2 + this.margin;
    const walls = site.walls !== undefined && site.walls.circleHits(state.x, state.y, reach).length > 0;
    const keepOuts = site.keepOuts
      .map((k) => k.polygon)
      .filter((poly) => {
        let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
        for (const [px, py] of poly) [x0, y0, x1, y1] = [Math.min(x0, px), Math.min(y0, py), Math.max(x1, px), Math.max(y1, py)];
        return state.x + reach >= x0 && state.x - reach <= x1 && state.y + reach >= y0 && state.y - reach <= y1;
      });
    return { walls, keepOuts };
  }

  /** The first of the command and slower ones that is safe held over the horizon, else the first safe braked after one tick; zero when none is. */
  private lookAhead(state: AmrState, command: MotionCommand): MotionCommand {
    const near = this.near(state);
    const candidates = SLOWER.map((k) => ({ v: command.v * k, omega: command.omega }));
    candidates.push({ ...ZERO_COMMAND });
    // Safe for one tick then braking is what makes a zero command next tick safe; held over the
    // horizon is what slows the robot before it has to brake.
    const braked: boolean[] = [];
    for (const c of candidates) {
      braked.push(this.safe(state, c, 1, near));
      if (braked[braked.length - 1] && this.safe(state, c, this.horizonTicks, near)) return c;
    }
    const first = braked.indexOf(true);
    return first >= 0 ? candidates[first]! : { ...ZERO_COMMAND };
  }

  /** The command held for `ticks`, then braking straight to a stand, stays clear and under the zones' limits. */
  private safe(state: AmrState, command: MotionCommand, ticks: number, near: Near): boolean {
    const { limits, tickS } = this.opts;
    let s = state;
    const ok = (x: AmrState) => !this.blocked(x.x, x.y, x.theta, this.margin, near) && Math.abs(x.v) <= this.zoneLimit(x.x, x.y) + EPS;
    for (let k = 0; k < ticks; k++) {
      s = stepAmr(s, command, limits, tickS);
      if (!ok(s)) return false;
    }
    // Braking ends: each tick takes maxDecel·dt off the speed.
    for (let k = 0; Math.abs(s.v) > EPS && k < 10_000; k++) {
      s = stepAmr(s, ZERO_COMMAND, limits, tickS);
      if (!ok(s)) return false;
    }
    return true;
  }

  private zero(robot: string, reason: InterventionReason, message?: string): ShieldedCommand {
    this.count(robot, reason);
    if (message && (reason === 'stale' || reason === 'missed-tick' || reason === 'non-finite')) {
      if (this.alerting.get(robot) !== reason) this.opts.onAlert?.({ robot, reason, message });
      this.alerting.set(robot, reason);
    }
    return { ...ZERO_COMMAND, reasons: [reason] };
  }

  private count(robot: string, reason: InterventionReason): void {
    const c = this.counts.get(robot) ?? this.counts.set(robot, emptyCounts()).get(robot)!;
    c[reason]++;
  }
}

/** The walls (whether any is in reach) and keep-out polygons a look-ahead checks against. */
interface Near {
  walls: boolean;
  keepOuts: (readonly Point[])[];
}

function emptyCounts(): Record<InterventionReason, number> {
  return Object.fromEntries(INTERVENTION_REASONS.map((r) => [r, 0])) as Record<InterventionReason, number>;
}

function nextCentre(s: AmrState, v: number, omega: number, dt: number): [number, number] {
  const mid = s.theta + (omega * dt) / 2;
  return [s.x + v * Math.cos(mid) * dt, s.y + v * Math.sin(mid) * dt];
}

/** The corners of a footprint centred at (x, y), heading theta, grown by margin. */
export function footprintCorners(x: number, y: number, theta: number, footprint: Footprint, margin = 0): Point[] {
  const hl = footprint.length / 2 + margin;
  const hw = footprint.width / 2 + margin;
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  return [
    [hl, hw],
    [-hl, hw],
    [-hl, -hw],
    [hl, -hw],
  ].map(([a, b]) => [x + a! * c - b! * s, y + a! * s + b! * c] as const);
}

/** Two simple polygons share a point: an edge crosses, or one holds a vertex of the other. */
export function polygonsOverlap(a: readonly Point[], b: readonly Point[]): boolean {
  for (let i = 0, j = a.length - 1; i < a.length; j = i++) {
    for (let k = 0, l = b.length - 1; k < b.length; l = k++) if (segmentsIntersect(a[j]!, a[i]!, b[l]!, b[k]!)) return true;
  }
  return pointInPolygon(a[0]!, b) || pointInPolygon(b[0]!, a);
}
