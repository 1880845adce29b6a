// The VDA 5050 master: the gateway's side of the AMRs. It reads every AMR's state, connection,
// visualization and factsheet into the fleet registry, sends orders built from nav-graph routes
// and instant actions, and reports how each order progresses.
//
// Nothing a vehicle (or anyone on the broker) sends can make it throw: a message that is not
// JSON, not a valid VDA 5050 2.0 object, or from a vehicle the site does not know is counted and
// logged, and dropped. A state or visualization is taken only in order and when it is of now:
// its headerId must be above the last one taken from that topic (and not far above it:
// ../sequence.ts) and its timestamp within `clockSkewMs` of the gateway's clock, so a replayed or
// forged message cannot put a vehicle back where it was, or where it never was, for long.
import type { MqttClient } from 'mqtt';
import type { DeviceFactsheet, DevicePolicy, DeviceState, Pose } from '../../planners/fleet.ts';
import { buildNavGraph, type NavGraph } from '../../planners/route.ts';
import type { Amr, SiteIndex } from '../../planners/site.ts';
import { DropCounter, UNKNOWN_DEVICE, type DropReason } from '../drops.ts';
import type { FleetRegistry } from '../fleet-registry.ts';
import { silentLog, type Log } from '../log.ts';
import { SequenceGuard } from '../sequence.ts';
import { DeviceOfflineError, NoOrderError, OrderActiveError, RouteStartError, UnknownDeviceError, WrongMapError } from './errors.ts';
import { compareFactsheet } from './factsheet.ts';
import { buildOrder, type EndAction, type InstantActionType } from './order.ts';
import { describeError, evaluateProgress, hasActiveOrder, releasedActions, type OrderProgress, type TrackedOrder } from './progress.ts';
import {
  INBOUND,
  InstantActionsSchema,
  OrderSchema,
  type Connection,
  type Factsheet,
  type InstantActions,
  type Order,
  type State,
  type Visualization,
} from './schemas.ts';
import { DEFAULT_INTERFACE_NAME, parseTopic, topicFilter, vehicleTopic, type Vda5050Topic } from './topics.ts';


/** State requests published per turn of the event loop (see requestStates). */
const STATE_REQUESTS_PER_TURN = 50;

export interface Vda5050MasterOptions {
  /** A connected client (robots/mqtt.ts `connectMqtt`); the master does not close it. */
  client: MqttClient;
  site: SiteIndex;
  fleet: FleetRegistry;
  interfaceName?: string;
  now?: () => Date;
  log?: Log;
  /**
   * A vehicle that has said nothing for this long is marked offline (it publishes its state at
   * least every 30 s by the spec). Default 65 s.
   */
  silenceMs?: number;
  /** The site's nav graph, if already built. */
  graph?: NavGraph;
  /** Where dropped messages are counted (shared with the other masters); one of its own if not given. */
  drops?: DropCounter;
  /**
   * A state or visualization whose timestamp is further than this from the gateway's clock is
   * dropped (`clock-skew`); 0 turns the check off. Default 30 s (PHYGATE_STATE_CLOCK_SKEW_S).
   */
  clockSkewMs?: number;
  /** How far above the last headerId taken a message's may be (../sequence.ts). Default 1000. */
  maxHeaderIdJump?: number;
}

export const DEFAULT_CLOCK_SKEW_MS = 30_000;
/**
 * States and visualizations travel at QoS 0 and a busy broker may lose some, so a gap is no sign
 * of forgery; a forged headerId of 2^53 or 1e9 is.
 */
export const DEFAULT_MAX_HEADER_ID_JUMP = 1_000;

export interface OrderRequest {
  /** Node ids, starting at the AMR's current node (for an update: where the current base ends). */
  route: readonly string[];
  actionsAtEnd?: readonly EndAction[];
  orderId?: string;
  /** Nodes in the base; the rest is sent as the unreleased horizon. Default: all. */
  releasedNodes?: number;
  /** The first node's allowed deviation, for an AMR stopped between nodes (see buildOrder). */
  startDeviationXY?: number;
}

export type { InstantActionType } from './order.ts';

export type { OrderProgress } from './progress.ts';
export type OrderProgressListener = (progress: OrderProgress) => void;

/**
 * Something about a vehicle people should know at once (the gateway sends it as an `alert` event):
 * `DEVICE_WRONG_MAP` when it reports a map other than the site's, `DEVICE_MAP_OK` when it reports
 * the site's again, `FACTSHEET_MISMATCH` when a factsheet it publishes falls short of the site.
 */
export interface VehicleAlert {
  code: 'DEVICE_WRONG_MAP' | 'DEVICE_MAP_OK' | 'FACTSHEET_MISMATCH';
  deviceId: string;
  message: string;
  /** DEVICE_WRONG_MAP, DEVICE_MAP_OK: the map it reports. */
  mapId?: string;
  /** FACTSHEET_MISMATCH */
  problems?: DeviceFactsheet['problems'];
}
export type VehicleAlertListener = (alert: VehicleAlert) => void;

export interface MasterStats {
  /** Messages on the subscribed VDA 5050 topics. */
  received: number;
  /** Not JSON, or not a valid VDA 5050 2.0 object, or naming another vehicle than its topic. */
  invalid: number;
  /** From a manufacturer/serial number that is none of the site's AMRs. */
  unknownDevice: number;
  /** A state or visualization out of order: its headerId not above the last taken, or far above it. */
  outOfOrder: number;
  /** A state or visualization whose timestamp is too far from the gateway's clock. */
  clockSkew: number;
}

/** A topic the master reads: which message, from which address, and the site's vehicle there if any. */
interface Inbound {
  topic: 'state' | 'connection' | 'visualization' | 'factsheet';
  manufacturer: string;
  serialNumber: string;
  vehicle: Vehicle | undefined;
}

interface Vehicle {
  id: string;
  amr: Amr;
  headerIds: { order: number; instantActions: number };
  /** The headerIds taken from the vehicle, per topic (the spec numbers each topic on its own). */
  taken: { state: SequenceGuard; visualization: SequenceGuard };
  state?: State;
  factsheet?: Factsheet;
  /** The factsheet compared with the site, as the fleet shows it. */
  sheet?: DeviceFactsheet;
  lastHeardMs?: number;
  order?: TrackedOrder;
  progress?: OrderProgress;
  /** The errors last shown in the fleet for it. */
  errorTexts?: string[];
}

/**
 * The state's errors as the fleet shows them; the vehicle's previous list when they read the same,
 * as they mostly do, so that no new list is made for every state.
 */
function errorTexts(state: State, v: Vehicle): string[] {
  const errors = state.errors;
  const previous = v.errorTexts;
  if (previous && previous.length === errors.length && errors.every((e, i) => describeError(e) === previous[i])) return previous;
  return (v.errorTexts = errors.map(describeError));
}

/**
 * An AMR's fleet state as a state message makes it: built whole, every field in the same order (a
 * patch merged into a copy costs several times more, and this runs for every state), and by a
 * class rather than an object literal. Each AMR's latest state lives until its next one; V8 takes
 * a literal whose objects outlive a young-generation GC or two for long-lived and allocates all
 * later ones in the old generation (allocation-site pretenuring), where collecting them cost a
 * fifth more CPU per state. What a class constructs is allocated young, whatever came before.
 */
class AmrFleetState implements DeviceState {
  id: string;
  online: boolean;
  at: string | undefined;
  pose: Pose | undefined;
  soc: number;
  cargo: number | undefined;
  paused: boolean;
  state: string;
  errors: string[];
  lastSeen: string;
  mapId: string | undefined;
  factsheet: DeviceFactsheet | undefined;
  policy: DevicePolicy | undefined;

  constructor(
    id: string,
    at: string | undefined,
    pose: Pose | undefined,
    soc: number,
    cargo: number | undefined,
    paused: boolean,
    state: string,
    errors: string[],
    lastSeen: string,
    mapId: string | undefined,
    factsheet: DeviceFactsheet | undefined,
    policy: DevicePolicy | undefined,
  ) {
    this.id = id;
    this.online = true;
    this.at = at;
    this.pose = pose;
    this.soc = soc;
    this.cargo = cargo;
    this.paused = paused;
    this.state = state;
    this.errors = errors;
    this.lastSeen = lastSeen;
    this.mapId = mapId;
    this.factsheet = factsheet;
    this.policy = policy;
  }
}

/** The policy a vehicle says drives it, from its state's `policyShield` information entry (POLICY.md). */
function policyOf(state: State): DevicePolicy | undefined {
  const info = state.information?.find((i) => i.infoType === 'policyShield');
  if (!info) return undefined;
  const refs = new Map((info.infoReferences ?? []).map((r) => [r.referenceKey, r.referenceValue]));
  const byReason: Record<string, number> = {};
  for (const [k, v] of refs) if (k.startsWith('interventions.') && Number.isFinite(Number(v))) byReason[k.slice('interventions.'.length)] = Number(v);
  const total = Number(refs.get('interventions'));
  return { name: refs.get('policyName') ?? '', version: refs.get('policyVersion') ?? '', sha256: refs.get('policySha256') ?? '', interventions: Number.isFinite(total) ? total : 0, byReason };
}

/** A pose of an AMR's fleet state (a class for the reason AmrFleetState is one). */
class Position implements Pose {
  constructor(
    readonly x: number,
    readonly y: number,
    readonly theta: number,
  ) {}
}

/** One word for what the AMR is doing, for people and the plan check. */
function activity(state: State): string {
  if (state.errors.some((e) => e.errorLevel === 'FATAL')) return 'error';
  if (state.batteryState.charging) return 'charging';
  // Paused but still driving: a vehicle braking to a stand after its pause (a policy-driven one).
  if (state.paused) return state.driving ? 'braking' : 'paused';
  if (state.driving) return 'driving';
  if (state.actionStates.some((a) => a.actionStatus === 'RUNNING' || a.actionStatus === 'INITIALIZING')) return 'working';
  if (hasActiveOrder(state)) return 'waiting';
  return 'idle';
}

export class Vda5050Master {
  private readonly client: MqttClient;
  private readonly site: SiteIndex;
  private readonly fleet: FleetRegistry;
  private readonly graph: NavGraph;
  private readonly interfaceName: string;
  private readonly now: () => Date;
  private readonly log: Log;
  private readonly silenceMs: number;
  private readonly vehicles = new Map<string, Vehicle>();
  private readonly byAddress = new Map<string, Vehicle>();
  private readonly inboundTopics = new Map<string, Inbound>();
  private readonly listeners = new Set<OrderProgressListener>();
  private readonly alertListeners = new Set<VehicleAlertListener>();
  private readonly counts: MasterStats = { received: 0, invalid: 0, unknownDevice: 0, outOfOrder: 0, clockSkew: 0 };
  private readonly drops: DropCounter;
  private readonly clockSkewMs: number;
  private started = false;
  private silenceTimer: NodeJS.Timeout | undefined;
  private stateRequests: NodeJS.Immediate | undefined;
  private sequence = 0;
  private iso = { ms: NaN, text: '' };

  constructor(opts: Vda5050MasterOptions) {
    this.client = opts.client;
    this.site = opts.site;
    this.fleet = opts.fleet;
    this.graph = opts.graph ?? buildNavGraph(opts.site.site);
    this.interfaceName = opts.interfaceName ?? DEFAULT_INTERFACE_NAME;
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? silentLog;
    this.silenceMs = opts.silenceMs ?? 65_000;
    this.drops = opts.drops ?? new DropCounter({ log: this.log, now: () => this.now().getTime() });
    this.clockSkewMs = opts.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
    const jump = opts.maxHeaderIdJump ?? DEFAULT_MAX_HEADER_ID_JUMP;
    for (const amr of opts.site.devicesOfKind('amr')) {
      const v: Vehicle = { id: amr.id, amr, headerIds: { order: 0, instantActions: 0 }, taken: { state: new SequenceGuard(jump), visualization: new SequenceGuard(jump) } };
      this.vehicles.set(amr.id, v);
      this.byAddress.set(`${amr.vda5050.manufacturer}/${amr.vda5050.serialNumber}`, v);
    }
  }

  /** Subscribes to every AMR's topics (QoS 1 for connection, 0 for the rest, as the spec says) and asks each for its state. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.client.on('message', this.onMessage);
    this.client.on('connect', this.onConnect);
    const manufacturers = [...new Set([...this.vehicles.values()].map((v) => v.amr.vda5050.manufacturer))];
    const subscriptions: Record<string, { qos: 0 | 1 }> = {};
    for (const m of manufacturers) {
      // Every serial number of the manufacturer: messages from vehicles the site does not know are noticed, not missed.
      subscriptions[topicFilter(this.interfaceName, 'connection', m)] = { qos: 1 };
      for (const topic of ['state', 'visualization', 'factsheet'] as const) subscriptions[topicFilter(this.interfaceName, topic, m)] = { qos: 0 };
    }
    if (manufacturers.length > 0) await this.client.subscribeAsync(subscriptions);
    this.requestStates();
    const every = Math.max(50, Math.min(5_000, this.silenceMs / 4));
    this.silenceTimer = setInterval(() => this.markSilentOffline(), every);
    this.silenceTimer.unref();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.client.off('message', this.onMessage);
    this.client.off('connect', this.onConnect);
    clearInterval(this.silenceTimer);
    clearImmediate(this.stateRequests);
    if (this.client.connected) {
      const manufacturers = [...new Set([...this.vehicles.values()].map((v) => v.amr.vda5050.manufacturer))];
      const topics = manufacturers.flatMap((m) => (['connection', 'state', 'visualization', 'factsheet'] as const).map((t) => topicFilter(this.interfaceName, t, m)));
      await this.client.unsubscribeAsync(topics).catch(() => {});
    }
  }

  stats(): MasterStats {
    return { ...this.counts };
  }

  onOrderProgress(listener: OrderProgressListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Hears every VehicleAlert; returns the unsubscribe. */
  onAlert(listener: VehicleAlertListener): () => void {
    this.alertListeners.add(listener);
    return () => this.alertListeners.delete(listener);
  }

  private alert(a: VehicleAlert): void {
    for (const listener of this.alertListeners) {
      try {
        listener(a);
      } catch (err) {
        this.log.error({ deviceId: a.deviceId, error: (err as Error).stack ?? String(err) }, 'an alert listener threw');
      }
    }
  }

  /** The last progress reported for the AMR's current order. */
  progress(deviceId: string): OrderProgress | undefined {
    return this.vehicle(deviceId).progress;
  }

  /** The AMR's last valid state message. */
  lastState(deviceId: string): State | undefined {
    return this.vehicle(deviceId).state;
  }

  factsheet(deviceId: string): Factsheet | undefined {
    return this.vehicle(deviceId).factsheet;
  }

  /**
   * A new order along `route` from the AMR's current node, published at QoS 0 (the spec's rule:
   * a late order is worse than a lost one; the state shows whether it arrived).
   */
  async sendOrder(deviceId: string, request: OrderRequest): Promise<Order> {
    const order = this.prepareOrder(deviceId, request);
    await this.publishOrder(deviceId, order);
    return order;
  }

  /**
   * The order `sendOrder` would publish, built and checked but not sent: a caller that keeps an
   * outbox stores it first, then hands it to `publishOrder`.
   */
  prepareOrder(deviceId: string, request: OrderRequest): Order {
    const v = this.vehicle(deviceId);
    const fleetState = this.requireOnline(v);
    if (v.state && hasActiveOrder(v.state)) throw new OrderActiveError(deviceId, v.state.orderId);
    if (request.route[0] !== fleetState.at) throw new RouteStartError(deviceId, request.route[0], fleetState.at);
    const orderId = request.orderId ?? `${deviceId}-${this.now().getTime().toString(36)}-${++this.sequence}`;
    return this.build(v, request, orderId, 0, 0);
  }

  /**
   * Publishes a prepared order (again, if it may have been lost: a vehicle discards an order whose
   * orderId and orderUpdateId it already has) and follows its progress.
   */
  async publishOrder(deviceId: string, order: Order): Promise<void> {
    const v = this.vehicle(deviceId);
    await this.publish(v, 'order', order);
    if (v.order?.orderId !== order.orderId || v.order.latest.orderUpdateId !== order.orderUpdateId) this.track(v, order);
    this.log.info({ deviceId, orderId: order.orderId, route: order.nodes.map((n) => n.nodeId) }, 'order sent');
  }

  /**
   * Follows the progress of an order this process did not send (a restarted gateway taking over
   * what it sent before): reported at once if the vehicle's last state already tells.
   */
  adoptOrder(deviceId: string, order: Order): void {
    const v = this.vehicle(deviceId);
    this.track(v, order);
    this.reportProgress(v);
  }

  private track(v: Vehicle, order: Order): void {
    v.order = { orderId: order.orderId, latest: order, actions: releasedActions(order), cancelled: false, terminal: false };
    v.progress = undefined;
  }

  /**
   * The update of `order` (orderUpdateId + 1) that releases its `route` through node index
   * `through`: it starts where the order's base ends, with that node's sequenceId, and carries the
   * same actions at the end (their ids stay the same). `route` is the whole route the order was
   * first sent with. Built and checked, not sent.
   */
  prepareUpdate(deviceId: string, order: Order, route: readonly string[], through: number): Order {
    const v = this.vehicle(deviceId);
    const base = order.nodes.filter((n) => n.released);
    const end = base[base.length - 1]!;
    const from = end.sequenceId / 2;
    if (route[from] !== end.nodeId) throw new RouteStartError(deviceId, route[from], end.nodeId);
    const actionsAtEnd = (order.nodes[order.nodes.length - 1]?.actions ?? []).map((a) => a.actionType as EndAction);
    return this.build(v, { route: route.slice(from), actionsAtEnd, releasedNodes: through - from + 1 }, order.orderId, order.orderUpdateId + 1, end.sequenceId);
  }

  /**
   * The next update of the AMR's order (orderUpdateId + 1): `route` starts where the current base
   * ends, or where the AMR stopped if it is done with the order.
   */
  async updateOrder(deviceId: string, request: Omit<OrderRequest, 'orderId'>): Promise<Order> {
    const v = this.vehicle(deviceId);
    this.requireOnline(v);
    const tracked = v.order;
    if (!tracked) throw new NoOrderError(deviceId);
    const state = v.state;
    let start: { nodeId: string; sequenceId: number };
    if (state && state.orderId === tracked.orderId && !hasActiveOrder(state)) {
      start = { nodeId: state.lastNodeId, sequenceId: state.lastNodeSequenceId };
    } else {
      const base = tracked.latest.nodes.filter((n) => n.released);
      start = base[base.length - 1]!;
    }
    if (request.route[0] !== start.nodeId) throw new RouteStartError(deviceId, request.route[0], start.nodeId);
    const order = this.build(v, request, tracked.orderId, tracked.latest.orderUpdateId + 1, start.sequenceId);
    await this.publish(v, 'order', order);
    tracked.latest = order;
    for (const [id, type] of releasedActions(order)) tracked.actions.set(id, type);
    tracked.terminal = false;
    tracked.lastReport = undefined;
    this.log.info({ deviceId, orderId: tracked.orderId, orderUpdateId: order.orderUpdateId, route: request.route }, 'order updated');
    return order;
  }

  /**
   * Publishes one instant action and returns its actionId. Sent whether or not the AMR looks
   * online: a pause must never be held back by what the master believes.
   */
  async instantAction(deviceId: string, actionType: InstantActionType): Promise<string> {
    const [actionId] = await this.sendInstantActions(this.vehicle(deviceId), [actionType], 0);
    return actionId!;
  }

  /**
   * STOP for one AMR: ONE instantActions message with `startPause` then `cancelOrder` (both
   * blockingType NONE), at QoS 1 so the broker confirms it took it. The pause holds the vehicle
   * where it is at once; the cancel drops its order, so releasing the pause later moves nothing.
   * Sent even when the AMR is marked offline (the broker may still reach it) and never retained:
   * a retained STOP would hit the vehicle again on every reconnect, long after a release.
   * Resolves with the two actionIds once the broker has acknowledged the message.
   */
  async stopVehicle(deviceId: string): Promise<string[]> {
    return this.sendInstantActions(this.vehicle(deviceId), ['startPause', 'cancelOrder'], 1);
  }

  private async sendInstantActions(v: Vehicle, actionTypes: readonly InstantActionType[], qos: 0 | 1): Promise<string[]> {
    const stamp = this.now().getTime().toString(36);
    const actions = actionTypes.map((actionType) => ({ actionId: `${v.id}-${actionType}-${stamp}-${++this.sequence}`, actionType }));
    const message: InstantActions = {
      ...this.header(v, 'instantActions'),
      // NONE (2.1 says instant actions always are): vda-5050-lib holds every later instant action
      // behind a pending HARD one, and a pause must not wait for a cancel to finish.
      actions: actions.map(({ actionId, actionType }) => ({ actionId, actionType, blockingType: 'NONE' as const })),
    };
    const parsed = InstantActionsSchema.parse(message);
    // Tracked before the message leaves: the vehicle's answer may arrive before publish resolves.
    const cancel = actions.find((a) => a.actionType === 'cancelOrder');
    const tracked = cancel && v.order && !v.order.terminal ? v.order : undefined;
    if (tracked) tracked.cancelActionId = cancel!.actionId;
    try {
      await this.publish(v, 'instantActions', parsed, qos);
    } catch (err) {
      if (tracked && tracked.cancelActionId === cancel!.actionId) tracked.cancelActionId = undefined;
      throw err;
    }
    for (const { actionType, actionId } of actions) {
      this.log[actionType === 'stateRequest' ? 'debug' : 'info']({ deviceId: v.id, actionType, actionId, qos }, 'instant action sent');
    }
    return actions.map((a) => a.actionId);
  }

  // ---- receiving ---------------------------------------------------------------------------

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    const inbound = this.inbound(topic);
    if (!inbound) return;
    // An empty retained message only clears the topic.
    if (payload.length === 0) return;
    this.counts.received++;
    const v = inbound.vehicle;
    if (!v) {
      this.counts.unknownDevice++;
      this.drops.drop(UNKNOWN_DEVICE, 'unknown-device', `a message on ${topic}, from a vehicle the site does not know`, { topic });
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      this.counts.invalid++;
      this.drops.drop(v.id, 'schema', `a message on ${topic} is not JSON`, { topic, error: (err as Error).message });
      return;
    }
    // Checked, not copied: a valid message is kept as it came (what the schema would return is
    // the same minus fields it does not know), and the copy cost more than the check.
    const schema = INBOUND[inbound.topic];
    if (!schema.validate(json)) {
      this.counts.invalid++;
      const problems = schema.safeParse(json).error?.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
      const first = problems?.[0];
      this.drops.drop(v.id, 'schema', `invalid VDA 5050 ${inbound.topic}${first ? `: ${first.path}: ${first.message}` : ''}`, { topic, problems });
      return;
    }
    const message = json;
    if (message.manufacturer !== inbound.manufacturer || message.serialNumber !== inbound.serialNumber) {
      this.counts.invalid++;
      this.drops.drop(v.id, 'other-vehicle', `a message on ${topic} names another vehicle than its topic`, { topic, manufacturer: message.manufacturer, serialNumber: message.serialNumber });
      return;
    }
    if ((inbound.topic === 'state' || inbound.topic === 'visualization') && !this.inOrder(v, inbound.topic, (message as State).headerId, (message as State).timestamp, topic)) return;
    try {
      switch (inbound.topic) {
        case 'state':
          this.onState(v, message as State);
          break;
        case 'connection':
          this.onConnection(v, message as Connection);
          break;
        case 'visualization':
          this.onVisualization(v, message as Visualization);
          break;
        case 'factsheet':
          this.onFactsheet(v, message as Factsheet);
          break;
      }
    } catch (err) {
      this.log.error({ topic, deviceId: v.id, error: (err as Error).stack ?? String(err) }, 'handling a vehicle message failed');
    }
  };

  /**
   * What a topic carries and from whom, or undefined for a topic the master does not read. The
   * answer for a vehicle of the site is remembered (four topics each, so the memory is bounded by
   * the site): the same few topics arrive thousands of times a second.
   */
  private inbound(topic: string): Inbound | undefined {
    const known = this.inboundTopics.get(topic);
    if (known) return known;
    const parsed = parseTopic(topic);
    if (!parsed || parsed.interfaceName !== this.interfaceName) return undefined;
    if (parsed.topic === 'order' || parsed.topic === 'instantActions') return undefined;
    const { manufacturer, serialNumber } = parsed;
    const vehicle = this.byAddress.get(`${manufacturer}/${serialNumber}`);
    const inbound: Inbound = { topic: parsed.topic, manufacturer, serialNumber, vehicle };
    if (vehicle) this.inboundTopics.set(topic, inbound);
    return inbound;
  }

  /**
   * Whether a state or visualization is of now and in order: its timestamp within clockSkewMs of
   * the gateway's clock (checked first, so a message dropped for it does not move the headerId on),
   * its headerId above the last one taken from the topic and at most maxHeaderIdJump above it.
   */
  private inOrder(v: Vehicle, topic: 'state' | 'visualization', headerId: number, timestamp: string, where: string): boolean {
    if (this.clockSkewMs > 0) {
      const skew = Date.parse(timestamp) - this.now().getTime();
      if (!(Math.abs(skew) <= this.clockSkewMs)) {
        this.counts.clockSkew++;
        this.drops.drop(v.id, 'clock-skew', `a ${topic} stamped ${timestamp}, ${Math.round(skew / 1000)} s from the gateway's clock (at most ${this.clockSkewMs / 1000} s)`, { topic: where, timestamp });
        return false;
      }
    }
    const guard = v.taken[topic];
    const verdict = guard.take(headerId);
    if (verdict === 'taken') return true;
    this.counts.outOfOrder++;
    const reason: DropReason = verdict === 'backwards' ? 'headerId-backwards' : 'headerId-jump';
    this.drops.drop(v.id, reason, `a ${topic} with headerId ${headerId} after ${guard.lastTaken}`, { topic: where, headerId, last: guard.lastTaken });
    return false;
  }

  /** The vehicle's numbering may start again (see ../sequence.ts for when). */
  private restartNumbering(v: Vehicle): void {
    v.taken.state.reset();
    v.taken.visualization.reset();
  }

  /**
   * After a (re)connect: the vehicles' states may have changed meanwhile and retained state is not
   * kept; a vehicle may have restarted meanwhile without the gateway hearing its connection message.
   */
  private readonly onConnect = (): void => {
    for (const v of this.vehicles.values()) this.restartNumbering(v);
    this.requestStates();
  };

  private onState(v: Vehicle, state: State): void {
    const now = this.now();
    v.state = state;
    v.lastHeardMs = now.getTime();
    const known = this.fleet.get(v.id)!;
    const p = state.agvPosition;
    // The map it is localised on: without a position it has not said, and what was known stays.
    const mapId = p ? p.mapId : known.mapId;
    const siteMap = this.site.site.mapId;
    const wrong = mapId !== undefined && mapId !== siteMap;
    // Where the state does not tell (no lastNodeId, agvPosition or loads), what was known stays;
    // without `loads` the vehicle cannot tell what it carries.
    this.fleet.set(
      new AmrFleetState(
        known.id,
        state.lastNodeId || known.at,
        p ? new Position(p.x, p.y, p.theta) : known.pose,
        Math.max(0, Math.min(1, state.batteryState.batteryCharge / 100)),
        state.loads ? state.loads.length : known.cargo,
        state.paused ?? false,
        wrong ? 'wrong map' : activity(state),
        errorTexts(state, v),
        this.isoTime(now),
        mapId,
        v.sheet,
        policyOf(state),
      ),
    );
    const wasWrong = known.mapId !== undefined && known.mapId !== siteMap;
    if (wrong && (!wasWrong || known.mapId !== mapId)) {
      const enabled = state.maps?.find((m) => m.mapId === siteMap);
      const message = `${v.id} reports map '${mapId}', not the site's '${siteMap}': not usable until it does${enabled ? ` (it has '${siteMap}', ${enabled.mapStatus})` : ''}`;
      this.log.warn({ deviceId: v.id, mapId, siteMapId: siteMap }, message);
      this.alert({ code: 'DEVICE_WRONG_MAP', deviceId: v.id, mapId: mapId!, message });
    } else if (!wrong && wasWrong && mapId !== undefined) {
      const message = `${v.id} reports the site's map '${siteMap}' again: usable`;
      this.log.info({ deviceId: v.id, mapId }, message);
      this.alert({ code: 'DEVICE_MAP_OK', deviceId: v.id, mapId, message });
    }
    this.reportProgress(v);
  }

  /** now.toISOString(), once per millisecond: many states arrive within one. */
  private isoTime(now: Date): string {
    const ms = now.getTime();
    if (ms !== this.iso.ms) this.iso = { ms, text: now.toISOString() };
    return this.iso.text;
  }

  private onConnection(v: Vehicle, message: Connection): void {
    const now = this.now();
    v.lastHeardMs = now.getTime();
    // Whatever it says, the vehicle (re)connected or went away: it may count its headerIds from the start again.
    this.restartNumbering(v);
    if (message.connectionState === 'ONLINE') {
      this.fleet.update(v.id, { online: true, lastSeen: now.toISOString() });
    } else {
      this.fleet.update(v.id, { online: false, state: message.connectionState === 'OFFLINE' ? 'offline' : 'connection broken' });
    }
    this.log.info({ deviceId: v.id }, `${v.id} ${message.connectionState}`);
  }

  /**
   * A factsheet: kept, compared with the site (./factsheet.ts), shown in the fleet; where it falls
   * short, logged and alerted once for this factsheet.
   */
  private onFactsheet(v: Vehicle, factsheet: Factsheet): void {
    const now = this.now();
    v.lastHeardMs = now.getTime();
    v.factsheet = factsheet;
    const sheet = compareFactsheet(v.amr, factsheet, now.toISOString());
    v.sheet = sheet;
    this.fleet.update(v.id, { factsheet: sheet });
    if (sheet.problems.length === 0) {
      this.log.info({ deviceId: v.id, version: factsheet.version }, `${v.id} factsheet matches the site`);
      return;
    }
    const message = `${v.id} factsheet falls short of the site: ${sheet.problems.map((p) => p.message).join('; ')}`;
    this.log.warn({ deviceId: v.id, problems: sheet.problems }, message);
    this.alert({ code: 'FACTSHEET_MISMATCH', deviceId: v.id, message, problems: sheet.problems });
  }

  private onVisualization(v: Vehicle, message: Visualization): void {
    const now = this.now();
    v.lastHeardMs = now.getTime();
    // A pose on another map is in another frame: it says nothing of where it is on the site.
    const p = message.agvPosition?.mapId === this.site.site.mapId ? message.agvPosition : undefined;
    // A vehicle that publishes is connected: this also ends a silence the master noticed.
    this.fleet.update(v.id, { online: true, lastSeen: now.toISOString(), ...(p ? { pose: { x: p.x, y: p.y, theta: p.theta } } : {}) });
  }

  private markSilentOffline(): void {
    const now = this.now().getTime();
    for (const v of this.vehicles.values()) {
      if (v.lastHeardMs === undefined || now - v.lastHeardMs <= this.silenceMs) continue;
      // Nothing of it was taken for that long: whatever numbering it has now is taken next.
      this.restartNumbering(v);
      if (this.fleet.get(v.id)?.online) {
        this.fleet.update(v.id, { online: false, state: 'silent' });
        this.log.warn({ deviceId: v.id }, `${v.id} silent for ${Math.round((now - v.lastHeardMs) / 1000)} s: marked offline`);
      }
    }
  }

  /**
   * Asks every AMR for its state, STATE_REQUESTS_PER_TURN of them per turn of the event loop. Not
   * all at once: a thousand publishes alive together make V8 decide that what their code allocates
   * lives long (allocation-site pretenuring), and the per-message code of mqtt.js and Node's streams
   * that shares those allocation sites then allocates in the old generation for as long as the
   * process runs, which made ingesting 1,000 AMRs' states cost a third more CPU.
   */
  private requestStates(): void {
    clearImmediate(this.stateRequests);
    const vehicles = [...this.vehicles.values()];
    let next = 0;
    const send = (): void => {
      this.stateRequests = undefined;
      if (!this.started) return;
      for (const end = Math.min(next + STATE_REQUESTS_PER_TURN, vehicles.length); next < end; next++) {
        const v = vehicles[next]!;
        this.instantAction(v.id, 'stateRequest').catch((err: Error) => this.log.debug({ deviceId: v.id, error: err.message }, 'state request not sent'));
      }
      if (next < vehicles.length) this.stateRequests = setImmediate(send);
    };
    send();
  }

  // ---- order progress ----------------------------------------------------------------------

  private reportProgress(v: Vehicle): void {
    const tracked = v.order;
    const state = v.state;
    if (!tracked || !state || tracked.terminal) return;
    const progress = evaluateProgress(v.id, tracked, state);
    if (!progress) return;
    const key = JSON.stringify(progress);
    if (key === tracked.lastReport) return;
    tracked.lastReport = key;
    if (progress.finished || progress.cancelled || progress.failed !== undefined) tracked.terminal = true;
    v.progress = progress;
    for (const listener of this.listeners) {
      try {
        listener(progress);
      } catch (err) {
        this.log.error({ deviceId: v.id, error: (err as Error).stack ?? String(err) }, 'an order progress listener threw');
      }
    }
  }

  // ---- sending -----------------------------------------------------------------------------

  private vehicle(deviceId: string): Vehicle {
    const v = this.vehicles.get(deviceId);
    if (!v) throw new UnknownDeviceError(deviceId);
    return v;
  }

  /** Online and on the site's map: an order may go to it. */
  private requireOnline(v: Vehicle): DeviceState {
    const s = this.fleet.get(v.id);
    if (!s?.online) throw new DeviceOfflineError(v.id);
    if (s.mapId !== undefined && s.mapId !== this.site.site.mapId) throw new WrongMapError(v.id, s.mapId, this.site.site.mapId);
    return s;
  }

  private header(v: Vehicle, topic: 'order' | 'instantActions') {
    return {
      headerId: v.headerIds[topic]++,
      timestamp: this.now().toISOString(),
      version: v.amr.vda5050.version,
      manufacturer: v.amr.vda5050.manufacturer,
      serialNumber: v.amr.vda5050.serialNumber,
    };
  }

  private build(v: Vehicle, request: Omit<OrderRequest, 'orderId'>, orderId: string, orderUpdateId: number, firstSequenceId: number): Order {
    const { headerId, timestamp } = this.header(v, 'order');
    const order = buildOrder({
      site: this.site,
      amr: v.amr,
      graph: this.graph,
      route: request.route,
      orderId,
      orderUpdateId,
      firstSequenceId,
      actionsAtEnd: request.actionsAtEnd ?? [],
      ...(request.releasedNodes === undefined ? {} : { releasedNodes: request.releasedNodes }),
      ...(request.startDeviationXY === undefined ? {} : { startDeviationXY: request.startDeviationXY }),
      headerId,
      timestamp,
    });
    // What we send must pass the checks a vehicle makes; failing here is a bug of ours.
    return OrderSchema.parse(order);
  }

  private async publish(v: Vehicle, topic: Vda5050Topic, message: Order | InstantActions, qos: 0 | 1 = 0): Promise<void> {
    await this.client.publishAsync(vehicleTopic(this.interfaceName, v.amr.vda5050, topic), JSON.stringify(onTheWire(v, message)), { qos });
  }
}

/**
 * The message as this vehicle reads it: instant actions under the 1.1 key `instantActions` for a
 * vehicle configured so (`vda5050.instantActionsKey`), under the 2.0 key `actions` otherwise; a
 * node's allowed deviation under the 1.1 key `allowedDeviationXy` for a vehicle configured so
 * (`vda5050.allowedDeviationKey`). Only the keys change; the order of the fields is kept.
 */
function onTheWire(v: Vehicle, message: Order | InstantActions): Order | InstantActions | Record<string, unknown> {
  if ('nodes' in message) {
    if (v.amr.vda5050.allowedDeviationKey !== 'allowedDeviationXy') return message;
    return {
      ...message,
      nodes: message.nodes.map((n) => {
        if (!n.nodePosition) return n;
        const { allowedDeviationXY, ...position } = n.nodePosition;
        return { ...n, nodePosition: allowedDeviationXY === undefined ? position : { ...position, allowedDeviationXy: allowedDeviationXY } };
      }),
    };
  }
  if (!('actions' in message) || v.amr.vda5050.instantActionsKey !== 'instantActions') return message;
  const { actions, ...header } = message;
  return { ...header, instantActions: actions };
}
