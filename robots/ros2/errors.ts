// Why the ROS 2 adapter refuses something. Each has a stable `code` callers can branch on; what
// happens to a goal once it is under way is its outcome (adapter.ts), never one of these.
export type Ros2ErrorCode = 'ROS2_UNAVAILABLE' | 'NOT_STARTED' | 'NOT_ROS2_DEVICE' | 'GOAL_ACTIVE' | 'INVALID_GOAL' | 'UNKNOWN_LOCATION';

export class Ros2Error extends Error {
  constructor(
    readonly code: Ros2ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** rclnodejs cannot be used here: each entry of `missing` says what is missing and how to fix it. */
export class Ros2UnavailableError extends Ros2Error {
  constructor(readonly missing: readonly string[]) {
    super('ROS2_UNAVAILABLE', `ROS 2 is unavailable: ${missing.join('; ')}`);
  }
}

/** The adapter was not started, or is closed. */
export class Ros2NotStartedError extends Ros2Error {
  constructor(state: 'not started' | 'closed') {
    super('NOT_STARTED', `the ROS 2 adapter is ${state}`);
  }
}

/** Not a device of this site with a `ros2` block (of the kind the call needs). */
export class NotRos2DeviceError extends Ros2Error {
  constructor(
    readonly deviceId: string,
    kind?: 'amr' | 'arm',
  ) {
    super('NOT_ROS2_DEVICE', `'${deviceId}' is not ${kind === 'amr' ? 'an AMR' : kind === 'arm' ? 'an arm' : 'a device'} of this site driven over ROS 2 (a device with a ros2 block)`);
  }
}

/** A new goal while the device still works on one (or one with this goal id is under way). */
export class GoalActiveError extends Ros2Error {
  constructor(
    readonly deviceId: string,
    readonly goalId: string,
  ) {
    super('GOAL_ACTIVE', `${deviceId} is still working on goal '${goalId}'; cancel it first`);
  }
}

/** A goal that cannot be sent as asked: not finite, wrong number of joints, times not rising. */
export class InvalidGoalError extends Ros2Error {
  constructor(message: string) {
    super('INVALID_GOAL', message);
  }
}

/** A station or node id the site does not have. */
export class UnknownLocationError extends Ros2Error {
  constructor(readonly location: string) {
    super('UNKNOWN_LOCATION', `'${location}' is neither a station nor a node of this site`);
  }
}
