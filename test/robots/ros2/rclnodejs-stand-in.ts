// A STAND-IN FOR rclnodejs. THIS IS NOT ROS 2: no DDS, no messages on any wire, no Nav2, no
// controllers. It implements, in memory, only the subset of rclnodejs's API that
// robots/ros2/binding.ts types (`RclBinding`), with rclnodejs's names and shapes, so the adapter's
// own logic can be tested: which goals it sends, how it reads results and feedback, what it
// cancels. Whether the adapter really works with ROS 2 is what test/robots/ros2/real-ros.test.ts
// checks where ROS 2 is installed.
//
// The test plays the robots' side through `server(name)` (an action server: accept, reject or
// ignore goals; send feedback; finish them), `publish(topic, message)`, and `onPublished(topic, f)`
// for what the code under test publishes itself (`published` keeps it all). ROS domains are kept
// apart as DDS keeps them: a node made on a `Context(domainId)` reaches only the servers and
// topics of that domain (`server(name, domainId)`, `publish(topic, message, domainId)`); without a
// context it is in the environment's domain, which the stand-in's calls without one play.
import type {
  CancelGoalResponse,
  RclActionClient,
  RclBinding,
  RclClientGoalHandle,
  RclContext,
  RclNode,
  RclPublisher,
  RclServiceClient,
} from '../../../robots/ros2/binding.ts';
import { GOAL_STATUS } from '../../../robots/ros2/messages.ts';

type Subscriber = { type: string; topic: string; options: object; callback: (m: unknown) => void };

/** One goal as the stand-in server sees it. */
export class ServerGoal {
  status: number = GOAL_STATUS.ACCEPTED;
  cancelRequests = 0;
  private finishWith!: (r: { status: number; result: object }) => void;
  private failWith!: (err: Error) => void;
  readonly finished: Promise<{ status: number; result: object }>;

  constructor(
    readonly server: StandInActionServer,
    readonly goal: any,
    private readonly feedbackCallback: ((m: unknown) => void) | undefined,
    readonly foreign = false,
  ) {
    this.finished = new Promise((resolve, reject) => {
      this.finishWith = resolve;
      this.failWith = reject;
    });
  }

  get active(): boolean {
    return this.status < GOAL_STATUS.SUCCEEDED;
  }

  /** Sends feedback as rclnodejs hands it to the callback (the Feedback, or the older FeedbackMessage). */
  feedback(feedback: object): void {
    this.feedbackCallback?.(this.server.rcl.feedbackShape === 'message' ? { goal_id: { uuid: [] }, feedback } : feedback);
  }

  finish(status: number, result: object = {}): void {
    if (!this.active) return;
    this.status = status;
    this.finishWith({ status, result });
  }

  /** The result request fails in the binding (getResult() rejects). */
  fail(err: Error): void {
    this.status = GOAL_STATUS.ABORTED;
    this.failWith(err);
  }
}

/** How a stand-in action server behaves; every field can be changed by a test at any time. */
export class StandInActionServer {
  available = true;
  /** What happens to a goal request. */
  onGoal: 'accept' | 'reject' | 'ignore' = 'accept';
  /** What happens to a cancel request: `accept` cancels the goals (status CANCELED). */
  onCancel: 'accept' | 'reject' | 'ignore' | 'throw' = 'accept';
  readonly goals: ServerGoal[] = [];
  /** Called with each goal it accepts (a test playing Nav2 drives the robot from here). */
  onAccepted: ((goal: ServerGoal) => void) | undefined;
  /** Requests that were ignored; `acceptLate()` answers them. */
  private readonly ignored: (() => void)[] = [];

  constructor(
    readonly rcl: StandInRcl,
    readonly name: string,
  ) {}

  get last(): ServerGoal | undefined {
    return this.goals[this.goals.length - 1];
  }

  /** A goal someone else sent (another process, before a restart). */
  foreignGoal(goal: object = {}): ServerGoal {
    const g = new ServerGoal(this, goal, undefined, true);
    this.goals.push(g);
    return g;
  }

  acceptLate(): void {
    for (const answer of this.ignored.splice(0)) answer();
  }

  /** @internal */
  handleGoal(goal: object, feedbackCallback: ((m: unknown) => void) | undefined): Promise<RclClientGoalHandle> {
    return new Promise((resolve) => {
      const answer = (accepted: boolean) => {
        if (!accepted) return resolve(new StandInGoalHandle(this, undefined));
        const g = new ServerGoal(this, goal, feedbackCallback);
        this.goals.push(g);
        resolve(new StandInGoalHandle(this, g));
        this.onAccepted?.(g);
      };
      if (this.onGoal === 'ignore') this.ignored.push(() => answer(true));
      else queueMicrotask(() => answer(this.onGoal === 'accept'));
    });
  }

  /** @internal cancel some goals as the server would; undefined: no answer. */
  cancel(goals: ServerGoal[]): CancelGoalResponse | undefined {
    if (this.onCancel === 'throw') throw new Error('the cancel request could not be sent');
    if (this.onCancel === 'ignore') return undefined;
    if (this.onCancel === 'reject') return { return_code: 1, goals_canceling: [] };
    const canceling = goals.filter((g) => g.active);
    for (const g of canceling) {
      g.cancelRequests++;
      g.status = GOAL_STATUS.CANCELING;
      queueMicrotask(() => g.finish(GOAL_STATUS.CANCELED));
    }
    return canceling.length > 0 ? { return_code: 0, goals_canceling: canceling.map(() => ({})) } : { return_code: 2, goals_canceling: [] };
  }
}

class StandInGoalHandle implements RclClientGoalHandle {
  private _status: number;

  constructor(
    private readonly server: StandInActionServer,
    private readonly goal: ServerGoal | undefined,
  ) {
    this._status = goal ? GOAL_STATUS.ACCEPTED : GOAL_STATUS.UNKNOWN;
  }

  get accepted(): boolean {
    return this.goal !== undefined;
  }

  get status(): number {
    return this._status;
  }

  async getResult(): Promise<unknown> {
    const { status, result } = await this.goal!.finished;
    // Newer rclnodejs: the Result, with the handle's status set; older: the whole response.
    if (this.server.rcl.resultShape === 'response') return { status, result };
    this._status = status;
    return result;
  }

  cancelGoal(): Promise<CancelGoalResponse> {
    return new Promise((resolve, reject) => {
      try {
        const r = this.goal!.active ? this.server.cancel([this.goal!]) : { return_code: 3, goals_canceling: [] };
        if (r) resolve(r);
      } catch (err) {
        reject(err as Error);
      }
    });
  }
}

class StandInActionClient implements RclActionClient {
  constructor(
    readonly node: StandInNode,
    readonly typeClass: string,
    readonly actionName: string,
  ) {
    node.rcl.actionClients.push(this);
  }

  private get server(): StandInActionServer | undefined {
    const s = this.node.rcl.servers.get(serverKey(this.actionName, this.node.domainId));
    return s?.available ? s : undefined;
  }

  isActionServerAvailable(): boolean {
    return this.server !== undefined;
  }

  async waitForServer(timeoutMs = Infinity): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isActionServerAvailable() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    return this.isActionServerAvailable();
  }

  sendGoal(goal: object, feedbackCallback?: (feedback: unknown) => void): Promise<RclClientGoalHandle> {
    this.node.rcl.sentGoals.push({ action: this.actionName, type: this.typeClass, goal });
    const server = this.server;
    if (!server) return new Promise(() => {}); // a request into the void
    return server.handleGoal(goal, feedbackCallback);
  }
}

class StandInServiceClient implements RclServiceClient {
  constructor(
    readonly node: StandInNode,
    readonly typeClass: string,
    readonly serviceName: string,
  ) {}

  private get server(): StandInActionServer | undefined {
    const m = /^(.*)\/_action\/cancel_goal$/.exec(this.serviceName);
    const s = m ? this.node.rcl.servers.get(serverKey(m[1]!, this.node.domainId)) : undefined;
    return s?.available ? s : undefined;
  }

  isServiceServerAvailable(): boolean {
    return this.server !== undefined;
  }

  sendRequest(request: any, callback: (response: unknown) => void): void {
    this.node.rcl.cancelRequests.push({ service: this.serviceName, request });
    const server = this.server;
    if (!server) return;
    const info = request.goal_info;
    const all = info.goal_id.uuid.every((b: number) => b === 0) && info.stamp.sec === 0 && info.stamp.nanosec === 0;
    if (!all) throw new Error('the stand-in only knows "cancel all goals"');
    const response = server.cancel(server.goals);
    if (response) queueMicrotask(() => callback(response));
  }
}

class StandInNode implements RclNode {
  spinning = false;
  /** The context it was made on, if any. */
  context: StandInContext | undefined;
  destroyed = false;
  readonly subscriptions: Subscriber[] = [];

  constructor(
    readonly rcl: StandInRcl,
    readonly name: string,
    readonly namespace: string,
    /** Its context's domain; undefined: the environment's. */
    readonly domainId?: number,
  ) {}

  createSubscription(type: string, topic: string, options: object, callback: (m: unknown) => void): unknown {
    this.alive();
    const s = { type, topic, options, callback };
    this.subscriptions.push(s);
    return s;
  }

  createClient(typeClass: string, serviceName: string): RclServiceClient {
    this.alive();
    return new StandInServiceClient(this, typeClass, serviceName);
  }

  createPublisher(type: string, topic: string, options: object = {}): RclPublisher {
    this.alive();
    const name = topic.startsWith('/') ? topic : `${this.namespace === '/' ? '' : this.namespace}/${topic}`;
    return {
      publish: (message: object) => {
        if (this.destroyed) throw new Error('the node is destroyed');
        this.rcl.published.push({ type, topic: name, options, message });
        for (const f of this.rcl.listeners.get(name) ?? []) f(message);
      },
    };
  }

  spin(): void {
    if (this.spinning) throw new Error('The node is already spinning.');
    this.spinning = true;
  }

  destroy(): void {
    this.destroyed = true;
    this.spinning = false;
    this.subscriptions.length = 0;
  }

  private alive(): void {
    if (this.destroyed) throw new Error('the node is destroyed');
  }
}

/** rclnodejs's QoS, remembering its policies (rmw's values, as rclnodejs has them). */
export class StandInQoS {
  static readonly HistoryPolicy = { RMW_QOS_POLICY_HISTORY_KEEP_LAST: 1 } as const;
  static readonly ReliabilityPolicy = { RMW_QOS_POLICY_RELIABILITY_RELIABLE: 1 } as const;
  static readonly DurabilityPolicy = { RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL: 1 } as const;

  constructor(
    readonly history: number,
    readonly depth: number,
    readonly reliability: number,
    readonly durability: number,
  ) {}
}

/** Where the stand-in keeps an action server: by name in the environment's domain, else by domain and name. */
const serverKey = (name: string, domainId?: number) => (domainId === undefined ? name : `domain ${domainId}:${name}`);

/** `rclnodejs.Context` of the stand-in: its domain, whether it was initialised and shut down. */
export class StandInContext implements RclContext {
  initialised = false;
  shutDown = false;

  constructor(
    readonly rcl: StandInRcl,
    readonly domainId: number,
  ) {
    rcl.contexts.push(this);
  }

  shutdown(): void {
    this.shutDown = true;
    for (const n of this.rcl.nodes) if (n.context === this) n.destroy();
  }
}

/** The stand-in module. Pass `() => Promise.resolve(rcl)` as the adapter's `loadBinding`. */
export class StandInRcl implements RclBinding {
  /** How getResult() resolves: `result` (rclnodejs ≥ 0.20) or the whole `response` (older). */
  resultShape: 'result' | 'response' = 'result';
  /** What a feedback callback gets: the `feedback` (newer) or the FeedbackMessage (older). */
  feedbackShape: 'feedback' | 'message' = 'feedback';
  inits = 0;
  shutdowns = 0;
  /** Calls of removeSignalHandlers(), and how many init() calls came before each. */
  readonly signalHandlersRemoved: { initsBefore: number }[] = [];
  /** Make createNode throw (a start that fails half-way). */
  failCreateNode = false;
  readonly nodes: StandInNode[] = [];
  readonly servers = new Map<string, StandInActionServer>();
  readonly actionClients: StandInActionClient[] = [];
  readonly sentGoals: { action: string; type: string; goal: any }[] = [];
  readonly cancelRequests: { service: string; request: any }[] = [];
  /** Every message published by the code under test, in order, with its topic's full name. */
  readonly published: { type: string; topic: string; options: object; message: any }[] = [];
  /** @internal */
  readonly listeners = new Map<string, ((message: any) => void)[]>();

  readonly ActionClient = StandInActionClient as unknown as RclBinding['ActionClient'];
  readonly QoS = StandInQoS;
  /** Every context made, in order. */
  readonly contexts: StandInContext[] = [];
  readonly Context: new (domainId?: number) => RclContext;

  constructor() {
    const rcl = this;
    this.Context = class extends StandInContext {
      constructor(domainId = 0) {
        super(rcl, domainId);
      }
    };
  }

  removeSignalHandlers(): void {
    this.signalHandlersRemoved.push({ initsBefore: this.inits });
  }

  async init(context?: RclContext): Promise<void> {
    this.inits++;
    if (context) (context as StandInContext).initialised = true;
  }

  createNode(name: string, namespace = '', context?: RclContext): RclNode {
    if (this.failCreateNode) throw new Error('rcl_node_init failed');
    const c = context as StandInContext | undefined;
    if (c && (!c.initialised || c.shutDown)) throw new Error('the context is not initialised');
    const n = new StandInNode(this, name, namespace, c?.domainId);
    n.context = c;
    this.nodes.push(n);
    return n;
  }

  shutdown(context?: RclContext): void {
    if (context) context.shutdown();
    else this.shutdowns++;
  }

  /** The robot side of an action in the environment's domain, or in `domainId`'s: created on first use, available by default. */
  server(name: string, domainId?: number): StandInActionServer {
    const key = serverKey(name, domainId);
    let s = this.servers.get(key);
    if (!s) this.servers.set(key, (s = new StandInActionServer(this, name)));
    return s;
  }

  /** Delivers a message to every subscription on `topic` of a spinning node in the domain (default: the environment's). */
  publish(topic: string, message: unknown, domainId?: number): number {
    let delivered = 0;
    for (const n of this.nodes) {
      if (!n.spinning || n.domainId !== domainId) continue;
      for (const s of n.subscriptions) if (s.topic === topic) (s.callback(message), delivered++);
    }
    return delivered;
  }

  /** Calls `f` with every message the code under test publishes on `topic` (its full name) from now on. */
  onPublished(topic: string, f: (message: any) => void): void {
    this.listeners.set(topic, [...(this.listeners.get(topic) ?? []), f]);
  }

  get node(): StandInNode {
    return this.nodes[this.nodes.length - 1]!;
  }
}
