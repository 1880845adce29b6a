// STOPs in the store: latched across close and reopen, released all at once, in the audit trail,
// and the migration that adds them runs on a database from before it.
import t, { type Test } from 'tap';
import { SCHEMA_VERSION } from '../../gateway/store/database.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import { dataDir } from './fixtures/data-dir.ts';
import { databaseAt } from './fixtures/old-database.ts';

function open(t: Test, dir = dataDir(t)): Store {
  const store = openStore(dir);
  t.teardown(() => store.db.open && store.close());
  return store;
}

t.test('a stop is active until released; release ends every active one at once', async (t) => {
  const store = open(t);
  t.same(store.stops.active(), []);
  const at = new Date('2026-11-24T09:00:00.000Z');
  const a = store.stops.create({ scope: 'all', reason: 'smoke near the booth', devices: ['amr-1', 'cnc-1'], actor: 'viewer-1', at });
  t.match(a, {
    id: /^stop_[0-9A-Z]{26}$/,
    scope: 'all',
    reason: 'smoke near the booth',
    devices: ['amr-1', 'cnc-1'],
    createdBy: 'viewer-1',
    createdAt: '2026-11-24T09:00:00.000Z',
    releasedBy: null,
    releasedAt: null,
    releaseNote: null,
  });
  const b = store.stops.create({ scope: 'device:amr-2', reason: 'odd noise', devices: ['amr-2'], actor: 'agent-1' });
  t.same(store.stops.active().map((s) => s.id), [a.id, b.id], 'oldest first');
  t.same(store.stops.get(a.id), a);
  t.equal(store.stops.get('stop_none'), undefined);

  const released = store.stops.release('operator-1', 'floor checked', new Date('2026-11-24T09:05:00.000Z'));
  t.same(released.map((s) => s.id), [a.id, b.id], 'both released');
  t.match(released[0], { releasedBy: 'operator-1', releasedAt: '2026-11-24T09:05:00.000Z', releaseNote: 'floor checked' });
  t.same(store.stops.active(), []);
  t.same(store.stops.get(b.id), released[1], 'stored as returned');
  t.same(store.stops.release('operator-1'), [], 'nothing left to release');
  t.same(store.stops.recent(1).map((s) => s.id), [b.id], 'newest first');
  t.throws(() => store.stops.recent(0), RangeError);

  const trail = store.missions.events().filter((e) => e.type.startsWith('stop'));
  t.match(trail, [
    { type: 'stop', actor: 'viewer-1', missionId: null, data: { stop: a.id, scope: 'all', reason: 'smoke near the booth', devices: ['amr-1', 'cnc-1'] } },
    { type: 'stop', actor: 'agent-1', data: { stop: b.id, scope: 'device:amr-2' } },
    { type: 'stop.released', actor: 'operator-1', data: { stop: a.id, note: 'floor checked' } },
    { type: 'stop.released', actor: 'operator-1', data: { stop: b.id } },
  ]);
});

t.test('an active stop survives close and reopen; writes are synchronous=FULL', async (t) => {
  const dir = dataDir(t);
  const first = openStore(dir);
  const s = first.stops.create({ scope: 'zone:paint-booth', reason: 'r', devices: [], actor: 'x' });
  first.close();
  const second = open(t, dir);
  t.equal(second.db.pragma('synchronous', { simple: true }), 2, 'FULL');
  t.same(second.stops.active(), [s]);
});

t.test('a released stop cannot lose its releaser', async (t) => {
  const store = open(t);
  const s = store.stops.create({ scope: 'all', reason: 'r', devices: [], actor: 'x' });
  t.throws(() => store.db.prepare("UPDATE stops SET released_at = '2026-01-01T00:00:00Z' WHERE id = ?").run(s.id), /CHECK constraint/);
});

t.test('the migration adds stops to a database made before it', async (t) => {
  const dir = dataDir(t);
  // As a phygate from before STOP left it: only the first migration run.
  databaseAt(dir, 1).close();
  const store = open(t, dir);
  t.equal(store.db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  t.same(store.stops.active(), []);
  t.ok(store.stops.create({ scope: 'all', reason: 'r', devices: [], actor: 'x' }));
});
