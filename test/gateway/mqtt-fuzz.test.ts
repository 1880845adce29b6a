// Fuzzing the gateway over MQTT (fast-check; issue #13): on a real Mosquitto, a gateway with a
// mission running on a virtual cnc-1 and another approved behind it, amr-2 and printer-1 played
// by a test client, and random and mutated messages published on their topics and on topics of
// no device: VDA 5050 states, visualizations, connections and factsheets, machine states and
// connections — valid ones with a field set to a value of the wrong type, a huge number, 1e999, a
// field removed, another vehicle's name, a headerId or seq behind the device's or far ahead of
// it, a timestamp minutes to years off, junk bytes; and, for printer-1, states in order whose
// acknowledgements and job ends name commands the gateway never sent it (one of them the running
// mission's own command, sent to cnc-1).
//
// Whatever they are: no mission or step changes, the gateway keeps answering, and every message
// that is not taken is counted, under the device and reason a model of the rules
// (robots/drops.ts, robots/sequence.ts) expects — the counts by device and reason equal the
// model's after every run, and in GET /v1/metrics at the end. Validity is judged by the
// protocols' own zod schemas on the bytes as published.
//
// The seed is printed; PHYGATE_PROPERTY_SEED replays it.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import t from 'tap';
import type { DropReason } from '../../robots/drops.ts';
import { ConnectionSchema as MachineConnectionSchema, MachineStateSchema, type MachineState } from '../../robots/machine/schemas.ts';
import { machineTopic } from '../../robots/machine/topics.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { ConnectionSchema, FactsheetSchema, StateSchema, VisualizationSchema, type State } from '../../robots/vda5050/schemas.ts';
import { startVirtualMachine } from '../../sim/virtual-machine.ts';
import { startMosquitto } from '../helpers/brokers.ts';
import { callApi } from '../helpers/http.ts';
import { until } from '../helpers/wait.ts';
import { idleState } from '../helpers/vda5050-states.ts';
import { gatewayOnBroker } from './gateway-process.ts';
import { tempDirFor } from './harness.ts';
import type { z } from 'zod';

const SEED = Number(process.env.PHYGATE_PROPERTY_SEED ?? 20261213);
const RUNS = 120;
const ADMIN = 'test-admin-token-0123456789';
/** The gateway's window for VDA 5050 timestamps, and how far the skewed ones are kept from it. */
const SKEW_S = 30;
const MAX_HEADER_ID_JUMP = 1_000;
const MAX_SEQ_JUMP = 10;
/** The machine master's memory of acknowledgements and job ends per device. */
const REMEMBER = 200;

/** Values a forger could put anywhere: wrong types, huge and odd numbers. */
const ODD: unknown[] = [null, true, 'x', '', -1, 0.5, 1e308, -1e308, 3.2, 101, 2 ** 53, [], {}, [1, 2], { x: 1 }, 'ONLINE', '2026-11-24'];

type VdaTopic = 'state' | 'visualization' | 'connection' | 'factsheet';
type Disposition = 'backwards' | 'jump' | 'skew';
type Mutation = { kind: 'none' } | { kind: 'set'; path: number; value: number } | { kind: 'delete'; path: number } | { kind: 'huge'; which: number } | { kind: 'other-vehicle' } | { kind: 'junk'; bytes: Uint8Array };

type Spec =
  | { to: 'amr-2'; topic: VdaTopic; disposition: Disposition; by: number; mutation: Mutation }
  | { to: 'cnc-1' | 'printer-1'; topic: 'state' | 'connection'; disposition: 'backwards' | 'jump'; by: number; mutation: Mutation }
  | { to: 'printer-1'; topic: 'forged'; ahead: number; acks: number; foreign: boolean; end: 'done' | 'stopped' | 'fault' | 'running' | 'idle' }
  | { to: 'nobody'; protocol: 'vda5050' | 'machine'; name: number; mutation: Mutation };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), path: fc.nat(), value: fc.nat({ max: ODD.length - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), path: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('huge' as const), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'other-vehicle' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('junk' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 48 }) }) },
);

const spec: fc.Arbitrary<Spec> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      to: fc.constant('amr-2' as const),
      topic: fc.constantFrom<VdaTopic>('state', 'state', 'visualization', 'connection', 'factsheet'),
      disposition: fc.constantFrom<Disposition>('backwards', 'jump', 'skew'),
      by: fc.nat({ max: 10_000 }),
      mutation,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      to: fc.constantFrom('cnc-1' as const, 'printer-1' as const),
      topic: fc.constantFrom('state' as const, 'state' as const, 'connection' as const),
      disposition: fc.constantFrom('backwards' as const, 'jump' as const),
      by: fc.nat({ max: 10_000 }),
      mutation,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      to: fc.constant('printer-1' as const),
      topic: fc.constant('forged' as const),
      ahead: fc.nat({ max: MAX_SEQ_JUMP - 1 }),
      acks: fc.nat({ max: 3 }),
      foreign: fc.boolean(),
      end: fc.constantFrom('done' as const, 'stopped' as const, 'fault' as const, 'running' as const, 'idle' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ to: fc.constant('nobody' as const), protocol: fc.constantFrom('vda5050' as const, 'machine' as const), name: fc.nat({ max: 5 }), mutation }) },
);

/** Every path into a JSON value, in a fixed order. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [at];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [at, ...entries.flatMap(([k, v]) => paths(v, [...at, k]))].filter((p) => p.length > 0);
}

/** The message as published: `base` with the mutation applied (never a number field turned into a valid other number of the header). */
function mutate(base: Record<string, unknown>, m: Mutation, otherVehicle: (o: Record<string, unknown>) => void): string | Buffer {
  if (m.kind === 'junk') return Buffer.from(m.bytes);
  const o = structuredClone(base);
  if (m.kind === 'set' || m.kind === 'delete') {
    const all = paths(o);
    const path = all[m.path % all.length]!;
    const parent = path.slice(0, -1).reduce<Record<string | number, unknown>>((x, k) => x[k] as Record<string | number, unknown>, o as Record<string | number, unknown>);
    const key = path[path.length - 1]!;
    if (m.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
    } else {
      let value = ODD[m.value];
      // A headerId or seq is set only to what is no number of it: which numbers are taken is the dispositions' to say.
      if ((key === 'headerId' || key === 'seq') && typeof value === 'number' && Number.isInteger(value) && value >= 0) value = -1;
      parent[key] = value;
    }
  }
  if (m.kind === 'other-vehicle') otherVehicle(o);
  let text = JSON.stringify(o);
  if (m.kind === 'huge') {
    // A number as JSON cannot write it: 1e999 parses as Infinity.
    const numbers = [...text.matchAll(/(?<=[:,[])-?\d+(\.\d+)?(e[+-]?\d+)?(?=[,\]}])/gi)];
    const hit = numbers[m.which % Math.max(1, numbers.length)];
    if (hit) text = `${text.slice(0, hit.index)}1e999${text.slice(hit.index! + hit[0].length)}`;
  }
  return text;
}

/** What the schema makes of the bytes: the value if valid, else undefined. */
function parsed<T>(schema: z.ZodType<T>, payload: string | Buffer): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(payload.toString()));
    return r.success ? (json(payload) as T) : undefined;
  } catch {
    return undefined;
  }
}
const json = (payload: string | Buffer) => JSON.parse(payload.toString()) as Record<string, unknown>;

/** A bounded memory as the machine master keeps one: false when `key` was there. */
function remember(set: Set<string>, key: string): boolean {
  if (set.has(key)) return false;
  set.add(key);
  if (set.size > REMEMBER) set.delete(set.values().next().value!);
  return true;
}

t.test('random and mutated device messages over MQTT: no mission changes, the gateway answers, every message not taken is counted', async (t) => {
  t.setTimeout(180_000);
  const broker = await startMosquitto(t);
  const g = await gatewayOnBroker(t, broker.url, ADMIN, tempDirFor(t), { PHYGATE_STATE_CLOCK_SKEW_S: String(SKEW_S) });
  const api = <T>(method: string, path: string, body?: unknown) => callApi<T>(g.url, ADMIN, method, path, body);
  const SITE = g.site.index.site.id;
  // cnc-1 at real speed: housing-a runs 240 s, longer than the whole test.
  const cnc = await startVirtualMachine({ brokerUrl: broker.url, site: g.site.index, siteId: SITE, deviceId: 'cnc-1', speed: 1 });
  t.teardown(() => cnc.close());
  const client = await connectMqtt({ url: broker.url, clientId: `fuzz-${randomUUID().slice(0, 8)}` });
  t.teardown(() => closeMqtt(client, true));
  // The seq of cnc-1's latest state, from the machine itself (the test hears its own messages on that topic too).
  let cncSeq = 0;
  const ours = new Set<string>();
  client.on('message', (_topic, payload) => {
    if (!ours.has(payload.toString('base64'))) cncSeq = Math.max(cncSeq, (JSON.parse(payload.toString()) as MachineState).seq);
  });
  await client.subscribeAsync(machineTopic(SITE, 'cnc-1', 'state'), { qos: 1 });
  const publish = (topic: string, payload: string | Buffer) => {
    if (topic === machineTopic(SITE, 'cnc-1', 'state')) ours.add(Buffer.from(payload).toString('base64'));
    return client.publishAsync(topic, payload, { qos: 1 });
  };

  // amr-2 and printer-1, played by the test: what they say in order is the model's last numbers.
  const model = {
    amr: { state: 400, visualization: 400 },
    printer: { seq: 1, acks: new Set<string>(), jobs: new Set<string>() },
    expected: new Map<string, number>(),
    messages: 0,
    taken: 0,
    fresh: 0,
  };
  const expect = (device: string, reason: DropReason) => model.expected.set(`${device} ${reason}`, (model.expected.get(`${device} ${reason}`) ?? 0) + 1);
  const now = () => new Date().toISOString();
  const amrBase = (headerId: number, timestamp = now()): State => ({
    ...idleState({ headerId, at: Date.parse(timestamp) }),
    velocity: { vx: 0, vy: 0, omega: 0 },
    loads: [],
    paused: false,
  });
  const vdaBase = (topic: VdaTopic, headerId: number, timestamp = now()): Record<string, unknown> => {
    const header = { headerId, timestamp, version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-2' };
    if (topic === 'state') return amrBase(headerId, timestamp);
    if (topic === 'visualization') return { ...header, agvPosition: { x: 8, y: 1.5, theta: -1.5708, mapId: 'demo-hall', positionInitialized: true }, velocity: { vx: 0 } };
    if (topic === 'connection') return { ...header, connectionState: 'CONNECTIONBROKEN' };
    return { ...header, typeSpecification: { seriesName: 'forged' }, physicalParameters: { speedMax: 9 } };
  };
  const machineBase = (seq: number, acks: MachineState['acks'] = []): MachineState => ({ seq, timestamp: now(), state: 'idle', errors: [], acks });
  const keepAlive = async () => {
    // amr-2 and printer-1 go on with their own numbering (a silent device would be reset: sequence.ts).
    await publish('uagv/v2/phygate/amr-2/state', JSON.stringify(amrBase(++model.amr.state)));
    await publish('uagv/v2/phygate/amr-2/visualization', JSON.stringify(vdaBase('visualization', ++model.amr.visualization)));
    await publish(machineTopic(SITE, 'printer-1', 'state'), JSON.stringify(machineBase(++model.printer.seq)));
    model.taken += 3;
  };
  await publish(machineTopic(SITE, 'printer-1', 'connection'), JSON.stringify({ timestamp: now(), connectionState: 'ONLINE' }));
  await publish(machineTopic(SITE, 'printer-1', 'state'), JSON.stringify(machineBase(1)));
  await publish('uagv/v2/phygate/amr-2/state', JSON.stringify(amrBase(400)));
  await publish('uagv/v2/phygate/amr-2/visualization', JSON.stringify(vdaBase('visualization', 400)));
  await until('amr-2, printer-1 and cnc-1 online', () => ['amr-2', 'printer-1', 'cnc-1'].every((d) => g.fleet.get(d)?.online) && cncSeq > 0);

  // A mission running on cnc-1, and one approved behind it.
  const submit = async (program: string) => {
    const plan = { schema: 'phygate.plan/v1', name: `fuzz-${program}`, goal: 'parts', steps: [{ id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program, count: 1 } }] };
    const sub = await api<{ id: string; planHash: string }>('POST', '/v1/missions', { plan });
    t.equal(sub.status, 201);
    t.equal((await api('POST', `/v1/missions/${sub.json.id}/approve`, { planHash: sub.json.planHash })).status, 200);
    return sub.json.id;
  };
  const running = await submit('housing-a');
  await until('the first mission running', () => g.store.missions.get(running)!.steps[0]!.status === 'running');
  const approved = await submit('bracket-v2');
  const cncCommand = g.store.outbox.ofStep(running, 'mill')[0]!.id;
  const missionsNow = () => [running, approved].map((id) => {
    const m = g.store.missions.get(id)!;
    return { status: m.status, steps: m.steps.map((s) => s.status), events: g.store.missions.events(id).length };
  });
  const missionsBefore = missionsNow();
  // The second one runs too, its step waiting for cnc-1.
  t.match(missionsBefore, [{ status: 'running', steps: ['running'] }, { status: 'running', steps: ['pending'] }]);
  const droppedBefore = g.drops.total();
  t.equal(droppedBefore, 0, 'nothing dropped before the fuzz');

  /** Publishes one message and notes what the model expects of it; one the gateway would take as it is, and should not, is not published. */
  const send = async (s: Spec): Promise<void> => {
    if (s.to === 'nobody') {
      const base = s.protocol === 'vda5050' ? vdaBase('state', 1) : machineBase(1);
      const payload = mutate(base as Record<string, unknown>, s.mutation, (o) => (o.serialNumber = 'amr-1'));
      const topic = s.protocol === 'vda5050' ? `uagv/v2/phygate/amr-${90 + s.name}/state` : machineTopic(SITE, s.name === 0 ? 'amr-1' : `ghost-${s.name}`, 'state');
      await publish(topic, payload);
      expect('(unknown)', 'unknown-device');
      return;
    }
    if (s.to === 'amr-2') {
      const last = model.amr[s.topic === 'visualization' ? 'visualization' : 'state'];
      const headerId = s.disposition === 'backwards' ? s.by % (last + 1) : last + MAX_HEADER_ID_JUMP + 1 + s.by;
      const skewS = s.disposition === 'skew' ? (s.by % 2 === 0 ? 1 : -1) * (4 * SKEW_S + s.by * 3_600) : 0;
      const base = vdaBase(s.topic, s.disposition === 'skew' ? last - (s.by % 3) + 1 : headerId, new Date(Date.now() + skewS * 1000).toISOString());
      const payload = mutate(base, s.mutation, (o) => (o.serialNumber = 'amr-1'));
      const schema = { state: StateSchema, visualization: VisualizationSchema, connection: ConnectionSchema, factsheet: FactsheetSchema }[s.topic] as z.ZodType<{ headerId: number; timestamp: string; manufacturer: string; serialNumber: string }>;
      const valid = parsed(schema, payload);
      let reason: DropReason | undefined;
      if (!valid) reason = 'schema';
      else if (valid.manufacturer !== 'phygate' || valid.serialNumber !== 'amr-2') reason = 'other-vehicle';
      else if (s.topic === 'connection' || s.topic === 'factsheet') reason = undefined;
      else if (Math.abs(Date.parse(valid.timestamp) - Date.now()) > SKEW_S * 1000) reason = 'clock-skew';
      else if (valid.headerId <= last) reason = 'headerId-backwards';
      else if (valid.headerId > last + MAX_HEADER_ID_JUMP) reason = 'headerId-jump';
      // A valid message of amr-2 in order (a connection would also restart its numbering) is not the fuzz's to send.
      if (!reason) return;
      await publish(`uagv/v2/phygate/amr-2/${s.topic}`, payload);
      expect('amr-2', reason);
      return;
    }
    if (s.topic === 'forged') {
      // printer-1 "says", in order, that it acknowledged and ended commands the gateway never sent it.
      const seq = model.printer.seq + 1 + s.ahead;
      const id = () => (s.foreign && model.fresh++ % 4 === 0 ? cncCommand : `forged-${++model.fresh}`);
      const acks = Array.from({ length: s.acks }, () => ({ commandId: id(), result: 'accepted' as const, seq }));
      const startedAt = now();
      const job = { commandId: id(), action: 'run' as const, program: 'clip-x', count: 1, startedAt };
      const common = { seq, timestamp: now(), acks };
      const state: MachineState =
        s.end === 'idle'
          ? { ...common, state: 'idle', errors: [] }
          : s.end === 'running'
            ? { ...common, state: 'running', job, progress: 0.5, partsProduced: 0, errors: [] }
            : s.end === 'fault'
              ? { ...common, state: 'fault', job: { ...job, endedAt: now() }, errors: [{ code: 'FORGED', message: 'forged' }] }
              : s.end === 'done'
                ? { ...common, state: 'done', job: { ...job, endedAt: now() }, progress: 1, partsProduced: 1, errors: [] }
                : { ...common, state: 'stopped', job: { ...job, endedAt: now() }, progress: 0.5, partsProduced: 0, errors: [] };
      await publish(machineTopic(SITE, 'printer-1', 'state'), JSON.stringify(state));
      model.printer.seq = seq;
      model.taken++;
      for (const a of acks) if (remember(model.printer.acks, `${a.commandId}|${a.result}|${a.seq}`)) expect('printer-1', 'unknown-command');
      if (state.state !== 'idle' && state.state !== 'running' && remember(model.printer.jobs, state.job!.commandId)) expect('printer-1', 'unknown-command');
      return;
    }
    // cnc-1 (the real machine runs the mission) or printer-1: a state or connection out of order or broken.
    const last = s.to === 'cnc-1' ? cncSeq : model.printer.seq;
    const seq = s.disposition === 'backwards' ? 1 + (s.by % last) : last + MAX_SEQ_JUMP + 1000 + s.by;
    const base = s.topic === 'state' ? { ...machineBase(seq, [{ commandId: cncCommand, result: 'accepted', seq }]), state: 'done', job: { commandId: cncCommand, action: 'run', program: 'housing-a', count: 1, startedAt: now(), endedAt: now() }, progress: 1, partsProduced: 1 } : { timestamp: now(), connectionState: 'CONNECTIONBROKEN' };
    const payload = mutate(base, s.mutation, (o) => (o.extra = 'field'));
    const valid = s.topic === 'state' ? parsed(MachineStateSchema, payload) : parsed(MachineConnectionSchema, payload);
    let reason: DropReason | undefined;
    if (!valid) reason = 'schema';
    else if (s.topic === 'state') reason = 'seq';
    // A valid connection message would be believed (only broker ACLs can tell who sent it): not the fuzz's to send.
    if (!reason) return;
    await publish(machineTopic(SITE, s.to, s.topic), payload);
    expect(s.to, reason);
  };

  const counted = () => {
    const out = new Map<string, number>();
    for (const c of g.drops.list()) out.set(`${c.device} ${c.reason}`, c.count);
    return out;
  };
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  t.comment(`seed ${SEED} (PHYGATE_PROPERTY_SEED replays it), ${RUNS} runs`);
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(spec, { minLength: 1, maxLength: 24 }), async (specs) => {
      runs++;
      await keepAlive();
      for (const s of specs) {
        const before = total(model.expected);
        await send(s);
        if (total(model.expected) > before) model.messages++;
      }
      // Last, a message on the topic of no device: once it is counted, everything before it was read.
      await publish(machineTopic(SITE, 'sentinel', 'state'), '{}');
      expect('(unknown)', 'unknown-device');
      const want = total(model.expected);
      await until(`${want} messages counted`, () => counted().get('(unknown) unknown-device') === model.expected.get('(unknown) unknown-device'), 15_000, 10);
      const got = counted();
      if (total(got) !== want || [...model.expected].some(([k, n]) => got.get(k) !== n)) {
        throw new Error(`counted ${JSON.stringify([...got])}, expected ${JSON.stringify([...model.expected])}`);
      }
      const health = await fetch(`${g.url}/healthz`);
      if (health.status !== 200) throw new Error(`/healthz answered ${health.status}`);
      const missions = missionsNow();
      if (JSON.stringify(missions) !== JSON.stringify(missionsBefore)) throw new Error(`the missions changed: ${JSON.stringify(missions)} (was ${JSON.stringify(missionsBefore)})`);
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  t.equal(runs, RUNS);
  t.ok(model.messages > RUNS, `${model.messages} messages dropped as the model expects (${model.taken} taken), over ${runs} runs`);
  t.same(missionsNow(), missionsBefore, 'no mission or step changed');
  t.match(g.fleet.get('cnc-1'), { online: true, state: 'running', job: { commandId: cncCommand } }, 'cnc-1 still runs the mission');

  // The same counts as GET /v1/metrics serves them.
  const metrics = await (await fetch(`${g.url}/v1/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
  const series = new Map([...metrics.matchAll(/^phygate_mqtt_messages_dropped_total\{device="([^"]+)",reason="([^"]+)"\} (\d+)$/gm)].map((m) => [`${m[1]} ${m[2]}`, Number(m[3])]));
  for (const [k, n] of model.expected) t.equal(series.get(k), n, `metrics: ${k}`);
  t.equal(total(series), total(model.expected), 'and nothing else');
  const reasons = new Set([...model.expected.keys()].map((k) => k.split(' ')[1]));
  t.comment(`reasons seen: ${[...reasons].sort().join(', ')}`);
  t.ok(reasons.size >= 7, 'most reasons were exercised');
});
