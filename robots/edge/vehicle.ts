// The VDA 5050 vehicle side of `phygate edge`: vda-5050-lib's AgvController runs the protocol and
// hands the physical part to this adapter, as it does for a virtual AMR. Here the robot is real:
// its pose and speed come from the base's odometry, and it moves by the policy's shielded
// commands, which the edge's control loop (edge.ts) sends to the base. The adapter follows the
// order one edge at a time (robots/policy/order-track.ts, as a policy-driven virtual AMR does),
// takes pause and resume, stops on a cancel, and reports errors: a policy that does not reach the
// next node, a runtime that failed, odometry that stopped coming.
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
  type DetachContext,
  type Error as VdaError,
  type ErrorReference,
  type Node,
  type RouteTraversableContext,
  type StopTraverseContext,
  type TraverseEdgeContext,
} from 'vda-5050-lib';
import type { NavGraph } from '../../planners/route.ts';
import type { Amr, SiteIndex } from '../../planners/site.ts';
import { trackObservation } from '../policy/amr-track.ts';
import type { AmrState } from '../policy/kinematics.ts';
import type { LoadedPolicy } from '../policy/loader.ts';
import { nodeReached, policyFailedError, policyShieldInformation, policyTimeoutError, standsOnNode, trackToNode, type NodeTrack } from '../policy/order-track.ts';
import type { Shield } from '../policy/shield.ts';
import { attachVehicle, reportActionLater, type OrderSource } from '../vda5050/vehicle-controller.ts';
import { actionProblems, deviationProblems, factsheetOf, NODE_TOLERANCE_M, routeProblems, unsupported, type SupportedActions } from '../vda5050/vehicle-checks.ts';
import type { BaseOdometry } from './ros2-base.ts';

// Until the base reports its battery (ros2-base.ts), it is not known: 0 keeps the gateway from
// planning on a charge nobody measured.
const EDGE_UNKNOWN_BATTERY = { batteryCharge: 0, charging: false };

/** A bare base: it drives, pauses and resumes; it has nothing to pick, drop or charge with. */
export const EDGE_ACTIONS: SupportedActions = { node: [], edge: [], instant: ['startPause', 'stopPause'] };

export interface EdgeVehicleOptions extends AgvAdapterOptions {
  site: SiteIndex;
  graph: NavGraph;
  amr: Amr;
  policy: LoadedPolicy;
  shield: Shield;
  /** Where the robot stands at start (the first odometry). */
  start: BaseOdometry;
  /** A pause (a STOP) came: the edge sends the base a zero command at once. */
  onPause: () => void;
  created: (vehicle: EdgeVehicle) => void;
}

/** The edge being driven now: toward its end node. */
interface Leg {
  ctx: TraverseEdgeContext;
  track: NodeTrack;
  /** The order's heading on its last node, when this edge ends there. */
  endTheta: number | undefined;
  /** An order cancel that waits for the robot to reach the end node. */
  stop?: StopTraverseContext;
}

export class EdgeVehicle implements AgvAdapter {
  readonly name = 'PhygateEdge';
  readonly apiVersion = 2;
  private readonly options: EdgeVehicleOptions;
  private readonly amr: Amr;
  private pose: BaseOdometry;
  private lastNode: { id: string; sequenceId: number };
  private paused = false;
  private driving = false;
  private leg: Leg | undefined;
  private halted = false;
  private policyError: VdaError | undefined;
  private staleError: VdaError | undefined;
  private lastInterventions = -1;
  private lastBattery: { batteryCharge: number; charging: boolean } | undefined;
  private attachedPromise: Promise<void> = Promise.resolve();

  constructor(
    readonly controller: AgvController,
    adapterOptions: AgvAdapterOptions,
    private readonly debug: AgvAdapterDebugger,
  ) {
    this.options = adapterOptions as EdgeVehicleOptions;
    this.amr = this.options.amr;
    this.pose = this.options.start;
    // It starts on the node it stands on, if any (a new order must begin where it stands).
    const on = this.options.site.site.nodes.find((n) => Math.hypot(n.x - this.pose.x, n.y - this.pose.y) <= NODE_TOLERANCE_M);
    this.lastNode = { id: on?.id ?? '', sequenceId: 0 };
    this.options.created(this);
  }

  /** Resolves once the controller has subscribed to orders and published the first state. */
  get ready(): Promise<void> {
    return this.attachedPromise;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** The node it last reached. */
  get lastNodeId(): string {
    return this.lastNode.id;
  }

  attach(context: AttachContext): void {
    this.controller.updateFactsheet(factsheetOf(this.amr, EDGE_ACTIONS, `phygate edge ${this.amr.id}`));
    this.attachedPromise = attachVehicle(context, { agvPosition: this.agvPosition(), lastNodeId: this.lastNode.id, batteryState: EDGE_UNKNOWN_BATTERY });
  }

  detach(context: DetachContext): void {
    this.halted = true;
    context.detached({ driving: false, velocity: { vx: 0, vy: 0, omega: 0 } });
  }

  /** Takes nothing more from the controller (the edge is stopping). */
  halt(): void {
    this.halted = true;
    this.leg = undefined;
  }

  // ---- what the controller asks before it accepts work ---------------------------------------

  isActionExecutable(context: ActionContext): ErrorReference[] {
    return actionProblems(context.action, context.scope, EDGE_ACTIONS);
  }

  isNodeWithinDeviationRange(node: Node): ErrorReference[] {
    return deviationProblems(node, this.pose, this.lastNode.id, this.options.site.site.mapId);
  }

  isRouteTraversable(context: RouteTraversableContext): ErrorReference[] {
    return routeProblems(context, this.options.site, this.options.graph);
  }

  // ---- actions ------------------------------------------------------------------------------

  executeAction(context: ActionContext): void {
    switch (context.action.actionType) {
      case 'startPause':
        // The base gets its zero command now, not at the next tick.
        this.paused = true;
        this.options.onPause();
        this.report(context, { actionStatus: ActionStatus.Finished, resultDescription: 'paused', linkedState: { paused: true } });
        return;
      case 'stopPause':
        this.report(context, { actionStatus: ActionStatus.Finished, resultDescription: 'resumed', linkedState: { paused: false } }, () => (this.paused = false));
        return;
      default:
        this.report(context, { actionStatus: ActionStatus.Failed, errorDescription: unsupported(context.action, context.scope) });
    }
  }

  cancelAction(): void {
    // No action of this vehicle runs for long (pause and resume finish at once): nothing to cancel.
  }

  finishEdgeAction(context: ActionContext): void {
    // No edge actions are supported, so none can be running; answer anyway so the controller never waits.
    this.report(context, { actionStatus: ActionStatus.Finished });
  }

  private report(ctx: ActionContext, change: ActionStatusChangeInfo, before?: () => void): void {
    reportActionLater(ctx, change, () => this.halted, before);
  }

  // ---- driving ------------------------------------------------------------------------------

  traverseEdge(context: TraverseEdgeContext): void {
    if (this.policyError) {
      // A new order after a failed one: the error was about that one.
      this.controller.updateErrors(this.policyError, 'remove', true);
      this.policyError = undefined;
    }
    const order = (this.controller as unknown as Partial<OrderSource>).activeOrder?.();
    const last = order?.nodes[order.nodes.length - 1];
    const end = context.endNode;
    this.leg = {
      ctx: context,
      track: trackToNode(this.options.graph, context.startNode.nodeId, end.nodeId, this.pose, this.amr),
      endTheta: last && last.sequenceId === end.sequenceId ? end.nodePosition?.theta : undefined,
    };
  }

  stopTraverse(context: StopTraverseContext): void {
    const leg = this.leg;
    if (!leg || this.paused || standsOnNode(this.options.graph, leg.ctx.startNode.nodeId, this.pose)) {
      // On a node, or paused (a STOP): stay exactly here.
      this.leg = undefined;
      setImmediate(() => this.halted || context.stopped());
      return;
    }
    // Between nodes: finish the edge, then stop on its end node.
    leg.stop = context;
    context.drivingToNextNode(leg.ctx.endNode);
  }

  // ---- the control loop's side (edge.ts) ---------------------------------------------------

  /**
   * The robot's odometry this tick: reported upward, and turned into the policy's observation of
   * the edge it follows. Undefined when it has nothing to follow.
   */
  sense(odo: BaseOdometry): { state: AmrState; obs: Float64Array } | undefined {
    this.pose = odo;
    const velocity = { vx: odo.v, vy: 0, omega: odo.omega };
    this.controller.updateAgvPositionVelocity(this.agvPosition(), velocity, false);
    const moving = Math.abs(odo.v) > 1e-3 || Math.abs(odo.omega) > 1e-3;
    if (moving !== this.driving) {
      this.driving = moving;
      this.controller.updateDrivingState(moving, true);
    }
    const leg = this.leg;
    if (!leg || this.halted) return undefined;
    const state: AmrState = { x: odo.x, y: odo.y, theta: odo.theta, v: odo.v, omega: odo.omega };
    const edgeLimit = leg.ctx.edge.maxSpeed ?? Infinity;
    const limit = Math.min(this.amr.limits.maxSpeed, edgeLimit, this.options.shield.zoneLimit(odo.x, odo.y));
    const o = trackObservation(leg.track.path, state, limit, leg.track.segment);
    leg.track.segment = o.segment;
    return { state, obs: o.obs };
  }

  /** The base's battery, when it reports one: into the state when it changes. */
  battery(b: { soc: number; charging: boolean } | undefined): void {
    if (!b) return;
    const batteryState = { batteryCharge: Math.round(b.soc * 10_000) / 100, charging: b.charging };
    if (this.lastBattery && this.lastBattery.batteryCharge === batteryState.batteryCharge && this.lastBattery.charging === batteryState.charging) return;
    this.lastBattery = batteryState;
    this.controller.updateBatteryState(batteryState, false);
  }

  /** After a tick of `dtS` seconds under the policy: a node reached, or the policy out of time. */
  advance(dtS: number): void {
    this.reportInterventions();
    const leg = this.leg;
    if (!leg || this.paused || this.halted) return;
    leg.track.sinceS += dtS;
    const end = leg.ctx.endNode;
    if (nodeReached(this.options.graph, leg.track, end.nodeId, this.pose, leg.endTheta)) {
      this.leg = undefined;
      this.lastNode = { id: end.nodeId, sequenceId: end.sequenceId };
      if (leg.stop) {
        const stop = leg.stop;
        this.controller.updatePartialState({ lastNodeId: end.nodeId, lastNodeSequenceId: end.sequenceId });
        setImmediate(() => this.halted || stop.stopped());
        return;
      }
      // The controller marks the node reached and, synchronously, hands over the next edge.
      leg.ctx.edgeTraversed();
      return;
    }
    if (leg.track.sinceS > leg.track.timeoutS) {
      this.leg = undefined;
      this.policyError = policyTimeoutError(end.nodeId, leg.track);
      this.controller.updateErrors(this.policyError, 'add', true);
    }
  }

  /** Odometry older than two ticks (or none): the robot gets zero, and the state says why. */
  setStale(stale: boolean, topic: string): void {
    if (stale && !this.staleError) {
      this.staleError = {
        errorType: 'odometryStale',
        errorLevel: ErrorLevel.Warning,
        errorDescription: `no fresh odometry on ${topic}: the robot is given zero velocity until it comes again`,
        errorReferences: [{ referenceKey: 'topic', referenceValue: topic }],
      };
      this.controller.updateErrors(this.staleError, 'add', true);
    } else if (!stale && this.staleError) {
      this.controller.updateErrors(this.staleError, 'remove', true);
      this.staleError = undefined;
    }
  }

  /** The policy runtime or the base failed: the robot was given zero; the order cannot go on. */
  fault(message: string, errorType: 'policyRuntimeFailed' | 'baseFailed'): void {
    if (this.halted) return;
    this.leg = undefined;
    this.policyError = { ...policyFailedError(message), errorType };
    this.controller.updateErrors(this.policyError, 'add', true);
  }

  private reportInterventions(): void {
    const { total, information } = policyShieldInformation(this.options.policy, this.options.shield.interventions(this.amr.id));
    if (total === this.lastInterventions) return;
    this.lastInterventions = total;
    this.controller.updatePartialState({ information: [information] }, false);
  }

  private agvPosition() {
    return { x: this.pose.x, y: this.pose.y, theta: this.pose.theta, mapId: this.options.site.site.mapId, positionInitialized: true };
  }
}
