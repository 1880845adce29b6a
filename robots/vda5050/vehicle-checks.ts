// What a vehicle phygate runs itself (a virtual AMR, or `phygate edge` on a robot) accepts before
// it starts work: the actions it knows, whether it stands where a new order begins, whether an
// order's route is a path on the site's nav graph that stays out of its keep-out zones. Pure
// functions of the AMR's situation, each answering with VDA 5050 error references (empty: fine).
import {
  AgvActionActionScope,
  AgvClass,
  AgvController,
  AgvKinematic,
  LocalizationType,
  NavigationType,
  type Action,
  type ActionScope,
  type ErrorReference,
  type Factsheet,
  type Headerless,
  type Node,
  type RouteTraversableContext,
} from 'vda-5050-lib';
import { keepOutAt, type NavGraph } from '../../planners/route.ts';
import type { Amr, SiteIndex } from '../../planners/site.ts';
import { wrapAngle } from './order.ts';

/** How close (m) the AMR must be to a node to count as standing on it, when the order does not say. */
export const NODE_TOLERANCE_M = 0.1;

/** The actions a vehicle carries out itself, by scope. */
export type SupportedActions = Record<ActionScope, readonly string[]>;

/** The virtual AMR's. */
export const SUPPORTED_ACTIONS: SupportedActions = {
  node: ['pick', 'drop', 'startCharging', 'stopCharging'],
  edge: [],
  instant: ['startPause', 'stopPause', 'startCharging', 'stopCharging', 'initPosition'],
};

/** Free text for the error the controller reports. */
export function detail(text: string): ErrorReference {
  return { referenceKey: AgvController.REF_KEY_ERROR_DESCRIPTION_DETAIL, referenceValue: text };
}

export function unsupported(action: Action, scope: ActionScope): string {
  return `'${action.actionType}' is not supported ${scope === 'instant' ? 'as an instant action' : `on a ${scope}`}`;
}

export function actionProblems(action: Action, scope: ActionScope, supported: SupportedActions = SUPPORTED_ACTIONS): ErrorReference[] {
  if (!supported[scope].includes(action.actionType)) return [detail(unsupported(action, scope))];
  if (action.actionType === 'initPosition') {
    const p = Object.fromEntries((action.actionParameters ?? []).map((a) => [a.key, a.value]));
    const bad = ['x', 'y', 'theta'].filter((k) => typeof p[k] !== 'number').concat(typeof p.lastNodeId === 'string' ? [] : ['lastNodeId']);
    if (bad.length > 0) return [{ referenceKey: 'actionParameters', referenceValue: bad.join(',') }, detail('initPosition needs x, y, theta and lastNodeId')];
  }
  return [];
}

/** Whether the first node of a new order is where the AMR stands. */
export function deviationProblems(node: Node, pose: { x: number; y: number; theta: number }, lastNodeId: string, mapId: string): ErrorReference[] {
  // The 2.0 spelling; vda-5050-lib's types know only its own `allowedDeviationXy`.
  const np = node.nodePosition as (Node['nodePosition'] & { allowedDeviationXY?: number }) | undefined;
  if (!np) return node.nodeId === lastNodeId ? [] : [{ referenceKey: 'lastNodeId', referenceValue: lastNodeId }];
  const refs: ErrorReference[] = [];
  if (np.mapId !== mapId) refs.push({ referenceKey: 'nodePosition.mapId', referenceValue: mapId });
  // 0 means "as exactly as the vehicle can", which is its normal tolerance.
  const allowed = np.allowedDeviationXY || np.allowedDeviationXy || NODE_TOLERANCE_M;
  const off = Math.hypot(np.x - pose.x, np.y - pose.y);
  if (off > allowed) refs.push({ referenceKey: 'nodePosition.allowedDeviationXY', referenceValue: String(allowed) }, detail(`the AMR is ${off.toFixed(2)} m from the node`));
  if (np.theta !== undefined && np.allowedDeviationTheta !== undefined && Math.abs(wrapAngle(np.theta - pose.theta)) > np.allowedDeviationTheta) {
    refs.push({ referenceKey: 'nodePosition.allowedDeviationTheta', referenceValue: String(np.allowedDeviationTheta) });
  }
  return refs;
}

/** A virtual AMR drives only the site's nav graph, on the site's map. */
export function routeProblems(route: RouteTraversableContext, site: SiteIndex, graph: NavGraph): ErrorReference[] {
  for (const n of route.nodes) {
    if (!site.node(n.nodeId)) return [{ referenceKey: 'nodeId', referenceValue: n.nodeId }, detail('not a node of the site')];
    if (!n.nodePosition) return [{ referenceKey: 'nodeId', referenceValue: n.nodeId }, detail('missing nodePosition')];
    if (n.nodePosition.mapId !== site.site.mapId) return [{ referenceKey: 'nodePosition.mapId', referenceValue: n.nodePosition.mapId }, detail(`the AMR drives on map '${site.site.mapId}'`)];
  }
  for (const e of route.edges) {
    const arc = graph.arcs.get(e.startNodeId)?.find((a) => a.to === e.endNodeId);
    if (!arc) return [{ referenceKey: 'edgeId', referenceValue: e.edgeId }, detail(`no way from '${e.startNodeId}' to '${e.endNodeId}' on the site's nav graph`)];
    // Whoever sends the order, the vehicle itself does not drive into a keep-out zone (the
    // planner never routes through one; an order that does was not made by it).
    if (arc.keepOut.length > 0) return [{ referenceKey: 'edgeId', referenceValue: e.edgeId }, detail(`the way from '${e.startNodeId}' to '${e.endNodeId}' enters keep-out zone '${arc.keepOut[0]}'`)];
  }
  for (const n of route.nodes) {
    const zone = keepOutAt(graph, n.nodeId);
    if (zone) return [{ referenceKey: 'nodeId', referenceValue: n.nodeId }, detail(`'${n.nodeId}' lies inside keep-out zone '${zone}'`)];
  }
  return [];
}

/**
 * Instant actions the library's controller carries out itself, before our adapter sees them: it
 * cancels orders, answers stateRequest and factsheetRequest. The factsheet lists them too.
 */
export const CONTROLLER_INSTANT_ACTIONS: readonly string[] = ['cancelOrder', 'stateRequest', 'factsheetRequest'];

/** The virtual AMR's height (m): the site describes footprints, not heights. */
export const VIRTUAL_AMR_HEIGHT_M = 0.4;

/**
 * What the AMR tells about itself (published at start and on factsheetRequest): every section the
 * VDA 5050 2.0/2.1 factsheet requires, from the site's description of the AMR: speed and
 * acceleration limits, its footprint as the 2D envelope, the tote it carries, and every action it
 * executes (ours and the controller's).
 */
export function factsheetOf(amr: Amr, supported: SupportedActions = SUPPORTED_ACTIONS, seriesName = `phygate virtual ${amr.id}`): Headerless<Factsheet> {
  const instant = [...supported.instant, ...CONTROLLER_INSTANT_ACTIONS];
  const scopes = (type: string) => [
    ...(supported.node.includes(type) ? [AgvActionActionScope.Node] : []),
    ...(instant.includes(type) ? [AgvActionActionScope.Instant] : []),
  ];
  const { length, width } = amr.footprint;
  return {
    typeSpecification: {
      seriesName,
      agvKinematic: AgvKinematic.Diff,
      agvClass: AgvClass.Carrier,
      maxLoadMass: amr.payloadKg,
      localizationTypes: [LocalizationType.Natural],
      navigationTypes: [NavigationType.Autonomous],
    },
    physicalParameters: {
      speedMin: 0,
      speedMax: amr.limits.maxSpeed,
      accelerationMax: amr.limits.maxAccel,
      decelerationMax: amr.limits.maxDecel,
      heightMin: VIRTUAL_AMR_HEIGHT_M,
      heightMax: VIRTUAL_AMR_HEIGHT_M,
      width,
      length,
    },
    // No limits of its own on strings and arrays (empty objects: nothing stated); it takes an
    // order at any time and publishes state on every change.
    protocolLimits: {
      maxStringLens: {},
      maxArrayLens: {},
      timing: { minOrderInterval: 0, minStateInterval: 0 },
    },
    protocolFeatures: {
      optionalParameters: [],
      agvActions: [...new Set([...supported.node, ...instant])].map((actionType) => ({ actionType, actionScopes: scopes(actionType) })),
    },
    agvGeometry: {
      // The footprint, centred on the reference point.
      envelopes2d: [
        {
          set: 'footprint',
          polygonPoints: [
            { x: length / 2, y: width / 2 },
            { x: -length / 2, y: width / 2 },
            { x: -length / 2, y: -width / 2 },
            { x: length / 2, y: -width / 2 },
          ],
        },
      ],
    },
    // One tote at a time, up to the payload the site states (what pick and drop move). The spec's
    // field is `maxWeight`; vda-5050-lib 1.4's type misspells it `maxWeigth`, hence the cast.
    loadSpecification: {
      loadSets: [{ setName: 'tote', loadType: 'tote', maxWeight: amr.payloadKg } as { setName: string; loadType: string }],
    },
  };
}
