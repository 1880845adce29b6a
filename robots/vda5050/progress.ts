// How far an AMR has got with an order, read from its state messages: pure functions of what
// the master sent and what the vehicle reports.
import type { ActionState, Order, State, VehicleError } from './schemas.ts';

export interface OrderProgress {
  deviceId: string;
  orderId: string;
  /** The update the vehicle works on (the latest sent, until it has accepted one). */
  orderUpdateId: number;
  lastNodeId: string;
  /** Nodes still ahead, base and horizon. */
  remainingNodes: string[];
  /** The states of this order's actions. */
  actionStates: ActionState[];
  /** Every node and edge done and every action of the order FINISHED. */
  finished: boolean;
  /** A cancelOrder sent for this order was carried out. */
  cancelled: boolean;
  /** Why the order will not finish: rejected, an action FAILED, or a FATAL error. */
  failed?: string;
}

/** What the master remembers of the order it sent an AMR. */
export interface TrackedOrder {
  orderId: string;
  /** The last message sent for this order (the first, or the latest update). */
  latest: Order;
  /** Released actions over every message of the order: id → type. */
  actions: Map<string, string>;
  /** The cancelOrder sent for it and not yet refused. */
  cancelActionId?: string;
  cancelled: boolean;
  /** Finished, failed or cancelled: nothing more to report. */
  terminal: boolean;
  lastReport?: string;
}

const ACTIVE_ACTION = new Set(['WAITING', 'INITIALIZING', 'RUNNING', 'PAUSED']);

/** The vehicle still has nodes, edges or actions of an order to work through. */
export function hasActiveOrder(state: State): boolean {
  return state.nodeStates.length > 0 || state.edgeStates.length > 0 || state.actionStates.some((a) => ACTIVE_ACTION.has(a.actionStatus));
}

export function describeError(e: VehicleError): string {
  return e.errorDescription ? `${e.errorType}: ${e.errorDescription}` : e.errorType;
}

function reference(error: VehicleError, key: string): string | undefined {
  return error.errorReferences?.find((r) => r.referenceKey === key)?.referenceValue;
}

/** The actions of the base of an order message: id → type. Horizon actions are not started by a vehicle. */
export function releasedActions(order: Order): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of order.nodes) if (n.released) for (const a of n.actions) out.set(a.actionId, a.actionType);
  for (const e of order.edges) if (e.released) for (const a of e.actions) out.set(a.actionId, a.actionType);
  return out;
}

/**
 * The progress a state shows, or undefined while the vehicle has neither taken the order nor
 * said why not. Records on `tracked` whether a cancel was carried out or refused (the vehicle
 * drops finished instant actions from its state after a few messages, so it must be remembered).
 */
export function evaluateProgress(deviceId: string, tracked: TrackedOrder, state: State): OrderProgress | undefined {
  const latest = tracked.latest;
  const rejection = state.errors.find((e) => {
    if (reference(e, 'orderId') !== tracked.orderId) return false;
    const update = reference(e, 'orderUpdateId');
    return update === undefined || update === String(latest.orderUpdateId);
  });
  const accepted = state.orderId === tracked.orderId;
  const base = { deviceId, orderId: tracked.orderId, orderUpdateId: accepted ? state.orderUpdateId : latest.orderUpdateId, lastNodeId: state.lastNodeId };
  if (!accepted) {
    return rejection ? { ...base, remainingNodes: [], actionStates: [], finished: false, cancelled: false, failed: describeError(rejection) } : undefined;
  }
  const actionStates = state.actionStates.filter((a) => tracked.actions.has(a.actionId));
  if (tracked.cancelActionId) {
    const cancel = state.actionStates.find((a) => a.actionId === tracked.cancelActionId);
    const refused = state.errors.some((e) => reference(e, 'actionId') === tracked.cancelActionId);
    if (cancel?.actionStatus === 'FINISHED') tracked.cancelled = true;
    if (refused || cancel?.actionStatus === 'FAILED') tracked.cancelActionId = undefined;
  }
  // While a cancel runs, the actions it fails are not a failure of the order.
  const cancelling = tracked.cancelActionId !== undefined && !tracked.cancelled;
  let failed: string | undefined;
  if (!tracked.cancelled && !cancelling) {
    const failedAction = actionStates.find((a) => a.actionStatus === 'FAILED');
    const fatal = state.errors.find((e) => e.errorLevel === 'FATAL');
    if (rejection) failed = describeError(rejection);
    else if (failedAction) {
      const why = state.errors.find((e) => reference(e, 'actionId') === failedAction.actionId);
      failed = `${failedAction.actionType ?? tracked.actions.get(failedAction.actionId)} '${failedAction.actionId}' failed${why?.errorDescription ? `: ${why.errorDescription}` : ''}`;
    } else if (fatal) failed = describeError(fatal);
  }
  const allDone =
    state.orderUpdateId === latest.orderUpdateId &&
    state.nodeStates.length === 0 &&
    state.edgeStates.length === 0 &&
    [...tracked.actions.keys()].every((id) => actionStates.find((a) => a.actionId === id)?.actionStatus === 'FINISHED');
  return {
    ...base,
    remainingNodes: state.nodeStates.map((n) => n.nodeId),
    actionStates,
    finished: allDone && !tracked.cancelled && failed === undefined,
    cancelled: tracked.cancelled,
    ...(failed === undefined ? {} : { failed }),
  };
}
