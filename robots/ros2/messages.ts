// The ROS 2 messages the adapter sends and reads, as plain objects with the interfaces' own field
// names (nav2_msgs, control_msgs, nav_msgs, sensor_msgs, action_msgs), and what their codes mean.
import type { Pose } from '../../planners/fleet.ts';
import { InvalidGoalError } from './errors.ts';
import { quaternionToYaw, yawToQuaternion } from './poses.ts';

/** action_msgs/msg/GoalStatus */
export const GOAL_STATUS = { UNKNOWN: 0, ACCEPTED: 1, EXECUTING: 2, CANCELING: 3, SUCCEEDED: 4, CANCELED: 5, ABORTED: 6 } as const;

/** action_msgs/srv/CancelGoal return codes */
export const CANCEL_RETURN = { NONE: 0, REJECTED: 1, UNKNOWN_GOAL_ID: 2, GOAL_TERMINATED: 3 } as const;

/** sensor_msgs/msg/BatteryState power_supply_status */
const POWER_SUPPLY_STATUS_CHARGING = 1;

/** builtin_interfaces/msg/Duration */
export interface Duration {
  sec: number;
  nanosec: number;
}

export function toDuration(seconds: number): Duration {
  let sec = Math.floor(seconds);
  let nanosec = Math.round((seconds - sec) * 1e9);
  if (nanosec >= 1e9) {
    sec += 1;
    nanosec -= 1e9;
  }
  return { sec, nanosec };
}

export function fromDuration(d: unknown): number | undefined {
  const { sec, nanosec } = (d ?? {}) as Partial<Duration>;
  return typeof sec === 'number' && typeof nanosec === 'number' ? sec + nanosec / 1e9 : undefined;
}

// A zero stamp asks for the latest transform: the goal pose is a place, not a moment.
const ZERO_STAMP = { sec: 0, nanosec: 0 };

/** geometry_msgs/msg/PoseStamped */
export function poseStamped(pose: Pose, frame: string) {
  return {
    header: { stamp: ZERO_STAMP, frame_id: frame },
    pose: { position: { x: pose.x, y: pose.y, z: 0 }, orientation: yawToQuaternion(pose.theta) },
  };
}

/** nav2_msgs/action/NavigateToPose Goal */
export function navigateToPoseGoal(pose: Pose, frame: string, behaviorTree: string) {
  return { pose: poseStamped(pose, frame), behavior_tree: behaviorTree };
}

// Until Jazzy `poses` is a PoseStamped[]; from Kilted on it is a nav_msgs/msg/Goals.
const POSES_AS_ARRAY = new Set(['foxy', 'galactic', 'humble', 'iron', 'jazzy']);

/** nav2_msgs/action/NavigateThroughPoses Goal for the ROS distribution in use (unknown: as Jazzy). */
export function navigateThroughPosesGoal(poses: readonly Pose[], frame: string, behaviorTree: string, distro: string | undefined) {
  const stamped = poses.map((p) => poseStamped(p, frame));
  const asArray = distro === undefined || POSES_AS_ARRAY.has(distro);
  return { poses: asArray ? stamped : { header: { stamp: ZERO_STAMP, frame_id: frame }, goals: stamped }, behavior_tree: behaviorTree };
}

/** One point of a joint trajectory: a position per joint, reached `timeFromStartS` after the start. */
export interface TrajectoryPoint {
  positions: readonly number[];
  velocities?: readonly number[];
  timeFromStartS: number;
}

/** Throws InvalidGoalError unless x, y and theta are finite. */
export function checkPose(p: Pose): void {
  if (![p.x, p.y, p.theta].every(Number.isFinite)) throw new InvalidGoalError(`a pose needs finite x, y and theta, not ${JSON.stringify(p)}`);
}

/** The trajectory's length in seconds; throws InvalidGoalError for points the arm cannot take. */
export function trajectoryDuration(deviceId: string, joints: readonly string[], points: readonly TrajectoryPoint[]): number {
  if (points.length === 0) throw new InvalidGoalError('a trajectory needs at least one point');
  let last = 0;
  points.forEach((p, i) => {
    if (p.positions.length !== joints.length) throw new InvalidGoalError(`point ${i} has ${p.positions.length} positions; ${deviceId} has ${joints.length} joints (${joints.join(', ')})`);
    if (p.velocities && p.velocities.length !== joints.length) throw new InvalidGoalError(`point ${i} has ${p.velocities.length} velocities for ${joints.length} joints`);
    if (![...p.positions, ...(p.velocities ?? [])].every(Number.isFinite)) throw new InvalidGoalError(`point ${i} has a value that is not a finite number`);
    if (!(p.timeFromStartS > last)) throw new InvalidGoalError(`point ${i}: timeFromStartS must rise, from above 0`);
    last = p.timeFromStartS;
  });
  return last;
}

/** control_msgs/action/FollowJointTrajectory Goal; tolerances are left to the controller's own. */
export function followJointTrajectoryGoal(joints: readonly string[], points: readonly TrajectoryPoint[]) {
  return {
    trajectory: {
      header: { stamp: ZERO_STAMP, frame_id: '' },
      joint_names: [...joints],
      points: points.map((p) => ({
        positions: [...p.positions],
        velocities: p.velocities ? [...p.velocities] : [],
        accelerations: [],
        effort: [],
        time_from_start: toDuration(p.timeFromStartS),
      })),
    },
  };
}

/** The pose, its frame and the speed from nav_msgs/msg/Odometry (or anything with `pose.pose`); undefined if malformed. */
export function readOdometry(message: any): { pose: Pose; frame: string | undefined; speed: number | undefined } | undefined {
  const p = message?.pose?.pose;
  const x = p?.position?.x;
  const y = p?.position?.y;
  const q = p?.orientation;
  if (![x, y, q?.x, q?.y, q?.z, q?.w].every((v) => typeof v === 'number' && Number.isFinite(v))) return undefined;
  const theta = quaternionToYaw(q);
  const v = message?.twist?.twist?.linear;
  const speed = typeof v?.x === 'number' && typeof v?.y === 'number' ? Math.hypot(v.x, v.y) : undefined;
  const frame = message?.header?.frame_id;
  return { pose: { x, y, theta }, frame: typeof frame === 'string' && frame !== '' ? frame : undefined, speed: Number.isFinite(speed) ? speed : undefined };
}

/** The pose and its frame from geometry_msgs/msg/PoseWithCovarianceStamped (AMCL's `amcl_pose`); undefined if malformed. */
export function readPoseWithCovariance(message: any): { pose: Pose; frame: string | undefined } | undefined {
  // The same `header` and `pose.pose` as Odometry's.
  const read = readOdometry(message);
  return read && { pose: read.pose, frame: read.frame };
}

/**
 * sensor_msgs/msg/BatteryState → state of charge 0..1 (undefined when the robot does not know:
 * `percentage` is NaN then) and whether it is charging.
 */
export function readBattery(message: any): { soc: number | undefined; charging: boolean } {
  const pct = message?.percentage;
  const soc = typeof pct === 'number' && Number.isFinite(pct) ? Math.max(0, Math.min(1, pct)) : undefined;
  return { soc, charging: message?.power_supply_status === POWER_SUPPLY_STATUS_CHARGING };
}
