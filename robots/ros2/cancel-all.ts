// "Cancel every goal" on one action server, as STOP needs it: a request to the action's hidden
// cancel service (`<action>/_action/cancel_goal`, action_msgs/srv/CancelGoal) with a zero goal id
// and a zero stamp, which the ROS 2 action protocol defines as all goals of that server. It
// reaches goals this process did not send (before a restart, from RViz), which a goal handle
// cannot.
import type { RclServiceClient } from './binding.ts';
import type { Ros2Action } from './devices.ts';
import { CANCEL_RETURN } from './messages.ts';

export const CANCEL_ALL_REQUEST = { goal_info: { goal_id: { uuid: new Array<number>(16).fill(0) }, stamp: { sec: 0, nanosec: 0 } } };

export interface CancelAllAnswer {
  /**
   * `cancelling`: goals were running and are being cancelled; `nothing`: none was running;
   * `no-server`: no server to ask; `timeout`: no answer in time; `refused`/`error`: not done.
   */
  kind: 'cancelling' | 'nothing' | 'no-server' | 'timeout' | 'refused' | 'error';
  message: string;
}

export const TIMEOUT = Symbol('timeout');

/** `p`, or TIMEOUT once `ms` passed. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<typeof TIMEOUT>((resolve) => (timer = setTimeout(() => resolve(TIMEOUT), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export async function cancelAllGoals(action: Ros2Action, service: RclServiceClient, timeoutMs: number): Promise<CancelAllAnswer> {
  try {
    if (!service.isServiceServerAvailable()) return { kind: 'no-server', message: `no server for ${action.name}` };
    const answer = await within(new Promise<any>((resolve) => service.sendRequest(CANCEL_ALL_REQUEST, resolve)), timeoutMs);
    if (answer === TIMEOUT) return { kind: 'timeout', message: `${action.name} did not answer the cancel within ${timeoutMs} ms` };
    if (answer?.return_code === CANCEL_RETURN.REJECTED) return { kind: 'refused', message: `${action.name} refused to cancel its goals` };
    // UNKNOWN_GOAL_ID or GOAL_TERMINATED for "all": nothing was running.
    if (answer?.return_code === CANCEL_RETURN.NONE && (answer.goals_canceling?.length ?? 0) > 0) return { kind: 'cancelling', message: '' };
    return { kind: 'nothing', message: '' };
  } catch (err) {
    return { kind: 'error', message: `cancelling on ${action.name} failed: ${(err as Error).message}` };
  }
}
