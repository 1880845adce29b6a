// VDA 5050 topic names: {interfaceName}/v2/{manufacturer}/{serialNumber}/{topic}.
export const VDA5050_TOPICS = ['order', 'instantActions', 'state', 'visualization', 'connection', 'factsheet'] as const;
export type Vda5050Topic = (typeof VDA5050_TOPICS)[number];

export const DEFAULT_INTERFACE_NAME = 'uagv';
export const MAJOR_VERSION = 'v2';

export interface VehicleAddress {
  manufacturer: string;
  serialNumber: string;
}

export interface ParsedTopic extends VehicleAddress {
  interfaceName: string;
  majorVersion: string;
  topic: Vda5050Topic;
}

/** A topic level may not be empty nor hold the separator or wildcards. */
function assertLevel(what: string, level: string): void {
  if (level === '' || /[/+#\u0000]/.test(level)) throw new Error(`${what} '${level}' cannot be an MQTT topic level`);
}

export function vehicleTopic(interfaceName: string, vehicle: VehicleAddress, topic: Vda5050Topic): string {
  assertLevel('interfaceName', interfaceName);
  assertLevel('manufacturer', vehicle.manufacturer);
  assertLevel('serialNumber', vehicle.serialNumber);
  return `${interfaceName}/${MAJOR_VERSION}/${vehicle.manufacturer}/${vehicle.serialNumber}/${topic}`;
}

/** A subscription filter: every vehicle of a manufacturer (`+` serial) or of all manufacturers. */
export function topicFilter(interfaceName: string, topic: Vda5050Topic, manufacturer = '+', serialNumber = '+'): string {
  assertLevel('interfaceName', interfaceName);
  if (manufacturer !== '+') assertLevel('manufacturer', manufacturer);
  if (serialNumber !== '+') assertLevel('serialNumber', serialNumber);
  return `${interfaceName}/${MAJOR_VERSION}/${manufacturer}/${serialNumber}/${topic}`;
}

/** The parts of a VDA 5050 topic, or undefined for anything else. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const levels = topic.split('/');
  if (levels.length !== 5 || levels.some((l) => l === '')) return undefined;
  const [interfaceName, majorVersion, manufacturer, serialNumber, name] = levels as [string, string, string, string, string];
  if (!/^v\d+$/.test(majorVersion)) return undefined;
  if (!(VDA5050_TOPICS as readonly string[]).includes(name)) return undefined;
  return { interfaceName, majorVersion, manufacturer, serialNumber, topic: name as Vda5050Topic };
}
