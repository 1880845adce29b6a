// The robot's base under `phygate edge`: what the edge needs of it is to send a velocity and to
// know where the robot is and how it moves. Over ROS 2 that is `geometry_msgs/msg/Twist` on
// `cmd_vel` out and `nav_msgs/msg/Odometry` on `odom` in (and `sensor_msgs/msg/BatteryState` on
// `battery_state`, for the state's battery), for a bare base with no Nav2. A base that also
// runs a localizer (AMCL, SLAM) publishes where its odometry frame lies in the map on TF: with
// `localization`, the odometry's pose is carried into the map frame by that transform, so the
// drift of odometry does not become the robot's position. rclnodejs is loaded only here, lazily
// (binding.ts), so the rest of the edge is tested without ROS 2.
import { abandonStart, loadRclnodejs, type RclBinding, type RclNode, type RclPublisher } from '../ros2/binding.ts';
import { BATTERY_STATE, ODOMETRY, qosFor, resolveName, TF_MESSAGE } from '../ros2/devices.ts';
import { readBattery } from '../ros2/messages.ts';
import { mapToSite, quaternionToYaw, yawToQuaternion, type MapTransform } from '../ros2/poses.ts';
import { compose, frameId, planarPose, TfTree, type Transform } from '../ros2/tf.ts';

export const TWIST = 'geometry_msgs/msg/Twist';

/** The robot's pose in site coordinates and its speed, as the last odometry said. */
export interface BaseOdometry {
  x: number;
  y: number;
  theta: number;
  /** Forward speed, m/s, negative reversing. */
  v: number;
  /** Turn rate, rad/s, positive to the left. */
  omega: number;
  /** When it arrived, on the edge's clock (ms). */
  at: number;
}

/** What the edge drives. */
export interface EdgeBase {
  /** Sends a velocity command; throws if it cannot be sent. */
  drive(v: number, omega: number): void;
  /** The last odometry, undefined before the first. */
  odometry(): BaseOdometry | undefined;
  /** The last battery state (soc 0..1), undefined before the first or when the base does not know. */
  battery(): { soc: number; charging: boolean } | undefined;
  close(): Promise<void>;
}

export interface Ros2BaseOptions {
  /** The robot's namespace: relative topic names are resolved under it. */
  namespace: string;
  cmdVelTopic?: string;
  odomTopic?: string;
  batteryTopic?: string;
  /** Where the site's origin and x axis lie in the map frame (the odometry's without `localization`; identity by default). */
  mapTransform?: MapTransform;
  /**
   * A localizer publishes the transform from `mapFrame` to the odometry's frame (its
   * `header.frame_id`, `odom` when empty) on `tfTopic` and `tfStaticTopic` (under the namespace):
   * the pose is the odometry's, carried into the map by it. Until that transform is known the base
   * has no pose, and the edge does not drive it. Without this, the odometry's pose is the map pose.
   */
  localization?: { mapFrame: string; tfTopic?: string; tfStaticTopic?: string };
  nodeName?: string;
  /** The edge's clock, stamping when odometry arrives. */
  now: () => number;
  /** How to get rclnodejs; tests pass the stand-in. */
  loadBinding?: () => Promise<RclBinding>;
  /** A message that could not be handled. */
  warn?: (line: string) => void;
}

/**
 * nav_msgs/msg/Odometry → pose (its `pose.pose`, taken as the map pose, through `mapTransform`)
 * and speed (`twist.twist`, in the robot's own frame: linear.x ahead, angular.z). Undefined if
 * malformed.
 */
export function readBaseOdometry(message: any, t: MapTransform, at: number, toMap?: Transform): BaseOdometry | undefined {
  const p = message?.pose?.pose;
  const q = p?.orientation;
  const v = message?.twist?.twist?.linear?.x;
  const omega = message?.twist?.twist?.angular?.z;
  const numbers = [p?.position?.x, p?.position?.y, q?.x, q?.y, q?.z, q?.w, v, omega];
  if (!numbers.every((n) => typeof n === 'number' && Number.isFinite(n))) return undefined;
  const theta = quaternionToYaw(q);
  // In the odometry's frame; carried into the map frame when a localizer says where that lies.
  const inMap = toMap ? planarPose(compose(toMap, { translation: { x: p.position.x, y: p.position.y, z: 0 }, rotation: yawToQuaternion(theta) })) : { x: p.position.x, y: p.position.y, theta };
  const pose = mapToSite(t, inMap);
  return { ...pose, v, omega, at };
}

/** The odometry message's frame, as TF names it (`odom` when the header leaves it empty). */
export function odometryFrame(message: any): string {
  const f = message?.header?.frame_id;
  return typeof f === 'string' && f !== '' ? frameId(f) : 'odom';
}

/** geometry_msgs/msg/Twist for a ground robot: forward speed and turn rate, nothing else. */
export function twist(v: number, omega: number) {
  return { linear: { x: v, y: 0, z: 0 }, angular: { x: 0, y: 0, z: omega } };
}

/** Starts a ROS 2 node in the robot's namespace that publishes `cmd_vel` and reads `odom`. */
export async function startRos2Base(opts: Ros2BaseOptions): Promise<EdgeBase & { readonly cmdVel: string; readonly odom: string; readonly batteryTopic: string }> {
  const rcl = await (opts.loadBinding ?? (() => loadRclnodejs()))();
  // rclnodejs shuts ROS 2 down on SIGINT by itself; the edge first stops its robot, then shuts down.
  rcl.removeSignalHandlers?.();
  await rcl.init();
  const cmdVel = resolveName(opts.namespace, opts.cmdVelTopic ?? 'cmd_vel');
  const odom = resolveName(opts.namespace, opts.odomTopic ?? 'odom');
  const batteryTopic = resolveName(opts.namespace, opts.batteryTopic ?? 'battery_state');
  const t = opts.mapTransform ?? { x: 0, y: 0, theta: 0 };
  let node: RclNode | undefined;
  let publisher: RclPublisher;
  let last: BaseOdometry | undefined;
  let battery: { soc: number; charging: boolean } | undefined;
  const loc = opts.localization;
  const tf = loc ? new TfTree() : undefined;
  /** Said once per stretch without a transform to the map. */
  let unlocalized = false;
  try {
    node = rcl.createNode(opts.nodeName ?? 'phygate_edge', opts.namespace);
    publisher = node.createPublisher(TWIST, cmdVel);
    if (loc && tf) {
      node.createSubscription(TF_MESSAGE, resolveName(opts.namespace, loc.tfTopic ?? 'tf'), { qos: qosFor(rcl, 'sensor') }, (m: unknown) => void tf.update(m));
      node.createSubscription(TF_MESSAGE, resolveName(opts.namespace, loc.tfStaticTopic ?? 'tf_static'), { qos: qosFor(rcl, 'latched') }, (m: unknown) => void tf.update(m));
    }
    node.createSubscription(ODOMETRY, odom, { qos: 'qos_profile_sensor_data' }, (m: unknown) => {
      let toMap: Transform | undefined;
      if (loc && tf) {
        const frame = odometryFrame(m);
        toMap = tf.lookup(loc.mapFrame, frame);
        if (!toMap) {
          // No pose without the map: the last one goes stale and the edge stops the robot.
          if (!unlocalized) opts.warn?.(`no transform from '${frameId(loc.mapFrame)}' to '${frame}' on TF yet: the robot has no map pose and is not driven until its localizer publishes one`);
          unlocalized = true;
          return;
        }
        unlocalized = false;
      }
      const read = readBaseOdometry(m, t, opts.now(), toMap);
      if (read) last = read;
      else opts.warn?.(`a malformed odometry message on ${odom} was ignored`);
    });
    node.createSubscription(BATTERY_STATE, batteryTopic, { qos: 'qos_profile_sensor_data' }, (m: unknown) => {
      const read = readBattery(m);
      battery = read.soc === undefined ? undefined : { soc: read.soc, charging: read.charging };
    });
    node.spin();
  } catch (err) {
    abandonStart(rcl, node);
    throw err;
  }
  let closed = false;
  return {
    cmdVel,
    odom,
    batteryTopic,
    drive: (v, omega) => publisher.publish(twist(v, omega)),
    odometry: () => last,
    battery: () => battery,
    close: async () => {
      if (closed) return;
      closed = true;
      node!.destroy();
      rcl.shutdown();
    },
  };
}
