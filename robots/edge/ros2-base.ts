// The robot's base under `phygate edge`: what the edge needs of it is to send a velocity and to
// know where the robot is and how it moves. Over ROS 2 that is `geometry_msgs/msg/Twist` on
// `cmd_vel` out and `nav_msgs/msg/Odometry` on `odom` in (and `sensor_msgs/msg/BatteryState` on
// `battery_state`, for the state's battery), for a bare base with no Nav2. rclnodejs
// is loaded only here, lazily (binding.ts), so the rest of the edge is tested without ROS 2.
import { abandonStart, loadRclnodejs, type RclBinding, type RclNode, type RclPublisher } from '../ros2/binding.ts';
import { BATTERY_STATE, ODOMETRY, resolveName } from '../ros2/devices.ts';
import { readBattery } from '../ros2/messages.ts';
import { mapToSite, quaternionToYaw, type MapTransform } from '../ros2/poses.ts';

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
  /** Where the site's origin and x axis lie in the odometry's frame (identity by default). */
  mapTransform?: MapTransform;
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
export function readBaseOdometry(message: any, t: MapTransform, at: number): BaseOdometry | undefined {
  const p = message?.pose?.pose;
  const q = p?.orientation;
  const v = message?.twist?.twist?.linear?.x;
  const omega = message?.twist?.twist?.angular?.z;
  const numbers = [p?.position?.x, p?.position?.y, q?.x, q?.y, q?.z, q?.w, v, omega];
  if (!numbers.every((n) => typeof n === 'number' && Number.isFinite(n))) return undefined;
  const pose = mapToSite(t, { x: p.position.x, y: p.position.y, theta: quaternionToYaw(q) });
  return { ...pose, v, omega, at };
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
  try {
    node = rcl.createNode(opts.nodeName ?? 'phygate_edge', opts.namespace);
    publisher = node.createPublisher(TWIST, cmdVel);
    node.createSubscription(ODOMETRY, odom, { qos: 'qos_profile_sensor_data' }, (m: unknown) => {
      const read = readBaseOdometry(m, t, opts.now());
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
