// Everything on the VDA 5050 topics of a broker, captured as it arrives, and checked against the
// specification's JSON schemas (test/helpers/vda5050-schemas.ts) for releases 2.0.0 and 2.1.0.
// Any test with a broker can add it: `const wire = await captureVdaWire(t, url)` before the run,
// `checkVdaWire(t, wire)` after it.
import type { Test } from 'tap';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { loadVda5050Schemas, SCHEMA_TOPICS, SCHEMA_VERSIONS, type SchemaTopic, type SchemaVersion, type Vda5050Schemas } from './vda5050-schemas.ts';

export interface Captured {
  topic: string;
  /** The topic's last level: order, instantActions, state, … */
  kind: string;
  /** As delivered to a QoS 1 subscription: the QoS it was published at, up to 1. */
  qos: number;
  retain: boolean;
  text: string;
}

let loaded: Vda5050Schemas | { missing: string } | undefined;
export function vda5050Schemas(): Vda5050Schemas | { missing: string } {
  return (loaded ??= loadVda5050Schemas());
}

/**
 * Subscribes to `<interface>/#` at QoS 1; the array fills as messages arrive. Closed when `t`
 * ends. `login`: on the gateway's embedded broker, which lets no one in without one, the
 * gateway's own (`Gateway.mqttAccess.gateway`): only it may read every vehicle's topics.
 */
export async function captureVdaWire(t: Test, url: string, login: { username?: string; password?: string } = {}, interfaceName = 'uagv'): Promise<Captured[]> {
  const seen: Captured[] = [];
  const watch = await connectMqtt({ url, clientId: `vda-wire-${process.pid}-${Math.random().toString(36).slice(2)}`, ...login });
  t.teardown(() => closeMqtt(watch, true));
  watch.on('message', (topic, payload, packet) => {
    // An empty retained message only clears a topic.
    if (payload.length === 0) return;
    seen.push({ topic, kind: topic.split('/').at(-1)!, qos: packet.qos, retain: packet.retain, text: payload.toString('utf8') });
  });
  await watch.subscribeAsync(`${interfaceName}/#`, { qos: 1 });
  return seen;
}

/**
 * Each problem names the topic, the schema and the path in it, and the message. [] when all is
 * valid against every one of `versions` (default: both).
 */
export function wireProblems(schemas: Vda5050Schemas, seen: readonly Captured[], versions: readonly SchemaVersion[] = SCHEMA_VERSIONS): string[] {
  const problems: string[] = [];
  for (const c of seen) {
    if (!(SCHEMA_TOPICS as readonly string[]).includes(c.kind)) {
      problems.push(`${c.topic}: not a VDA 5050 topic`);
      continue;
    }
    let message: unknown;
    try {
      message = JSON.parse(c.text);
    } catch {
      problems.push(`${c.topic}: not JSON: ${c.text.slice(0, 200)}`);
      continue;
    }
    for (const version of versions) {
      for (const p of schemas.check(version, c.kind as SchemaTopic, message)) problems.push(`${c.topic}: ${p}\n  message: ${c.text.slice(0, 600)}`);
    }
  }
  return problems;
}

/** Asserts every captured message valid against both schema versions; says so and checks nothing where the schemas are missing. */
export function checkVdaWire(t: Test, seen: readonly Captured[]): void {
  const schemas = vda5050Schemas();
  if ('missing' in schemas) {
    t.comment(`VDA 5050 wire not checked: ${schemas.missing}`);
    return;
  }
  const counts = new Map<string, number>();
  for (const c of seen) counts.set(c.kind, (counts.get(c.kind) ?? 0) + 1);
  t.comment(`VDA 5050 wire: ${[...counts].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  t.ok(seen.length > 0, 'VDA 5050 messages were captured');
  t.same(wireProblems(schemas, seen), [], `every captured VDA 5050 message (${seen.length}) is valid against the ${SCHEMA_VERSIONS.join(' and ')} schemas`);
}
