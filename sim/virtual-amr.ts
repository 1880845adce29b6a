// A virtual AMR on the broker, indistinguishable for the gateway from a real one: vda-5050-lib's
// AgvController (the VDA 5050 vehicle side, with its own MQTT connection, and what phygate adds
// to it: robots/vda5050/vehicle-controller.ts) driving our adapter.
import type { NavGraph } from '../planners/route.ts';
import type { SiteIndex } from '../planners/site.ts';
import { VDA5050_VERSION } from '../robots/vda5050/schemas.ts';
import { VehicleController, vehicleTransport } from '../robots/vda5050/vehicle-controller.ts';
import type { MqttLogin } from '../robots/mqtt.ts';
import { DEFAULT_INTERFACE_NAME } from '../robots/vda5050/topics.ts';
import type { PolicyPilot } from './policy-pilot.ts';
import { VirtualAmrAdapter, type PolicyPause, type VirtualAmrAdapterOptions } from './virtual-amr-adapter.ts';

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
  /**
   * Neither on a route nor moving: the pilot does not tick it (and sleeps when no AMR needs a
   * tick) until it is given a route.
   */
  resting: boolean;
}

export interface VirtualAmr {
  readonly amrId: string;
  /** Where it is now. */
  position(): { x: number; y: number; theta: number };
  /** The policy that drives it; undefined when the analytic motion model does. */
  policy(): VirtualAmrPolicy | undefined;
  /** On a route, moving, running an action or charging. */
  atWork(): boolean;
  /** A tote put on it from outside (the arm's transfer onto this AMR); false if it already had one. */
  receiveLoad(): boolean;
  /** Switches it off cleanly: OFFLINE published, disconnected. */
  close(): Promise<void>;
  /** A crash or a cut cable: the socket is dropped without DISCONNECT, so the broker sends the last will. */
  kill(): void;
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
  const controller = new VehicleController(
    { manufacturer: amr.vda5050.manufacturer, serialNumber: amr.vda5050.serialNumber },
    {
      interfaceName: settings.interfaceName ?? DEFAULT_INTERFACE_NAME,
      transport: vehicleTransport(settings.brokerUrl, login),
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
    atWork: () => adapter!.atWork,
    policy: () => {
      const loaded = settings.pilot?.policies.get(amrId)?.policy;
      const a = adapter!;
      if (!loaded) return undefined;
      const { ticks, pausedTicks, lastCommand, pause } = a.policyStats;
      return {
        ...(pause ? { pause: { ...pause } } : {}), name: loaded.metadata.name, version: loaded.metadata.version, sha256: loaded.sha256, interventions: { ...a.interventions() }, ticks, pausedTicks, lastCommand: { ...lastCommand }, speed: a.speedNow, resting: a.resting };
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
