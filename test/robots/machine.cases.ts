// The machine protocol's messages, without a broker: every example of robots/machine/PROTOCOL.md
// parses with the schemas (the examples are read from the markdown, so the page and the code
// cannot drift), the page shows every action, state and result, and broken messages fail with
// the path of the problem.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { z } from 'zod';
import {
  ACK_RESULTS,
  AckSchema,
  CONNECTION_STATES,
  ConnectionSchema,
  JobSchema,
  MACHINE_ACTIONS,
  MACHINE_STATES,
  MachineCommandSchema,
  MachineStateSchema,
  decodeMessage,
} from '../../robots/machine/schemas.ts';
import { CHANNELS, PUBLISH, machineSubscription, machineTopic, parseMachineTopic } from '../../robots/machine/topics.ts';

const PROTOCOL = readFileSync(fileURLToPath(new URL('../../robots/machine/PROTOCOL.md', import.meta.url)), 'utf8');

const SCHEMAS = { command: MachineCommandSchema, state: MachineStateSchema, connection: ConnectionSchema } as const;
type Kind = keyof typeof SCHEMAS;

/** Every ```json code block of the markdown with the word after `json` (the message it shows). */
function jsonBlocks(markdown: string): { kind: string; text: string; line: number }[] {
  const out: { kind: string; text: string; line: number }[] = [];
  for (const m of markdown.matchAll(/^```json([^\n]*)\n([\s\S]*?)^```\s*$/gm)) {
    out.push({ kind: m[1]!.trim(), text: m[2]!, line: markdown.slice(0, m.index).split('\n').length });
  }
  return out;
}

const blocks = jsonBlocks(PROTOCOL);
const examples = (kind: Kind) => blocks.filter((b) => b.kind === kind).map((b) => JSON.parse(b.text) as Record<string, unknown>);

t.test('every JSON example of PROTOCOL.md says which message it is and is valid', async (t) => {
  t.ok(blocks.length >= 10, `${blocks.length} examples`);
  for (const b of blocks) {
    t.ok(b.kind in SCHEMAS, `PROTOCOL.md:${b.line}: the block is marked command, state or connection (got '${b.kind}')`);
    const schema = SCHEMAS[b.kind as Kind];
    if (!schema) continue;
    const parsed = decodeMessage(schema as z.ZodType<unknown>, b.text);
    t.ok(parsed.ok, `PROTOCOL.md:${b.line}: a valid ${b.kind}${parsed.ok ? '' : `: ${JSON.stringify(parsed.problems)}`}`);
  }
});

t.test('the examples show every action, state, acknowledgement result and connection state', async (t) => {
  t.same([...new Set(examples('command').map((c) => c.action))].sort(), [...MACHINE_ACTIONS].sort());
  t.same([...new Set(examples('state').map((s) => s.state))].sort(), [...MACHINE_STATES].sort());
  const results = new Set(examples('state').flatMap((s) => (s.acks as { result: string }[]).map((a) => a.result)));
  t.same([...results].sort(), [...ACK_RESULTS].sort());
  t.same([...new Set(examples('connection').map((c) => c.connectionState))].sort(), [...CONNECTION_STATES].sort());
});

t.test('every field of every message is named in PROTOCOL.md', async (t) => {
  const shapes: z.ZodObject[] = [
    ...MachineCommandSchema.options,
    ...MachineStateSchema.options,
    ...JobSchema.options,
    AckSchema,
    ConnectionSchema,
  ];
  const fields = new Set(shapes.flatMap((s) => Object.keys(s.shape)));
  for (const f of fields) t.ok(PROTOCOL.includes(`\`${f}\``), `\`${f}\` is documented`);
});

t.test("the topic table says each channel's QoS and retain flag as topics.ts publishes them", async (t) => {
  for (const channel of CHANNELS) {
    const row = new RegExp(`^\\| \`phygate/v1/\\{site\\}/\\{deviceId\\}/${channel}\` \\|[^|]*\\| (\\d) \\| (yes|no) \\|`, 'm').exec(PROTOCOL);
    t.ok(row, `a row for ${channel}`);
    t.same({ qos: Number(row?.[1]), retain: row?.[2] === 'yes' }, PUBLISH[channel], channel);
  }
});

const run = {
  commandId: '0b6f5f2e-6c1c-4a44-9d53-1f0c7a8e2a11',
  issuedAt: '2026-11-24T09:00:00.000Z',
  expiresAt: '2026-11-24T09:00:10.000Z',
  action: 'run',
  program: 'bracket-v2',
  count: 2,
};
const job = { commandId: run.commandId, action: 'run', program: 'bracket-v2', count: 2, startedAt: '2026-11-24T09:00:00.200Z' };
const running = { seq: 3, timestamp: '2026-11-24T09:00:01.000Z', state: 'running', job, progress: 0.2, partsProduced: 0, errors: [], acks: [] };
const ack = { commandId: run.commandId, result: 'accepted', seq: 2 };

const INVALID: [string, z.ZodType<unknown>, unknown, string][] = [
  ['a command without expiresAt', MachineCommandSchema, { ...run, expiresAt: undefined }, 'expiresAt'],
  ['an expiry that is not ISO 8601', MachineCommandSchema, { ...run, expiresAt: 'in ten seconds' }, 'expiresAt'],
  ['a time without a time zone', MachineCommandSchema, { ...run, issuedAt: '2026-11-24T09:00:00' }, 'issuedAt'],
  ['a commandId with a slash', MachineCommandSchema, { ...run, commandId: 'a/b' }, 'commandId'],
  ['an unknown action', MachineCommandSchema, { ...run, action: 'explode' }, 'action'],
  ['zero parts', MachineCommandSchema, { ...run, count: 0 }, 'count'],
  ['half a part', MachineCommandSchema, { ...run, count: 1.5 }, 'count'],
  ['a run without a program', MachineCommandSchema, { ...run, program: undefined }, 'program'],
  ['a field stop does not have', MachineCommandSchema, { ...run, action: 'stop', count: undefined }, 'program'],
  ['a transfer to a name that is no id', MachineCommandSchema, { ...run, action: 'transfer', program: undefined, count: undefined, from: 'cnc-1', to: 'Shelf 2' }, 'to'],
  ['running without a job', MachineStateSchema, { ...running, job: undefined }, 'job'],
  ['a job of an unknown action', MachineStateSchema, { ...running, job: { ...job, action: 'mill' } }, 'job.action'],
  ['progress above 1', MachineStateSchema, { ...running, progress: 1.2 }, 'progress'],
  ['done short of 1', MachineStateSchema, { ...running, state: 'done', progress: 0.9 }, 'progress'],
  ['negative parts', MachineStateSchema, { ...running, partsProduced: -1 }, 'partsProduced'],
  ['idle with a job', MachineStateSchema, { ...running, state: 'idle', progress: undefined, partsProduced: undefined }, 'job'],
  ['a fault without an error', MachineStateSchema, { ...running, state: 'fault' }, 'errors'],
  ['an error code in lower case', MachineStateSchema, { ...running, errors: [{ code: 'jam', message: 'jammed' }] }, 'errors.0.code'],
  ['seq 0', MachineStateSchema, { ...running, seq: 0 }, 'seq'],
  ['an unknown acknowledgement result', MachineStateSchema, { ...running, acks: [{ ...ack, result: 'ok' }] }, 'acks.0.result'],
  ['more than 10 acknowledgements', MachineStateSchema, { ...running, acks: Array.from({ length: 11 }, () => ack) }, 'acks'],
  ['an unknown state', MachineStateSchema, { ...running, state: 'busy' }, 'state'],
  ['an unknown connection state', ConnectionSchema, { timestamp: '2026-11-24T09:00:00Z', connectionState: 'GONE' }, 'connectionState'],
];

t.test('broken messages fail with the path of the problem', async (t) => {
  for (const [what, schema, value, path] of INVALID) {
    const r = decodeMessage(schema, JSON.stringify(value));
    t.notOk(r.ok, `${what} is invalid`);
    if (!r.ok) t.ok(r.problems.some((p) => p.path === path), `${what}: problem at '${path}' (got ${JSON.stringify(r.problems)})`);
  }
  t.ok(decodeMessage(MachineCommandSchema, JSON.stringify(run)).ok, 'the base of those cases is valid');
  t.ok(decodeMessage(MachineStateSchema, JSON.stringify({ ...running, acks: [ack] })).ok);
});

t.test('a payload that is not JSON is a problem at the root, not an exception', async (t) => {
  const r = decodeMessage(MachineStateSchema, Buffer.from('{"seq": 1,'));
  t.notOk(r.ok);
  if (!r.ok) t.match(r.problems, [{ path: '(root)', message: /not JSON/ }]);
  t.notOk(decodeMessage(ConnectionSchema, '').ok);
});

t.test('topics: one level per site and device, anything else is not ours', async (t) => {
  t.equal(machineTopic('demo', 'cnc-1', 'state'), 'phygate/v1/demo/cnc-1/state');
  t.equal(machineSubscription('demo', 'connection'), 'phygate/v1/demo/+/connection');
  t.same(parseMachineTopic('phygate/v1/demo/cnc-1/command'), { siteId: 'demo', deviceId: 'cnc-1', channel: 'command' });
  t.equal(parseMachineTopic('phygate/v1/demo/cnc-1/factsheet'), undefined);
  t.equal(parseMachineTopic('phygate/v1/demo/cnc-1/state/extra'), undefined);
  t.equal(parseMachineTopic('uagv/v2/phygate/amr-1/state'), undefined);
  t.equal(parseMachineTopic('phygate/v1//cnc-1/state'), undefined);
  t.throws(() => machineTopic('demo', 'cnc/1', 'state'), /cannot be a topic level/);
  t.throws(() => machineSubscription('#', 'state'), /cannot be a topic level/);
});
