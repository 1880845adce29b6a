// Topics of the machine protocol: phygate/v1/{site}/{deviceId}/{command|state|connection},
// with the QoS and retain flag each one is published with (PROTOCOL.md says why).
export const MACHINE_TOPIC_ROOT = 'phygate/v1';

export const CHANNELS = ['command', 'state', 'connection'] as const;
export type Channel = (typeof CHANNELS)[number];

export const PUBLISH: Record<Channel, { qos: 1; retain: boolean }> = {
  command: { qos: 1, retain: false },
  state: { qos: 1, retain: true },
  connection: { qos: 1, retain: true },
};

/** Site and device ids are a topic level each: no '/', and no MQTT wildcards. */
const LEVEL = /^[^/+#]+$/;

function level(kind: string, value: string): string {
  if (!LEVEL.test(value)) throw new Error(`${kind} '${value}' cannot be a topic level`);
  return value;
}

export function machineTopic(siteId: string, deviceId: string, channel: Channel): string {
  return `${MACHINE_TOPIC_ROOT}/${level('site id', siteId)}/${level('device id', deviceId)}/${channel}`;
}

/** The subscription for one channel of every device of a site. */
export function machineSubscription(siteId: string, channel: Channel): string {
  return `${MACHINE_TOPIC_ROOT}/${level('site id', siteId)}/+/${channel}`;
}

export interface MachineTopic {
  siteId: string;
  deviceId: string;
  channel: Channel;
}

/** A topic of this protocol → its parts; anything else (another protocol on the same broker) → undefined. */
export function parseMachineTopic(topic: string): MachineTopic | undefined {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== MACHINE_TOPIC_ROOT) return undefined;
  const [, , siteId, deviceId, channel] = parts as [string, string, string, string, string];
  if (!siteId || !deviceId || !(CHANNELS as readonly string[]).includes(channel)) return undefined;
  return { siteId, deviceId, channel: channel as Channel };
}
