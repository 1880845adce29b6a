// A virtual AMR on the broker, indistinguishable for the gateway from a real one: vda-5050-lib's
// AgvController (the VDA 5050 vehicle side, with its own MQTT connection) driving our adapter.
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
import { AgvController, ConnectionState, Topic, type ConnectionStateChangeCallback, type Order } from 'vda-5050-lib';
import type { NavGraph } from '../planners/route.ts';
import type { SiteIndex } from '../planners/site.ts';
import { VDA5050_VERSION, type Vda5050Version } from '../robots/vda5050/schemas.ts';
import type { MqttLogin } from '../robots/mqtt.ts';
import { DEFAULT_INTERFACE_NAME } from '../robots/vda5050/topics.ts';
import type { PolicyPilot } from './policy-pilot.ts';
import { VirtualAmrAdapter, type OrderSource, type PolicyPause, type VirtualAmrAdapterOptions } from './virtual-amr-adapter.ts';

export interface VirtualAmrSettings {
  brokerUrl: string;
  site: SiteIndex;
  graph: NavGraph;
  amrId: string;
  interfaceName?: string;
  /** Simulated seconds per real second (10: ten times faster). Default 1. */
  speed?: number;
  /** Station or node it starts on. Default: its home station. */
  startNode?: string;
  /** Where it stands at start, when that is off its start node (a robot stopped between two nodes). */
  startPose?: { x: number; y: number; theta: number };
  /** State of charge at start, 0..1. Default 0.9. */
  soc?: number;
  /** Real ms between state messages when nothing changes (the spec's upper bound is 30 s). Default 2000. */
  stateIntervalMs?: number;
  /** Real ms between visualization messages. Default 250. */
  visualizationIntervalMs?: number;
  /** Real ms between simulation steps. Default 50. */
  tickMs?: number;
  /** Its MQTT login (and how to trust a TLS broker); none: anonymous. */
  login?: MqttLogin;
  /** Drive it with its device's policy, held by this pilot, instead of the analytic motion model. */
  pilot?: PolicyPilot;
}

/** What drives a policy-driven virtual AMR, and how it went so far. */
export interface VirtualAmrPolicy {
  name: string;
  version: string;
  sha256: string;
  /** The shield's interventions by reason. */
  interventions: Readonly<Record<string, number>>;
  /** Control ticks run, and of those while paused. */
  ticks: number;
  pausedTicks: number;
  /** The last command the shield let through, and the speed now. */
  lastCommand: { v: number; omega: number };
  speed: { v: number; omega: number };
  /** Since its last pause (a STOP), if it was paused. */
  pause?: PolicyPause;
}

export interface VirtualAmr {
  readonly amrId: string;
  /** Where it is now. */
  position(): { x: number; y: number; theta: number };
  /** The policy that drives it; undefined when the analytic motion model does. */
  policy(): VirtualAmrPolicy | undefined;
  /** A tote put on it from outside (the arm's transfer onto this AMR); false if it already had one. */
  receiveLoad(): boolean;
  /** Switches it off cleanly: OFFLINE published, disconnected. */
  close(): Promise<void>;
  /** A crash or a cut cable: the socket is dropped without DISCONNECT, so the broker sends the last will. */
  kill(): void;
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

class VirtualAmrController extends AgvController implements OrderSource {
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

export async function startVirtualAmr(settings: VirtualAmrSettings): Promise<VirtualAmr> {
  const { site, amrId } = settings;
  const amr = site.device(amrId);
  if (!amr || amr.kind !== 'amr') throw new Error(`'${amrId}' is not an AMR of site '${site.site.id}'`);
  const startAt = settings.startNode ?? amr.home;
  const startNode = site.locate(startAt);
  if (!startNode) throw new Error(`'${startAt}' is neither a station nor a node of site '${site.site.id}'`);
  const speed = settings.speed ?? 1;
  if (!(speed > 0)) throw new Error(`speed must be positive, not ${speed}`);

  const login = settings.login;
  let adapter: VirtualAmrAdapter | undefined;
  const adapterOptions: VirtualAmrAdapterOptions = {
    site,
    graph: settings.graph,
    amr,
    startNode: startNode.id,
    ...(settings.startPose ? { startPose: settings.startPose } : {}),
    soc: settings.soc ?? 0.9,
    speed,
    tickMs: settings.tickMs ?? 50,
    created: (a) => (adapter = a),
    ...(settings.pilot ? { pilot: settings.pilot } : {}),
  };
  const controller = new VirtualAmrController(
    { manufacturer: amr.vda5050.manufacturer, serialNumber: amr.vda5050.serialNumber },
    {
      interfaceName: settings.interfaceName ?? DEFAULT_INTERFACE_NAME,
      transport: {
        brokerUrl: settings.brokerUrl,
        heartbeat: 10,
        reconnectPeriod: 500,
        connectTimeout: 5_000,
        ...(login?.username !== undefined ? { username: login.username } : {}),
        ...(login?.password !== undefined ? { password: login.password } : {}),
        ...(login?.ca !== undefined || login?.checkServerIdentity ? { tlsOptions: { ...(login.ca !== undefined ? { ca: login.ca } : {}), ...(login.checkServerIdentity ? { checkServerIdentity: login.checkServerIdentity } : {}) } } : {}),
      },
      vdaVersion: VDA5050_VERSION,
    },
    {
      agvAdapterType: VirtualAmrAdapter,
      publishStateInterval: settings.stateIntervalMs ?? 2_000,
      publishVisualizationInterval: settings.visualizationIntervalMs ?? 250,
    },
    adapterOptions,
  );
  controller.speak(amr.vda5050.version);
  await controller.start();
  await adapter!.ready;

  let closed = false;
  const shutDown = () => {
    adapter!.halt();
    controller.crash();
  };
  return {
    amrId,
    position: () => adapter!.position,
    policy: () => {
      const loaded = settings.pilot?.policies.get(amrId)?.policy;
      const a = adapter!;
      if (!loaded) return undefined;
      const { ticks, pausedTicks, lastCommand, pause } = a.policyStats;
      return {
        ...(pause ? { pause: { ...pause } } : {}), name: loaded.metadata.name, version: loaded.metadata.version, sha256: loaded.sha256, interventions: { ...a.interventions() }, ticks, pausedTicks, lastCommand: { ...lastCommand }, speed: a.speedNow };
    },
    receiveLoad: () => adapter!.receiveLoad(),
    close: async () => {
      if (closed) return;
      closed = true;
      // Once it is switching off it takes no more messages: the library throws ("Client is not
      // started") from inside its message handler for an order or instant action that arrives
      // while it stops, which would crash the process.
      (controller as unknown as { _mqtt?: { removeAllListeners(event: string): void } })._mqtt?.removeAllListeners('message');
      adapter!.halt();
      // The library waits for the broker to take OFFLINE; a broker that is gone must not hold us up.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([controller.stop().catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, 3_000)))]);
      clearTimeout(timer);
      shutDown();
    },
    kill: () => {
      if (closed) return;
      closed = true;
      shutDown();
    },
  };
}
