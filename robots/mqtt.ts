// The MQTT connection every adapter shares: mqtt.js v5 with the options that suit commands to
// machines. A command must never be delivered late from an offline queue (a pause sent while
// the link was down must not arrive minutes later), so QoS 0 messages are not queued offline;
// the keepalive is short so a dead link is noticed within seconds; reconnects back off from
// 0.5 s to 10 s and resubscribe by themselves.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export interface MqttSettings {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** TLS: PEM contents (not paths). */
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  /** TLS: replaces the host name check (a client that pins the certificate it expects). */
  checkServerIdentity?: (host: string, cert: import('node:tls').PeerCertificate) => Error | undefined;
  /** Sent by the broker when this client vanishes (VDA 5050's CONNECTIONBROKEN, say). */
  will?: { topic: string; payload: string; qos: 0 | 1; retain: boolean };
  keepaliveS?: number;
}

/** A device's login to the broker and how it trusts a TLS broker (the rest of its settings are its own). */
export type MqttLogin = Pick<MqttSettings, 'username' | 'password' | 'ca' | 'checkServerIdentity'>;

export const RECONNECT_MIN_MS = 500;
export const RECONNECT_MAX_MS = 10_000;

/**
 * mqtt.js traces every packet through `debug` (a dozen calls each, with format strings), which costs
 * even when nothing is printed; unless DEBUG may ask for its trace, it gets a no-op instead.
 */
const mqttTrace = (debug = process.env.DEBUG ?? ''): Pick<IClientOptions, 'log'> => (/mqttjs|\*/.test(debug) ? {} : { log: () => {} });

export function mqttOptions(s: MqttSettings): IClientOptions {
  return {
    ...mqttTrace(),
    clientId: s.clientId,
    protocolVersion: 4, // MQTT 3.1.1, what VDA 5050 specifies
    clean: true,
    keepalive: s.keepaliveS ?? 10,
    connectTimeout: 5_000,
    reconnectPeriod: RECONNECT_MIN_MS,
    resubscribe: true,
    queueQoSZero: false,
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(s.ca !== undefined ? { ca: s.ca } : {}),
    ...(s.cert !== undefined ? { cert: s.cert } : {}),
    ...(s.key !== undefined ? { key: s.key } : {}),
    ...(s.rejectUnauthorized !== undefined ? { rejectUnauthorized: s.rejectUnauthorized } : {}),
    ...(s.checkServerIdentity ? { checkServerIdentity: s.checkServerIdentity } : {}),
    ...(s.will ? { will: { topic: s.will.topic, payload: Buffer.from(s.will.payload), qos: s.will.qos, retain: s.will.retain } } : {}),
  };
}

export class MqttConnectError extends Error {
  override name = 'MqttConnectError';
}

/**
 * Connects and resolves once the first CONNACK arrives (or rejects after `timeoutMs`, closing
 * the client). Afterwards the client reconnects by itself with a doubling back-off.
 */
export async function connectMqtt(s: MqttSettings, timeoutMs = 10_000): Promise<MqttClient> {
  const client = mqtt.connect(s.url, mqttOptions(s));
  client.on('connect', () => {
    client.options.reconnectPeriod = RECONNECT_MIN_MS;
    // Commands (a STOP above all) go out at once, not held back by Nagle's algorithm.
    (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
  });
  client.on('close', () => {
    client.options.reconnectPeriod = Math.min(RECONNECT_MAX_MS, (client.options.reconnectPeriod ?? RECONNECT_MIN_MS) * 2);
  });
  // Errors are reported through 'connect'/'close'; an unhandled 'error' event must not crash the gateway.
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      client.end(true);
      reject(new MqttConnectError(`no connection to MQTT broker ${s.url} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('connect', onConnect);
    };
    client.on('connect', onConnect);
  });
  return client;
}

/** Ends the client, waiting for in-flight QoS 1 messages to be sent. */
export function closeMqtt(client: MqttClient, force = false): Promise<void> {
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}
