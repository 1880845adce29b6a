// The part of rclnodejs the adapter uses, typed here so that the real module and the stand-in the
// tests use both satisfy it, and the loader that imports rclnodejs lazily. rclnodejs is an
// optional dependency: it only installs (and only loads) with ROS 2 sourced, so nothing else in
// phygate imports it, and without it the adapter says exactly what is missing.
//
// Shapes follow rclnodejs (lib/node.js, lib/action/client.js, lib/client.js); messages are plain
// objects with ROS field names, which rclnodejs accepts wherever it takes a message.
import { Ros2UnavailableError } from './errors.ts';

/**
 * rclnodejs's module: `init()`, `createNode()`, the `ActionClient`, `QoS` and `Context` classes,
 * `shutdown()`. Without a context they work on rclnodejs's default one, whose ROS domain is the
 * environment's (ROS_DOMAIN_ID); a `Context` made with a domain id keeps its nodes in that domain
 * (a rehearsal on a simulated fleet, apart from the floor's robots).
 */
export interface RclBinding {
  init(context?: RclContext): Promise<void>;
  createNode(nodeName: string, namespace?: string, context?: RclContext): RclNode;
  ActionClient: new (node: RclNode, typeClass: string, actionName: string) => RclActionClient;
  QoS: RclQosClass;
  /** `rclnodejs.Context`: `new Context(domainId)`; in rclnodejs since 0.x with a domain id argument. */
  Context?: new (domainId?: number) => RclContext;
  shutdown(context?: RclContext): void;
  /**
   * Takes away the SIGINT handler rclnodejs installs when it is loaded (it shuts every context
   * down at once); the application then shuts ROS down itself. Missing in old versions.
   */
  removeSignalHandlers?(): void;
}

/** `rclnodejs.QoS`: a profile from its policies (rmw's numeric values, under the class's enums). */
export interface RclQosClass {
  new (history: number, depth: number, reliability: number, durability: number): object;
  readonly HistoryPolicy: { readonly RMW_QOS_POLICY_HISTORY_KEEP_LAST: number };
  readonly ReliabilityPolicy: { readonly RMW_QOS_POLICY_RELIABILITY_RELIABLE: number };
  readonly DurabilityPolicy: { readonly RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL: number };
}

/** `rclnodejs.Context`: one init/shutdown cycle of rcl, in one ROS domain. */
export interface RclContext {
  /** The domain its nodes are in, once initialised (rclnodejs answers a bigint). */
  readonly domainId: number | bigint;
  /** Destroys its nodes and shuts it down. */
  shutdown(): void;
}

/** `rclnodejs.Node` */
export interface RclNode {
  /** `options` as rclnodejs takes it: `{ qos: 'qos_profile_sensor_data' }` (a profile's name) or a `QoS`. */
  createSubscription(typeClass: string, topic: string, options: { qos?: string | object }, callback: (message: any) => void): unknown;
  createClient(typeClass: string, serviceName: string): RclServiceClient;
  /** `options` as for a subscription; `phygate edge` publishes the robot's `cmd_vel` with one. */
  createPublisher(typeClass: string, topic: string, options?: { qos?: string | object }): RclPublisher;
  /** Starts handling incoming messages on Node's event loop (rclnodejs ≥ 0.18). */
  spin(timeoutMs?: number): void;
  /** Destroys the node and everything created on it (subscriptions, clients, action clients). */
  destroy(): void;
}

/** `rclnodejs.Publisher` */
export interface RclPublisher {
  /** Sends a message (a plain object with the interface's field names). */
  publish(message: object): void;
}

/** `rclnodejs.ActionClient` */
export interface RclActionClient {
  /** Resolves true once a server is there, false after `timeoutMs`. */
  waitForServer(timeoutMs?: number): Promise<boolean>;
  isActionServerAvailable(): boolean;
  /**
   * Resolves once the server accepted or rejected the goal. rclnodejs ≥ 0.20 calls back with the
   * action's Feedback message; older versions with the FeedbackMessage `{ goal_id, feedback }`.
   */
  sendGoal(goal: object, feedbackCallback?: (feedback: any) => void): Promise<RclClientGoalHandle>;
}

/** `rclnodejs.ClientGoalHandle` */
export interface RclClientGoalHandle {
  readonly accepted: boolean;
  /** action_msgs/msg/GoalStatus code, as far as the client knows it. */
  readonly status: number;
  /**
   * Newer rclnodejs resolves with the Result message and sets `status`; older versions resolve
   * with the whole GetResult response `{ status, result }`.
   */
  getResult(): Promise<unknown>;
  cancelGoal(): Promise<CancelGoalResponse>;
}

/** `rclnodejs.Client` (a service client); one request in flight at a time in older versions. */
export interface RclServiceClient {
  isServiceServerAvailable(): boolean;
  sendRequest(request: object, callback: (response: any) => void): void;
}

/** action_msgs/srv/CancelGoal response. */
export interface CancelGoalResponse {
  return_code: number;
  goals_canceling?: readonly unknown[];
}

/**
 * After a start that failed half-way: the node (if made) destroyed and ROS 2 shut down, quietly,
 * so that the error the caller rethrows is the first one.
 */
export function abandonStart(rcl: RclBinding, node: RclNode | undefined, context?: RclContext): void {
  try {
    node?.destroy();
    rcl.shutdown(context);
  } catch {
    // the first error is the one to report
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** How to import a module by name; tests pass one that fails or returns a stand-in. */
  importModule?: (specifier: string) => Promise<unknown>;
}

// A variable, not a literal: tsc must not look for a module that is normally not installed.
const RCLNODEJS = 'rclnodejs';
const MEMBERS = ['init', 'createNode', 'ActionClient', 'QoS', 'shutdown'] as const;

/**
 * Imports rclnodejs and checks it is usable. Throws Ros2UnavailableError naming everything that
 * is missing: the package, a sourced ROS 2 (`ROS_DISTRO`), or its native part.
 */
export async function loadRclnodejs(opts: LoadOptions = {}): Promise<RclBinding> {
  const env = opts.env ?? process.env;
  const importModule = opts.importModule ?? ((specifier: string) => import(specifier));
  const missing: string[] = [];
  const sourced = Boolean(env.ROS_DISTRO);
  let loaded: unknown;
  try {
    loaded = await importModule(RCLNODEJS);
  } catch (err) {
    // By the message, not the code: not every loader sets one, and a missing native file of an
    // installed rclnodejs has the same code.
    const message = (err as Error).message;
    missing.push(
      /Cannot find (package|module) ['"]rclnodejs['"]/.test(message)
        ? 'rclnodejs is not installed (an optional dependency; install it with ROS 2 sourced: npm install rclnodejs)'
        : `rclnodejs is installed but does not load: ${message}`,
    );
  }
  if (!sourced) missing.push('ROS 2 is not sourced (ROS_DISTRO is unset; run: source /opt/ros/<distro>/setup.bash)');
  if (missing.length > 0) {
    throw new Ros2UnavailableError(missing);
  }
  // rclnodejs is CommonJS: its exports arrive as the default export.
  const mod = (loaded as { default?: unknown }).default ?? loaded;
  const lacking = MEMBERS.filter((m) => typeof (mod as Record<string, unknown>)[m] !== 'function');
  if (lacking.length > 0) {
    throw new Ros2UnavailableError([`the rclnodejs that loaded has no ${lacking.join(', ')} (a version this adapter does not know)`]);
  }
  return mod as RclBinding;
}
