// GET /v1/events over a real socket: a snapshot first, then device changes, throttled per
// device with the latest state always delivered; the token by header or ?access_token=.
import t, { type Test } from 'tap';
import { EventHub } from '../../gateway/events.ts';
import { until } from '../helpers/wait.ts';
import { appFor, canonicalPlan } from './harness.ts';

interface Sse {
  events: { id: string; event: string; data: unknown }[];
  /** Resolves when at least `n` events have arrived. */
  until(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves when the stream is over: `ended` by the server, `cut` (the connection dropped or we closed it). */
  over: Promise<'ended' | 'cut'>;
  close(): void;
}

async function openStream(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; sse: Sse }> {
  const ac = new AbortController();
  const res = await fetch(url, { headers, signal: ac.signal });
  const events: Sse['events'] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const over = (async (): Promise<'ended' | 'cut'> => {
    if (!res.body || res.status !== 200) return 'ended';
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':') && l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
          if (fields.event) events.push({ id: fields.id ?? '', event: fields.event, data: JSON.parse(fields.data ?? 'null') });
          for (const w of waiters.filter((w) => events.length >= w.n)) w.resolve();
        }
      }
    } catch {
      return 'cut';
    }
    return 'ended';
  })();
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    sse: {
      events,
      until: (n, timeoutMs = 5000) =>
        new Promise<void>((resolve, reject) => {
          if (events.length >= n) return resolve();
          const timer = setTimeout(() => reject(new Error(`only ${events.length} of ${n} events within ${timeoutMs} ms`)), timeoutMs);
          waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
        }),
      over,
      close: () => ac.abort(),
    },
  };
}

t.test('a snapshot of every device, then device events as states change, throttled per device', async (t) => {
  const h = await appFor(t);
  const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const { status, type, sse } = await openStream(`${url}/v1/events`, h.auth('viewer'));
  t.teardown(() => sse.close());
  t.equal(status, 200);
  t.match(type, /^text\/event-stream/);
  await sse.until(1);
  t.equal(sse.events[0]!.event, 'snapshot');
  const snapshot = sse.events[0]!.data as { devices: { id: string; kind: string; online: boolean }[] };
  t.same(snapshot.devices.map((d) => d.id), h.site.index.site.devices.map((d) => d.id), 'every device of the site');
  t.match(snapshot.devices[0], { id: 'amr-1', kind: 'amr', online: true });

  // Ten quick updates of amr-1: the first goes out at once, the rest collapse into the latest.
  for (let i = 1; i <= 10; i++) h.fleet.update('amr-1', { soc: 0.9 - i * 0.01 });
  h.fleet.update('amr-2', { paused: true });
  await sse.until(4);
  await new Promise((r) => setTimeout(r, 400));
  const devices = sse.events.slice(1).map((e) => e.data as { id: string; soc?: number; paused?: boolean });
  const amr1 = devices.filter((d) => d.id === 'amr-1');
  t.equal(amr1.length, 2, 'amr-1: the first change, then one coalesced event');
  t.equal(amr1[0]!.soc, 0.89);
  t.equal(amr1[1]!.soc, 0.8, 'the latest state arrives');
  t.match(devices.find((d) => d.id === 'amr-2'), { paused: true, kind: 'amr' }, "another device's change is not held back by amr-1's throttle");
  const ids = sse.events.slice(1).map((e) => Number(e.id));
  t.same(ids, [...ids].sort((a, b) => a - b), 'event ids rise');
});

t.test('a mission submitted, approved or cancelled is a mission event at once, so the tablet learns of it', async (t) => {
  const h = await appFor(t);
  const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const { sse } = await openStream(`${url}/v1/events`, h.auth('viewer'));
  t.teardown(() => sse.close());
  await sse.until(1);
  const missions = () => sse.events.filter((e) => e.event === 'mission').map((e) => e.data);
  const submit = async () => (await h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan: canonicalPlan() } })).json() as { id: string; planHash: string };
  const a = await submit();
  const b = await submit();
  await h.app.inject({ method: 'POST', url: `/v1/missions/${a.id}/approve`, headers: h.auth('operator'), payload: { planHash: a.planHash } });
  await h.app.inject({ method: 'POST', url: `/v1/missions/${b.id}/cancel`, headers: h.auth('operator'), payload: {} });
  // A plan for printer-1, which the approved mission does not use (a copy of that mission's plan
  // would now fail its check against it).
  const prints = { schema: 'phygate.plan/v1', name: 'clips', steps: [{ id: 'print', action: 'machine.run', device: 'printer-1', params: { program: 'clip-x' } }] };
  const replay = await h.app.inject({ method: 'POST', url: '/v1/missions', headers: { ...h.auth('agent'), 'idempotency-key': 'k1' }, payload: { plan: prints } });
  await h.app.inject({ method: 'POST', url: '/v1/missions', headers: { ...h.auth('agent'), 'idempotency-key': 'k1' }, payload: { plan: prints } });
  await sse.until(6);
  await new Promise((r) => setTimeout(r, 100));
  t.same(missions(), [
    { id: a.id, status: 'awaiting_approval' },
    { id: b.id, status: 'awaiting_approval' },
    { id: a.id, status: 'approved' },
    { id: b.id, status: 'cancelled' },
    { id: replay.json().id, status: 'awaiting_approval' },
  ], 'one event each; an idempotent replay adds none');
});

t.test('auth: 401 without a token, the token as ?access_token= for EventSource, 401 for a wrong one', async (t) => {
  const h = await appFor(t);
  const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const none = await fetch(`${url}/v1/events`);
  t.equal(none.status, 401);
  t.equal((await none.json()).code, 'UNAUTHORIZED');
  const wrong = await fetch(`${url}/v1/events?access_token=pgt_nope`);
  t.equal(wrong.status, 401);
  await wrong.body?.cancel();
  const { status, sse } = await openStream(`${url}/v1/events?access_token=${h.tokens.viewer}`);
  t.teardown(() => sse.close());
  t.equal(status, 200);
  await sse.until(1);
  t.equal(sse.events[0]!.event, 'snapshot');
  const elsewhere = await h.app.inject({ method: 'GET', url: `/v1/robots?access_token=${h.tokens.viewer}` });
  t.equal(elsewhere.statusCode, 401, 'other routes do not take the token from the URL');
});

t.test('closing the gateway ends open streams instead of hanging', async (t) => {
  const h = await appFor(t);
  const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const { sse } = await openStream(`${url}/v1/events`, h.auth('viewer'));
  t.teardown(() => sse.close());
  await sse.until(1);
  // A stream left open would hold close() until tap's timeout; once it returns, the gateway has
  // ended the stream itself (no wall-clock bound: a busy machine only makes it slower).
  await h.close();
  t.equal(await sse.over, 'ended', 'the gateway ended the open stream as it closed');
});

t.test('the hub: throttle per key, latest wins, unthrottled publish, close cancels what is pending', async (t) => {
  let now = 0;
  const hub = new EventHub(100, () => now);
  const got: unknown[] = [];
  const off = hub.subscribe((e) => got.push(e.data));
  hub.publishThrottled('k', 'device', 1);
  hub.publishThrottled('k', 'device', 2);
  hub.publishThrottled('k', 'device', 3);
  hub.publish('mission', 'now');
  t.same(got, [1, 'now']);
  now = 100;
  await new Promise((r) => setTimeout(r, 150));
  t.same(got, [1, 'now', 3]);
  hub.publishThrottled('k', 'device', 4);
  hub.close();
  await new Promise((r) => setTimeout(r, 150));
  t.same(got, [1, 'now', 3], 'nothing after close');
  off();
  t.equal(hub.subscribers, 0);
});

/**
 * A gateway listening on a free port whose log (at debug, where access lines are) the test reads
 * with `text()`. Its event streams stay open until it closes, which ends them; `ac` aborts the
 * test's fetches after that (aborted before, fetch would keep its socket 4 s more, and close()
 * wait for it).
 */
async function loggedApp(t: Test) {
  const { PassThrough } = await import('node:stream');
  const { buildApp } = await import('../../gateway/app.ts');
  const { readConfig } = await import('../../gateway/config.ts');
  const h = await appFor(t);
  const log = new PassThrough();
  let logged = '';
  log.on('data', (d: Buffer) => (logged += d.toString()));
  const app = await buildApp({ config: { ...readConfig({}), PHYGATE_LOG_LEVEL: 'debug' }, site: h.site, store: h.store, fleet: h.fleet, logStream: log });
  const ac = new AbortController();
  t.teardown(async () => {
    await app.close();
    ac.abort();
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { h, app, url, ac, text: () => logged };
}

t.test('a token passed as ?access_token= never reaches the request log', async (t) => {
  const { redactUrl } = await import('../../gateway/app.ts');
  t.equal(redactUrl('/v1/events?access_token=pgt_secret&x=1'), '/v1/events?access_token=REDACTED&x=1');
  t.equal(redactUrl('/v1/events?x=1&ACCESS_TOKEN=pgt_secret'), '/v1/events?x=1&ACCESS_TOKEN=REDACTED');
  const { h, app, url, ac, text } = await loggedApp(t);
  const res = await fetch(`${url}/v1/events?access_token=${h.tokens.viewer}`, { signal: ac.signal });
  t.equal(res.status, 200);
  await app.inject({ method: 'GET', url: `/v1/robots?access_token=${h.tokens.admin}` });
  const lines = () => text().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string; req?: { url: string } });
  await until('both requests logged', () => lines().filter((l) => l.msg === 'incoming request').length >= 2, 5000);
  t.match(text(), /access_token=REDACTED/, 'the request is logged, its token redacted');
  t.notMatch(text(), new RegExp(h.tokens.viewer), 'the viewer token is not in the log');
  t.notMatch(text(), new RegExp(h.tokens.admin), 'the admin token is not in the log');
  const access = lines().filter((l) => l.msg === 'incoming request' || l.msg === 'request completed');
  t.ok(access.some((l) => l.msg === 'request completed'), 'the completed line is there too');
  t.same([...new Set(access.map((l) => l.level))], [20], 'every access line is at debug (20)');
  t.same(lines().filter((l) => l.msg === 'incoming request').map((l) => l.req?.url).sort(), ['/v1/events?access_token=REDACTED', '/v1/robots?access_token=REDACTED']);
});

t.test('open streams are capped per token and in all: one more is 429 TOO_MANY_STREAMS; a closed one frees its place', async (t) => {
  const h = await appFor(t, { config: { PHYGATE_EVENT_STREAMS_PER_TOKEN: 2, PHYGATE_EVENT_STREAMS: 3 } });
  const url = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const opened: Sse[] = [];
  t.teardown(() => opened.forEach((s) => s.close()));
  const open = async (headers: Record<string, string>) => {
    const { status, sse } = await openStream(`${url}/v1/events`, headers);
    opened.push(sse);
    return { status, sse };
  };
  const refused = async (headers: Record<string, string>) => {
    const res = await fetch(`${url}/v1/events`, { headers });
    if (res.status === 200) {
      // Not refused: a stream, which would never end by itself.
      await res.body?.cancel();
      return { status: res.status, body: { code: '', message: '' } };
    }
    return { status: res.status, body: (await res.json()) as { code: string; message: string } };
  };

  const first = await open(h.auth('viewer'));
  t.equal(first.status, 200);
  t.equal((await open(h.auth('viewer'))).status, 200);
  const third = await refused(h.auth('viewer'));
  t.equal(third.status, 429, "a token's third stream");
  t.match(third.body, { code: 'TOO_MANY_STREAMS', message: /viewer-test/ });
  const third2 = await refused({ authorization: `bearer  ${h.tokens.viewer}` });
  t.equal(third2.status, 429, 'however the header is spelled');

  t.equal((await open(h.auth('operator'))).status, 200, 'another token has its own places');
  const overall = await refused(h.auth('admin'));
  t.equal(overall.status, 429, 'three open in all: the fourth is refused whoever asks');
  t.match(overall.body, { code: 'TOO_MANY_STREAMS', message: /3 event streams are open/ });

  first.sse.close();
  const again = await until('the closed stream frees its place', async () => {
    const res = await open(h.auth('viewer'));
    return res.status === 200 ? res : undefined;
  }, 10_000);
  await again.sse.until(1);
  t.equal(again.sse.events[0]!.event, 'snapshot', 'a stream like any other');
});

t.test('the token in any spelling of the access_token key is accepted and never logged', async (t) => {
  const { redactUrl } = await import('../../gateway/app.ts');
  for (const key of ['access%5Ftoken', '%61ccess_token', 'access_%74oken', 'ACCESS%5fTOKEN', 'access%255Ftoken', 'access_token']) {
    t.equal(redactUrl(`/v1/events?x=1&${key}=pgt_secret&y=2`), `/v1/events?x=1&${key}=REDACTED&y=2`, key);
  }
  t.equal(redactUrl('/v1/events?access_tokens=keep&token=keep'), '/v1/events?access_tokens=keep&token=keep', 'other keys stay');
  t.equal(redactUrl('/v1/events?%zz=1&access%5Ftoken=pgt_secret#frag'), '/v1/events?%zz=1&access%5Ftoken=REDACTED#frag', 'a malformed escape elsewhere changes nothing');

  const { h, app, url, ac, text } = await loggedApp(t);
  const spelled = [`access%5Ftoken=${h.tokens.viewer}`, `%61ccess_token=${h.tokens.operator}`];
  for (const q of spelled) {
    const res = await fetch(`${url}/v1/events?${q}`, { signal: ac.signal });
    t.equal(res.status, 200, `${q.split('=')[0]} is read as access_token`);
  }
  await app.inject({ method: 'GET', url: `/v1/nowhere?%61ccess%5Ftoken=${h.tokens.admin}` });
  const lines = () => text().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; req?: { url: string } });
  await until('the requests logged', () => lines().filter((l) => l.msg === 'incoming request').length >= 3, 5000);
  for (const role of ['viewer', 'operator', 'admin'] as const) t.notMatch(text(), h.tokens[role], `the ${role} token is not in the log`);
  t.same(
    lines().filter((l) => l.msg === 'incoming request').map((l) => l.req?.url).sort(),
    ['/v1/events?%61ccess_token=REDACTED', '/v1/events?access%5Ftoken=REDACTED', '/v1/nowhere?%61ccess%5Ftoken=REDACTED'],
  );
});
