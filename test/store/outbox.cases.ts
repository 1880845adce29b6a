// The command outbox in the store: what is added is read back as written; a publish is recorded
// once and counted; an entry settles once, with its first outcome; open entries are the
// unsettled ones; and an entry written in a transaction that fails is not there at all.
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import t, { type Test } from 'tap';
import { DATABASE_FILE, SCHEMA_VERSION } from '../../gateway/store/database.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import { planHash } from '../../planners/plan.ts';
import { dataDir } from './fixtures/data-dir.ts';
import { databaseAt } from './fixtures/old-database.ts';
import { makePlan } from './fixtures/plan.ts';

function open(t: Test, dir = dataDir(t)): { store: Store; missionId: string; dir: string } {
  const store = openStore(dir);
  t.teardown(() => store.db.open && store.close());
  const plan = makePlan('bracket-v2');
  const { mission } = store.missions.create({
    plan,
    planHash: planHash(plan),
    worldHash: 'w',
    report: {},
    status: 'awaiting_approval',
    requestHash: 'r',
    actor: 'agent:test',
  });
  return { store, missionId: mission.id, dir };
}

const at = new Date('2026-11-24T09:00:00.000Z');
const message = { commandId: 'c-1', action: 'run', program: 'bracket-v2', count: 2, issuedAt: at.toISOString(), expiresAt: '2026-11-24T09:00:10.000Z' };

t.test('an entry reads back as written, is open until settled, and settles once', async (t) => {
  const { store, missionId } = open(t);
  store.outbox.add({ id: 'c-1', missionId, stepId: 'mill', device: 'cnc-1', channel: 'machine.command', message, expiresAt: message.expiresAt, at });
  t.same(store.outbox.get('c-1'), {
    id: 'c-1',
    missionId,
    stepId: 'mill',
    device: 'cnc-1',
    channel: 'machine.command',
    message,
    createdAt: at.toISOString(),
    expiresAt: '2026-11-24T09:00:10.000Z',
    publishedAt: null,
    sends: 0,
    settledAt: null,
    outcome: null,
  });
  t.same(store.outbox.open().map((e) => e.id), ['c-1']);
  store.outbox.published('c-1', new Date('2026-11-24T09:00:00.005Z'));
  store.outbox.published('c-1', new Date('2026-11-24T09:00:02.005Z'));
  t.match(store.outbox.get('c-1'), { publishedAt: '2026-11-24T09:00:00.005Z', sends: 2 }, 'the first publish is kept, every send counted');
  t.equal(store.outbox.settle('c-1', 'succeeded', new Date('2026-11-24T09:05:00.000Z')), true);
  t.equal(store.outbox.settle('c-1', 'failed', new Date('2026-11-24T09:06:00.000Z')), false, 'a second settle changes nothing');
  t.match(store.outbox.get('c-1'), { outcome: 'succeeded', settledAt: '2026-11-24T09:05:00.000Z' });
  t.same(store.outbox.open(), []);
  t.equal(store.outbox.get('nope'), undefined);
});

t.test('ofStep lists a step\'s entries oldest first; open() survives a reopen', async (t) => {
  const { store, missionId, dir } = open(t);
  store.outbox.add({ id: 'o.fetch.0', missionId, stepId: 'fetch', device: 'amr-1', channel: 'vda5050.order', message: { orderId: 'o.fetch.0' }, expiresAt: '2026-11-24T09:00:10.000Z', at });
  store.outbox.settle('o.fetch.0', 'stopped', at);
  store.outbox.add({ id: 'o.fetch.1', missionId, stepId: 'fetch', device: 'amr-1', channel: 'vda5050.order', message: { orderId: 'o.fetch.1' }, expiresAt: '2026-11-24T09:01:10.000Z', at: new Date('2026-11-24T09:01:00.000Z') });
  t.same(store.outbox.ofStep(missionId, 'fetch').map((e) => [e.id, e.outcome]), [['o.fetch.0', 'stopped'], ['o.fetch.1', null]]);
  t.equal(store.outbox.countOfStep(missionId, 'fetch'), 2);
  t.equal(store.outbox.countOfStep(missionId, 'mill'), 0);
  store.close();
  const again = openStore(dir);
  t.teardown(() => again.close());
  t.same(again.outbox.open().map((e) => e.id), ['o.fetch.1'], 'what was open is open after a reopen');
});

t.test('an entry added in a transaction that fails is not stored', async (t) => {
  const { store, missionId } = open(t);
  t.throws(
    () =>
      store.db.transaction(() => {
        store.outbox.add({ id: 'c-2', missionId, stepId: 'mill', device: 'cnc-1', channel: 'machine.command', message, expiresAt: message.expiresAt, at });
        throw new Error('the step transition failed');
      })(),
    /the step transition failed/,
  );
  t.equal(store.outbox.get('c-2'), undefined);
});

t.test('the table refuses what it must not hold', async (t) => {
  const { store, missionId, dir } = open(t);
  t.throws(() => store.outbox.add({ id: 'x', missionId: 'm_missing', stepId: 's', device: 'd', channel: 'machine.command', message, expiresAt: message.expiresAt, at }), /FOREIGN KEY/, 'an unknown mission');
  t.throws(() => store.outbox.add({ id: 'y', missionId, stepId: 's', device: 'd', channel: 'carrier-pigeon' as never, message, expiresAt: message.expiresAt, at }), /CHECK/, 'an unknown channel');
  store.outbox.add({ id: 'z', missionId, stepId: 's', device: 'd', channel: 'machine.command', message, expiresAt: message.expiresAt, at });
  t.throws(() => store.outbox.settle('z', 'lost' as never, at), /CHECK/, 'an unknown outcome');
  store.close();
  const raw = new Sqlite(path.join(dir, DATABASE_FILE));
  t.teardown(() => raw.close());
  t.throws(() => raw.prepare("UPDATE outbox SET settled_at = '2026-11-24T09:00:00Z' WHERE id = 'z'").run(), /CHECK/, 'settled without an outcome');
});

t.test('the migration adds the outbox to a database made before it', async (t) => {
  const dir = dataDir(t);
  const raw = databaseAt(dir, 3);
  raw.prepare(
    `INSERT INTO missions (id, status, plan, plan_hash, world_hash, report, priority, created_at, updated_at, created_by, request_hash)
     VALUES ('m_1', 'awaiting_approval', '{}', 'h', 'w', '{}', 5, '2026-11-24T08:00:00Z', '2026-11-24T08:00:00Z', 'agent:test', 'r')`,
  ).run();
  raw.close();
  const again = openStore(dir);
  t.teardown(() => again.close());
  t.equal(again.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  t.same(again.outbox.open(), [], 'an empty outbox');
  t.equal(again.missions.list().length, 1, 'the missions from before are kept');
});

t.test('the migration that lets ROS 2 goals into the outbox keeps every entry as it was, in order', async (t) => {
  const dir = dataDir(t);
  const raw = databaseAt(dir, 5);
  raw.prepare(
    `INSERT INTO missions (id, status, plan, plan_hash, world_hash, report, priority, created_at, updated_at, created_by, request_hash)
     VALUES ('m_1', 'running', '{}', 'h', 'w', '{}', 5, '2026-11-24T08:00:00Z', '2026-11-24T08:00:00Z', 'agent:test', 'r')`,
  ).run();
  const insert = raw.prepare(
    `INSERT INTO outbox (id, mission_id, step_id, device, channel, message, created_at, expires_at, published_at, sends, settled_at, outcome)
     VALUES (?, 'm_1', ?, ?, ?, ?, '2026-11-24T08:00:00Z', '2026-11-24T08:00:10Z', ?, ?, ?, ?)`,
  );
  insert.run('b-order', 'go', 'amr-1', 'vda5050.order', '{"orderId":"b-order"}', '2026-11-24T08:00:01Z', 2, '2026-11-24T08:01:00Z', 'succeeded');
  insert.run('a-command', 'mill', 'cnc-1', 'machine.command', '{"commandId":"a-command"}', null, 0, null, null);
  t.throws(() => insert.run('c-goal', 'go', 'amr-3', 'ros2.goal', '{}', null, 0, null, null), /CHECK/, 'version 5 refuses a ROS 2 goal');
  raw.close();
  const store = openStore(dir);
  t.teardown(() => store.close());
  t.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  t.match(store.outbox.ofStep('m_1', 'go'), [{ id: 'b-order', channel: 'vda5050.order', message: { orderId: 'b-order' }, publishedAt: '2026-11-24T08:00:01Z', sends: 2, outcome: 'succeeded' }]);
  t.same(store.outbox.open().map((e) => e.id), ['a-command'], 'the open one still open');
  store.outbox.add({ id: 'c-goal', missionId: 'm_1', stepId: 'go', device: 'amr-3', channel: 'ros2.goal', message: { nodes: ['charger-1'] }, expiresAt: '2026-11-24T08:00:10Z', at });
  t.same(store.outbox.ofStep('m_1', 'go').map((e) => e.id), ['b-order', 'c-goal'], 'a ROS 2 goal now goes in, after what was there');
});
