// A VDA 5050 2.0 state message as the tests need it.
import type { State } from '../../robots/vda5050/schemas.ts';

/** A state as vda-5050-lib's AgvController publishes it mid-order: on its way from sa-1 to sa-2, with a warning and a pick ahead. */
export function midOrderState(): State {
  return {
    headerId: 12,
    timestamp: '2026-11-24T08:00:05.120Z',
    version: '2.0.0',
    manufacturer: 'phygate',
    serialNumber: 'amr-1',
    orderId: 'o-1',
    orderUpdateId: 0,
    lastNodeId: 'sa-1',
    lastNodeSequenceId: 2,
    nodeStates: [
      { nodeId: 'sa-2', sequenceId: 4, released: true, nodePosition: { x: 8, y: 4, allowedDeviationXY: 0.1, mapId: 'demo-hall' } },
      { nodeId: 'sa-3', sequenceId: 6, released: false },
    ],
    edgeStates: [
      { edgeId: 'sa-1->sa-2', sequenceId: 3, released: true },
      { edgeId: 'sa-2->sa-3', sequenceId: 5, released: false },
    ],
    agvPosition: { x: 5.2, y: 4, theta: 0, mapId: 'demo-hall', positionInitialized: true },
    velocity: { vx: 1, vy: 0, omega: 0 },
    loads: [],
    driving: true,
    paused: false,
    operatingMode: 'AUTOMATIC',
    batteryState: { batteryCharge: 87.5, charging: false },
    errors: [{ errorType: 'orderActionError', errorLevel: 'WARNING', errorDescription: 'x', errorReferences: [{ referenceKey: 'actionId', referenceValue: 'a' }] }],
    information: [],
    actionStates: [{ actionId: 'o-1-8-0-pick', actionType: 'pick', actionStatus: 'WAITING' }],
    safetyState: { eStop: 'NONE', fieldViolation: false },
  };
}

/**
 * A state of a vehicle standing idle with no order: amr-2 at dock-b unless told otherwise.
 * `headerId`, the time it is stamped with (ms), and the pose are what the tests vary.
 */
export function idleState(o: { serialNumber?: string; headerId?: number; at?: number; pose?: { x: number; y: number; theta: number } } = {}): State {
  return {
    headerId: o.headerId ?? 1,
    timestamp: new Date(o.at ?? Date.now()).toISOString(),
    version: '2.0.0',
    manufacturer: 'phygate',
    serialNumber: o.serialNumber ?? 'amr-2',
    orderId: '',
    orderUpdateId: 0,
    lastNodeId: 'dock-b',
    lastNodeSequenceId: 0,
    nodeStates: [],
    edgeStates: [],
    agvPosition: { ...(o.pose ?? { x: 8, y: 1.5, theta: -1.5708 }), mapId: 'demo-hall', positionInitialized: true },
    driving: false,
    operatingMode: 'AUTOMATIC',
    batteryState: { batteryCharge: 64, charging: false },
    errors: [],
    actionStates: [],
    safetyState: { eStop: 'NONE', fieldViolation: false },
  };
}
