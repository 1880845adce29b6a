// Which devices of a site are driven over ROS 2, and the full names of their actions and topics:
// a device's `ros2` block (planners/site.ts) with relative names resolved under its namespace.
import type { SiteIndex } from '../../planners/site.ts';
import type { RclBinding } from './binding.ts';
import type { MapTransform } from './poses.ts';

export const NAVIGATE_TO_POSE = 'nav2_msgs/action/NavigateToPose';
export const NAVIGATE_THROUGH_POSES = 'nav2_msgs/action/NavigateThroughPoses';
export const FOLLOW_JOINT_TRAJECTORY = 'control_msgs/action/FollowJointTrajectory';
export const ODOMETRY = 'nav_msgs/msg/Odometry';
export const BATTERY_STATE = 'sensor_msgs/msg/BatteryState';
export const JOINT_STATE = 'sensor_msgs/msg/JointState';
export const POSE_WITH_COVARIANCE = 'geometry_msgs/msg/PoseWithCovarianceStamped';
export const TF_MESSAGE = 'tf2_msgs/msg/TFMessage';
/** The service behind every action's cancel: `<action>/_action/cancel_goal`. */
export const CANCEL_GOAL = 'action_msgs/srv/CancelGoal';
/** The simulation's clock (Gazebo's clock bridge publishes it on /clock). */
export const CLOCK = 'rosgraph_msgs/msg/Clock';

export interface Ros2Action {
  type: typeof NAVIGATE_TO_POSE | typeof NAVIGATE_THROUGH_POSES | typeof FOLLOW_JOINT_TRAJECTORY;
  /** Fully qualified, e.g. /amr_1/navigate_to_pose */
  name: string;
}

/** What a topic tells about the device. */
export type Ros2TopicRole = 'odometry' | 'battery' | 'joints' | 'map-pose' | 'tf' | 'tf-static';

/**
 * How a topic is subscribed: `sensor` (best effort, matches any publisher, for streams), `latched`
 * (reliable, transient local: what was published before the subscription is delivered too, as
 * `tf_static` and AMCL's pose, sent only when it changes, need).
 */
export type Ros2Qos = 'sensor' | 'latched';

/**
 * A subscription's QoS. Sensor data (best effort) also matches reliable publishers. Latched topics
 * (tf_static, AMCL's pose) are published once or only on change with durability transient local;
 * a subscriber must ask for it too to get what was sent before it came. The depth is tf2's own for
 * tf_static: each static broadcaster keeps its last message.
 */
export function qosFor(rcl: RclBinding, qos: Ros2Qos): string | object {
  if (qos === 'sensor') return 'qos_profile_sensor_data';
  const Q = rcl.QoS;
  return new Q(Q.HistoryPolicy.RMW_QOS_POLICY_HISTORY_KEEP_LAST, 100, Q.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_RELIABLE, Q.DurabilityPolicy.RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL);
}

export interface Ros2Topic {
  type: typeof ODOMETRY | typeof BATTERY_STATE | typeof JOINT_STATE | typeof POSE_WITH_COVARIANCE | typeof TF_MESSAGE;
  name: string;
  role: Ros2TopicRole;
  qos: Ros2Qos;
}

interface Common {
  id: string;
  namespace: string;
  /** Every action of the device: a STOP cancels the goals on each. */
  actions: Ros2Action[];
  topics: Ros2Topic[];
}

export interface Ros2AmrDevice extends Common {
  kind: 'amr';
  /** The robot's map frame: goals are sent in it, its pose is read in it. */
  frame: string;
  /** Site coordinates → the robot's map frame. */
  mapTransform: MapTransform;
  poseSource: 'tf' | 'amcl_pose' | 'odom';
  /** With poseSource `tf`: the frame whose pose in `frame` is the robot's. */
  baseFrame: string;
  navigate: Ros2Action;
  navigateThrough: Ros2Action;
  behaviorTree: string;
}

export interface Ros2ArmDevice extends Common {
  kind: 'arm';
  trajectory: Ros2Action;
  joints: string[];
}

export type Ros2Device = Ros2AmrDevice | Ros2ArmDevice;

/** A name as rcl resolves it for a node in `namespace`: absolute names stay as they are. */
export function resolveName(namespace: string, name: string): string {
  if (name.startsWith('/')) return name;
  return namespace === '/' ? `/${name}` : `${namespace}/${name}`;
}

/** The site's ROS 2 devices, in site order. */
export function ros2Devices(site: SiteIndex): Ros2Device[] {
  const out: Ros2Device[] = [];
  for (const d of site.site.devices) {
    if (d.kind === 'amr' && d.ros2) {
      const r = d.ros2;
      const at = (name: string) => resolveName(r.namespace, name);
      const navigate = { type: NAVIGATE_TO_POSE, name: at(r.navigateAction) } as const;
      const navigateThrough = { type: NAVIGATE_THROUGH_POSES, name: at(r.navigateThroughAction) } as const;
      out.push({
        id: d.id,
        kind: 'amr',
        namespace: r.namespace,
        frame: r.frame,
        mapTransform: { ...r.mapTransform },
        poseSource: r.poseSource,
        baseFrame: r.baseFrame,
        behaviorTree: r.behaviorTree,
        navigate,
        navigateThrough,
        actions: [navigate, navigateThrough],
        topics: [
          // Odometry always: it says whether the robot moves, whatever the pose comes from.
          { type: ODOMETRY, name: at(r.odomTopic), role: 'odometry', qos: 'sensor' },
          { type: BATTERY_STATE, name: at(r.batteryTopic), role: 'battery', qos: 'sensor' },
          ...(r.poseSource === 'amcl_pose' ? [{ type: POSE_WITH_COVARIANCE, name: at(r.poseTopic), role: 'map-pose', qos: 'latched' } as const] : []),
          ...(r.poseSource === 'tf'
            ? ([
                { type: TF_MESSAGE, name: at(r.tfTopic), role: 'tf', qos: 'sensor' },
                { type: TF_MESSAGE, name: at(r.tfStaticTopic), role: 'tf-static', qos: 'latched' },
              ] as const)
            : []),
        ],
      });
    } else if (d.kind === 'arm' && d.ros2) {
      const r = d.ros2;
      const trajectory = { type: FOLLOW_JOINT_TRAJECTORY, name: resolveName(r.namespace, r.trajectoryAction) } as const;
      out.push({
        id: d.id,
        kind: 'arm',
        namespace: r.namespace,
        trajectory,
        joints: [...r.joints],
        actions: [trajectory],
        topics: [{ type: JOINT_STATE, name: resolveName(r.namespace, r.jointStatesTopic), role: 'joints', qos: 'sensor' }],
      });
    }
  }
  return out;
}
