// A route on the nav graph → a VDA 5050 order: nodes with even sequenceIds and the site's
// coordinates, edges with odd ones carrying the site's speed limits, the work to do at the end.
import { buildNavGraph, NODE_TOLERANCE_M, type NavGraph } from '../../planners/route.ts';
import type { Amr, SiteIndex } from '../../planners/site.ts';
import { InvalidRouteError } from './errors.ts';
import { type Action, type Order, type OrderEdge, type OrderNode } from './schemas.ts';

export const END_ACTIONS = ['pick', 'drop', 'startCharging'] as const;
export type EndAction = (typeof END_ACTIONS)[number];

/** The instant actions the master sends (robots/vda5050/master.ts); STOP is startPause + cancelOrder. */
export const INSTANT_ACTIONS = ['startPause', 'stopPause', 'cancelOrder', 'stateRequest', 'factsheetRequest', 'stopCharging'] as const;
export type InstantActionType = (typeof INSTANT_ACTIONS)[number];

/** How close (m) an AMR must pass a node for it to count as reached. */
export const DEFAULT_DEVIATION_XY = NODE_TOLERANCE_M;

export interface BuildOrderInput {
  site: SiteIndex;
  amr: Amr;
  /** Node ids, starting at the node the vehicle is at (or, for an update, where its base ends). */
  route: readonly string[];
  orderId: string;
  orderUpdateId: number;
  actionsAtEnd: readonly EndAction[];
  /** Nodes in the base (released); the rest is the horizon. Default: all. */
  releasedNodes?: number;
  /** sequenceId of the first node: 0 for a new order, the base end's for an update. */
  firstSequenceId?: number;
  headerId: number;
  timestamp: string;
  /** The site's nav graph, if already built (it carries edge and slow-zone speed limits). */
  graph?: NavGraph;
  allowedDeviationXY?: number;
  /**
   * The first node's allowed deviation, when the AMR does not stand on it: stopped between two
   * nodes, it takes the order from where it is (never less than `allowedDeviationXY`).
   */
  startDeviationXY?: number;
}

/** An angle in [-π, π], the range VDA 5050 allows. */
export function wrapAngle(a: number): number {
  const w = Math.atan2(Math.sin(a), Math.cos(a));
  // atan2 returns exactly ±π for ±π; keep it within the spec's eleven-decimal bound either way.
  return Math.max(-Math.PI, Math.min(Math.PI, w));
}

/** Deterministic per order: the same action keeps its id across updates of the order. */
export function actionIdFor(orderId: string, sequenceId: number, index: number, type: string): string {
  return `${orderId}-${sequenceId}-${index}-${type}`;
}

/**
 * An end action's parameters: `stationName` for a pick or drop at a station, then what the site
 * asks for this vehicle (`vda5050.actionParameters`), which may also replace `stationName`.
 */
export function actionParametersFor(amr: Amr, type: EndAction, station: string | undefined): { key: string; value: string | number | boolean }[] {
  const params = new Map<string, string | number | boolean>();
  if (station !== undefined && type !== 'startCharging') params.set('stationName', station);
  for (const [key, value] of Object.entries(amr.vda5050.actionParameters?.[type] ?? {})) params.set(key, value);
  return [...params].map(([key, value]) => ({ key, value }));
}

export function buildOrder(input: BuildOrderInput): Order {
  const { site, amr, route, orderId, orderUpdateId, actionsAtEnd } = input;
  if (route.length === 0) throw new InvalidRouteError('a route has at least one node');
  const released = input.releasedNodes ?? route.length;
  if (!Number.isInteger(released) || released < 1 || released > route.length) {
    throw new InvalidRouteError(`releasedNodes must be a whole number from 1 to ${route.length}, not ${released}`);
  }
  const first = input.firstSequenceId ?? 0;
  if (!Number.isInteger(first) || first < 0 || first % 2 !== 0) throw new InvalidRouteError(`firstSequenceId must be even and ≥ 0, not ${first}`);
  const graph = input.graph ?? buildNavGraph(site.site);
  const deviation = input.allowedDeviationXY ?? DEFAULT_DEVIATION_XY;
  const last = route.length - 1;
  const endStation = site.site.stations.find((s) => s.node === route[last]);

  const nodes: OrderNode[] = route.map((id, i) => {
    const n = site.node(id);
    if (!n) throw new InvalidRouteError(`route node ${i} '${id}' is not a node of site '${site.site.id}'`);
    const sequenceId = first + 2 * i;
    const actions: Action[] =
      i === last
        ? actionsAtEnd.map((type, k) => {
            const parameters = actionParametersFor(amr, type, endStation?.id);
            return {
              actionId: actionIdFor(orderId, sequenceId, k, type),
              actionType: type,
              blockingType: 'HARD',
              ...(parameters.length > 0 ? { actionParameters: parameters } : {}),
            };
          })
        : [];
    return {
      nodeId: id,
      sequenceId,
      released: i < released,
      nodePosition: {
        x: n.x,
        y: n.y,
        ...(i === last && endStation ? { theta: wrapAngle(endStation.theta) } : {}),
        allowedDeviationXY: i === 0 && input.startDeviationXY !== undefined ? Math.max(deviation, input.startDeviationXY) : deviation,
        mapId: site.site.mapId,
      },
      actions,
    };
  });

  const edges: OrderEdge[] = [];
  for (let i = 0; i < last; i++) {
    const from = route[i]!;
    const to = route[i + 1]!;
    const arc = graph.arcs.get(from)?.find((a) => a.to === to);
    if (!arc) throw new InvalidRouteError(`no edge of site '${site.site.id}' leads from '${from}' to '${to}'`);
    // VDA 5050 has one speed per edge: the lowest site limit on it (the edge's own, or a slow
    // zone covering part of it). The AMR's own limit is its business, so unlimited edges carry none.
    const limit = Math.min(...arc.pieces.map((p) => p.maxSpeed));
    edges.push({
      edgeId: `${from}->${to}`,
      sequenceId: first + 2 * i + 1,
      released: i + 1 < released,
      startNodeId: from,
      endNodeId: to,
      ...(Number.isFinite(limit) ? { maxSpeed: limit } : {}),
      length: arc.lengthM,
      actions: [],
    });
  }

  return {
    headerId: input.headerId,
    timestamp: input.timestamp,
    version: amr.vda5050.version,
    manufacturer: amr.vda5050.manufacturer,
    serialNumber: amr.vda5050.serialNumber,
    orderId,
    orderUpdateId,
    nodes,
    edges,
  };
}
