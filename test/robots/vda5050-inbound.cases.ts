// The master reads vehicles' messages through INBOUND, zod's compiled copies of the schemas
// (robots/vda5050/schemas.ts). The compiled code must be a faster way to the same answer, never
// another rule: on every state here — real-shaped ones, the invalid ones of the other VDA 5050
// tests, every field missing, of the wrong type, NaN, ±Infinity, huge, nested arrays, extra fields
// — and on random ones, it accepts exactly what StateSchema accepts, a message it accepts holds all
// the schema would return, and it refuses with the same issues.
import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';
import { ConnectionSchema, FactsheetSchema, INBOUND, StateSchema, VisualizationSchema, type State } from '../../robots/vda5050/schemas.ts';
import { midOrderState } from '../helpers/vda5050-states.ts';

type Json = unknown;

/**
 * Why the compiled schema and the schema answer `input` differently, or undefined when they agree.
 * The master asks `validate` and keeps a valid message as it came, so that must be what the schema
 * would return plus, at most, fields the schema does not know; an invalid one is logged with the
 * compiled schema's issues, which must be the schema's.
 */
function disagreement(schema: z.ZodType, compiled: z.ZodType, input: unknown): string | undefined {
  const want = schema.safeParse(input);
  const valid = compiled.validate(input);
  if (valid !== want.success) return `the schema says ${want.success ? 'valid' : 'invalid'}, the compiled one ${valid ? 'valid' : 'invalid'}`;
  const got = compiled.safeParse(input);
  if (want.success !== got.success) return `the schema says ${want.success ? 'valid' : 'invalid'}, the compiled one's parse ${got.success ? 'valid' : 'invalid'}`;
  if (want.success && got.success) {
    if (!isDeepStrictEqual(got.data, want.data)) return `other data: ${show(got.data)} instead of ${show(want.data)}`;
    const lost = missing(want.data, input);
    if (lost) return `the message as it came lacks ${lost} of what the schema returns`;
    return undefined;
  }
  if (!want.success && !got.success && !isDeepStrictEqual(got.error.issues, want.error.issues)) return `other issues: ${show(got.error.issues)} instead of ${show(want.error.issues)}`;
  return undefined;
}

/** The first path where `parsed` holds something `input` does not (same value, same kind), or undefined. */
function missing(parsed: unknown, input: unknown, at = '(root)'): string | undefined {
  if (Array.isArray(parsed)) {
    if (!Array.isArray(input) || input.length !== parsed.length) return at;
    for (let i = 0; i < parsed.length; i++) {
      const lost = missing(parsed[i], input[i], `${at}.${i}`);
      if (lost) return lost;
    }
    return undefined;
  }
  if (parsed !== null && typeof parsed === 'object') {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return at;
    for (const [k, v] of Object.entries(parsed)) {
      if (!Object.hasOwn(input, k)) return `${at}.${k}`;
      const lost = missing(v, (input as Record<string, unknown>)[k], `${at}.${k}`);
      if (lost) return lost;
    }
    return undefined;
  }
  return Object.is(parsed, input) ? undefined : at;
}

const show = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v === undefined ? '(undefined)' : v));

/** Only what a state must have (test/robots/vda5050-live.test.ts sends one like it). */
function minimalState(): State {
  return {
    headerId: 1,
    timestamp: '2026-11-24T08:00:00+01:00',
    version: '2.0.0',
    manufacturer: 'phygate',
    serialNumber: 'amr-2',
    orderId: '',
    orderUpdateId: 0,
    lastNodeId: '',
    lastNodeSequenceId: 0,
    nodeStates: [],
    edgeStates: [],
    driving: false,
    operatingMode: 'MANUAL',
    batteryState: { batteryCharge: 0, charging: true },
    errors: [],
    actionStates: [],
    safetyState: { eStop: 'AUTOACK', fieldViolation: true },
  };
}

/** Every field the schema knows, each optional one present, every array with an element. */
function fullState(): State {
  return {
    headerId: 9007199254740991,
    timestamp: '2028-02-29T23:59:59.999999-05:30',
    version: '2.1',
    manufacturer: 'phygate',
    serialNumber: 'amr-1',
    orderId: 'o-7',
    orderUpdateId: 3,
    zoneSetId: 'hall-a',
    lastNodeId: 'sa-1',
    lastNodeSequenceId: 2,
    nodeStates: [
      {
        nodeId: 'sa-2',
        sequenceId: 4,
        nodeDescription: 'aisle',
        released: true,
        nodePosition: { x: -8, y: 4.25, theta: -3.14159265359, allowedDeviationXY: 0, allowedDeviationXy: 0.2, allowedDeviationTheta: 3.14159265359, mapId: 'demo-hall', mapDescription: 'ground floor' },
      },
    ],
    edgeStates: [{ edgeId: 'sa-1->sa-2', sequenceId: 3, edgeDescription: 'aisle', released: true, trajectory: { degree: 3, knotVector: [0, 1], controlPoints: [{ x: 1, y: 2, weight: 1 }] } }],
    agvPosition: { x: 5.2, y: -4, theta: 3.1416, mapId: 'demo-hall', mapDescription: 'ground floor', positionInitialized: false, localizationScore: 1, deviationRange: 0.05 },
    velocity: { vx: 0.5, vy: -0.1, omega: 0.3 },
    loads: [{ loadId: 'tote-1', loadType: 'tote', loadPosition: 'front', weight: 0, boundingBoxReference: { x: 0, y: 0, z: 0.1 }, loadDimensions: { length: 0.6, width: 0.4 } }],
    driving: true,
    paused: true,
    newBaseRequest: false,
    distanceSinceLastNode: 1.25,
    operatingMode: 'TEACHIN',
    batteryState: { batteryCharge: 100, batteryVoltage: 48.2, batteryHealth: 97, charging: false, reach: 12000 },
    errors: [{ errorType: 'lowBattery', errorReferences: [{ referenceKey: 'orderId', referenceValue: 'o-7' }], errorDescription: 'charge below 10 %', errorLevel: 'FATAL' }],
    information: [{ infoType: 'note', infoReferences: [{ referenceKey: 'k', referenceValue: 'v' }], infoDescription: 'fine', infoLevel: 'DEBUG' }],
    actionStates: [{ actionId: 'a-1', actionType: 'pick', actionDescription: 'pick the tote', actionStatus: 'FAILED', resultDescription: 'no tote' }],
    safetyState: { eStop: 'REMOTE', fieldViolation: false },
  };
}

/** The bench's vehicles' state (test/bench/state-publisher.ts). */
function benchState(): State {
  return {
    ...minimalState(),
    agvPosition: { x: 4.123456789, y: 1.5, theta: -0.049979169270678, mapId: 'demo-hall', positionInitialized: true, localizationScore: 0.9 },
    velocity: { vx: 0.19975, vy: -0.00999, omega: -0.5 },
    loads: [],
    driving: true,
    paused: false,
    operatingMode: 'AUTOMATIC',
    batteryState: { batteryCharge: 59.9995, batteryVoltage: 48, charging: false },
    information: [],
  };
}

const VALID: [string, () => State][] = [
  ['mid-order', midOrderState],
  ['minimal', minimalState],
  ['full', fullState],
  ['bench', benchState],
];

const with_ = (patch: Record<string, unknown>) => ({ ...midOrderState(), ...patch });
const { batteryState: _battery, ...noBattery } = midOrderState();

/** The invalid states of test/robots/vda5050.cases.ts and vda5050-live.test.ts, and a few more. */
const INVALID: [string, Json][] = [
  ['no batteryState', noBattery],
  ['batteryCharge a string', with_({ batteryState: { batteryCharge: '87%', charging: false } })],
  ['batteryCharge over 100', with_({ batteryState: { batteryCharge: 180, charging: false } })],
  ['an unknown actionStatus', with_({ actionStates: [{ actionId: 'a', actionStatus: 'DONE' }] })],
  ['an unknown operatingMode', with_({ operatingMode: 'AUTO' })],
  ['agvPosition without positionInitialized', with_({ agvPosition: { x: 1, y: 2, theta: 0, mapId: 'm' } })],
  ['timestamp not a date', with_({ timestamp: 'yesterday' })],
  ['timestamp without a zone', with_({ timestamp: '2026-11-24T08:00:00' })],
  ['timestamp on a day that does not exist', with_({ timestamp: '2026-02-29T08:00:00Z' })],
  ['an unknown errorLevel', with_({ errors: [{ errorType: 'x', errorLevel: 'BAD' }] })],
  ['version 1.1', with_({ version: '1.1.0' })],
  ['an empty serialNumber', with_({ serialNumber: '' })],
  ['headerId negative', with_({ headerId: -1 })],
  ['headerId a fraction', with_({ headerId: 1.5 })],
  ['headerId above 2^53', with_({ headerId: 2 ** 53 })],
  ['headerId 1e308', with_({ headerId: 1e308 })],
  ['x NaN', with_({ agvPosition: { x: NaN, y: 2, theta: 0, mapId: 'm', positionInitialized: true } })],
  ['theta Infinity', with_({ agvPosition: { x: 1, y: 2, theta: Infinity, mapId: 'm', positionInitialized: true } })],
  ['theta 1e308', with_({ agvPosition: { x: 1, y: 2, theta: 1e308, mapId: 'm', positionInitialized: true } })],
  ['theta beyond π rounded', with_({ agvPosition: { x: 1, y: 2, theta: -3.1417, mapId: 'm', positionInitialized: true } })],
  ['distanceSinceLastNode -Infinity', with_({ distanceSinceLastNode: -Infinity })],
  ['localizationScore above 1', with_({ agvPosition: { x: 1, y: 2, theta: 0, mapId: 'm', positionInitialized: true, localizationScore: 1.0000001 } })],
  ['node theta beyond π', with_({ nodeStates: [{ nodeId: 'n', sequenceId: 0, released: true, nodePosition: { x: 0, y: 0, theta: 3.1416, mapId: 'm' } }] })],
  ['nodeStates nested arrays', with_({ nodeStates: [[{ nodeId: 'n', sequenceId: 0, released: true }]] })],
  ['errors an object', with_({ errors: { 0: { errorType: 'x', errorLevel: 'WARNING' }, length: 1 } })],
  ['an array', []],
  ['a number', 5],
  ['a string', 'state'],
  ['null', null],
  ['an empty object', {}],
];

/** Values a vehicle (or anyone on the broker) could put where a field is expected. */
const ODD: [string, unknown][] = [
  ['null', null],
  ['undefined', undefined],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['1e308', 1e308],
  ['-1e308', -1e308],
  ['2^53', 2 ** 53],
  ['2^53 - 1', 2 ** 53 - 1],
  ['-1', -1],
  ['-0', -0],
  ['0', 0],
  ['0.5', 0.5],
  ['1', 1],
  ['3.2', 3.2],
  ['101', 101],
  ['an empty string', ''],
  ['a string', 'x'],
  ['a number in a string', '1'],
  ['a long string', 'x'.repeat(10_000)],
  ['true', true],
  ['false', false],
  ['an empty array', []],
  ['nested arrays', [[1, [2, [3]]], []]],
  ['an empty object', {}],
  ['an object', { a: 1 }],
  ['an array of objects', [{ a: 1 }]],
];

/** Every path into `value`, containers included, outermost first. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = at.length ? [at] : [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...at, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...at, k]));
  return out;
}

/** `value` with the thing at `path` replaced (or, with `remove`, taken out). */
function edit(value: unknown, path: (string | number)[], replace: { remove: true } | { with: unknown }): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if ('with' in replace) parent[last] = replace.with;
  else if (Array.isArray(parent)) parent.splice(last as number, 1);
  else delete parent[last];
  return copy;
}

/** `value` with an extra field in the object at `path` (JSON.parse, so that `__proto__` is a field like any other). */
function withExtra(value: unknown, path: (string | number)[], json: string): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let target = copy;
  for (const key of path) target = target[key] as Record<string | number, unknown>;
  Object.assign(target, JSON.parse(json));
  return copy;
}

const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);

t.test('the master reads states through a compiled copy of StateSchema', async (t) => {
  // z.compile hands a schema it cannot compile back unchanged: then there would be no fast path.
  t.not(INBOUND.state, StateSchema, 'state is compiled');
  t.not(INBOUND.connection, ConnectionSchema, 'connection is compiled');
  t.not(INBOUND.visualization, VisualizationSchema, 'visualization is compiled');
  t.not(INBOUND.factsheet, FactsheetSchema, 'factsheet is compiled');
});

t.test('what a message must hold of what the schema returns is checked field by field', async (t) => {
  t.equal(missing({ a: [1, { b: 'x' }] }, { a: [1, { b: 'x', c: 2 }], d: 3 }), undefined, 'extra fields are fine');
  t.equal(missing({ a: [1, { b: 'x' }] }, { a: [1, { b: 'y' }] }), '(root).a.1.b', 'another value is not');
  t.equal(missing({ a: [1] }, { a: [1, 2] }), '(root).a', 'nor another length');
  t.equal(missing({ a: undefined }, {}), '(root).a', 'nor a field that is not there');
  t.equal(missing({ a: 0 }, { a: -0 }), '(root).a', 'nor -0 for 0');
});

t.test('valid states: both accept them and return the same data', async (t) => {
  for (const [name, make] of VALID) {
    t.ok(StateSchema.safeParse(make()).success, `${name} is valid`);
    t.equal(disagreement(StateSchema, INBOUND.state, make()), undefined, name);
    t.equal(disagreement(StateSchema, INBOUND.state, JSON.parse(JSON.stringify(make()))), undefined, `${name}, through JSON`);
  }
});

t.test('the invalid states of the VDA 5050 tests: both refuse them with the same issues', async (t) => {
  for (const [name, input] of INVALID) {
    t.notOk(StateSchema.safeParse(input).success, `${name} is invalid`);
    t.equal(disagreement(StateSchema, INBOUND.state, input), undefined, name);
  }
});

t.test('every field missing, or holding an odd value: both give the same answer', async (t) => {
  let cases = 0;
  let accepted = 0;
  for (const [name, make] of VALID) {
    const state = make();
    for (const path of paths(state)) {
      const inputs: [string, unknown][] = [['removed', edit(state, path, { remove: true })], ...ODD.map(([what, v]): [string, unknown] => [what, edit(state, path, { with: v })])];
      for (const [what, input] of inputs) {
        cases++;
        if (StateSchema.safeParse(input).success) accepted++;
        const problem = disagreement(StateSchema, INBOUND.state, input);
        if (problem) t.fail(`${name} ${path.join('.')} ${what}: ${problem}`);
      }
    }
  }
  t.ok(cases > 3000, `${cases} states compared`);
  // Both kinds were tried: optional fields removed, numbers that fit, and faults of every kind.
  t.ok(accepted > 100 && accepted < cases - 2000, `${accepted} of them valid`);
});

t.test('extra fields, __proto__ and constructor among them, at every level: ignored by both', async (t) => {
  let compared = 0;
  for (const [name, make] of VALID) {
    const state = make();
    for (const path of [[], ...paths(state)].filter((p) => isObject(p.reduce((v: any, k) => v[k], state)))) {
      for (const json of ['{"somethingFrom21": {"x": 1}}', '{"__proto__": {"polluted": true}}', '{"constructor": "x", "toString": 1}', '{"hasOwnProperty": null}']) {
        const input = withExtra(state, path, json);
        compared++;
        t.equal(disagreement(StateSchema, INBOUND.state, input), undefined, `${name} ${path.join('.') || '(root)'} + ${json}`);
      }
    }
  }
  const extra = INBOUND.state.safeParse({ ...midOrderState(), somethingFrom21: 1 });
  t.ok(extra.success && !('somethingFrom21' in extra.data), 'parsing drops a field of a later version');
  t.equal(({} as { polluted?: boolean }).polluted, undefined, 'no prototype was touched');
  t.ok(compared > 50, `${compared} states with extra fields`);
});

t.test('random edits of valid states (fast-check): both give the same answer', async (t) => {
  const states = VALID.map(([, make]) => make());
  const edits = fc.array(
    fc.tuple(fc.nat(), fc.oneof(fc.constant<{ remove: true }>({ remove: true }), fc.jsonValue().map((v) => ({ with: v })), fc.anything({ withNullPrototype: false }).map((v) => ({ with: v })), fc.constantFrom(...ODD.map(([, v]) => ({ with: v }))))),
    { minLength: 1, maxLength: 4 },
  );
  fc.assert(
    fc.property(fc.nat(states.length - 1), edits, (which, changes) => {
      let input: unknown = states[which];
      for (const [pick, change] of changes) {
        const all = paths(input);
        if (all.length === 0) break;
        input = edit(input, all[pick % all.length]!, change);
      }
      const problem = disagreement(StateSchema, INBOUND.state, input);
      if (problem) throw new Error(`${show(input)}: ${problem}`);
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 edited states agree');
});

t.test('random JSON (fast-check): both give the same answer', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue(), (input) => {
      const problem = disagreement(StateSchema, INBOUND.state, input);
      if (problem) throw new Error(`${show(input)}: ${problem}`);
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 random JSON values agree');
});

t.test('connection, visualization and factsheet: the compiled copies answer as the schemas do', async (t) => {
  const header = { headerId: 0, timestamp: '2026-11-24T08:00:00.000Z', version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-1' };
  const messages: [z.ZodType, z.ZodType, string, unknown][] = [
    [ConnectionSchema, INBOUND.connection, 'connection', { ...header, connectionState: 'ONLINE' }],
    [ConnectionSchema, INBOUND.connection, 'connection', { ...header, connectionState: 'CONNECTIONBROKEN', extra: 1 }],
    [VisualizationSchema, INBOUND.visualization, 'visualization', { ...header, agvPosition: { x: 1, y: 2, theta: 0.5, mapId: 'm', positionInitialized: true }, velocity: { vx: 0 } }],
    [VisualizationSchema, INBOUND.visualization, 'visualization', header],
    [FactsheetSchema, INBOUND.factsheet, 'factsheet', { ...header, typeSpecification: { seriesName: 'x', agvKinematic: 'DIFF' }, physicalParameters: { speedMax: 1.5, accelerationMax: 1 }, protocolFeatures: { agvActions: [{ actionType: 'pick', extra: [] }] }, vendorField: { a: 1 } }],
    [FactsheetSchema, INBOUND.factsheet, 'factsheet', header],
  ];
  let cases = 0;
  for (const [schema, compiled, name, message] of messages) {
    t.ok(schema.safeParse(message).success, `a valid ${name}`);
    for (const path of paths(message)) {
      for (const [what, input] of [['removed', edit(message, path, { remove: true })], ...ODD.map(([w, v]): [string, unknown] => [w, edit(message, path, { with: v })])] as [string, unknown][]) {
        cases++;
        const problem = disagreement(schema, compiled, input);
        if (problem) t.fail(`${name} ${path.join('.')} ${what}: ${problem}`);
      }
    }
    for (const input of [null, [], 'x', {}]) t.equal(disagreement(schema, compiled, input), undefined, `${name}: ${show(input)}`);
  }
  t.ok(cases > 500, `${cases} messages compared`);
});
