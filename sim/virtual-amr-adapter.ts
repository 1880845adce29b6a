// The vehicle under a virtual AMR: vda-5050-lib's AgvController runs the VDA 5050 protocol and
// hands the physical part to this adapter. It drives the order's edges on the site's nav graph
// with the AMR's motion limits (the planners' motion profile, `speed` times faster than real
// time), drains and charges its battery, picks and drops totes, pauses and resumes, and stops
// when an order is cancelled. An AMR whose device says `policy:` is driven by that policy
// instead (policy-pilot.ts): the same protocol upward, the motion from the shielded policy.
import {
  ActionStatus,
  AgvController,
  ErrorLevel,
  type ActionContext,
  type ActionStatusChangeInfo,
  type AgvAdapter,
  type AgvAdapterDebugger,
  type AgvAdapterOptions,
  type AttachContext,
  type BatteryState,
  type DetachContext,
  type Edge,
  type Error as VdaError,
  type ErrorReference,
  type Headerless,
  type Load,
  type Node,
  type Order,
  type RouteTraversableContext,
  type State,
  type StopTraverseContext,
  type TraverseEdgeContext,
} from 'vda-5050-lib';
import type { NavGraph } from '../planners/route.ts';
import type { Amr, SiteIndex } from '../planners/site.ts';
import { wrapAngle } from '../robots/vda5050/order.ts';
import { departsS, planRun, poseAt, reachedS, startOnFirstEdgeS, type MotionRun } from './amr-motion.ts';
import { trackObservation } from '../robots/policy/amr-track.ts';
import { nodeReached, policyFailedError, policyShieldInformation, policyTimeoutError, standsOnNode, trackToNode, type NodeTrack } from '../robots/policy/order-track.ts';
import { stepAmr, ZERO_COMMAND, type AmrState } from '../robots/policy/kinematics.ts';
import type { Shield, ShieldedCommand } from '../robots/policy/shield.ts';
import type { PilotedVehicle, PolicyPilot } from './policy-pilot.ts';
import { attachVehicle, reportActionLater, type OrderSource } from '../robots/vda5050/vehicle-controller.ts';
import { actionProblems, deviationProblems, factsheetOf, NODE_TOLERANCE_M, routeProblems, unsupported } from '../robots/vda5050/vehicle-checks.ts';

const G = 9.81;

export interface VirtualAmrAdapterOptions extends AgvAdapterOptions {
  site: SiteIndex;
  graph: NavGraph;
  amr: Amr;
  /** Node the AMR starts on. */
  startNode: string;
  /** Where it stands at start when that is not on its node (a robot stopped between two nodes); default: on the node. */
  startPose?: { x: number; y: number; theta: number };
  /** State of charge at start, 0..1. */
  soc: number;
  /** Simulated seconds per real second. */
  speed: number;
  /** Real milliseconds between simulation steps. */
  tickMs: number;
  /** Called with the adapter once the controller has created it. */
  created?: (adapter: VirtualAmrAdapter) => void;
  /** Drive with the policy this pilot holds for the AMR instead of the analytic motion model. */
  pilot?: PolicyPilot;
}

/** What a policy-driven AMR did since its last pause, counted in control ticks. */
export interface PolicyPause {
  /** Control ticks run when the pause came. */
  atTick: number;
  /** Its speed then, m/s. */
  speed: number;
  /** The largest |v| or |ω| commanded since (0: every command was zero). */
  maxCommand: number;
  /** Ticks the shield answered since (a robot not asked about gets no command). */
  commanded: number;
  /** The first tick the shield answered since: `atTick + 1` when it answered the very next one. */
  firstCommandedAtTick?: number;
  /** The tick by which it stood still (undefined: still braking). */
  stoodAtTick?: number;
}

interface Job {
  ctx: ActionContext;
  remainingS: number;
  finish: () => Partial<Headerless<State>>;
  result: string;
}

interface ActiveRun {
  motion: MotionRun;
  /** The order's edges this run drives, in order. */
  edges: Edge[];
  /** Edge being driven (index into `edges`); node `index` is behind, `index + 1` ahead. */
  index: number;
  /** Simulated seconds since the run began. */
  t: number;
  /** The controller's go-ahead for edges[index]; a run without one ends at node `index`. */
  traverse?: TraverseEdgeContext;
  /** An order cancel that waits for the AMR to reach the next node. */
  stop?: StopTraverseContext;
  /** The order's nodes along the run (nodes[index + 1] is the one ahead). */
  nodes: Node[];
  /** Policy-driven: the path to the node ahead (in simulated seconds). */
  track?: NodeTrack;
}

export class VirtualAmrAdapter implements AgvAdapter, PilotedVehicle {
  readonly name = 'PhygateVirtualAmr';
  readonly apiVersion = 2;
  private readonly options: VirtualAmrAdapterOptions;
  private readonly amr: Amr;
  private pose: { x: number; y: number; theta: number };
  private lastNode: { id: string; sequenceId: number };
  private soc: number;
  private charging = false;
  private paused = false;
  private driving = false;
  private loads: Load[] = [];
  private velocity = { vx: 0, vy: 0, omega: 0 };
  private run: ActiveRun | undefined;
  private jobs: Job[] = [];
  private timer: NodeJS.Timeout | undefined;
  private halted = false;
  private lastTickMs = 0;
  private loadCount = 0;
  private emptyError: VdaError | undefined;
  private attachedPromise: Promise<void> = Promise.resolve();
  /** Policy-driven: its shield, its speed and turn rate, the last command, the error it reports. */
  private shield: Shield | undefined;
  private motion: AmrState | undefined;
  private policyError: VdaError | undefined;
  private lastInterventions = -1;
  /** Policy-driven: control ticks run, and the last command the shield let through. */
  readonly policyStats: { ticks: number; lastCommand: { v: number; omega: number }; pausedTicks: number; pause?: PolicyPause } = { ticks: 0, lastCommand: { v: 0, omega: 0 }, pausedTicks: 0 };

  constructor(
    readonly controller: AgvController,
    adapterOptions: AgvAdapterOptions,
    private readonly debug: AgvAdapterDebugger,
  ) {
    this.options = adapterOptions as VirtualAmrAdapterOptions;
    this.amr = this.options.amr;
    const node = this.options.site.node(this.options.startNode);
    if (!node) throw new Error(`start node '${this.options.startNode}' is not a node of the site`);
    const station = this.options.site.site.stations.find((s) => s.node === node.id);
    const at = this.options.startPose;
    this.pose = at ? { x: at.x, y: at.y, theta: wrapAngle(at.theta) } : { x: node.x, y: node.y, theta: wrapAngle(station?.theta ?? 0) };
    this.lastNode = { id: node.id, sequenceId: 0 };
    this.soc = this.options.soc;
    this.options.created?.(this);
  }

  /** Resolves once the controller has subscribed to orders and published the first state. */
  get ready(): Promise<void> {
    return this.attachedPromise;
  }

  /**
   * Something outside the AMR put a tote on it (the arm of an `arm.transfer` onto this AMR): the
   * simulator's stand-in for a load sensor. False if it already carries one.
   */
  receiveLoad(): boolean {
    if (this.loads.length > 0 || this.halted) return false;
    this.loads = [{ loadId: `${this.amr.id}-tote-${++this.loadCount}`, loadType: 'tote' }];
    this.controller.updatePartialState({ loads: this.loads }, true);
    return true;
  }

  /** Where the AMR is now (for tests and the live view). */
  get position(): { x: number; y: number; theta: number } {
    return { ...this.pose };
  }

  get id(): string {
    return this.amr.id;
  }

  /** Its speed (m/s) and turn rate now. */
  get speedNow(): { v: number; omega: number } {
    return this.motion ? { v: this.motion.v, omega: this.motion.omega } : { v: this.velocity.vx, omega: this.velocity.omega };
  }

  /** Policy-driven: the shield's interventions on it so far, by reason. */
  interventions(): Readonly<Record<string, number>> | undefined {
    return this.shield?.interventions(this.amr.id);
  }

  attach(context: AttachContext): void {
    this.controller.updateFactsheet(factsheetOf(this.amr));
    this.lastTickMs = performance.now();
    this.timer = setInterval(() => this.tick(), this.options.tickMs);
    if (this.options.pilot) {
      this.motion = { ...this.pose, v: 0, omega: 0 };
      this.shield = this.options.pilot.attach(this.amr, this);
    }
    this.attachedPromise = attachVehicle(context, { agvPosition: this.agvPosition(), lastNodeId: this.lastNode.id, batteryState: this.batteryState() });
  }

  detach(context: DetachContext): void {
    this.halt();
    context.detached({ driving: false, velocity: { vx: 0, vy: 0, omega: 0 } });
  }

  /** Stops the simulation clock for good (the AMR is switched off or crashed). */
  halt(): void {
    this.halted = true;
    this.options.pilot?.detach(this.amr.id);
    clearInterval(this.timer);
    this.timer = undefined;
  }

  // ---- what the controller asks before it accepts work ---------------------------------------

  isActionExecutable(context: ActionContext): ErrorReference[] {
    return actionProblems(context.action, context.scope);
  }

  isNodeWithinDeviationRange(node: Node): ErrorReference[] {
    return deviationProblems(node, this.pose, this.lastNode.id, this.options.site.site.mapId);
  }

  isRouteTraversable(context: RouteTraversableContext): ErrorReference[] {
    return routeProblems(context, this.options.site, this.options.graph);
  }

  // ---- actions ------------------------------------------------------------------------------

  executeAction(context: ActionContext): void {
    const { action, scope } = context;
    switch (action.actionType) {
      case 'startPause':
        // Stop at once; the controller hears about it right after.
        this.paused = true;
        if (this.motion) this.policyStats.pause = { atTick: this.policyStats.ticks, speed: Math.abs(this.motion.v), maxCommand: 0, commanded: 0 };
        // A policy-driven AMR brakes over its next ticks and drives until it stands (act()).
        if (!this.moving()) this.setDriving(false);
        for (const job of this.jobs) this.report(job.ctx, { actionStatus: ActionStatus.Paused });
        this.report(context, { actionStatus: ActionStatus.Finished, resultDescription: 'paused', linkedState: { paused: true } });
        return;
      case 'stopPause':
        this.report(context, { actionStatus: ActionStatus.Finished, resultDescription: 'resumed', linkedState: { paused: false } }, () => {
          this.paused = false;
          for (const job of this.jobs) this.report(job.ctx, { actionStatus: ActionStatus.Running });
        });
        return;
      case 'pick':
      case 'drop': {
        const pick = action.actionType === 'pick';
        if (pick && this.loads.length > 0) return this.fail(context, 'the AMR already carries a tote');
        if (!pick && this.loads.length === 0) return this.fail(context, 'the AMR carries nothing to drop');
        this.startJob(context, pick ? this.amr.transport.loadS : this.amr.transport.unloadS, pick ? 'tote picked' : 'tote dropped', () => {
          this.loads = pick ? [{ loadId: `${this.amr.id}-tote-${++this.loadCount}`, loadType: 'tote' }] : [];
          return { loads: this.loads };
        });
        return;
      }
      case 'startCharging': {
        if (this.run) return this.fail(context, 'the AMR is driving');
        if (!this.atCharger()) return this.fail(context, `the AMR is not on a charger (last node '${this.lastNode.id}')`);
        this.charging = true;
        this.report(context, { actionStatus: ActionStatus.Finished, resultDescription: 'charging', linkedState: { batteryState: this.batteryState() } });
        return;
      }
      case 'stopCharging':
        this.charging = false;
        this.report(context, { actionStatus: ActionStatus.Finished, resultDescription: 'not charging', linkedState: { batteryState: this.batteryState() } });
        return;
      case 'initPosition': {
        const p = Object.fromEntries((action.actionParameters ?? []).map((a) => [a.key, a.value]));
        this.run = undefined;
        this.pose = { x: p.x as number, y: p.y as number, theta: wrapAngle(p.theta as number) };
        if (this.motion) this.motion = { ...this.pose, v: 0, omega: 0 };
        this.lastNode = { id: p.lastNodeId as string, sequenceId: typeof p.lastNodeSequenceId === 'number' ? p.lastNodeSequenceId : 0 };
        this.report(context, {
          actionStatus: ActionStatus.Finished,
          resultDescription: 'position set',
          linkedState: { agvPosition: this.agvPosition(), lastNodeId: this.lastNode.id, lastNodeSequenceId: this.lastNode.sequenceId },
        });
        return;
      }
      default:
        this.fail(context, unsupported(action, scope));
    }
  }

  cancelAction(context: ActionContext): void {
    const job = this.jobs.find((j) => j.ctx.action.actionId === context.action.actionId);
    if (!job) return;
    this.jobs = this.jobs.filter((j) => j !== job);
    // No error description: a cancelled action is not a fault of the AMR.
    this.report(job.ctx, { actionStatus: ActionStatus.Failed, resultDescription: 'cancelled' });
  }

  finishEdgeAction(context: ActionContext): void {
    // No edge actions are supported, so none can be running; answer anyway so the controller never waits.
    this.report(context, { actionStatus: ActionStatus.Finished });
  }

  private startJob(ctx: ActionContext, seconds: number, result: string, finish: () => Partial<Headerless<State>>): void {
    this.jobs.push({ ctx, remainingS: seconds, finish, result });
    this.report(ctx, { actionStatus: this.paused ? ActionStatus.Paused : ActionStatus.Running });
  }

  private fail(ctx: ActionContext, why: string): void {
    this.report(ctx, { actionStatus: ActionStatus.Failed, errorDescription: why });
  }

  private report(ctx: ActionContext, change: ActionStatusChangeInfo, before?: () => void): void {
    reportActionLater(ctx, change, () => this.halted, before);
  }

  // ---- driving ------------------------------------------------------------------------------

  traverseEdge(context: TraverseEdgeContext): void {
    const r = this.run;
    const expected = r?.edges[r.index];
    if (r && !r.traverse && !r.stop && expected && expected.edgeId === context.edge.edgeId && expected.sequenceId === context.edge.sequenceId) {
      r.traverse = context;
      return;
    }
    this.startRun(context);
  }

  stopTraverse(context: StopTraverseContext): void {
    const r = this.run;
    const onNode = !r || (r.track ? this.standsOn(r.nodes[r.index]!) : r.t <= departsS(r.motion, r.index));
    if (!r || onNode || this.paused) {
      // On a node, or paused (a STOP): stay exactly here.
      this.run = undefined;
      this.setDriving(false);
      setImmediate(() => this.halted || context.stopped());
      return;
    }
    // Between nodes: finish the edge, then stop on its end node.
    r.stop = context;
    r.traverse = undefined;
    context.drivingToNextNode(r.nodes[r.index + 1]!);
  }

  private startRun(context: TraverseEdgeContext): void {
    const order = (this.controller as unknown as Partial<OrderSource>).activeOrder?.();
    const edges: Edge[] = [context.edge];
    const nodes: Node[] = [context.startNode, context.endNode];
    let end = context.endNode;
    // Drive on through nodes with nothing to do there, as far as the base goes: one smooth run.
    while (order && end.released && end.actions.length === 0) {
      const next = order.edges.find((e) => e.sequenceId === end.sequenceId + 1 && e.startNodeId === end.nodeId);
      const after = next && order.nodes.find((n) => n.sequenceId === next.sequenceId + 1 && n.nodeId === next.endNodeId);
      if (!next?.released || !after) break;
      edges.push(next);
      nodes.push(after);
      end = after;
    }
    const ids = nodes.map((n) => n.nodeId);
    const motion = planRun(this.options.graph, ids, this.amr.limits, this.pose.theta, end.nodePosition?.theta);
    if (!motion) {
      // isRouteTraversable let only nav-graph edges through, so this is a bug; say so rather than hang silently.
      this.debug('no way along %o', ids);
      this.controller.updateErrors({ errorType: 'noRouteError', errorLevel: ErrorLevel.Warning, errorDescription: `no way along ${ids.join(' → ')}`, errorReferences: [] }, 'add', true);
      return;
    }
    // Setting off costs the energy of speeding up (braking recovers none) and of scrubbing the wheels round in turns.
    const mass = this.movingMass();
    this.spend((mass * motion.route.speedUpJPerKg + mass * G * this.amr.battery.rollingFriction * (this.amr.footprint.width / 2) * motion.route.turnRad) / this.amr.battery.efficiency);
    // Halted between two nodes (a STOP), it goes on from where it stands, along the edge it is on.
    this.run = { motion, edges, nodes, index: 0, t: startOnFirstEdgeS(motion, this.pose, NODE_TOLERANCE_M), traverse: context };
    if (this.motion) {
      if (this.policyError) {
        this.controller.updateErrors(this.policyError, 'remove', true);
        this.policyError = undefined;
      }
      this.run.track = this.trackTo(this.run);
      this.options.pilot?.nudge();
    }
  }

  private tick(): void {
    const now = performance.now();
    const dt = ((now - this.lastTickMs) / 1000) * this.options.speed;
    this.lastTickMs = now;
    const b = this.amr.battery;
    this.spend(b.idlePowerW * dt);
    if (this.charging) {
      this.soc = Math.min(1, this.soc + (b.chargePowerW * dt) / (b.capacityWh * 3600));
      if (this.emptyError && this.soc > 0.05) {
        this.controller.updateErrors(this.emptyError, 'remove', true);
        this.emptyError = undefined;
      }
      if (this.soc >= 1) {
        this.charging = false;
        this.controller.updateBatteryState(this.batteryState(), true);
      }
    }
    for (const job of [...this.jobs]) {
      if (this.paused) break;
      job.remainingS -= dt;
      if (job.remainingS > 0) continue;
      this.jobs = this.jobs.filter((j) => j !== job);
      this.report(job.ctx, { actionStatus: ActionStatus.Finished, resultDescription: job.result, linkedState: job.finish() });
    }
    this.advance(dt);
    this.controller.updateBatteryState(this.batteryState(), false);
  }

  private advance(dt: number): void {
    // A policy-driven AMR moves on the pilot's ticks (sense/act below).
    if (this.paused || this.soc <= 0 || this.motion) return;
    let left = dt;
    let moved = false;
    let r = this.run;
    while (r && left > 0) {
      if (!r.traverse && !r.stop) {
        // Nobody let the AMR onto the next edge (the controller holds it at this node): the run ends here.
        this.run = undefined;
        break;
      }
      moved = true;
      const arriveAt = reachedS(r.motion, r.index + 1);
      if (r.t + left < arriveAt) {
        this.moveTo(r, r.t + left);
        left = 0;
        break;
      }
      left -= arriveAt - r.t;
      this.moveTo(r, arriveAt);
      r = this.arrive(r);
    }
    this.setDriving(moved && this.run !== undefined);
    if (moved) this.reportPose();
  }

  private moveTo(r: ActiveRun, t: number): void {
    const before = this.pose;
    const p = poseAt(r.motion, t);
    r.t = t;
    this.pose = { x: p.x, y: p.y, theta: wrapAngle(p.theta) };
    this.spend((this.movingMass() * G * this.amr.battery.rollingFriction * Math.hypot(p.x - before.x, p.y - before.y)) / this.amr.battery.efficiency);
    this.velocity = { vx: p.speed, vy: 0, omega: p.omega };
  }

  /** Node `index + 1` reached: tell the controller, or stop there for a cancel. Returns the run that goes on, if any. */
  private arrive(r: ActiveRun): ActiveRun | undefined {
    const node = r.nodes[r.index + 1]!;
    this.lastNode = { id: node.nodeId, sequenceId: node.sequenceId };
    r.index++;
    const last = r.index === r.motion.nodes.length - 1;
    if (r.stop) {
      const stop = r.stop;
      this.run = undefined;
      this.setDriving(false);
      this.controller.updatePartialState({ lastNodeId: node.nodeId, lastNodeSequenceId: node.sequenceId });
      setImmediate(() => this.halted || stop.stopped());
      return undefined;
    }
    const traverse = r.traverse!;
    r.traverse = undefined;
    if (last) this.run = undefined;
    this.reportPose();
    // The controller marks the node reached and, synchronously, lets the AMR onto the next edge.
    traverse.edgeTraversed();
    return this.run === r ? r : undefined;
  }

  // ---- driven by a policy (policy-pilot.ts) ------------------------------------------------

  stopped(): boolean {
    return this.paused;
  }

  /** Neither on a route nor moving: nothing for the pilot to drive. */
  get resting(): boolean {
    return !this.run?.track && !this.moving();
  }

  /** On a route, moving, running an action or charging: at work (gateway/rehearsal/floor-clock.ts). */
  get atWork(): boolean {
    return !this.halted && (!!this.run || this.jobs.length > 0 || this.charging || this.moving());
  }

  moving(): boolean {
    return !!this.motion && (Math.abs(this.motion.v) > 1e-6 || Math.abs(this.motion.omega) > 1e-6);
  }

  sense(): { state: AmrState; obs: ArrayLike<number> } | undefined {
    const r = this.run;
    if (this.halted || !this.motion || this.soc <= 0) return undefined;
    // Paused (a STOP) while moving or on a run: through the shield's hold, which answers zero
    // without asking the policy (the observation is never read) and counts it.
    if (this.paused && (this.moving() || r)) return { state: this.motion, obs: new Float64Array(8) };
    if (!r?.track) return undefined;
    if (!r.traverse && !r.stop) {
      // Nobody let the AMR onto the next edge: the run ends here.
      this.run = undefined;
      return undefined;
    }
    const edgeLimit = r.edges[r.index]?.maxSpeed ?? Infinity;
    const limit = Math.min(this.amr.limits.maxSpeed, edgeLimit, this.shield!.zoneLimit(this.motion.x, this.motion.y));
    const o = trackObservation(r.track.path, this.motion, limit, r.track.segment);
    r.track.segment = o.segment;
    return { state: this.motion, obs: o.obs };
  }

  act(command: ShieldedCommand | undefined, dtS: number): void {
    if (this.halted || !this.motion) return;
    this.policyStats.ticks++;
    if (this.paused) this.policyStats.pausedTicks++;
    // Paused, without a run or without an answer: a zero command, so the AMR brakes to a stand.
    const c = !this.paused && this.run?.track && command ? command : ZERO_COMMAND;
    this.policyStats.lastCommand = { v: c.v, omega: c.omega };
    const before = this.motion;
    const after = this.soc > 0 ? stepAmr(before, c, this.amr.limits, dtS) : { ...before, v: 0, omega: 0 };
    this.motion = after;
    this.pose = { x: after.x, y: after.y, theta: after.theta };
    this.spend((this.movingMass() * G * this.amr.battery.rollingFriction * Math.hypot(after.x - before.x, after.y - before.y)) / this.amr.battery.efficiency);
    this.velocity = { vx: after.v, vy: 0, omega: after.omega };
    const moving = Math.abs(after.v) > 1e-6 || Math.abs(after.omega) > 1e-6;
    const pause = this.policyStats.pause;
    if (this.paused && pause) {
      // What the pilot's shield commanded, not the zero the adapter holds to anyway.
      if (command) {
        pause.commanded++;
        pause.firstCommandedAtTick ??= this.policyStats.ticks;
        pause.maxCommand = Math.max(pause.maxCommand, Math.abs(command.v), Math.abs(command.omega));
      }
      if (!moving) pause.stoodAtTick ??= this.policyStats.ticks;
    }
    this.setDriving(moving);
    if (moving) this.reportPose();
    this.reportInterventions();
    const r = this.run;
    if (!r?.track || this.paused) return;
    r.track.sinceS += dtS;
    if (this.reached(r)) {
      const next = this.arrive(r);
      if (next) next.track = this.trackTo(next);
      return;
    }
    if (r.track.sinceS > r.track.timeoutS) {
      const node = r.nodes[r.index + 1]!;
      this.run = undefined;
      this.policyError = policyTimeoutError(node.nodeId, r.track);
      this.controller.updateErrors(this.policyError, 'add', true);
    }
  }

  fault(message: string): void {
    if (this.halted) return;
    this.run = undefined;
    this.policyError = policyFailedError(message);
    if (this.motion) this.motion = { ...this.motion, v: 0, omega: 0 };
    this.setDriving(false);
    this.controller.updateErrors(this.policyError, 'add', true);
  }

  /** The path to node `index + 1`: the edge from node `index` to it, and a turn in place there to the order's heading. */
  private trackTo(r: ActiveRun): NodeTrack {
    return trackToNode(this.options.graph, r.nodes[r.index]!.nodeId, r.nodes[r.index + 1]!.nodeId, this.pose, this.amr);
  }

  private reached(r: ActiveRun): boolean {
    const node = r.nodes[r.index + 1]!;
    const last = r.index + 1 === r.nodes.length - 1;
    return nodeReached(this.options.graph, r.track!, node.nodeId, this.pose, last ? node.nodePosition?.theta : undefined);
  }

  private standsOn(node: Node): boolean {
    return standsOnNode(this.options.graph, node.nodeId, this.pose);
  }

  /**
   * The shield's interventions, upward in the state's `information`: one entry of type
   * `policyShield` naming the policy, with the count per reason and the total.
   */
  private reportInterventions(): void {
    const { total, information } = policyShieldInformation(this.options.pilot!.policies.get(this.amr.id)!.policy, this.shield!.interventions(this.amr.id));
    if (total === this.lastInterventions) return;
    this.lastInterventions = total;
    this.controller.updatePartialState({ information: [information] }, false);
  }

  private setDriving(driving: boolean): void {
    if (driving === this.driving) return;
    this.driving = driving;
    if (!driving) this.velocity = { vx: 0, vy: 0, omega: 0 };
    this.controller.updateAgvPositionVelocity(this.agvPosition(), this.velocity, false);
    this.controller.updateDrivingState(driving, true);
  }

  private reportPose(): void {
    this.controller.updateAgvPositionVelocity(this.agvPosition(), this.velocity, false);
  }

  // ---- battery ------------------------------------------------------------------------------

  private movingMass(): number {
    return this.amr.massKg + this.loads.length * this.amr.payloadKg;
  }

  private spend(joules: number): void {
    if (joules <= 0 || this.soc <= 0) return;
    this.soc = Math.max(0, this.soc - joules / (this.amr.battery.capacityWh * 3600));
    if (this.soc === 0 && !this.emptyError) {
      this.emptyError = { errorType: 'batteryEmpty', errorLevel: ErrorLevel.Fatal, errorDescription: 'the battery is empty: the AMR cannot move', errorReferences: [] };
      this.setDriving(false);
      this.controller.updateErrors(this.emptyError, 'add', true);
    }
  }

  private batteryState(): BatteryState {
    return { batteryCharge: Math.round(this.soc * 10_000) / 100, charging: this.charging };
  }

  private atCharger(): boolean {
    const node = this.options.site.node(this.lastNode.id);
    const station = this.options.site.site.stations.find((s) => s.node === this.lastNode.id);
    return !!node && station?.kind === 'charger' && Math.hypot(node.x - this.pose.x, node.y - this.pose.y) <= NODE_TOLERANCE_M;
  }

  private agvPosition() {
    return { x: this.pose.x, y: this.pose.y, theta: this.pose.theta, mapId: this.options.site.site.mapId, positionInitialized: true };
  }
}
