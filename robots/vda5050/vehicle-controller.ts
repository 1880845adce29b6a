// The VDA 5050 vehicle side phygate runs itself, on a virtual AMR and on a robot (`phygate edge`):
// vda-5050-lib's AgvController (with its own MQTT connection) with what it lacks.
//
// What the library does on the wire, and what we add:
// * `connection` ONLINE (retained) when it starts, OFFLINE (retained) when it stops, and a
//   retained last will CONNECTIONBROKEN. The library hard-codes QoS 0 for everything; the spec
//   asks QoS 1 for these three, so we raise them (and only them).
// * The library reads instant actions under the VDA 5050 1.1 key `instantActions`; the spec (2.0)
//   and the gateway use `actions`. We rename the key as a message arrives, before the library
//   validates it, so the virtual AMR obeys a STOP sent by the spec (and still takes the old name).
// * The library speaks 2.0.0 only (it drops a message of any other version). A vehicle whose site
//   entry says `vda5050.version: '2.1.0'` stamps 2.1.0 on everything it sends, its last will
//   included, and takes messages stamped 2.1.0: the library checks them as 2.0.0 ones, which the
//   gateway's 2.1 messages are (it sends none of 2.1's additions).
// * After a reconnect the library publishes its state but not ONLINE again, so a retained
//   CONNECTIONBROKEN from the drop would stay on the broker: we republish ONLINE.
import {
  AgvController,
  ConnectionState,
  EStop,
  OperatingMode,
  Topic,
  type ActionContext,
  type ActionStatusChangeInfo,
  type AgvPosition,
  type AttachContext,
  type BatteryState,
  type ConnectionStateChangeCallback,
  type MqttTransportOptions,
  type Order,
} from 'vda-5050-lib';
import type { MqttLogin } from '../mqtt.ts';
import { VDA5050_VERSION, type Vda5050Version } from './schemas.ts';

/** Lets an adapter read the order the controller is working on (stitched updates included). */
export interface OrderSource {
  activeOrder(): Order | undefined;
}

/**
 * Hands the controller an adapter's first state: where the vehicle stands, standing still, not
 * paused, no loads, no errors. Resolves once the controller has subscribed to orders and published it.
 */
export function attachVehicle(context: AttachContext, at: { agvPosition: AgvPosition; lastNodeId: string; batteryState: BatteryState }): Promise<void> {
  // `attached` is declared void but is async: it subscribes to orders before the first state goes out.
  const done: unknown = context.attached({
    agvPosition: at.agvPosition,
    velocity: { vx: 0, vy: 0, omega: 0 },
    lastNodeId: at.lastNodeId,
    lastNodeSequenceId: 0,
    batteryState: at.batteryState,
    driving: false,
    paused: false,
    loads: [],
    errors: [],
    operatingMode: OperatingMode.Automatic,
    safetyState: { eStop: EStop.None, fieldViolation: false },
  });
  return Promise.resolve(done).then(() => undefined);
}

/**
 * An action's status change, to the controller on the next turn of the event loop: the controller
 * reacts to it by calling back into the adapter, and may be iterating its own lists right now. A
 * stopped controller throws on every state update: once `halted()`, nothing is reported.
 */
export function reportActionLater(ctx: ActionContext, change: ActionStatusChangeInfo, halted: () => boolean, before?: () => void): void {
  setImmediate(() => {
    if (halted()) return;
    before?.();
    ctx.updateActionStatus(change);
  });
}

/** The controller's MQTT transport for a broker and a login (none: anonymous). */
export function vehicleTransport(brokerUrl: string, login: MqttLogin | undefined): MqttTransportOptions {
  return {
    brokerUrl,
    heartbeat: 10,
    reconnectPeriod: 500,
    connectTimeout: 5_000,
    ...(login?.username !== undefined ? { username: login.username } : {}),
    ...(login?.password !== undefined ? { password: login.password } : {}),
    ...(login?.ca !== undefined || login?.checkServerIdentity ? { tlsOptions: { ...(login.ca !== undefined ? { ca: login.ca } : {}), ...(login.checkServerIdentity ? { checkServerIdentity: login.checkServerIdentity } : {}) } } : {}),
  };
}

/** What the library's client does with MQTT, reached into: it offers no hooks for either. */
interface ClientInternals {
  _dispatchMessage(mqttTopic: string, mqttPayload: Buffer): void;
  _withObjectHeader(topic: string, subject: unknown, object: unknown): { version: string };
  validateTopicObject(topic: string, object: unknown, vdaVersion: string): void;
  _withMqttProperties(pub: { qos?: number; topic?: string }): { qos: number };
  publishTopic(topic: Topic, subject: unknown, object: unknown, options?: unknown): Promise<unknown>;
}

/** The spec's QoS for `connection` (and so the last will, which is a connection message). */
const CONNECTION_QOS = 1;

/**
 * An instantActions payload with its list under the 2.0 key `actions` renamed to the 1.1 key the
 * library validates against; anything else (already the old key, not JSON) is passed unchanged.
 */
export function toLibraryInstantActions(payload: Buffer): Buffer {
  let message: unknown;
  try {
    message = JSON.parse(payload.toString('utf8'));
  } catch {
    return payload;
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return payload;
  const { actions, ...rest } = message as Record<string, unknown>;
  if (actions === undefined || 'instantActions' in rest) return payload;
  return Buffer.from(JSON.stringify({ ...rest, instantActions: actions }));
}

export class VehicleController extends AgvController implements OrderSource {
  constructor(...args: ConstructorParameters<typeof AgvController>) {
    super(...args);
    const self = this as unknown as ClientInternals;
    const dispatch = self._dispatchMessage.bind(this);
    self._dispatchMessage = (mqttTopic, mqttPayload) =>
      dispatch(mqttTopic, mqttTopic.endsWith('/instantActions') ? toLibraryInstantActions(mqttPayload) : mqttPayload);
    // The last will carries its topic; a publish does not, so the connection topic is marked
    // around the (synchronous) part of publishTopic that builds the MQTT options.
    let connectionPublish = false;
    const withProperties = self._withMqttProperties.bind(this);
    self._withMqttProperties = (pub) => {
      const out = withProperties(pub);
      if (connectionPublish || pub.topic?.endsWith('/connection')) out.qos = CONNECTION_QOS;
      return out;
    };
    const publishTopic = self.publishTopic.bind(this);
    self.publishTopic = (topic, subject, object, options) => {
      connectionPublish = topic === Topic.Connection;
      try {
        return publishTopic(topic, subject, object, options);
      } finally {
        connectionPublish = false;
      }
    };
  }

  /**
   * Speaks `version` on the wire while the library works in its own 2.0.0: headers made are
   * stamped `version`, and a message stamped `version` is checked as a 2.0.0 one. Call before start.
   */
  speak(version: Vda5050Version): void {
    if (version === VDA5050_VERSION) return;
    const self = this as unknown as ClientInternals;
    const header = self._withObjectHeader.bind(this);
    self._withObjectHeader = (topic, subject, object) => {
      const out = header(topic, subject, object);
      out.version = version;
      return out;
    };
    const validate = self.validateTopicObject.bind(this);
    self.validateTopicObject = (topic, object, vdaVersion) => {
      const stamped = typeof object === 'object' && object !== null && (object as { version?: unknown }).version === version;
      validate(topic, stamped ? { ...object, version: vdaVersion } : object, vdaVersion);
    };
  }

  activeOrder(): Order | undefined {
    return this.currentOrder;
  }

  override registerConnectionStateChange(callback: ConnectionStateChangeCallback): void {
    super.registerConnectionStateChange((current, previous) => {
      if (current === 'online' && previous !== 'online' && this.isStarted) {
        this.publish(Topic.Connection, { connectionState: ConnectionState.Online }, { retainMessage: true }).catch(() => {});
      }
      callback(current, previous);
    });
  }

  /** Drops the connection as a crash would. Reaches into the library's client: it offers no such thing. */
  crash(): void {
    const internals = this as unknown as {
      _mqtt?: { stream?: { destroy(): void }; end(force: boolean): void };
      _publishStateTimerId?: ReturnType<typeof setTimeout>;
      _publishVisualizationIntervalId?: ReturnType<typeof setInterval>;
    };
    internals._mqtt?.stream?.destroy();
    internals._mqtt?.end(true);
    clearTimeout(internals._publishStateTimerId);
    clearInterval(internals._publishVisualizationIntervalId);
  }
}

