// The VDA 5050 2.0 and 2.1 messages the master sends (order, instantActions) and reads (state,
// connection, visualization, factsheet), as zod schemas; the types are inferred from them.
//
// 2.0 and 2.1 share these messages; what 2.1 adds is all optional and is read here: `maps` (the
// maps the vehicle has) and `errors[].errorHint` in the state, `corridor` on an order's edge,
// `vehicleConfig` in the factsheet, whose header needs no headerId or timestamp any more. Which
// version a vehicle speaks is its site entry's `vda5050.version`; every message sent to it carries
// that version. docs/vda5050.md says what 3.0 would change.
//
// Where vda-5050-lib 1.4 (the vehicle side of our virtual AMRs) differs from the 2.0 text, the
// wire follows the library so the two interoperate:
// * instant actions travel in `actions`, as 2.0 names the list; vda-5050-lib 1.4 still reads the
//   1.1 name `instantActions`, which a vehicle may ask for per site (`vda5050.instantActionsKey`):
//   the master renames the key on the way out, for that vehicle only;
// * `version` must be exactly "2.0.0" for the library, which drops any other version string: the
//   virtual AMR of a 2.1 vehicle translates the header's version at its edge (sim/virtual-amr.ts).
// Messages we read are validated leniently (unknown fields are ignored, 2.1 vehicles add some);
// messages we send are validated strictly, sequence rules included.
// The master reads them through INBOUND: the same schemas, compiled by zod (z.compile).
import { z } from 'zod';

/** The versions a vehicle may speak (site.yaml `vda5050.version`). */
export const VDA5050_VERSIONS = ['2.0.0', '2.1.0'] as const;
export type Vda5050Version = (typeof VDA5050_VERSIONS)[number];
/** A vehicle's version when its site entry names none. */
export const VDA5050_VERSION = '2.0.0' satisfies Vda5050Version;

/** The spec's bound for angles: [-π, π] written to eleven decimals. */
export const ANGLE_LIMIT = 3.14159265359;

/** The bound for a vehicle's own heading (agvPosition.theta): ANGLE_LIMIT, rounded up as vehicles round it. */
export const AGV_THETA_LIMIT = 3.1416;

const int = z.number().int().nonnegative();
const finite = z.number().finite();
const angle = finite.min(-ANGLE_LIMIT).max(ANGLE_LIMIT);

const HeaderShape = {
  headerId: int,
  timestamp: z.iso.datetime({ offset: true }),
  version: z.string().regex(/^2\.\d+(\.\d+)?$/, 'a VDA 5050 2.x version such as "2.0.0"'),
  manufacturer: z.string().min(1),
  serialNumber: z.string().min(1),
};

export const BlockingTypeSchema = z.enum(['NONE', 'SOFT', 'HARD']);

export const ActionParameterSchema = z.object({
  key: z.string().min(1),
  value: z.union([z.string(), z.number(), z.boolean(), z.array(z.unknown()), z.record(z.string(), z.unknown())]),
});

export const ActionSchema = z.object({
  actionType: z.string().min(1),
  actionId: z.string().min(1),
  actionDescription: z.string().optional(),
  blockingType: BlockingTypeSchema,
  actionParameters: z.array(ActionParameterSchema).optional(),
});

export const NodePositionSchema = z.object({
  x: finite,
  y: finite,
  theta: angle.optional(),
  /** The 2.0 spelling. */
  allowedDeviationXY: finite.nonnegative().optional(),
  /** vda-5050-lib's spelling (from 1.1); read as the same thing. */
  allowedDeviationXy: finite.nonnegative().optional(),
  allowedDeviationTheta: finite.min(0).max(ANGLE_LIMIT).optional(),
  mapId: z.string().min(1),
  mapDescription: z.string().optional(),
});

export const NodeSchema = z.object({
  nodeId: z.string().min(1),
  sequenceId: int,
  nodeDescription: z.string().optional(),
  released: z.boolean(),
  nodePosition: NodePositionSchema.optional(),
  actions: z.array(ActionSchema),
});

export const EdgeSchema = z.object({
  edgeId: z.string().min(1),
  sequenceId: int,
  edgeDescription: z.string().optional(),
  released: z.boolean(),
  startNodeId: z.string().min(1),
  endNodeId: z.string().min(1),
  /** m/s */
  maxSpeed: finite.positive().optional(),
  maxHeight: finite.optional(),
  minHeight: finite.optional(),
  orientation: angle.optional(),
  orientationType: z.enum(['GLOBAL', 'TANGENTIAL']).optional(),
  direction: z.string().optional(),
  rotationAllowed: z.boolean().optional(),
  maxRotationSpeed: finite.optional(),
  /** Metres from start to end node. */
  length: finite.nonnegative().optional(),
  trajectory: z.unknown().optional(),
  /** 2.1: the corridor the vehicle may leave the edge's line within (the master sends none). */
  corridor: z.looseObject({ leftWidth: finite.nonnegative(), rightWidth: finite.nonnegative(), corridorRefPoint: z.enum(['KINEMATICCENTER', 'CONTOUR']).optional() }).optional(),
  actions: z.array(ActionSchema),
});

/**
 * The sequence rules a vehicle checks before it accepts an order: nodes even and consecutive,
 * an edge between each pair joining exactly those two, the base first and the horizon after it.
 */
function checkOrderSequence(order: { nodes: z.infer<typeof NodeSchema>[]; edges: z.infer<typeof EdgeSchema>[] }, ctx: z.RefinementCtx): void {
  const { nodes, edges } = order;
  if (nodes.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'an order has at least one node' });
    return;
  }
  if (!nodes[0]!.released) ctx.addIssue({ code: 'custom', path: ['nodes', 0, 'released'], message: 'the first node is part of the base' });
  nodes.forEach((n, i) => {
    const expected = i === 0 ? undefined : nodes[i - 1]!.sequenceId + 2;
    if (i === 0 ? n.sequenceId % 2 !== 0 : n.sequenceId !== expected) {
      ctx.addIssue({ code: 'custom', path: ['nodes', i, 'sequenceId'], message: i === 0 ? 'node sequenceIds are even' : `expected sequenceId ${expected}` });
    }
    if (i > 0 && n.released && !nodes[i - 1]!.released) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'released'], message: 'a released node after the horizon began' });
  });
  if (edges.length !== nodes.length - 1) {
    ctx.addIssue({ code: 'custom', path: ['edges'], message: `${nodes.length} nodes need ${nodes.length - 1} edges, not ${edges.length}` });
    return;
  }
  edges.forEach((e, i) => {
    const from = nodes[i]!;
    const to = nodes[i + 1]!;
    if (e.sequenceId !== from.sequenceId + 1) ctx.addIssue({ code: 'custom', path: ['edges', i, 'sequenceId'], message: `expected sequenceId ${from.sequenceId + 1}` });
    if (e.startNodeId !== from.nodeId || e.endNodeId !== to.nodeId) {
      ctx.addIssue({ code: 'custom', path: ['edges', i], message: `the edge must join '${from.nodeId}' to '${to.nodeId}'` });
    }
    if (e.released !== to.released) ctx.addIssue({ code: 'custom', path: ['edges', i, 'released'], message: 'an edge is released exactly when its end node is' });
  });
}

export const OrderSchema = z
  .object({
    ...HeaderShape,
    orderId: z.string().min(1),
    orderUpdateId: int,
    zoneSetId: z.string().optional(),
    nodes: z.array(NodeSchema),
    edges: z.array(EdgeSchema),
  })
  .superRefine(checkOrderSequence);

export const InstantActionsSchema = z.object({
  ...HeaderShape,
  /** The 2.0 name of the list (1.1 and vda-5050-lib 1.4 call it `instantActions`). */
  actions: z.array(ActionSchema),
});

export const ActionStatusSchema = z.enum(['WAITING', 'INITIALIZING', 'RUNNING', 'PAUSED', 'FINISHED', 'FAILED']);

export const ActionStateSchema = z.object({
  actionId: z.string().min(1),
  actionType: z.string().optional(),
  actionDescription: z.string().optional(),
  actionStatus: ActionStatusSchema,
  resultDescription: z.string().optional(),
});

export const NodeStateSchema = z.object({
  nodeId: z.string().min(1),
  sequenceId: int,
  nodeDescription: z.string().optional(),
  released: z.boolean(),
  nodePosition: NodePositionSchema.optional(),
});

export const EdgeStateSchema = z.object({
  edgeId: z.string().min(1),
  sequenceId: int,
  edgeDescription: z.string().optional(),
  released: z.boolean(),
  trajectory: z.unknown().optional(),
});

export const AgvPositionSchema = z.object({
  x: finite,
  y: finite,
  // [-π, π] as the spec says, read with π rounded up at the fourth decimal: a vehicle reporting
  // 3.1416 is not worth dropping its whole state for; one reporting 1e308 is not telling its heading.
  theta: finite.min(-AGV_THETA_LIMIT).max(AGV_THETA_LIMIT),
  mapId: z.string(),
  mapDescription: z.string().optional(),
  positionInitialized: z.boolean(),
  localizationScore: finite.min(0).max(1).optional(),
  deviationRange: finite.optional(),
});

export const VelocitySchema = z.object({ vx: finite.optional(), vy: finite.optional(), omega: finite.optional() });

export const LoadSchema = z.object({
  loadId: z.string().optional(),
  loadType: z.string().optional(),
  loadPosition: z.string().optional(),
  weight: finite.nonnegative().optional(),
  boundingBoxReference: z.unknown().optional(),
  loadDimensions: z.unknown().optional(),
});

export const BatteryStateSchema = z.object({
  /** Percent, 0..100. */
  batteryCharge: finite.min(0).max(100),
  batteryVoltage: finite.optional(),
  batteryHealth: finite.optional(),
  charging: z.boolean(),
  reach: finite.optional(),
});

const ReferenceSchema = z.object({ referenceKey: z.string(), referenceValue: z.string() });

export const ErrorSchema = z.object({
  errorType: z.string().min(1),
  errorReferences: z.array(ReferenceSchema).optional(),
  errorDescription: z.string().optional(),
  /** 2.1: how to solve it, for people. */
  errorHint: z.string().optional(),
  errorLevel: z.enum(['WARNING', 'FATAL']),
});

export const InformationSchema = z.object({
  infoType: z.string(),
  infoReferences: z.array(ReferenceSchema).optional(),
  infoDescription: z.string().optional(),
  infoLevel: z.enum(['DEBUG', 'INFO']),
});

export const SafetyStateSchema = z.object({
  eStop: z.enum(['AUTOACK', 'MANUAL', 'REMOTE', 'NONE']),
  fieldViolation: z.boolean(),
});

/** 2.1: a map the vehicle has, and whether it is the one it uses (ENABLED). */
export const MapSchema = z.object({
  mapId: z.string(),
  mapVersion: z.string(),
  mapDescription: z.string().optional(),
  mapStatus: z.enum(['ENABLED', 'DISABLED']),
});

export const OperatingModeSchema = z.enum(['AUTOMATIC', 'SEMIAUTOMATIC', 'MANUAL', 'SERVICE', 'TEACHIN']);

export const StateSchema = z.object({
  ...HeaderShape,
  orderId: z.string(),
  orderUpdateId: int,
  zoneSetId: z.string().optional(),
  lastNodeId: z.string(),
  lastNodeSequenceId: int,
  nodeStates: z.array(NodeStateSchema),
  edgeStates: z.array(EdgeStateSchema),
  agvPosition: AgvPositionSchema.optional(),
  velocity: VelocitySchema.optional(),
  /** 2.1 */
  maps: z.array(MapSchema).optional(),
  loads: z.array(LoadSchema).optional(),
  driving: z.boolean(),
  paused: z.boolean().optional(),
  newBaseRequest: z.boolean().optional(),
  distanceSinceLastNode: finite.optional(),
  operatingMode: OperatingModeSchema,
  batteryState: BatteryStateSchema,
  errors: z.array(ErrorSchema),
  information: z.array(InformationSchema).optional(),
  actionStates: z.array(ActionStateSchema),
  safetyState: SafetyStateSchema,
});

export const ConnectionStateSchema = z.enum(['ONLINE', 'OFFLINE', 'CONNECTIONBROKEN']);

export const ConnectionSchema = z.object({
  ...HeaderShape,
  connectionState: ConnectionStateSchema,
});

export const VisualizationSchema = z.object({
  ...HeaderShape,
  agvPosition: AgvPositionSchema.optional(),
  velocity: VelocitySchema.optional(),
});

/**
 * What of the factsheet the master compares with the site (./factsheet.ts); its sections are kept
 * as they came. 2.1 made the header's headerId and timestamp optional here.
 */
export const FactsheetSchema = z.looseObject({
  ...HeaderShape,
  headerId: int.optional(),
  timestamp: z.iso.datetime({ offset: true }).optional(),
  typeSpecification: z.looseObject({ seriesName: z.string(), maxLoadMass: finite.nonnegative().optional() }).optional(),
  physicalParameters: z.looseObject({ speedMax: finite, accelerationMax: finite.optional(), decelerationMax: finite.optional(), length: finite.optional(), width: finite.optional() }).optional(),
  protocolLimits: z.looseObject({}).optional(),
  protocolFeatures: z
    .looseObject({ agvActions: z.array(z.looseObject({ actionType: z.string(), actionScopes: z.array(z.string()).optional() })) })
    .optional(),
  agvGeometry: z
    .looseObject({ envelopes2d: z.array(z.looseObject({ set: z.string().optional(), polygonPoints: z.array(z.looseObject({ x: finite, y: finite })) })).optional() })
    .optional(),
  loadSpecification: z.looseObject({ loadSets: z.array(z.looseObject({ setName: z.string().optional(), maxWeight: finite.optional() })).optional() }).optional(),
});

/**
 * The schemas of what the master reads, compiled ahead of time by zod: a message they accept takes
 * generated code (several times faster, and 10,000 states a second arrive from 1,000 AMRs); any
 * other falls back to the schema itself, so what is accepted, what is refused and the issues
 * reported are the schema's. The master only validates (no copy is made): what parse would return
 * is the message minus fields the schema does not know. test/robots/vda5050-inbound.cases.ts holds
 * them to all of that.
 */
export const INBOUND = {
  state: z.compile(StateSchema),
  connection: z.compile(ConnectionSchema),
  visualization: z.compile(VisualizationSchema),
  factsheet: z.compile(FactsheetSchema),
} as const;

export type Action = z.infer<typeof ActionSchema>;
export type ActionParameter = z.infer<typeof ActionParameterSchema>;
export type BlockingType = z.infer<typeof BlockingTypeSchema>;
export type NodePosition = z.infer<typeof NodePositionSchema>;
export type OrderNode = z.infer<typeof NodeSchema>;
export type OrderEdge = z.infer<typeof EdgeSchema>;
export type Order = z.infer<typeof OrderSchema>;
export type InstantActions = z.infer<typeof InstantActionsSchema>;
export type ActionStatus = z.infer<typeof ActionStatusSchema>;
export type ActionState = z.infer<typeof ActionStateSchema>;
export type NodeState = z.infer<typeof NodeStateSchema>;
export type EdgeState = z.infer<typeof EdgeStateSchema>;
export type AgvPosition = z.infer<typeof AgvPositionSchema>;
export type Velocity = z.infer<typeof VelocitySchema>;
export type Load = z.infer<typeof LoadSchema>;
export type BatteryState = z.infer<typeof BatteryStateSchema>;
export type VehicleError = z.infer<typeof ErrorSchema>;
export type State = z.infer<typeof StateSchema>;
export type ConnectionState = z.infer<typeof ConnectionStateSchema>;
export type Connection = z.infer<typeof ConnectionSchema>;
export type Visualization = z.infer<typeof VisualizationSchema>;
export type Factsheet = z.infer<typeof FactsheetSchema>;
export type VehicleMap = z.infer<typeof MapSchema>;
