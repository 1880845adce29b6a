// Mission change notifications as `phygate mcp` learns them (gateway/mcp/mission-updates.ts): the
// gateway's real event stream, followed with a token while a mission is subscribed; the mission's
// own changes and its steps' are told, other missions' are not; unsubscribing closes the stream.
// The stdio door end to end is in mcp-stdio.test.ts.
import t from 'tap';
import { EventHub } from '../../gateway/events.ts';
import { missionOf, missionOfEvent, MissionUpdates, readEvents } from '../../gateway/mcp/mission-updates.ts';
import { until } from '../helpers/wait.ts';
import { appFor, canonicalPlan } from './harness.ts';

t.test('a subscribed mission is told when it changes, another is not; unsubscribing closes the stream', async (t) => {
  const hub = new EventHub();
  const h = await appFor(t, { hub });
  const base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const submit = async () => {
    const res = await h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan: canonicalPlan() } });
    return res.json() as { id: string; planHash: string };
  };
  const [one, two] = [await submit(), await submit()];
  const told: string[] = [];
  const warnings: string[] = [];
  const updates = new MissionUpdates({ eventsUrl: new URL('/v1/events', base), token: h.tokens.viewer, updated: (uri) => told.push(uri), warn: (w) => warnings.push(w) });
  t.teardown(() => updates.close());
  updates.subscribe('phygate://site');
  t.equal(hub.subscribers, 0, 'a resource that never changes opens no stream');
  updates.subscribe(`phygate://missions/${one!.id}`);
  await until('the stream is open', () => hub.subscribers === 1);
  // Cancelling `two` first: the stream keeps order, so once `one`'s change is told, `two`'s was passed over.
  for (const m of [two!, one!]) {
    const res = await h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/cancel`, headers: h.auth('operator'), payload: {} });
    t.equal(res.statusCode, 200, res.body);
  }
  await until('the change is told', () => told.length > 0);
  t.same(told, [`phygate://missions/${one!.id}`], "only the subscribed mission's change");
  hub.publish('step', { missionId: one!.id, step: 'mill', status: 'running' });
  await until("a step's change is told too", () => told.length === 2);
  updates.unsubscribe(`phygate://missions/${one!.id}`);
  await until('the stream is closed', () => hub.subscribers === 0);
  t.same(warnings, [], 'closing it is no problem to tell');
});

t.test('a stream the gateway refuses is told, and tried again while something is subscribed', async (t) => {
  const h = await appFor(t);
  const base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const warnings: string[] = [];
  const updates = new MissionUpdates({ eventsUrl: new URL('/v1/events', base), token: 'not-a-token', updated: () => undefined, warn: (w) => warnings.push(w), retryMs: 10 });
  t.teardown(() => updates.close());
  updates.subscribe('phygate://missions/m_1');
  await until('tried twice', () => warnings.length >= 2);
  t.match(warnings[0], /event stream \(http:\/\/127\.0\.0\.1:\d+\/v1\/events\): HTTP 401 .*UNAUTHORIZED.*resume when it is back/);
  updates.close();
});

t.test('events split across chunks, comments and CRLF are read as the stream means them', async (t) => {
  const text = ': keep-alive\r\n\r\nid: 1\r\nevent: mission\r\ndata: {"id":"m_1",\r\ndata: "status":"running"}\r\n\r\nretry: 2000\n\nevent: step\ndata: {"missionId":"m_2"}\n\ndata: plain\n\n';
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 7) c.enqueue(bytes.slice(i, i + 7));
      c.close();
    },
  });
  const events = [];
  for await (const e of readEvents(body)) events.push(e);
  t.same(events, [
    { event: 'mission', data: '{"id":"m_1",\n"status":"running"}' },
    { event: 'step', data: '{"missionId":"m_2"}' },
    { event: 'message', data: 'plain' },
  ]);
  t.same(events.map(missionOfEvent), ['m_1', 'm_2', undefined], "a mission event's id, a step event's missionId");
  t.equal(missionOfEvent({ event: 'mission', data: 'not json' }), undefined);
  t.equal(missionOf('phygate://missions/m_3'), 'm_3');
  t.equal(missionOf('phygate://missions/m_3/steps'), undefined);
  t.equal(missionOf('phygate://site'), undefined);
});
