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
  InvalidStepTransitionError,
  InvalidTransitionError,
  LIST_LIMIT_MAX,
  MissionNotFoundError,
  POLICY_APPROVER,
  type NewMission,
} from '../../gateway/store/missions.ts';
import type { MissionStatus } from '../../planners/mission.ts';
import { PlanSchema, planHash } from '../../planners/plan.ts';
import { dataDir } from './fixtures/data-dir.ts';
import { databaseAt } from './fixtures/old-database.ts';
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

function open(t: Test, dir = dataDir(t)): Store {
  const store = openStore(dir);
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
  const unstarted = { dispatchedTo: null, startedAt: null, endedAt: null, reason: null };
  t.same(mission.steps, [
    { id: 'mill', action: 'machine.run', device: 'cnc-1', status: 'pending', ...unstarted },
    { id: 'fetch', action: 'pick', device: '$carrier', status: 'pending', ...unstarted },
  ]);
  t.match(mission, { approvedBy: null, approvedAt: null, reason: null, reasonStep: null, endedAt: null }, 'not approved, nothing to explain, not ended');
  t.equal(store.missions.get('m_NOPE'), undefined);
  t.same(store.missions.events(mission.id).map((e) => [e.type, e.actor, e.data]), [
    ['mission.created', 'agent:test', { status: 'awaiting_approval', planHash: input.planHash }],
  ]);
});

t.test('statusOf reads a mission’s status alone, and follows its transitions', async (t) => {
  const store = open(t);
  const { mission } = store.missions.create(request());
  t.equal(store.missions.statusOf(mission.id), 'awaiting_approval');
  store.missions.transition(mission.id, 'cancelled', 'operator');
  t.equal(store.missions.statusOf(mission.id), 'cancelled');
  t.equal(store.missions.statusOf('m_none'), undefined, 'undefined for an unknown id');
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

t.test('all: every mission of the statuses, newest first, past the largest page list gives', async (t) => {
  const store = open(t);
  const n = LIST_LIMIT_MAX + 3;
  const ids = store.db.transaction(() => Array.from({ length: n }, (_, i) => store.missions.create(request(`p${i}`, { status: i % 2 ? 'rejected' : 'awaiting_approval' })).mission.id))();
  t.equal(store.missions.list({ limit: n }).length, LIST_LIMIT_MAX, 'one page holds at most LIST_LIMIT_MAX');
  t.same(store.missions.all(['awaiting_approval', 'rejected']).map((m) => m.id), [...ids].reverse(), 'all of them, each once, newest first');
  t.same(store.missions.all(['rejected']).map((m) => m.id), ids.filter((_, i) => i % 2).reverse());
  t.same(store.missions.all(['running']), []);
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

t.test('idempotency key: looked up within its scope (the token), read back as sent', async (t) => {
  const store = open(t);
  const mine = store.missions.create(request('a', { idempotencyKey: 'k', idempotencyScope: 'tok_A' }));
  const theirs = store.missions.create(request('a', { idempotencyKey: 'k', idempotencyScope: 'tok_B' }));
  t.equal(theirs.created, true, 'the same key and request in another scope is another mission');
  t.not(theirs.mission.id, mine.mission.id);
  const unscoped = store.missions.create(request('a', { idempotencyKey: 'k' }));
  t.equal(unscoped.created, true, 'nor is it the key without a scope');
  t.equal(store.missions.create(request('a', { idempotencyKey: 'k', idempotencyScope: 'tok_B' })).mission.id, theirs.mission.id, 'within its scope it replays');
  t.same([mine, theirs, unscoped].map((m) => store.missions.get(m.mission.id)!.idempotencyKey), ['k', 'k', 'k'], 'the scope is not shown');
  t.match(t.throws(() => store.missions.create(request('b', { idempotencyKey: 'k', idempotencyScope: 'tok_A' }))), { missionId: mine.mission.id, idempotencyKey: 'k' });
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
  t.same(second.tokens.verify(token.token), { id: token.id, name: 'ana', role: 'operator', expiresAt: null });
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

/** A mission that is running, for step transitions. */
function running(store: Store): string {
  const { mission } = store.missions.create(request());
  store.missions.transition(mission.id, 'approved', 'operator:ana', { planHash: mission.planHash });
  store.missions.transition(mission.id, 'running', 'executor');
  return mission.id;
}

const stepOf = (store: Store, id: string, stepId: string) => store.missions.get(id)!.steps.find((s) => s.id === stepId)!;
const eventAt = (store: Store, id: string, type: string, stepId?: string) =>
  store.missions.events(id).filter((e) => e.type === type && (stepId === undefined || (e.data as { step?: string }).step === stepId)).map((e) => e.at);

t.test("a step's device, times and reason are written with its transition", async (t) => {
  const store = open(t);
  const id = running(store);
  const mill = () => stepOf(store, id, 'mill');

  store.missions.transitionStep(id, 'mill', 'dispatched', 'executor', { device: 'cnc-1' });
  const [firstDispatch] = eventAt(store, id, 'step.dispatched', 'mill');
  t.match(mill(), { status: 'dispatched', device: 'cnc-1', dispatchedTo: 'cnc-1', startedAt: firstDispatch, endedAt: null, reason: null }, 'dispatched: its device and start');
  store.missions.transitionStep(id, 'mill', 'running', 'executor', { device: 'cnc-1' });
  store.missions.transitionStep(id, 'mill', 'blocked', 'executor', { reason: 'STOP: someone walked into aisle 2' });
  t.match(mill(), { status: 'blocked', reason: 'STOP: someone walked into aisle 2', endedAt: null }, 'blocked: why');
  store.missions.transitionStep(id, 'mill', 'dispatched', 'executor', { device: 'cnc-1' });
  t.match(mill(), { status: 'dispatched', reason: null, startedAt: firstDispatch }, 'dispatched again: the reason is gone, the start is the first dispatch');
  store.missions.transitionStep(id, 'mill', 'blocked', 'executor', { reason: 'cnc-1 went offline' });
  store.missions.transitionStep(id, 'mill', 'running', 'executor', { reason: 'a reason on running is not kept' });
  t.match(mill(), { status: 'running', reason: null }, 'running again: the reason is gone');
  store.missions.transitionStep(id, 'mill', 'failed', 'executor', { reason: "step 'mill' did not finish within 5 s" });
  t.same(mill(), {
    id: 'mill',
    action: 'machine.run',
    device: 'cnc-1',
    status: 'failed',
    dispatchedTo: 'cnc-1',
    startedAt: firstDispatch,
    endedAt: eventAt(store, id, 'step.failed', 'mill')[0],
    reason: "step 'mill' did not finish within 5 s",
  });
  t.ok(mill().endedAt! >= mill().startedAt!, 'it ended after it started');

  store.missions.transitionStep(id, 'fetch', 'cancelled', 'executor', { reason: "not started: step 'mill' failed" });
  t.same(stepOf(store, id, 'fetch'), {
    id: 'fetch',
    action: 'pick',
    device: '$carrier',
    status: 'cancelled',
    dispatchedTo: null,
    startedAt: null,
    endedAt: eventAt(store, id, 'step.cancelled', 'fetch')[0],
    reason: "not started: step 'mill' failed",
  }, 'never dispatched: no device, no start');

  const types = store.missions.events(id).map((e) => e.type);
  t.same(types.slice(3), ['step.dispatched', 'step.running', 'step.blocked', 'step.dispatched', 'step.blocked', 'step.running', 'step.failed', 'step.cancelled'], 'the event trail is as before');
  t.same(store.missions.events(id).at(-2)!.data, { step: 'mill', reason: "step 'mill' did not finish within 5 s" });
});

t.test('a step that succeeds has its end and no reason; a refused step transition writes nothing', async (t) => {
  const store = open(t);
  const id = running(store);
  store.missions.transitionStep(id, 'fetch', 'dispatched', 'executor', { device: 'amr-2', amr: 'amr-2' });
  store.missions.transitionStep(id, 'fetch', 'succeeded', 'executor', {});
  t.match(stepOf(store, id, 'fetch'), { status: 'succeeded', device: '$carrier', dispatchedTo: 'amr-2', reason: null, endedAt: eventAt(store, id, 'step.succeeded', 'fetch')[0] });
  const before = stepOf(store, id, 'fetch');
  t.throws(() => store.missions.transitionStep(id, 'fetch', 'failed', 'executor', { reason: 'too late' }), InvalidStepTransitionError);
  t.same(stepOf(store, id, 'fetch'), before, 'unchanged');
  store.missions.transitionStep(id, 'mill', 'dispatched', 'executor', { device: 42 } as never);
  t.equal(stepOf(store, id, 'mill').dispatchedTo, null, 'a device that is not text is not taken');
});

t.test("a mission's approver, reason and end are written with its transition", async (t) => {
  const store = open(t);
  const { mission } = store.missions.create(request());
  const m = () => store.missions.get(mission.id)!;
  const at = (type: string) => eventAt(store, mission.id, type).at(-1);

  store.missions.transition(mission.id, 'approved', 'operator:ana', { planHash: mission.planHash, verdict: 'pass' });
  t.match(m(), { status: 'approved', approvedBy: 'operator:ana', approvedAt: at('mission.approved'), reason: null, endedAt: null });
  store.missions.transition(mission.id, 'running', 'executor');
  store.missions.transition(mission.id, 'paused', 'stop:ana', { reason: 'STOP (all): someone walked into aisle 2' });
  t.match(m(), { status: 'paused', reason: 'STOP (all): someone walked into aisle 2', reasonStep: null, endedAt: null });
  store.missions.transition(mission.id, 'running', 'operator:ana');
  t.match(m(), { status: 'running', reason: null, approvedBy: 'operator:ana' }, 'resumed: no reason; the approver stays');
  store.missions.transition(mission.id, 'paused', 'operator:bo');
  t.equal(m().reason, 'paused by operator:bo', 'no reason given: who did it');
  store.missions.transition(mission.id, 'failed', 'executor', { step: 'mill', reason: "step 'mill' did not finish within 5 s" });
  t.match(m(), {
    status: 'failed',
    reason: "step 'mill' did not finish within 5 s",
    reasonStep: 'mill',
    endedAt: at('mission.failed'),
    updatedAt: at('mission.failed'),
    approvedBy: 'operator:ana',
    approvedAt: at('mission.approved'),
  });
  t.throws(() => store.missions.transition(mission.id, 'cancelled', 'operator:ana', { reason: 'too late' }), InvalidTransitionError);
  t.equal(m().reason, "step 'mill' did not finish within 5 s", 'a refused transition changes nothing');
  t.same(store.missions.events(mission.id).at(-1)!.data, { step: 'mill', reason: "step 'mill' did not finish within 5 s" }, 'the event has the data as given');

  const other = store.missions.create(request('b')).mission;
  store.missions.transition(other.id, 'cancelled', 'operator:ana');
  t.match(store.missions.get(other.id), { status: 'cancelled', reason: 'cancelled by operator:ana', approvedBy: null, endedAt: eventAt(store, other.id, 'mission.cancelled')[0] });
  const third = store.missions.create(request('c')).mission;
  store.missions.transition(third.id, 'cancelled', 'operator:ana', { reason: 'rejected on the tablet by ana' });
  t.equal(store.missions.get(third.id)!.reason, 'rejected on the tablet by ana');
});

t.test('a mission stored as approved or rejected says so from the start', async (t) => {
  const store = open(t);
  const byPolicy = store.missions.create(request('a', { status: 'approved' })).mission;
  t.match(byPolicy, { approvedBy: POLICY_APPROVER, approvedAt: byPolicy.createdAt, endedAt: null });
  const named = store.missions.create(request('b', { status: 'approved', approvedBy: 'policy:test' })).mission;
  t.equal(named.approvedBy, 'policy:test');
  const rejected = store.missions.create(request('c', { status: 'rejected' })).mission;
  t.match(rejected, { approvedBy: null, approvedAt: null, endedAt: rejected.createdAt, reason: null });
});

t.test('a database from the previous version gets the new columns, filled in from its event trail', async (t) => {
  const dir = dataDir(t);
  const raw = databaseAt(dir, 4);
  const plan = makePlan();
  const insertMission = raw.prepare<[string, string, string, string]>(
    `INSERT INTO missions (id, status, name, plan, plan_hash, world_hash, report, priority, created_at, updated_at, created_by, request_hash)
     VALUES (?, ?, 'mill', ?, ?, 'w', '{"assignments":{"carrier":"amr-2"}}', 5,
             '2026-11-24T08:00:00.000Z', '2026-11-24T09:00:00.000Z', 'agent:test', 'r')`,
  );
  const insertStep = raw.prepare<[string, number, string, string, string, string]>(
    'INSERT INTO mission_steps (mission_id, ordinal, step_id, action, device, status) VALUES (?, ?, ?, ?, ?, ?)',
  );
  let minute = 0;
  const event = raw.prepare<[string, string, string, string, string | null]>('INSERT INTO events (at, mission_id, type, actor, data) VALUES (?, ?, ?, ?, ?)');
  const trail = (missionId: string, ...rows: [type: string, actor: string, data?: object][]) => {
    for (const [type, actor, data] of rows) event.run(`2026-11-24T08:${String(++minute).padStart(2, '0')}:00.000Z`, missionId, type, actor, data ? JSON.stringify(data) : null);
  };
  const steps = (missionId: string, mill: string, fetch: string) => {
    insertStep.run(missionId, 0, 'mill', 'machine.run', 'cnc-1', mill);
    insertStep.run(missionId, 1, 'fetch', 'pick', '$carrier', fetch);
  };
  const timeout = "step 'mill' did not finish within 5 s";

  insertMission.run('m_failed', 'failed', JSON.stringify(plan), planHash(plan));
  steps('m_failed', 'failed', 'cancelled');
  trail(
    'm_failed',
    ['mission.created', 'agent:test', { status: 'awaiting_approval', planHash: 'h' }],
    ['mission.approved', 'operator:ana', { planHash: 'h' }],
    ['mission.running', 'executor'],
    ['step.dispatched', 'executor', { step: 'mill', device: 'cnc-1' }],
    ['step.blocked', 'executor', { step: 'mill', reason: 'STOP: aisle 2' }],
    ['step.dispatched', 'executor', { step: 'mill', device: 'cnc-1' }],
    ['step.running', 'executor', { step: 'mill', device: 'cnc-1' }],
    ['step.failed', 'executor', { step: 'mill', reason: timeout }],
    ['step.cancelled', 'executor', { step: 'fetch', reason: "not started: step 'mill' failed" }],
    ['mission.failed', 'executor', { step: 'mill', reason: timeout }],
  );
  insertMission.run('m_paused', 'paused', JSON.stringify(plan), planHash(plan));
  steps('m_paused', 'succeeded', 'blocked');
  trail(
    'm_paused',
    ['mission.created', 'agent:test', { status: 'approved', planHash: 'h' }],
    ['mission.running', 'executor'],
    ['step.dispatched', 'executor', { step: 'mill', device: 'cnc-1' }],
    ['step.succeeded', 'executor', { step: 'mill' }],
    ['step.dispatched', 'executor', { step: 'fetch', device: 'amr-2' }],
    ['step.blocked', 'executor', { step: 'fetch', reason: 'STOP: aisle 2' }],
    ['mission.paused', 'stop:ana', { reason: 'STOP (all): aisle 2' }],
  );
  insertMission.run('m_cancelled', 'cancelled', JSON.stringify(plan), planHash(plan));
  steps('m_cancelled', 'pending', 'pending');
  trail('m_cancelled', ['mission.created', 'agent:test', { status: 'awaiting_approval', planHash: 'h' }], ['mission.cancelled', 'operator:bo']);
  insertMission.run('m_rejected', 'rejected', JSON.stringify(plan), planHash(plan));
  steps('m_rejected', 'pending', 'pending');
  trail('m_rejected', ['mission.created', 'agent:test', { status: 'rejected', planHash: 'h' }]);
  raw.close();

  const store = open(t, dir);
  t.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  const at = (id: string, type: string, stepId?: string) => eventAt(store, id, type, stepId);

  const failed = store.missions.get('m_failed')!;
  t.match(failed, { approvedBy: 'operator:ana', approvedAt: at('m_failed', 'mission.approved')[0], reason: timeout, reasonStep: 'mill', endedAt: at('m_failed', 'mission.failed')[0] });
  t.same(failed.steps.map((s) => [s.id, s.dispatchedTo, s.startedAt, s.endedAt, s.reason]), [
    ['mill', 'cnc-1', at('m_failed', 'step.dispatched', 'mill')[0], at('m_failed', 'step.failed', 'mill')[0], timeout],
    ['fetch', null, null, at('m_failed', 'step.cancelled', 'fetch')[0], "not started: step 'mill' failed"],
  ]);
  const paused = store.missions.get('m_paused')!;
  t.match(paused, { approvedBy: POLICY_APPROVER, approvedAt: at('m_paused', 'mission.created')[0], reason: 'STOP (all): aisle 2', reasonStep: null, endedAt: null });
  t.same(paused.steps.map((s) => [s.id, s.dispatchedTo, s.endedAt, s.reason]), [
    ['mill', 'cnc-1', at('m_paused', 'step.succeeded', 'mill')[0], null],
    ['fetch', 'amr-2', null, 'STOP: aisle 2'],
  ]);
  t.match(store.missions.get('m_cancelled'), { approvedBy: null, reason: 'cancelled by operator:bo', endedAt: at('m_cancelled', 'mission.cancelled')[0] });
  t.match(store.missions.get('m_rejected'), { reason: null, endedAt: '2026-11-24T08:00:00.000Z' });
  t.same(store.missions.get('m_rejected')!.steps.map((s) => [s.dispatchedTo, s.startedAt, s.endedAt, s.reason]), [[null, null, null, null], [null, null, null, null]]);
  t.equal(store.missions.events().length, 20, 'the event trail is kept as it was');

  // And the migrated database goes on like a new one.
  store.missions.transition('m_paused', 'running', 'operator:ana');
  store.missions.transitionStep('m_paused', 'fetch', 'dispatched', 'executor', { device: 'amr-2' });
  t.match(store.missions.get('m_paused'), { status: 'running', reason: null, steps: [{}, { status: 'dispatched', reason: null, startedAt: at('m_paused', 'step.dispatched', 'fetch')[0] }] });
});
