// The site model: the nav graph, stations, zones, devices and policies of one shop floor.
// `site.yaml` is parsed into this shape; everything else in the core reads a `Site`.
import { z } from 'zod';

const id = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'ids are lower-case letters, digits, - and _');
const metres = z.number().finite();
const positive = z.number().finite().positive();

export const PointSchema = z.tuple([metres, metres]);

export const NodeSchema = z.strictObject({
  id,
  x: metres,
  y: metres,
});

export const EdgeSchema = z.strictObject({
  from: id,
  to: id,
  /** m/s; the lower of this and the device's own limit applies. */
  maxSpeed: positive.optional(),
  /** Edges are two-way unless marked otherwise. */
  oneWay: z.boolean().default(false),
});

export const StationSchema = z.strictObject({
  id,
  node: id,
  /** Heading a robot takes when parked here (radians). */
  theta: z.number().finite().default(0),
  /** `parking`: where an idle robot makes way to (policy `idle`). */
  kind: z.enum(['dock', 'machine', 'shelf', 'charger', 'conveyor', 'booth', 'parking', 'other']).default('other'),
});

export const ZoneSchema = z.discriminatedUnion('kind', [
  z.strictObject({ id, kind: z.literal('keep-out'), polygon: z.array(PointSchema).min(3) }),
  z.strictObject({ id, kind: z.literal('slow'), maxSpeed: positive, polygon: z.array(PointSchema).min(3) }),
]);

const FootprintSchema = z.strictObject({ length: positive, width: positive });

// ROS 2 names as rcl accepts them: a relative name (`odom`, `arm/follow_joint_trajectory`) is
// resolved under the device's namespace, an absolute one (`/odom`) is used as written.
const rosName = z.string().regex(/^\/?[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/, 'a ROS 2 name: letters, digits and _ in /-separated parts');
const rosNamespace = z
  .string()
  .regex(/^(\/|(\/[A-Za-z_][A-Za-z0-9_]*)+)$/, "a ROS 2 namespace: '/' or absolute, like '/amr_1'")
  .describe("the robot's namespace; relative action and topic names are resolved under it");

// A TF frame id: a ROS name, possibly prefixed for one robot of many (`amr_3/base_link`).
const frameName = rosName.describe('a TF frame id');

export const Ros2AmrSchema = z
  .strictObject({
    namespace: rosNamespace,
    frame: frameName.default('map').describe("the robot's map frame: goals are sent in it and its pose is read in it"),
    mapTransform: z
      .strictObject({ x: metres.default(0), y: metres.default(0), theta: z.number().finite().default(0) })
      .default({ x: 0, y: 0, theta: 0 })
      .describe("where the site's origin (x, y, metres) and x axis (theta, radians) lie in the robot's map frame; identity when the site was drawn in that map"),
    poseSource: z
      .enum(['tf', 'amcl_pose', 'odom'])
      .default('tf')
      .describe("where the fleet pose comes from: 'tf' (the TF chain from `frame` to `baseFrame`), 'amcl_pose' (geometry_msgs/msg/PoseWithCovarianceStamped on `poseTopic`), or 'odom' (odometry: drifts, warned about)"),
    baseFrame: frameName.default('base_link').describe("poseSource 'tf': the robot's base frame (base_link or base_footprint)"),
    tfTopic: rosName.default('tf').describe("poseSource 'tf': tf2_msgs/msg/TFMessage, dynamic transforms"),
    tfStaticTopic: rosName.default('tf_static').describe("poseSource 'tf': tf2_msgs/msg/TFMessage, static (latched) transforms"),
    poseTopic: rosName.default('amcl_pose').describe("poseSource 'amcl_pose': geometry_msgs/msg/PoseWithCovarianceStamped in `frame`"),
    navigateAction: rosName.default('navigate_to_pose').describe('Nav2 nav2_msgs/action/NavigateToPose'),
    navigateThroughAction: rosName.default('navigate_through_poses').describe('Nav2 nav2_msgs/action/NavigateThroughPoses'),
    odomTopic: rosName.default('odom').describe("nav_msgs/msg/Odometry: whether the robot moves, and its pose with poseSource 'odom'"),
    batteryTopic: rosName.default('battery_state').describe('sensor_msgs/msg/BatteryState; `percentage` 0..1'),
    behaviorTree: z.string().default('').describe("Nav2 behavior tree file for goals; '' is the navigator's default"),
  })
  .describe('drive this AMR over ROS 2 (Nav2) instead of VDA 5050; its `vda5050` block is then not used');

export const Ros2ArmSchema = z
  .strictObject({
    namespace: rosNamespace,
    trajectoryAction: rosName.default('follow_joint_trajectory').describe('control_msgs/action/FollowJointTrajectory, e.g. joint_trajectory_controller/follow_joint_trajectory'),
    joints: z.array(z.string().min(1)).min(1).describe('joint names, in the order trajectory points give positions'),
    jointStatesTopic: rosName.default('joint_states').describe('sensor_msgs/msg/JointState: the arm is online while it arrives'),
  })
  .describe('drive this arm over ROS 2 (FollowJointTrajectory) instead of the machine protocol');

const AmrSchema = z.strictObject({
  id,
  kind: z.literal('amr'),
  home: id,
  vda5050: z.strictObject({
    manufacturer: z.string().min(1),
    serialNumber: z.string().min(1),
    version: z
      .enum(['2.0.0', '2.1.0'])
      .default('2.0.0')
      .describe('the VDA 5050 version the vehicle speaks: every message to it carries it in its header'),
    // VDA 5050 2.0 renamed the instant actions' list from `instantActions` (1.1) to `actions`; a
    // vehicle that still reads the old name would ignore every STOP sent under the new one.
    instantActionsKey: z
      .enum(['actions', 'instantActions'])
      .default('actions')
      .describe("key of the list in an instantActions message: 'actions' (VDA 5050 2.0+), 'instantActions' for vehicles that still expect the 1.1 name"),
    // 2.0 also renamed a node's allowed deviation from `allowedDeviationXy` (1.1) to
    // `allowedDeviationXY`; a vehicle that reads the old name uses its own tolerance instead, and
    // refuses an order resumed from where a STOP left it between two nodes.
    allowedDeviationKey: z
      .enum(['allowedDeviationXY', 'allowedDeviationXy'])
      .default('allowedDeviationXY')
      .describe("key of a node's allowed deviation in an order: 'allowedDeviationXY' (VDA 5050 2.0+), 'allowedDeviationXy' for vehicles that still expect the 1.1 name"),
    // The specification's pick and drop parameters (stationType, loadType, loadId, lhd, …) are all
    // optional, but a vehicle may insist on some: vda-5050-lib's virtual vehicle refuses a pick
    // without `stationType: floor…` and `loadType: EPAL`.
    actionParameters: z
      .strictObject({
        pick: z.record(z.string().min(1), z.union([z.string(), z.number().finite(), z.boolean()])).optional(),
        drop: z.record(z.string().min(1), z.union([z.string(), z.number().finite(), z.boolean()])).optional(),
        startCharging: z.record(z.string().min(1), z.union([z.string(), z.number().finite(), z.boolean()])).optional(),
      })
      .optional()
      .describe('extra actionParameters this vehicle wants on the pick, drop and startCharging actions phygate puts at the end of an order, key: value'),
  }),
  footprint: FootprintSchema,
  massKg: positive,
  payloadKg: positive,
  limits: z.strictObject({
    maxSpeed: positive,
    maxAccel: positive,
    maxDecel: positive,
    /** rad/s for turning in place at corners. */
    maxTurnRate: positive,
  }),
  battery: z.strictObject({
    capacityWh: positive,
    /** Charging power at the charger, W. */
    chargePowerW: positive,
    /** Power drawn while standing still with electronics on, W. */
    idlePowerW: z.number().finite().nonnegative(),
    /** Rolling resistance coefficient for the drive energy model. */
    rollingFriction: z.number().finite().nonnegative(),
    /** Fraction of mechanical energy recovered or lost: drivetrain efficiency 0..1. */
    efficiency: z.number().finite().gt(0).max(1),
  }),
  transport: z.strictObject({ loadS: z.number().finite().nonnegative(), unloadS: z.number().finite().nonnegative() }),
  ros2: Ros2AmrSchema.optional(),
  policy: z
    .strictObject({
      model: z.string().min(1).describe('the ONNX model file (POLICY.md), relative to the site folder'),
      certificate: z.string().min(1).optional().describe("its certificate from `phygate policy verify`, relative to the site folder (default: the model's file name plus .cert.json)"),
    })
    .optional()
    .describe('drive this AMR with a learned policy instead of the analytic motion model, used only with a passing certificate for this floor (POLICY.md); the virtual fleet drives it so, and `phygate edge` on the robot takes it as its model by default'),
});

const ArmSchema = z.strictObject({
  id,
  kind: z.literal('arm'),
  pose: z.strictObject({ x: metres, y: metres }),
  reachM: positive,
  /** Stations the arm can reach; a transfer between any two of them takes `transferS`. */
  reaches: z.array(id).min(1),
  transferS: positive,
  ros2: Ros2ArmSchema.optional(),
});

const MachineSchema = z.strictObject({
  id,
  kind: z.enum(['cnc', 'printer']),
  station: id,
  /** Program name → seconds per part. */
  programs: z.record(z.string().min(1), positive),
});

const ConveyorSchema = z.strictObject({
  id,
  kind: z.literal('conveyor'),
  from: id,
  to: id,
  /** Seconds for one part from the in-station to the out-station. */
  transferS: positive,
});

export const DeviceSchema = z.discriminatedUnion('kind', [AmrSchema, ArmSchema, MachineSchema, ConveyorSchema]);

export const PoliciesSchema = z.strictObject({
  /** `always`: every passing plan waits for an operator; `when-pass`: only plans with warnings do. */
  approval: z.enum(['always', 'when-pass']).default('always'),
  /** Lowest state of charge (0..1) a plan may predict for any AMR. */
  batteryReserve: z.number().min(0).max(1).default(0.2),
  /** State of charge (0..1) a `charge` step charges to. */
  chargeTarget: z.number().min(0).max(1).default(0.9),
  /**
   * A robot with nothing left to do that stands in another robot's way for good: `make-way` moves
   * it to a free parking station (else a free node off the other's route), `return-home` to its
   * home station, `stay` leaves it (the other is in DEADLOCK).
   */
  idle: z.enum(['stay', 'make-way', 'return-home']).default('make-way'),
  /**
   * `auto`: an AMR idle (no mission has work for it) and below `batteryReserve` is sent to a
   * charger by the gateway, as a one-step `charge` mission checked like any other; `manual`: only
   * plans charge robots.
   */
  charging: z.enum(['manual', 'auto']).default('manual'),
  /**
   * `required`: a mission is approved only once its plan (that plan hash) was rehearsed with
   * success on a simulated fleet; `optional`: rehearsing is the operator's choice.
   */
  rehearsal: z.enum(['optional', 'required']).default('optional'),
});

/** A wall drawn in site.yaml, for a site without a Gazebo world: a box from one point to another. */
const WallSchema = z.strictObject({
  id,
  from: z.tuple([z.number().finite(), z.number().finite()]).describe('one end of the centre line of the wall, [x, y] in metres'),
  to: z.tuple([z.number().finite(), z.number().finite()]).describe('the other end'),
  thickness: positive.default(0.2).describe('metres'),
  height: positive.default(2).describe('metres'),
});
export type Wall = z.infer<typeof WallSchema>;

export const SiteSchema = z.strictObject({
  schema: z.literal('phygate.site/v1'),
  id,
  name: z.string().min(1),
  world: z.string().min(1).optional().describe("the Gazebo world file (SDF ≤ 1.9) in the site folder; without one, the hall's obstacles are the `walls` below"),
  walls: z.array(WallSchema).optional().describe('obstacles as walls, for a site without a world file'),
  mapId: z.string().min(1),
  nodes: z.array(NodeSchema).min(1),
  edges: z.array(EdgeSchema),
  stations: z.array(StationSchema),
  zones: z.array(ZoneSchema).default([]),
  devices: z.array(DeviceSchema),
  policies: PoliciesSchema.prefault({}),
});

export type Site = z.infer<typeof SiteSchema>;
export type SiteNode = z.infer<typeof NodeSchema>;
export type SiteEdge = z.infer<typeof EdgeSchema>;
export type Station = z.infer<typeof StationSchema>;
export type Zone = z.infer<typeof ZoneSchema>;
export type Device = z.infer<typeof DeviceSchema>;
export type DeviceKind = Device['kind'];
export type Amr = z.infer<typeof AmrSchema>;
export type Arm = z.infer<typeof ArmSchema>;
export type Machine = z.infer<typeof MachineSchema>;
export type Conveyor = z.infer<typeof ConveyorSchema>;

export type Ros2Amr = z.infer<typeof Ros2AmrSchema>;
export type Ros2Arm = z.infer<typeof Ros2ArmSchema>;

/**
 * How the gateway talks to a device: one with a `ros2` block over ROS 2; otherwise AMRs over
 * VDA 5050 and every other device over the machine protocol.
 */
export type DeviceProtocol = 'vda5050' | 'machine' | 'ros2';

export function protocolOf(device: Device): DeviceProtocol {
  if ((device.kind === 'amr' || device.kind === 'arm') && device.ros2) return 'ros2';
  return device.kind === 'amr' ? 'vda5050' : 'machine';
}

export const DEVICE_KINDS = ['amr', 'arm', 'cnc', 'printer', 'conveyor'] as const satisfies readonly DeviceKind[];

export interface SiteProblem {
  path: string;
  message: string;
}

/** Cross-reference checks the schema cannot express: ids resolve, nothing is defined twice. */
export function crossCheckSite(site: Site): SiteProblem[] {
  const problems: SiteProblem[] = [];
  const nodeIds = new Set<string>();
  site.nodes.forEach((n, i) => {
    if (nodeIds.has(n.id)) problems.push({ path: `nodes.${i}.id`, message: `node '${n.id}' is defined twice` });
    nodeIds.add(n.id);
  });
  site.edges.forEach((e, i) => {
    for (const end of ['from', 'to'] as const) {
      if (!nodeIds.has(e[end])) problems.push({ path: `edges.${i}.${end}`, message: `edge ends at unknown node '${e[end]}'` });
    }
    if (e.from === e.to) problems.push({ path: `edges.${i}`, message: `edge from '${e.from}' to itself` });
  });
  const stationIds = new Set<string>();
  site.stations.forEach((s, i) => {
    if (stationIds.has(s.id)) problems.push({ path: `stations.${i}.id`, message: `station '${s.id}' is defined twice` });
    stationIds.add(s.id);
    if (!nodeIds.has(s.node)) problems.push({ path: `stations.${i}.node`, message: `station '${s.id}' is on unknown node '${s.node}'` });
  });
  const zoneIds = new Set<string>();
  site.zones.forEach((z, i) => {
    if (zoneIds.has(z.id)) problems.push({ path: `zones.${i}.id`, message: `zone '${z.id}' is defined twice` });
    zoneIds.add(z.id);
  });
  const deviceIds = new Set<string>();
  const namespaces = new Map<string, string>();
  site.devices.forEach((d, i) => {
    const at = `devices.${i}`;
    if (deviceIds.has(d.id)) problems.push({ path: `${at}.id`, message: `device '${d.id}' is defined twice` });
    deviceIds.add(d.id);
    if ((d.kind === 'amr' || d.kind === 'arm') && d.ros2) {
      const other = namespaces.get(d.ros2.namespace);
      if (other) problems.push({ path: `${at}.ros2.namespace`, message: `device '${d.id}' has the ROS 2 namespace '${d.ros2.namespace}' of '${other}'` });
      namespaces.set(d.ros2.namespace, d.id);
    }
    const station = (path: string, sid: string) => {
      if (!stationIds.has(sid)) problems.push({ path: `${at}.${path}`, message: `device '${d.id}' names unknown station '${sid}'` });
    };
    switch (d.kind) {
      case 'amr': station('home', d.home); break;
      case 'arm': d.reaches.forEach((s, j) => station(`reaches.${j}`, s)); break;
      case 'cnc': case 'printer': station('station', d.station); break;
      case 'conveyor': station('from', d.from); station('to', d.to); break;
    }
  });
  if (site.walls !== undefined && site.world !== undefined) problems.push({ path: 'walls', message: `walls are read only for a site without a world file: draw them in ${site.world}, or remove 'world'` });
  const wallIds = new Set<string>();
  (site.walls ?? []).forEach((w, i) => {
    if (wallIds.has(w.id)) problems.push({ path: `walls.${i}.id`, message: `wall '${w.id}' is defined twice` });
    wallIds.add(w.id);
    if (w.from[0] === w.to[0] && w.from[1] === w.to[1]) problems.push({ path: `walls.${i}.to`, message: 'a wall needs two different ends' });
  });
  return problems;
}

/** Read-only lookups built once per site. */
export interface SiteIndex {
  site: Site;
  node(id: string): SiteNode | undefined;
  station(id: string): Station | undefined;
  device(id: string): Device | undefined;
  /** A station id or a node id → the node it stands on. */
  locate(id: string): SiteNode | undefined;
  devicesOfKind<K extends DeviceKind>(kind: K): Extract<Device, { kind: K }>[];
}

export function indexSite(site: Site): SiteIndex {
  const nodes = new Map(site.nodes.map((n) => [n.id, n]));
  const stations = new Map(site.stations.map((s) => [s.id, s]));
  const devices = new Map(site.devices.map((d) => [d.id, d]));
  return {
    site,
    node: (i) => nodes.get(i),
    station: (i) => stations.get(i),
    device: (i) => devices.get(i),
    locate: (i) => {
      const s = stations.get(i);
      return s ? nodes.get(s.node) : nodes.get(i);
    },
    devicesOfKind: <K extends DeviceKind>(kind: K) =>
      site.devices.filter((d): d is Extract<Device, { kind: K }> => d.kind === kind),
  };
}
