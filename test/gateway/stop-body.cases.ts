// POST /v1/stop is never refused over its body. No body, an empty one, no or a wrong Content-Type,
// JSON that is broken or not an object, missing, empty, odd or over-long fields: each press is
// latched (GET /v1/stop), scope `all` unless the body names one, reason 'STOP' unless it gives one,
// and `notes` say what was made of the request. Only a scope that names nothing on the site is
// refused, 404 with nothing latched. The leniency is POST /v1/stop's alone: other routes, release
// included, stay strict.
import { connect } from 'node:net';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import type { StopRecord } from '../../gateway/stop.ts';
import { REASON_MAX, STOP_BODY_MAX } from '../../gateway/stop-request.ts';
import { appFor, type TestApp } from './harness.ts';
import { until } from '../helpers/wait.ts';

const ALL = ['amr-1', 'amr-2', 'amr-3', 'arm-1', 'cnc-1', 'printer-1', 'conveyor-1'];
const ZONES = ['paint-booth', 'walkway'];

interface Press {
  /** Sent as is (a string or bytes); an object is sent as JSON by inject. */
  payload?: string | Buffer | object;
  contentType?: string;
}

const press = (h: TestApp, { payload, contentType }: Press) =>
  h.app.inject({
    method: 'POST',
    url: '/v1/stop',
    headers: { ...h.auth('viewer'), ...(contentType === undefined ? {} : { 'content-type': contentType }) },
    ...(payload === undefined ? {} : { payload }),
  });

async function active(h: TestApp): Promise<StopRecord[]> {
  const res = await h.app.inject({ method: 'GET', url: '/v1/stop', headers: h.auth('viewer') });
  const body = res.json() as { active: boolean; stops: StopRecord[] };
  if (body.active !== body.stops.length > 0) throw new Error('GET /v1/stop: active disagrees with stops');
  return body.stops;
}

interface Case {
  what: string;
  send: Press;
  scope: string;
  reason: string | RegExp;
  /** The notes, in any order: each matches one. */
  notes: RegExp[];
  devices?: string[];
}

const long = 'a person is in aisle 2 near the conveyor; '.repeat(20);

const CASES: Case[] = [
  { what: 'no body, no Content-Type', send: {}, scope: 'all', reason: 'STOP', notes: [/^scope missing: 'all' used$/, /^reason missing: 'STOP' used$/] },
  { what: 'an empty body declared as JSON', send: { payload: '', contentType: 'application/json' }, scope: 'all', reason: 'STOP', notes: [/^scope missing/, /^reason missing/] },
  { what: '{}', send: { payload: {} }, scope: 'all', reason: 'STOP', notes: [/^scope missing/, /^reason missing/] },
  { what: '{"scope":"all"} without a reason', send: { payload: { scope: 'all' } }, scope: 'all', reason: 'STOP', notes: [/^reason missing: 'STOP' used$/] },
  { what: 'an empty reason', send: { payload: { scope: 'all', reason: '' } }, scope: 'all', reason: 'STOP', notes: [/^reason empty: 'STOP' used$/] },
  { what: 'a reason of blanks and control characters', send: { payload: { reason: ' \n\t ' } }, scope: 'all', reason: 'STOP', notes: [/^scope missing/, /^reason empty/] },
  { what: 'null scope and reason', send: { payload: { scope: null, reason: null } }, scope: 'all', reason: 'STOP', notes: [/^scope null: 'all' used$/, /^reason null: 'STOP' used$/] },
  { what: 'an empty scope', send: { payload: { scope: '  ', reason: 'r' } }, scope: 'all', reason: 'r', notes: [/^scope empty: 'all' used$/] },
  { what: "scope 'ALL'", send: { payload: { scope: 'ALL', reason: 'r' } }, scope: 'all', reason: 'r', notes: [/^scope 'ALL' read as 'all'$/] },
  { what: "scope 'Device:AMR-1'", send: { payload: { scope: 'Device:AMR-1', reason: 'r' } }, scope: 'device:amr-1', reason: 'r', notes: [/^scope 'Device:AMR-1' read as 'device:amr-1'$/], devices: ['amr-1'] },
  { what: "scope ' zone : Walkway '", send: { payload: { scope: ' zone : Walkway ', reason: 'r' } }, scope: 'zone:walkway', reason: 'r', notes: [/read as 'zone:walkway'$/] },
  { what: "a bare device id 'amr-1'", send: { payload: { scope: 'amr-1', reason: 'r' } }, scope: 'device:amr-1', reason: 'r', notes: [/^scope 'amr-1' read as 'device:amr-1'$/], devices: ['amr-1'] },
  { what: "a bare zone id 'paint-booth'", send: { payload: { scope: 'paint-booth', reason: 'r' } }, scope: 'zone:paint-booth', reason: 'r', notes: [/^scope 'paint-booth' read as 'zone:paint-booth'$/] },
  { what: 'the canonical form says nothing', send: { payload: { scope: 'device:cnc-1', reason: 'coolant leak' } }, scope: 'device:cnc-1', reason: 'coolant leak', notes: [], devices: ['cnc-1'] },
  {
    what: 'JSON sent as text/plain',
    send: { payload: JSON.stringify({ scope: 'device:cnc-1', reason: 'r' }), contentType: 'text/plain' },
    scope: 'device:cnc-1',
    reason: 'r',
    notes: [/^Content-Type 'text\/plain' ignored: the body was read as JSON$/],
    devices: ['cnc-1'],
  },
  {
    what: 'JSON with no Content-Type',
    send: { payload: JSON.stringify({ scope: 'device:cnc-1', reason: 'r' }) },
    scope: 'device:cnc-1',
    reason: 'r',
    notes: [/^no Content-Type: the body was read as JSON$/],
    devices: ['cnc-1'],
  },
  {
    what: 'a malformed Content-Type',
    send: { payload: JSON.stringify({ reason: 'r' }), contentType: 'json' },
    scope: 'all',
    reason: 'r',
    notes: [/^Content-Type 'json' ignored: the body was read as JSON$/, /^scope missing/],
  },
  {
    what: 'unknown fields',
    send: { payload: { scope: 'all', reason: 'r', foo: 1, force: true } },
    scope: 'all',
    reason: 'r',
    notes: [/^unknown fields 'foo', 'force' ignored$/],
  },
  { what: 'one unknown field', send: { payload: { reason: 'r', foo: 1 } }, scope: 'all', reason: 'r', notes: [/^scope missing/, /^unknown field 'foo' ignored$/] },
  {
    what: 'fields spelled in capitals',
    send: { payload: { Scope: 'amr-3', REASON: 'odd noise' } },
    scope: 'device:amr-3',
    reason: 'odd noise',
    notes: [/^field 'Scope' read as 'scope'$/, /^field 'REASON' read as 'reason'$/, /^scope 'amr-3' read as 'device:amr-3'$/],
    devices: ['amr-3'],
  },
  {
    what: 'a reason over the limit',
    send: { payload: { reason: long } },
    scope: 'all',
    reason: `${long.trim().slice(0, REASON_MAX - 1)}…`,
    notes: [/^scope missing/, new RegExp(`^reason longer than ${REASON_MAX} characters \\(${long.trim().length}\\): cut to ${REASON_MAX}$`)],
  },
  { what: 'a number as the reason', send: { payload: { reason: 42 } }, scope: 'all', reason: '42', notes: [/^scope missing/, /^reason is a number: its JSON text used$/] },
  {
    what: 'an object as the reason',
    send: { payload: { reason: { text: 'spill' } } },
    scope: 'all',
    reason: '{"text":"spill"}',
    notes: [/^scope missing/, /^reason is an object: its JSON text used$/],
  },
  {
    what: 'plain text',
    send: { payload: 'someone walked into aisle 2', contentType: 'text/plain' },
    scope: 'all',
    reason: 'someone walked into aisle 2',
    notes: [/^body read as the reason$/, /^scope missing/],
  },
  {
    what: 'plain text that is a scope',
    send: { payload: 'device:amr-2\n', contentType: 'text/plain' },
    scope: 'device:amr-2',
    reason: 'STOP',
    notes: [/^body read as the scope$/, /^reason missing/],
    devices: ['amr-2'],
  },
  {
    what: 'broken JSON',
    send: { payload: '{"scope": "device:cnc-1", "reason": ', contentType: 'application/json' },
    scope: 'all',
    reason: 'STOP',
    notes: [/^body is not valid JSON \(.+\): ignored$/, /^scope missing/, /^reason missing/],
  },
  {
    what: 'a JSON list',
    send: { payload: '["amr-1"]', contentType: 'application/json' },
    scope: 'all',
    reason: 'STOP',
    notes: [/^body is a list, not an object \{"scope", "reason"\}: ignored$/, /^scope missing/, /^reason missing/],
  },
  { what: 'JSON null', send: { payload: 'null', contentType: 'application/json' }, scope: 'all', reason: 'STOP', notes: [/^body is null, not an object/, /^scope missing/, /^reason missing/] },
  {
    what: 'a JSON string',
    send: { payload: '"fire in the booth"', contentType: 'application/json' },
    scope: 'all',
    reason: 'fire in the booth',
    notes: [/^body, a JSON string, read as the reason$/, /^scope missing/],
  },
  {
    what: 'a form, as curl -d sends it',
    send: { payload: 'scope=device%3Aprinter-1&reason=jammed', contentType: 'application/x-www-form-urlencoded' },
    scope: 'device:printer-1',
    reason: 'jammed',
    notes: [],
    devices: ['printer-1'],
  },
  {
    what: 'JSON declared as a form (curl -d without -H)',
    send: { payload: '{"scope":"device:printer-1","reason":"jammed"}', contentType: 'application/x-www-form-urlencoded' },
    scope: 'device:printer-1',
    reason: 'jammed',
    notes: [/^Content-Type 'application\/x-www-form-urlencoded' ignored: the body was read as JSON$/],
    devices: ['printer-1'],
  },
  {
    what: 'bytes that are not text (gzip)',
    send: { payload: gzipSync(JSON.stringify({ scope: 'device:cnc-1' })), contentType: 'application/json' },
    scope: 'all',
    reason: 'STOP',
    notes: [/^body is not text \(\d+ bytes\): ignored$/, /^scope missing/, /^reason missing/],
  },
  {
    what: `a body over ${STOP_BODY_MAX} bytes, and over the gateway's body limit`,
    send: { payload: JSON.stringify({ scope: 'device:cnc-1', reason: 'x'.repeat(300 * 1024) }), contentType: 'application/json' },
    scope: 'all',
    reason: 'STOP',
    notes: [new RegExp(`^body longer than ${STOP_BODY_MAX} bytes: only its first ${STOP_BODY_MAX} read$`), /^body is not valid JSON/, /^scope missing/, /^reason missing/],
  },
];

t.test('every press stops: defaults for what is missing, notes for what was made of it', async (t) => {
  const h = await appFor(t);
  let latched = 0;
  for (const c of CASES) {
    const res = await press(h, c.send);
    t.equal(res.statusCode, 200, `${c.what}: 200 (got ${res.body.slice(0, 200)})`);
    const body = res.json();
    t.equal(body.scope, c.scope, `${c.what}: scope`);
    if (typeof c.reason === 'string') t.equal(body.reason, c.reason, `${c.what}: reason`);
    else t.match(body.reason, c.reason, `${c.what}: reason`);
    t.ok([...body.reason].length <= REASON_MAX, `${c.what}: reason within ${REASON_MAX} characters`);
    t.same(body.devices, c.devices ?? (c.scope === 'all' ? ALL : body.devices), `${c.what}: devices`);
    t.same(
      body.told.map((d: { device: string }) => d.device),
      body.devices,
      `${c.what}: every device in scope was told`,
    );
    const notes = body.notes as string[];
    t.equal(notes.length, c.notes.length, `${c.what}: ${c.notes.length} notes (${JSON.stringify(notes)})`);
    for (const note of c.notes) t.ok(notes.some((n) => note.test(n)), `${c.what}: a note ${note}`);
    const stops = await active(h);
    latched++;
    t.equal(stops.length, latched, `${c.what}: latched, one more active stop`);
    t.match(stops.at(-1), { id: body.id, scope: c.scope, reason: body.reason, createdBy: 'viewer-test', releasedAt: null });
  }
  t.equal(h.store.stops.active().length, CASES.length, 'every press is in the store');
});

t.test('a scope naming nothing on the site is 404 NOT_FOUND and stops nothing', async (t) => {
  const h = await appFor(t);
  const bad: [string, Press, RegExp][] = [
    ['an unknown device', { payload: { scope: 'device:amr-9', reason: 'r' } }, /'amr-9' is not a device of this site; devices: amr-1, /],
    ['an unknown zone', { payload: { scope: 'zone:nowhere' } }, /'nowhere' is not a zone of this site; zones: paint-booth, walkway/],
    ['a device named as a zone', { payload: { scope: 'zone:amr-1' } }, /'amr-1' is not a zone of this site \('amr-1' is a device: scope 'device:amr-1'\)/],
    ['a zone named as a device', { payload: { scope: 'DEVICE:walkway' } }, /'walkway' is not a device of this site \('walkway' is a zone: scope 'zone:walkway'\)/],
    ['a word that names nothing', { payload: { scope: 'everything' } }, /'everything' is not 'all', 'zone:<id>', 'device:<id>' nor the id of a zone or device of this site/],
    ['a number', { payload: { scope: 1 } }, /scope 1 is not a name/],
    ['an object', { payload: { scope: { device: 'amr-1' } } }, /scope \{"device":"amr-1"\} is not a name/],
    ['a list', { payload: { scope: ['amr-1'] } }, /scope \["amr-1"\] is not a name/],
    ['plain text naming an unknown device', { payload: 'device:amr-9', contentType: 'text/plain' }, /'amr-9' is not a device/],
  ];
  for (const [what, send, message] of bad) {
    const res = await press(h, send);
    t.equal(res.statusCode, 404, `${what}: 404`);
    const body = res.json();
    t.equal(body.code, 'NOT_FOUND', `${what}: code`);
    t.match(body.message, /^Nothing was stopped: /, `${what}: says plainly nothing was stopped`);
    t.match(body.message, message, `${what}: says why`);
    t.match(body.message, /Send scope 'all', or no scope, to stop everything\.$/, `${what}: says how to stop everything`);
    t.match(body.details, { stopped: false, notes: Array }, `${what}: details`);
    t.same([body.details.zones, body.details.devices], [ZONES, ALL], `${what}: the known zones and devices`);
    t.same(body.details.scope, typeof send.payload === 'string' ? 'device:amr-9' : (send.payload as { scope: unknown }).scope, `${what}: the scope as sent`);
  }
  t.same(await active(h), [], 'nothing latched');
  t.same(h.store.stops.active(), [], 'nothing stored');
  const rows = h.store.audit.list().filter((r) => r.path === '/v1/stop');
  t.equal(rows.length, bad.length, 'each refused press is in the audit log');
  t.ok(rows.every((r) => r.status === 404 && r.code === 'NOT_FOUND'), 'as 404 NOT_FOUND');
});

t.test('a token is still needed, any role may stop, and the audit log records each press', async (t) => {
  const h = await appFor(t);
  const anonymous = await h.app.inject({ method: 'POST', url: '/v1/stop' });
  t.equal(anonymous.statusCode, 401, 'no token: 401');
  t.equal(anonymous.json().code, 'UNAUTHORIZED');
  const wrong = await h.app.inject({ method: 'POST', url: '/v1/stop', headers: { authorization: 'Bearer nope' }, payload: 'not json' });
  t.equal(wrong.statusCode, 401, 'an unknown token with a body: 401');
  t.same(await active(h), [], 'nothing latched without a token');
  for (const role of ['viewer', 'agent', 'operator', 'admin'] as const) {
    const res = await h.app.inject({ method: 'POST', url: '/v1/stop', headers: h.auth(role) });
    t.equal(res.statusCode, 200, `${role}: 200 with no body`);
    t.match(res.json(), { scope: 'all', reason: 'STOP', createdBy: `${role}-test` });
  }
  t.equal((await active(h)).length, 4, 'four presses latched');
  t.match(
    h.store.audit.list().map((r) => [r.actor, r.path, r.status, r.code, r.count]),
    [
      // The two refused presses without a valid token, gathered into one row (gateway/audit-batch.ts).
      ['anonymous', '/v1/stop', 401, 'UNAUTHORIZED', 2],
      ['viewer-test', '/v1/stop', 200, null, undefined],
      ['agent-test', '/v1/stop', 200, null, undefined],
      ['operator-test', '/v1/stop', 200, null, undefined],
      ['admin-test', '/v1/stop', 200, null, undefined],
    ],
  );
});

t.test('the leniency is POST /v1/stop alone: release and other routes stay strict', async (t) => {
  const h = await appFor(t);
  t.equal((await press(h, {})).statusCode, 200, 'a stop to release');
  const release = (payload: string | undefined, contentType?: string) =>
    h.app.inject({
      method: 'POST',
      url: '/v1/stop/release',
      headers: { ...h.auth('operator'), ...(contentType === undefined ? {} : { 'content-type': contentType }) },
      ...(payload === undefined ? {} : { payload }),
    });
  const refused: [string, Awaited<ReturnType<typeof release>>, number, string][] = [
    ['release without a body', await release(undefined), 400, 'VALIDATION_FAILED'],
    ['release with {}', await release('{}', 'application/json'), 400, 'VALIDATION_FAILED'],
    ['release with broken JSON', await release('{', 'application/json'), 400, 'INVALID_JSON'],
    ['release as text/plain', await release('{"ack":true}', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['release with no Content-Type', await release('{"ack":true}'), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['release with an unknown field', await release('{"ack":true,"foo":1}', 'application/json'), 400, 'VALIDATION_FAILED'],
  ];
  for (const [what, res, status, code] of refused) {
    t.equal(res.statusCode, status, `${what}: ${status}`);
    t.equal(res.json().code, code, `${what}: ${code}`);
  }
  t.equal((await active(h)).length, 1, 'the stop is still active');
  const check = (payload: string, contentType?: string) =>
    h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: { ...h.auth('agent'), ...(contentType ? { 'content-type': contentType } : {}) }, payload });
  t.equal((await check('{"plan":{}}', 'text/plain')).statusCode, 415, 'plans/check as text/plain: 415');
  t.equal((await check('{"plan":{}}')).statusCode, 415, 'plans/check with no Content-Type: 415');
  t.equal((await check('{', 'application/json')).json().code, 'INVALID_JSON', 'plans/check with broken JSON: INVALID_JSON');
  t.equal((await check('x'.repeat(300 * 1024), 'application/json')).statusCode, 413, 'plans/check over the body limit: 413');
  const released = await release('{"ack":true}', 'application/json');
  t.equal(released.statusCode, 200, 'release with ack: 200');
  t.same(await active(h), []);
});

t.test('the press and its fields are described in the OpenAPI document', async (t) => {
  const h = await appFor(t);
  const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json();
  const op = doc.paths['/v1/stop'].post;
  t.match(op.description, /never refused over its body/);
  t.match(op.description, /404 `NOT_FOUND`/);
  t.match(op.description, /`notes`/);
  t.equal(op.requestBody.required, false, 'the body is optional');
  t.equal(doc.paths['/v1/stop/release'].post.requestBody.required, true, "release's is not");
  const schema = op.requestBody.content['application/json'].schema;
  t.same(schema.required ?? [], [], 'no field is required');
  t.match(schema.properties, { scope: { type: 'string', description: /bare zone or device id/ }, reason: { type: 'string', description: /default 'STOP'/ } });
});

/** A raw HTTP/1.1 request on a socket, as curl sends it; resolves with the status and body. */
function raw(port: number, text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (got += c));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head = '', body = ''] = got.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), body: /transfer-encoding: chunked/i.test(head) ? dechunk(body) : body });
    });
  });
}

function dechunk(s: string): string {
  let out = '';
  for (let rest = s; ; ) {
    const nl = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

async function listening(t: Test): Promise<{ h: TestApp; port: number }> {
  const h = await appFor(t);
  const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  return { h, port: Number(new URL(url).port) };
}

t.test('over real HTTP: curl -X POST with only a token stops everything', async (t) => {
  const { h, port } = await listening(t);
  const res = await raw(port, `POST /v1/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${h.tokens.viewer}\r\nConnection: close\r\n\r\n`);
  t.equal(res.status, 200, 'no body, no Content-Type, no Content-Length: 200');
  const body = JSON.parse(res.body);
  t.match(body, { scope: 'all', reason: 'STOP', devices: ALL });
  t.same(body.notes.sort(), ["reason missing: 'STOP' used", "scope missing: 'all' used"]);
  t.same(body.told.map((d: { device: string }) => d.device), ALL);
  t.match(await active(h), [{ id: body.id, scope: 'all' }], 'latched');

  const anonymous = await raw(port, 'POST /v1/stop HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  t.equal(anonymous.status, 401, 'without the token: 401');
  t.equal((await active(h)).length, 1, 'and nothing more latched');
});

t.test('over real HTTP: a JSON body without a Content-Type, sent in chunks', async (t) => {
  const { h, port } = await listening(t);
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    // No Content-Length either: node:http sends the body chunked.
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/stop', headers: { authorization: `Bearer ${h.tokens.agent}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    t.notOk(req.getHeader('content-type'), 'no Content-Type is sent');
    req.write('{"scope": "Zone:Paint-Booth", ');
    req.end('"reason": "overspray alarm"}');
  });
  t.equal(answer.status, 200);
  const body = JSON.parse(answer.body);
  t.match(body, { scope: 'zone:paint-booth', reason: 'overspray alarm', createdBy: 'agent-test' });
  t.same(body.notes, ['no Content-Type: the body was read as JSON', "scope 'Zone:Paint-Booth' read as 'zone:paint-booth'"]);
  t.match(await active(h), [{ id: body.id, scope: 'zone:paint-booth', reason: 'overspray alarm' }], 'latched');
});

t.test('over real HTTP: a client that goes away mid-body still stops everything', async (t) => {
  const { h, port } = await listening(t);
  const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/stop', headers: { authorization: `Bearer ${h.tokens.viewer}`, 'content-type': 'application/json', 'content-length': '200' } });
  const gone = new Promise<void>((resolve) => req.on('error', () => resolve()));
  const arrived = new Promise<void>((resolve) => h.app.server.once('request', () => resolve()));
  req.write('{"scope": "device:cnc-1", "rea');
  await arrived;
  req.destroy();
  await gone;
  const [stop] = await until('a stop latched', () => h.store.stops.active().length > 0 && h.store.stops.active());
  t.match(stop, { scope: 'all', reason: 'STOP', createdBy: 'viewer-test' }, 'everything stopped: the scope in the broken body is not trusted');
  t.match(await active(h), [{ id: stop!.id }]);
});

t.test('GET /v1/stop/history: every STOP, released or not, newest first, with who pressed and who released it (#18)', async (t) => {
  const h = await appFor(t);
  const press = (reason: string) => h.app.inject({ method: 'POST', url: '/v1/stop', headers: h.auth('viewer'), payload: { reason } });
  t.equal((await press('first')).statusCode, 200);
  t.equal((await h.app.inject({ method: 'POST', url: '/v1/stop/release', headers: h.auth('operator'), payload: { ack: true, note: 'checked the cell' } })).statusCode, 200);
  t.equal((await press('second')).statusCode, 200);
  const history = await h.app.inject({ method: 'GET', url: '/v1/stop/history', headers: h.auth('viewer') });
  t.equal(history.statusCode, 200);
  const stops = history.json().stops as { reason: string; createdBy: string; releasedBy: string | null; releaseNote: string | null }[];
  t.same(
    stops.map((s) => [s.reason, s.releasedBy === null ? 'active' : 'released', s.releaseNote]),
    [
      ['second', 'active', null],
      ['first', 'released', 'checked the cell'],
    ],
  );
  t.ok(stops.every((s) => s.createdBy.length > 0), 'who pressed each');
  t.not(stops[1]!.releasedBy, null, 'who released the first');
  const one = await h.app.inject({ method: 'GET', url: '/v1/stop/history?limit=1', headers: h.auth('viewer') });
  t.same(one.json().stops.map((s: { reason: string }) => s.reason), ['second']);
  const bad = await h.app.inject({ method: 'GET', url: '/v1/stop/history?limit=0', headers: h.auth('viewer') });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { code: 'VALIDATION_FAILED', details: { problems: [{ path: 'query.limit' }] } });
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/stop/history' })).statusCode, 401, 'a token is needed');
});
