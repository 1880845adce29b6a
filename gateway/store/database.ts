// The gateway's one SQLite file: connection settings and schema migrations.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';

export type Database = Sqlite.Database;

export const DATABASE_FILE = 'phygate.db';

/**
 * Schema versions, applied in order; `PRAGMA user_version` records how many have run.
 * Never edit a shipped entry: add a new one. Exported so tests can make a database of an
 * earlier version.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE missions (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    name TEXT,
    plan TEXT NOT NULL,
    plan_hash TEXT NOT NULL,
    world_hash TEXT NOT NULL,
    report TEXT NOT NULL,
    priority INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    request_hash TEXT NOT NULL
  ) STRICT;
  CREATE INDEX missions_status ON missions (status, id);

  CREATE TABLE mission_steps (
    mission_id TEXT NOT NULL REFERENCES missions (id),
    ordinal INTEGER NOT NULL,
    step_id TEXT NOT NULL,
    action TEXT NOT NULL,
    device TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    -- No uniqueness on step_id: a rejected plan is stored as written, duplicate ids included.
    PRIMARY KEY (mission_id, ordinal)
  ) STRICT, WITHOUT ROWID;

  -- The audit trail: seq gives one total order; rows are never changed or removed.
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    mission_id TEXT REFERENCES missions (id),
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT
  ) STRICT;
  CREATE INDEX events_mission ON events (mission_id, seq);
  CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
  CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

  -- Only the sha256 of a token is kept, so a copied database file grants no access.
  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'agent', 'operator', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
  ) STRICT;
  `,
  `
  -- STOP as pressed: latched until an operator releases it. devices (a JSON array) are the
  -- devices in its scope when it was pressed, so a zone stop still knows them after a restart.
  CREATE TABLE stops (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    reason TEXT NOT NULL,
    devices TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    released_by TEXT,
    released_at TEXT,
    release_note TEXT,
    CHECK ((released_by IS NULL) = (released_at IS NULL))
  ) STRICT;
  CREATE INDEX stops_active ON stops (id) WHERE released_at IS NULL;
  `,
  `
  -- The request audit log: one row per state-changing request, accepted or rejected. Each row's
  -- hash is sha256(prev_hash || canonical JSON of its other fields), the first prev_hash is 64
  -- zeros (gateway/store/audit.ts), so a changed, removed or inserted row breaks the chain.
  CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    role TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    code TEXT,
    request_id TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
  CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
  `,
  `
  -- The command outbox: every order or machine command is written here, with the exact message
  -- and its expiry, in the same transaction that marks its step dispatched, before it is
  -- published. An entry is open until the step's outcome settles it; a restarted gateway
  -- reconciles the open ones with what the devices report (gateway/executor.ts).
  CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    mission_id TEXT NOT NULL REFERENCES missions (id),
    step_id TEXT NOT NULL,
    device TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('vda5050.order', 'machine.command')),
    message TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    published_at TEXT,
    sends INTEGER NOT NULL DEFAULT 0,
    settled_at TEXT,
    outcome TEXT CHECK (outcome IN ('succeeded', 'failed', 'cancelled', 'stopped', 'expired', 'abandoned')),
    CHECK ((settled_at IS NULL) = (outcome IS NULL))
  ) STRICT;
  CREATE INDEX outbox_open ON outbox (created_at) WHERE settled_at IS NULL;
  CREATE INDEX outbox_step ON outbox (mission_id, step_id, created_at);
  `,
  `
  -- Why a mission and each of its steps are where they are, readable without replaying the event
  -- trail: written in the transaction of each transition (gateway/store/missions.ts), and filled
  -- in here from the trail for what happened before this migration.
  ALTER TABLE missions ADD COLUMN approved_by TEXT;
  ALTER TABLE missions ADD COLUMN approved_at TEXT;
  ALTER TABLE missions ADD COLUMN reason TEXT;
  ALTER TABLE missions ADD COLUMN reason_step TEXT;
  ALTER TABLE missions ADD COLUMN ended_at TEXT;
  ALTER TABLE mission_steps ADD COLUMN dispatched_to TEXT;
  ALTER TABLE mission_steps ADD COLUMN started_at TEXT;
  ALTER TABLE mission_steps ADD COLUMN ended_at TEXT;
  ALTER TABLE mission_steps ADD COLUMN reason TEXT;

  -- A mission stored as approved was approved by the site's policy (POLICY_APPROVER in missions.ts).
  UPDATE missions SET
    approved_by = COALESCE(
      (SELECT actor FROM events e WHERE e.mission_id = missions.id AND e.type = 'mission.approved' ORDER BY e.seq DESC LIMIT 1),
      (SELECT 'policy:when-pass' FROM events e WHERE e.mission_id = missions.id AND e.type = 'mission.created'
         AND json_extract(e.data, '$.status') = 'approved')),
    approved_at = COALESCE(
      (SELECT at FROM events e WHERE e.mission_id = missions.id AND e.type = 'mission.approved' ORDER BY e.seq DESC LIMIT 1),
      (SELECT at FROM events e WHERE e.mission_id = missions.id AND e.type = 'mission.created'
         AND json_extract(e.data, '$.status') = 'approved')),
    reason = CASE WHEN status IN ('failed', 'cancelled', 'paused') THEN
      (SELECT COALESCE(json_extract(e.data, '$.reason'), missions.status || ' by ' || e.actor) FROM events e
       WHERE e.mission_id = missions.id AND e.type = 'mission.' || missions.status ORDER BY e.seq DESC LIMIT 1) END,
    reason_step = CASE WHEN status IN ('failed', 'cancelled', 'paused') THEN
      (SELECT json_extract(e.data, '$.step') FROM events e
       WHERE e.mission_id = missions.id AND e.type = 'mission.' || missions.status ORDER BY e.seq DESC LIMIT 1) END,
    ended_at = CASE
      WHEN status = 'rejected' THEN created_at
      WHEN status IN ('succeeded', 'failed', 'cancelled') THEN
        (SELECT at FROM events e WHERE e.mission_id = missions.id AND e.type = 'mission.' || missions.status ORDER BY e.seq DESC LIMIT 1)
      END;

  -- Pending steps have no events. Step events name their step in data.step.
  UPDATE mission_steps SET
    dispatched_to = (SELECT json_extract(e.data, '$.device') FROM events e
      WHERE e.mission_id = mission_steps.mission_id AND e.type = 'step.dispatched'
        AND json_extract(e.data, '$.step') = mission_steps.step_id ORDER BY e.seq DESC LIMIT 1),
    started_at = (SELECT at FROM events e
      WHERE e.mission_id = mission_steps.mission_id AND e.type = 'step.dispatched'
        AND json_extract(e.data, '$.step') = mission_steps.step_id ORDER BY e.seq LIMIT 1),
    ended_at = CASE WHEN status IN ('succeeded', 'failed', 'cancelled') THEN
      (SELECT at FROM events e
       WHERE e.mission_id = mission_steps.mission_id AND e.type = 'step.' || mission_steps.status
         AND json_extract(e.data, '$.step') = mission_steps.step_id ORDER BY e.seq DESC LIMIT 1) END,
    reason = CASE WHEN status IN ('failed', 'cancelled', 'blocked') THEN
      (SELECT json_extract(e.data, '$.reason') FROM events e
       WHERE e.mission_id = mission_steps.mission_id AND e.type = 'step.' || mission_steps.status
         AND json_extract(e.data, '$.step') = mission_steps.step_id ORDER BY e.seq DESC LIMIT 1) END
  WHERE status <> 'pending';
  `,
  `
  -- ROS 2 goals go through the outbox too (every device port's work does): the channel's CHECK
  -- gains 'ros2.goal'. SQLite cannot alter a CHECK, so the table is built anew and filled.
  CREATE TABLE outbox_v6 (
    id TEXT PRIMARY KEY,
    mission_id TEXT NOT NULL REFERENCES missions (id),
    step_id TEXT NOT NULL,
    device TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('vda5050.order', 'machine.command', 'ros2.goal')),
    message TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    published_at TEXT,
    sends INTEGER NOT NULL DEFAULT 0,
    settled_at TEXT,
    outcome TEXT CHECK (outcome IN ('succeeded', 'failed', 'cancelled', 'stopped', 'expired', 'abandoned')),
    CHECK ((settled_at IS NULL) = (outcome IS NULL))
  ) STRICT;
  INSERT INTO outbox_v6 SELECT id, mission_id, step_id, device, channel, message, created_at, expires_at, published_at, sends, settled_at, outcome FROM outbox ORDER BY rowid;
  DROP TABLE outbox;
  ALTER TABLE outbox_v6 RENAME TO outbox;
  CREATE INDEX outbox_open ON outbox (created_at) WHERE settled_at IS NULL;
  CREATE INDEX outbox_step ON outbox (mission_id, step_id, created_at);
  `,
  `
  -- Traffic at run time (gateway/execution/traffic.ts): the nodes each AMR holds (a node is held
  -- by one device at most), the route each AMR drives and how far it is granted, and the order in
  -- which the checked schedule has the robots enter nodes. An order update revises its outbox entry.
  CREATE TABLE traffic_holds (
    node TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    since TEXT NOT NULL
  ) STRICT;
  CREATE INDEX traffic_holds_device ON traffic_holds (device);
  CREATE TABLE traffic_paths (
    device TEXT PRIMARY KEY,
    mission_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    work_id TEXT,
    nodes TEXT NOT NULL,
    reached INTEGER NOT NULL,
    granted INTEGER NOT NULL,
    update_id INTEGER NOT NULL DEFAULT 0,
    CHECK (0 <= reached AND reached <= granted)
  ) STRICT;
  CREATE TABLE traffic_schedule (
    seq INTEGER PRIMARY KEY,
    node TEXT NOT NULL,
    device TEXT NOT NULL,
    mission_id TEXT NOT NULL,
    step_id TEXT NOT NULL
  ) STRICT;
  CREATE INDEX traffic_schedule_step ON traffic_schedule (device, mission_id, step_id);
  `,
  `
  -- API abuse resistance. A token may expire (NULL: never). An audit row may stand for several
  -- refused anonymous requests from one address (count, address; NULL on every other row, and
  -- then left out of the row's hash, so the rows before this migration verify as they did).
  -- audit_checkpoint is the last row GET /v1/audit verified and its hash: a read checks the
  -- chain from there on, not from the start (gateway/store/audit.ts).
  ALTER TABLE tokens ADD COLUMN expires_at TEXT;
  ALTER TABLE audit ADD COLUMN count INTEGER CHECK (count IS NULL OR count >= 1);
  ALTER TABLE audit ADD COLUMN address TEXT;
  CREATE TABLE audit_checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
  ) STRICT;
  `,
  `
  -- MQTT credentials of the site's devices for the embedded broker (gateway/broker.ts): one per
  -- device, replaced when it is issued again. Only a scrypt hash with its own random salt is kept
  -- (gateway/store/device-credentials.ts), so a copied database file lets no robot in.
  CREATE TABLE device_credentials (
    device TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    salt BLOB NOT NULL,
    hash BLOB NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;
  `,
  `
  -- The use case an audit row records (e.g. missions.approve), whichever door it came through:
  -- REST or MCP (gateway/use-cases.ts). NULL on rows without one, and then left out of the
  -- row's hash, so the rows before this migration verify as they did.
  ALTER TABLE audit ADD COLUMN operation TEXT;
  `,
  `
  -- Rehearsals: a mission's plan run on a simulated fleet before the real one
  -- (gateway/rehearsal/). One row per rehearsal, for the plan hash it ran; result holds its
  -- outcome, makespan, the robots' closest approach and its problems (JSON), once it has ended.
  CREATE TABLE rehearsals (
    id TEXT PRIMARY KEY,
    mission_id TEXT NOT NULL REFERENCES missions (id),
    plan_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    requested_by TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    result TEXT
  ) STRICT;
  CREATE INDEX rehearsals_mission ON rehearsals (mission_id, id);
  `,
];

/** The schema version a database has once every migration ran. */
export const SCHEMA_VERSION = MIGRATIONS.length;

function migrate(db: Database): void {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  if (version() > MIGRATIONS.length) {
    throw new Error(`database schema version ${version()} is newer than this phygate knows (${MIGRATIONS.length}); upgrade phygate`);
  }
  // The version is read again under the write lock: another process may have migrated meanwhile.
  const applyNext = db.transaction((): boolean => {
    const v = version();
    if (v >= MIGRATIONS.length) return false;
    db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${v + 1}`);
    return true;
  });
  let more = true;
  while (more) more = applyNext.immediate();
}

/** The data folder cannot hold the store: the message says which path, why, and what to do. */
export class StoreOpenError extends Error {
  override name = 'StoreOpenError';
}

const WHAT_TO_DO = 'set PHYGATE_DATA_DIR (or --data-dir) to a folder this user can create and write';

export function openDatabase(dataDir: string): Database {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'it, or a folder on its path, is a file' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'this user may not create it' : (err as Error).message;
    throw new StoreOpenError(`the data folder '${dataDir}' cannot be created: ${why}; ${WHAT_TO_DO}`);
  }
  const file = path.join(dataDir, DATABASE_FILE);
  let db: Database;
  try {
    db = new Sqlite(file);
  } catch (err) {
    throw new StoreOpenError(`the store '${file}' cannot be opened (${(err as Error).message}): is the folder read-only for this user? ${WHAT_TO_DO}`);
  }
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('journal_mode = WAL');
    // FULL: fsync the WAL on every commit, so a 2xx from the API means the write is on disk.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (err) {
    db.close();
    const code = (err as { code?: string }).code ?? '';
    if (/^SQLITE_(CANTOPEN|READONLY|PERM|IOERR)/.test(code)) throw new StoreOpenError(`the store '${file}' cannot be written (${(err as Error).message}): ${WHAT_TO_DO}`);
    throw err;
  }
  return db;
}
