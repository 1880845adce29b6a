// The composition root: configuration, the logger, site, store, MQTT (an external broker or the
// embedded one), the device masters (VDA 5050, machine protocol, ROS 2) and their device ports,
// STOP, the executor, the virtual fleet and the HTTP server wired into one gateway.
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { createSecureContext, type PeerCertificate } from 'node:tls';
import type { MqttClient } from 'mqtt';
import { DevicePorts } from '../robots/device-port.ts';
import { DropCounter } from '../robots/drops.ts';
import { FleetRegistry } from '../robots/fleet-registry.ts';
import { MachineMaster } from '../robots/machine/master.ts';
import { MachinePort } from '../robots/machine/port.ts';
import { Ros2Adapter } from '../robots/ros2/adapter.ts';
import { Ros2UnavailableError } from '../robots/ros2/errors.ts';
import { Ros2Port } from '../robots/ros2/port.ts';
import { closeMqtt, connectMqtt, type MqttSettings } from '../robots/mqtt.ts';
import { Vda5050Master } from '../robots/vda5050/master.ts';
import { Vda5050Port } from '../robots/vda5050/port.ts';
import { openSiteFolder, type LoadedSite } from '../sim/site-folder.ts';
import { openGazeboFleet } from './rehearsal/gazebo.ts';
import { startVirtualFleet, type VirtualFleet } from '../sim/virtual-fleet.ts';
import { clearPolicies, withCertifiedTiming } from '../sim/policy-gate.ts';
import { buildApp, type App } from './app.ts';
import { GATEWAY_CLIENT_ID_PREFIX, startEmbeddedBroker, type EmbeddedBroker } from './broker.ts';
import { MqttAccess } from './broker-auth.ts';
import { CheckPool } from './checks/pool.ts';
import { ConfigError, type Config } from './config.ts';
import { EventHub } from './events.ts';
import { Executor } from './executor.ts';
import { createLogger, type Logger } from './log.ts';
import { StopService } from './stop.ts';
import { openStore, type Store } from './store/index.ts';

export interface Gateway {
  app: App;
  site: LoadedSite;
  store: Store;
  fleet: FleetRegistry;
  vda5050: Vda5050Master;
  machines: MachineMaster;
  /** Messages from devices that were not acted on, per device and reason (GET /v1/metrics). */
  drops: DropCounter;
  /** STOP: press, latch, release (also `POST /v1/stop`). */
  stops: StopService;
  executor: Executor;
  /** How each device is driven (robots/device-port.ts). */
  ports: DevicePorts;
  /** The worker threads plan checks run in. */
  checks: CheckPool;
  hub: EventHub;
  log: Logger;
  /** Where it listens, e.g. http://127.0.0.1:8080 (https:// with PHYGATE_TLS_CERT/KEY) */
  url: string;
  /** The broker the gateway and the devices use, e.g. mqtt://127.0.0.1:1883 */
  mqttUrl: string;
  /** True when the gateway runs the broker itself (no PHYGATE_MQTT_URL). */
  embeddedBroker: boolean;
  /** The embedded broker (no PHYGATE_MQTT_URL); its stats() count what it refused. */
  mqttBroker?: EmbeddedBroker;
  /** The embedded broker's logins and topic rules (unless PHYGATE_MQTT_AUTH=off or an external broker). */
  mqttAccess?: MqttAccess;
  /** How a client in this process trusts the embedded broker's TLS certificate (PHYGATE_MQTT_TLS_CERT). */
  mqttTrust?: EmbeddedTrust;
  /** The devices with a `ros2` block, over ROS 2; only with PHYGATE_ROS2=on. */
  ros2?: Ros2Adapter;
  /** Running in this process unless PHYGATE_VIRTUAL_FLEET=0. */
  virtualFleet?: VirtualFleet;
  /** A token created because none existed; shown once, never stored in plaintext. */
  bootstrapToken?: string;
  close(): Promise<void>;
}

/** Broker settings from the configuration; TLS files are read here, so a wrong path fails at start. */
export function mqttSettings(config: Config, url: string, clientId: string): MqttSettings {
  const file = (name: keyof Config) => {
    const path = config[name] as string | undefined;
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`${name}: cannot read '${path}': ${(err as Error).message}`);
    }
  };
  const ca = file('PHYGATE_MQTT_CA_FILE');
  const cert = file('PHYGATE_MQTT_CERT_FILE');
  const key = file('PHYGATE_MQTT_KEY_FILE');
  return {
    url,
    clientId,
    ...(config.PHYGATE_MQTT_USERNAME !== undefined ? { username: config.PHYGATE_MQTT_USERNAME } : {}),
    ...(config.PHYGATE_MQTT_PASSWORD !== undefined ? { password: config.PHYGATE_MQTT_PASSWORD } : {}),
    ...(ca !== undefined ? { ca } : {}),
    ...(cert !== undefined ? { cert } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(config.PHYGATE_MQTT_TLS_INSECURE ? { rejectUnauthorized: false } : {}),
  };
}

/** Loopback only: nothing but this machine can reach it. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

export interface EmbeddedTrust {
  ca: string;
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined;
}

/**
 * The embedded broker's TLS settings (both files or neither), and how this process's own clients
 * (the gateway's, the virtual fleet's) trust it: they connect to 127.0.0.1, a name the
 * certificate need not carry, so they check that the broker shows exactly this certificate
 * instead, with the certificate itself (or PHYGATE_MQTT_CA_FILE) as the CA.
 */
function embeddedTls(config: Config): { tls: { cert: string; key: string }; trust: EmbeddedTrust } | undefined {
  const { PHYGATE_MQTT_TLS_CERT: certFile, PHYGATE_MQTT_TLS_KEY: keyFile } = config;
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) throw new ConfigError('PHYGATE_MQTT_TLS_CERT and PHYGATE_MQTT_TLS_KEY go together: set both, or neither');
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`${name}: cannot read '${path}': ${(err as Error).message}`);
    }
  };
  const cert = read('PHYGATE_MQTT_TLS_CERT', certFile);
  const key = read('PHYGATE_MQTT_TLS_KEY', keyFile);
  let fingerprint: string;
  try {
    fingerprint = new X509Certificate(cert).fingerprint256;
  } catch (err) {
    throw new ConfigError(`PHYGATE_MQTT_TLS_CERT: '${certFile}' is not a PEM certificate: ${(err as Error).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`PHYGATE_MQTT_TLS_CERT and PHYGATE_MQTT_TLS_KEY cannot be used together: ${(err as Error).message}`);
  }
  const ca = config.PHYGATE_MQTT_CA_FILE !== undefined ? read('PHYGATE_MQTT_CA_FILE', config.PHYGATE_MQTT_CA_FILE) : cert;
  return {
    tls: { cert, key },
    trust: {
      ca,
      checkServerIdentity: (_host, peer) => (peer.fingerprint256 === fingerprint ? undefined : new Error('the broker does not show the certificate of PHYGATE_MQTT_TLS_CERT')),
    },
  };
}

/** The HTTPS certificate and key (PHYGATE_TLS_CERT/KEY), read at start so a wrong path fails loudly; undefined: plain HTTP. */
export function httpsFiles(config: Pick<Config, 'PHYGATE_TLS_CERT' | 'PHYGATE_TLS_KEY'>): { cert: Buffer; key: Buffer } | undefined {
  if (config.PHYGATE_TLS_CERT === undefined || config.PHYGATE_TLS_KEY === undefined) return undefined;
  const read = (name: 'PHYGATE_TLS_CERT' | 'PHYGATE_TLS_KEY', path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`${name}: cannot read '${path}': ${(err as Error).message}`);
    }
  };
  return { cert: read('PHYGATE_TLS_CERT', config.PHYGATE_TLS_CERT), key: read('PHYGATE_TLS_KEY', config.PHYGATE_TLS_KEY) };
}

/** What to warn of when tokens would cross a network in clear: plain HTTP on an address other than loopback. */
export function plainHttpWarning(config: Pick<Config, 'PHYGATE_HOST' | 'PHYGATE_TLS_CERT'>): string | undefined {
  if (config.PHYGATE_TLS_CERT !== undefined) return undefined;
  const host = config.PHYGATE_HOST.toLowerCase();
  if (host === 'localhost' || host === '::1' || host.startsWith('127.')) return undefined;
  return `serving plain HTTP on ${config.PHYGATE_HOST}: every token, the admin's too, crosses the network readable; set PHYGATE_TLS_CERT and PHYGATE_TLS_KEY`;
}

export async function startGateway(config: Config, log: Logger = createLogger(config.PHYGATE_LOG_LEVEL)): Promise<Gateway> {
  const https = httpsFiles(config);
  const loaded = await openSiteFolder(config.PHYGATE_SITE);
  // A robot driven by a learned policy is used only with a passing certificate for this floor; the
  // check times its drives by what the certificate measured.
  const policies = await clearPolicies(loaded);
  const site = withCertifiedTiming(loaded, policies);
  const store = openStore(resolve(config.PHYGATE_DATA_DIR));
  // Everything started so far, closed in reverse order if a later part fails (or on close).
  const started: (() => Promise<void> | void)[] = [() => store.close()];
  const closeAll = async () => {
    for (const stop of started.splice(0).reverse()) {
      try {
        await stop();
      } catch {
        // keep closing the rest
      }
    }
  };
  try {
    const fleet = new FleetRegistry(site.index, log);
    for (const p of policies) {
      if (p.problem) {
        log.warn({ device: p.device }, `${p.device} is not available: ${p.problem}`);
        fleet.withhold(p.device, p.problem);
      } else log.info({ device: p.device }, `${p.device} is driven by policy ${p.cleared!.name} ${p.cleared!.version} (sha256 ${p.cleared!.sha256.slice(0, 12)}…); the check times its drives at ${p.cleared!.timeScale}× the analytic profile`);
    }
    let broker: EmbeddedBroker | undefined;
    let mqttAccess: MqttAccess | undefined;
    let mqttTrust: EmbeddedTrust | undefined;
    if (!config.PHYGATE_MQTT_URL) {
      const tls = embeddedTls(config);
      mqttTrust = tls?.trust;
      // Without logins anyone who reaches the broker can drive the robots: that is allowed only
      // where nobody but this machine reaches it.
      if (config.PHYGATE_MQTT_AUTH === 'off' && !isLoopback(config.PHYGATE_MQTT_HOST)) {
        throw new ConfigError(`PHYGATE_MQTT_AUTH=off is allowed only when the embedded broker listens on loopback, not on '${config.PHYGATE_MQTT_HOST}': anyone on the network could drive the robots`);
      }
      if (config.PHYGATE_MQTT_AUTH === 'on') mqttAccess = new MqttAccess({ site: site.index, interfaceName: config.PHYGATE_VDA_INTERFACE, store: store.deviceCredentials });
      broker = await startEmbeddedBroker({
        host: config.PHYGATE_MQTT_HOST,
        port: config.PHYGATE_MQTT_PORT,
        auth: mqttAccess ?? 'off',
        limits: {
          maxPacketBytes: config.PHYGATE_MQTT_MAX_PACKET,
          maxConnections: config.PHYGATE_MQTT_MAX_CONNECTIONS,
          maxSubscriptionsPerClient: config.PHYGATE_MQTT_MAX_SUBSCRIPTIONS,
        },
        ...(tls ? { tls: tls.tls } : {}),
        log,
      });
      const b = broker;
      started.push(() => b.close());
    } else if (config.PHYGATE_MQTT_TLS_CERT !== undefined || config.PHYGATE_MQTT_TLS_KEY !== undefined) {
      throw new ConfigError('PHYGATE_MQTT_TLS_CERT and PHYGATE_MQTT_TLS_KEY are for the embedded broker; with PHYGATE_MQTT_URL use an mqtts:// URL (and PHYGATE_MQTT_CA_FILE)');
    }
    const mqttUrl = config.PHYGATE_MQTT_URL ?? broker!.url;
    const clientId = `${GATEWAY_CLIENT_ID_PREFIX}-${site.index.site.id}-${randomBytes(4).toString('hex')}`;
    const client: MqttClient = await connectMqtt(
      broker ? { url: mqttUrl, clientId, ...mqttAccess?.gateway, ...mqttTrust } : mqttSettings(config, mqttUrl, clientId),
    );
    started.push(() => closeMqtt(client, true));
    const drops = new DropCounter({ log });
    const vda5050 = new Vda5050Master({
      client,
      site: site.index,
      fleet,
      graph: site.graph,
      interfaceName: config.PHYGATE_VDA_INTERFACE,
      log,
      drops,
      clockSkewMs: config.PHYGATE_STATE_CLOCK_SKEW_S * 1000,
    });
    await vda5050.start();
    started.push(() => vda5050.stop());
    const machines = new MachineMaster({ client, site: site.index, siteId: site.index.site.id, fleet, log, drops });
    await machines.start();
    started.push(() => machines.stop());
    // ROS 2 only when asked for; without a usable ROS 2 the gateway does not start, and says why.
    let ros2: Ros2Adapter | undefined;
    if (config.PHYGATE_ROS2 === 'on') {
      const adapter = new Ros2Adapter({ site: site.index, fleet, log });
      started.push(() => adapter.close());
      await adapter.start().catch((err: unknown) => {
        throw err instanceof Ros2UnavailableError ? new ConfigError(`PHYGATE_ROS2=on, but ${err.message}`) : err;
      });
      ros2 = adapter;
    }
    // Rehearsals on a Gazebo fleet over ROS 2 when asked for; a companion site that does not fit,
    // the floor's own ROS domain or no usable ROS 2 keep the gateway from starting, saying why.
    const rehearsalFleet = await openGazeboFleet(config, site);
    const vdaPort = new Vda5050Port(vda5050, fleet, log);
    const machinePort = new MachinePort(machines, fleet, site.index, log);
    started.push(() => vdaPort.close(), () => machinePort.close());
    const ports = new DevicePorts(site.index, { vda5050: vdaPort, machine: machinePort, ...(ros2 ? { ros2: new Ros2Port(ros2, site.index, log) } : {}) });
    // STOP is wired before any device can connect, so one that comes online while a stop is
    // latched is told at once; stops still active from before a restart go out again now.
    const hub = new EventHub();
    // A vehicle on another map, or whose factsheet falls short of the site: told at once (`alert`).
    vda5050.onAlert((a) => hub.publish('alert', a));
    const stops = new StopService({ store, site, fleet, ports, hub, log });
    started.push(() => stops.close());
    await stops.resume();
    let virtualFleet: VirtualFleet | undefined;
    if (config.PHYGATE_VIRTUAL_FLEET) {
      // Each virtual device logs in as itself, with credentials that live as long as this process.
      const access = mqttAccess;
      const trust = mqttTrust;
      const vf = await startVirtualFleet({
        brokerUrl: mqttUrl,
        site,
        speed: config.PHYGATE_FLEET_SPEED,
        interfaceName: config.PHYGATE_VDA_INTERFACE,
        log: (line) => log.warn(line),
        withheld: new Set(policies.flatMap((p) => (p.problem ? [p.device] : []))),
        ...(access || trust ? { credentials: (id: string) => ({ ...access?.inProcessCredentials(id), ...trust }) } : {}),
      });
      virtualFleet = vf;
      started.push(() => vf.close());
    }
    const executor = new Executor({
      store,
      site,
      fleet,
      ports,
      hub,
      stops,
      log,
      timeScale: config.PHYGATE_VIRTUAL_FLEET ? config.PHYGATE_FLEET_SPEED : 1,
      offlineGraceMs: config.PHYGATE_OFFLINE_GRACE_S * 1000,
      commandTtlMs: config.PHYGATE_COMMAND_TTL_S * 1000,
    });
    started.push(() => executor.close());
    const checks = new CheckPool({ site, size: config.PHYGATE_CHECK_WORKERS, budgetMs: config.PHYGATE_CHECK_BUDGET_MS, nice: config.PHYGATE_CHECK_NICE, log });
    checks.warm();
    started.push(() => checks.close());
    const app = await buildApp({ config, site, store, fleet, hub, stops, timeScale: config.PHYGATE_VIRTUAL_FLEET ? config.PHYGATE_FLEET_SPEED : 1, runner: executor, traffic: executor.traffic, drops, log, checker: checks, ...(https ? { https } : {}), ...(rehearsalFleet ? { rehearsalFleet } : {}) });
    started.push(() => app.close());
    const address = await app.listen({ port: config.PHYGATE_PORT, host: config.PHYGATE_HOST });
    const exposed = plainHttpWarning(config);
    if (exposed) log.warn({ host: config.PHYGATE_HOST }, exposed);
    // Only once listening: a start that fails must not leave an admin token nobody was shown.
    const bootstrapToken =
      !config.PHYGATE_ADMIN_TOKEN && store.tokens.count() === 0 ? store.tokens.create('admin', 'bootstrap-admin').token : undefined;
    // Open outbox entries are reconciled with the devices; running missions go on, approved ones start.
    executor.recover();
    let closing: Promise<void> | undefined;
    return {
      app,
      site,
      store,
      fleet,
      vda5050,
      machines,
      drops,
      stops,
      executor,
      ports,
      checks,
      hub,
      log,
      url: address,
      mqttUrl,
      embeddedBroker: broker !== undefined,
      ...(broker ? { mqttBroker: broker } : {}),
      ...(mqttAccess ? { mqttAccess } : {}),
      ...(mqttTrust ? { mqttTrust } : {}),
      ...(ros2 ? { ros2 } : {}),
      ...(virtualFleet ? { virtualFleet } : {}),
      ...(bootstrapToken ? { bootstrapToken } : {}),
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
