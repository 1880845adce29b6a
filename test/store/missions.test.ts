import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import t, { type Test } from 'tap';
import { openDatabase, SCHEMA_VERSION } from '../../gateway/store/database.ts';
import { newId } from '../../gateway/store/ids.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import {
  IdempotencyConflictError,
  InvalidTransitionError,
  MissionNotFoundError,
  type NewMission,
} from '../../gateway/store/missions.ts';
import type { MissionStatus } from '../../planners/mission.ts';
import { PlanSchema, planHash } from '../../planners/plan.ts';
import { dataDir } from './fixtures/data-dir.ts';
import { makePlan } from './fixtures/plan.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function request(program = 'bracket-v2', extra: Partial<NewMission> = {}): NewMission {
  const plan = makePlan(program);
  const hash = planHash(plan);
  return {
    plan,
    planHash: hash,
    worldHash: 'world-1',
    report: { ok: true, problems: [] },
    status: 'awaiting_approval',
    requestHash: `req-${program}`,
    actor: 'agent:test',
    ...extra,
  };
}

function open(t: Test): Store {
  const store = openStore(dataDir(t));
  t.teardown(() => {
    if (store.db.open) store.close();
  });
  return store;
}

t.test('newId is prefixed, 26 characters and sorts by creation', async (t) => {
  const ids = Array.from({ length: 2000 }, () => newId('m_'));
  t.ok(ids.every((id) => /^m_[0-9A-HJKMNP-TV-Z]{26}$/.test(id)), 'Crockford base32 after the prefix');
  t.same([...ids].sort(), ids, 'already in order, even within one millisecond');
  t.equal(new Set(ids).size, ids.length, 'unique');
});

t.test('create and get', async (t) => {
  const store = open(t);
  const input = request();
  const { mission, created } = store.missions.create(input);
  t.equal(created, true);
  t.match(mission.id, /^m_[0-9A-Z]{26}$/);
  t.same(store.missions.get(mission.id), mission, 'get returns what create returned');
  t.match(mission, {
    status: 'awaiting_approval',
    name: 'mill bracket-v2',
    planHash: input.planHash,
    worldHash: 'world-1',
    report: { ok: true, problems: [] },
    priority: 5,
    createdBy: 'agent:test',
  });
  t.same(mission.plan, input.plan, 'plan round-trips through JSON');
  t.notOk('idempotencyKey' in mission, 'no key given, none shown');
  t.equal(mission.createdAt, mission.updatedAt);
  t.equal(new Date(mission.createdAt).toISOString(), mission.createdAt, 'ISO-8601');
  t.same(mission.steps, [
    { id: 'mill', action: 'machine.run', device: 'cnc-1', status: 'pending' },
    { id: 'fetch', action: 'pick', device: '$carrier', status: 'pending' },
  ]);
  t.equal(store.missions.get('m_NOPE'), undefined);
  t.same(store.missions.events(mission.id).map((e) => [e.type, e.actor, e.data]), [
    ['mission.created', 'agent:test', { status: 'awaiting_approval', planHash: input.planHash }],
  ]);
});

t.test('create refuses a planHash that is not the plan’s', async (t) => {
  const store = open(t);
  t.throws(() => store.missions.create(request('a', { planHash: 'f'.repeat(64) })), /planHash/);
  t.same(store.missions.list(), []);
});

t.test('create stores a missing report and plan name as null', async (t) => {
  const store = open(t);
  const { name: _name, ...plan } = makePlan('a');
  const { mission } = store.missions.create(request('a', { plan, planHash: planHash(plan), report: undefined }));
  t.equal(mission.report, null);
  t.equal(mission.name, null);
});

t.test('list: newest first, status filter, limit and cursor', async (t) => {
  const store = open(t);
  const statuses: MissionStatus[] = ['awaiting_approval', 'rejected', 'awaiting_approval', 'rejected', 'awaiting_approval'];
  const ids = statuses.map((status, i) => store.missions.create(request(`p${i}`, { status })).mission.id);
  const newestFirst = [...ids].reverse();

  t.same(store.missions.list().map((m) => m.id), newestFirst);
  t.same(store.missions.list({ limit: 2 }).map((m) => m.id), newestFirst.slice(0, 2));
  t.same(
    store.missions.list({ status: ['rejected'] }).map((m) => m.id),
    [ids[3], ids[1]],
  );
  t.same(store.missions.list({ status: ['rejected', 'awaiting_approval'] }).length, 5);
  t.same(store.missions.list({ status: [] }), [], 'an empty filter matches nothing');
  t.same(store.missions.list({ status: ['running'] }), []);

  const paged: string[] = [];
  let before: string | undefined;
  for (;;) {
    const page = store.missions.list({ limit: 2, before });
    if (page.length === 0) break;
    paged.push(...page.map((m) => m.id));
    before = page.at(-1)!.id;
  }
  t.same(paged, newestFirst, 'paging with the cursor visits each mission once, in order');
  t.same(
    store.missions.list({ before: ids[2], status: ['awaiting_approval'] }).map((m) => m.id),
    [ids[0]],
    'cursor and filter together',
  );

  const listed = store.missions.list({ limit: 1 })[0]!;
  t.same(listed, store.missions.get(listed.id), 'list returns whole missions, steps included');
  t.same(store.missions.list().map((m) => m.steps.length), [2, 2, 2, 2, 2]);

  t.throws(() => store.missions.list({ limit: 0 }), RangeError);
  t.throws(() => store.missions.list({ limit: 1.5 }), RangeError);
  t.equal(store.missions.list({ limit: 10_000 }).length, 5, 'large limits are capped, not refused');
});

t.test('idempotency key: a retry gets the same mission, a different request is refused', async (t) => {
  const store = open(t);
  const first = store.missions.create(request('a', { idempotencyKey: 'key-1' }));
  t.equal(first.created, true);
  t.equal(first.mission.idempotencyKey, 'key-1');

  const retry = store.missions.create(request('a', { idempotencyKey: 'key-1' }));
  t.equal(retry.created, false);
  t.same(retry.mission, first.mission);

  const err = t.throws(() => store.missions.create(request('b', { idempotencyKey: 'key-1' })));
  t.type(err, IdempotencyConflictError);
  t.match(err, { missionId: first.mission.id, idempotencyKey: 'key-1', name: 'IdempotencyConflictError' });

  t.equal(store.missions.create(request('b', { idempotencyKey: 'key-2' })).created, true, 'another key is another mission');
  t.equal(store.missions.list().length, 2);
  t.equal(store.missions.events().filter((e) => e.type === 'mission.created').length, 2, 'a retry writes no event');
});

t.test('transitions follow planners/mission.ts', async (t) => {
  const store = open(t);
  const { mission } = store.missions.create(request());
  const lifecycle: MissionStatus[] = ['approved', 'running', 'paused', 'running', 'succeeded'];
  for (const to of lifecycle) {
    const moved = store.missions.transition(mission.id, to, 'operator:ana', { note: to });
    t.equal(moved.status, to);
    t.equal(store.missions.get(mission.id)!.status, to);
  }
  t.ok(store.missions.get(mission.id)!.updatedAt >= mission.updatedAt);

  const err = t.throws(() => store.missions.transition(mission.id, 'cancelled', 'operator:ana'));
  t.type(err, InvalidTransitionError);
  t.match(err, { missionId: mission.id, from: 'succeeded', to: 'cancelled' });

  const events = store.missions.events(mission.id);
  t.same(
    events.map((e) => e.type),
    ['mission.created', ...lifecycle.map((s) => `mission.${s}`)],
    'one event per change, in order; none for the refused one',
  );
  t.same(events[1], { seq: events[1]!.seq, at: events[1]!.at, missionId: mission.id, type: 'mission.approved', actor: 'operator:ana', data: { note: 'approved' } });
  t.ok(events.every((e, i) => i === 0 || e.seq > events[i - 1]!.seq), 'seq increases');
});

t.test('refused transitions', async (t) => {
  const store = open(t);
  const { mission } = store.missions.create(request('r', { status: 'rejected' }));
  const err = t.throws(() => store.missions.transition(mission.id, 'approved', 'operator:ana'));
  t.type(err, InvalidTransitionError);
  t.match(err, { from: 'rejected', to: 'approved', message: /rejected.*approved/ });
  t.equal(store.missions.get(mission.id)!.status, 'rejected', 'unchanged');
  t.equal(store.missions.get(mission.id)!.updatedAt, mission.updatedAt);

  const waiting = store.missions.create(request('w')).mission;
  t.throws(() => store.missions.transition(waiting.id, 'running', 'operator:ana'), InvalidTransitionError, 'not approved yet');
  t.throws(() => store.missions.transition(waiting.id, 'awaiting_approval', 'operator:ana'), InvalidTransitionError);

  const missing = t.throws(() => store.missions.transition('m_00000000000000000000000000', 'approved', 'operator:ana'));
  t.type(missing, MissionNotFoundError);
  t.match(missing, { missionId: 'm_00000000000000000000000000' });
  t.same(store.missions.events().map((e) => e.type), ['mission.created', 'mission.created']);
});

t.test('events: all missions, one mission, after a seq, limited', async (t) => {
  const store = open(t);
  const a = store.missions.create(request('a')).mission;
  const b = store.missions.create(request('b')).mission;
  store.missions.transition(a.id, 'approved', 'op');
  store.missions.transition(b.id, 'cancelled', 'op');
  store.missions.transition(a.id, 'running', 'op');

  const all = store.missions.events();
  t.same(all.map((e) => [e.missionId, e.type]), [
    [a.id, 'mission.created'],
    [b.id, 'mission.created'],
    [a.id, 'mission.approved'],
    [b.id, 'mission.cancelled'],
    [a.id, 'mission.running'],
  ]);
  t.equal(all[2]!.data, null, 'no data given, null stored');
  t.same(store.missions.events(b.id).map((e) => e.type), ['mission.created', 'mission.cancelled']);
  t.same(store.missions.events(undefined, all[1]!.seq).map((e) => e.seq), all.slice(2).map((e) => e.seq));
  t.same(store.missions.events(a.id, all[0]!.seq, 1).map((e) => e.type), ['mission.approved']);
  t.same(store.missions.events('m_none'), []);
  t.throws(() => store.missions.events(undefined, 0, 0), RangeError);
});

t.test('events cannot be changed or deleted', async (t) => {
  const store = open(t);
  store.missions.create(request());
  t.throws(() => store.db.prepare("UPDATE events SET actor = 'someone-else'").run(), /events are append-only/);
  t.throws(() => store.db.prepare('DELETE FROM events').run(), /events are append-only/);
  t.equal(store.missions.events()[0]!.actor, 'agent:test');
});

t.test('steps must belong to a mission (foreign keys are on)', async (t) => {
  const store = open(t);
  t.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
  t.throws(
    () => store.db.prepare("INSERT INTO mission_steps (mission_id, ordinal, step_id, action, device) VALUES ('m_x', 0, 's', 'wait', 'd')").run(),
    /FOREIGN KEY/,
  );
});

t.test('durable settings', async (t) => {
  const store = open(t);
  t.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(store.db.pragma('synchronous', { simple: true }), 2, 'FULL');
  t.equal(store.db.pragma('busy_timeout', { simple: true }), 5000);
  t.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
});

t.test('survives close and reopen', async (t) => {
  const dir = dataDir(t);
  const first = openStore(dir);
  const { mission } = first.missions.create(request('a', { idempotencyKey: 'k' }));
  first.missions.transition(mission.id, 'approved', 'op', { by: 'ana' });
  const token = first.tokens.create('operator', 'ana');
  first.close();
  t.notOk(first.db.open);

  const second = openStore(dir);
  t.teardown(() => second.close());
  const again = second.missions.get(mission.id);
  t.equal(again?.status, 'approved');
  t.same(again?.plan, mission.plan);
  t.same(again?.steps.map((s) => s.id), ['mill', 'fetch']);
  t.same(second.missions.events(mission.id).map((e) => e.type), ['mission.created', 'mission.approved']);
  t.same(second.tokens.verify(token.token), { id: token.id, name: 'ana', role: 'operator' });
  t.equal(second.missions.create(request('a', { idempotencyKey: 'k' })).created, false, 'keys survive too');
  t.equal(second.db.pragma('user_version', { simple: true }), SCHEMA_VERSION, 'migrations ran once');
});

t.test('refuses a database from a newer phygate', async (t) => {
  const dir = dataDir(t);
  openStore(dir).close();
  const raw = new Sqlite(path.join(dir, 'phygate.db'));
  raw.pragma('user_version = 99');
  raw.close();
  t.throws(() => openDatabase(dir), /schema version 99 is newer/);
});

t.test('a rejected plan is stored as written, even with duplicate step ids', async (t) => {
  const store = open(t);
  const plan = PlanSchema.parse({
    schema: 'phygate.plan/v1',
    steps: [
      { id: 'same', action: 'wait', device: 'amr-1', params: { seconds: 1 } },
      { id: 'same', action: 'wait', device: 'amr-2', params: { seconds: 2 } },
    ],
  });
  const { mission } = store.missions.create({ ...request(), plan, planHash: planHash(plan), status: 'rejected' });
  t.equal(mission.status, 'rejected');
  t.same(
    mission.steps.map((s) => [s.id, s.device]),
    [
      ['same', 'amr-1'],
      ['same', 'amr-2'],
    ],
  );
});
