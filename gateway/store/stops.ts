// STOPs as stored: one row per press, active until an operator releases it. Each change is one
// transaction that also appends to the audit trail (`events`, without a mission), so a restart
// finds every stop still active exactly as it was left, and the trail says who pressed and who
// released.
import type { Database } from './database.ts';
import { newId } from './ids.ts';

export interface StopRecord {
  id: string;
  /** `all`, `zone:<id>` or `device:<id>`. */
  scope: string;
  reason: string;
  /** The devices in the scope when it was pressed. */
  devices: string[];
  createdBy: string;
  createdAt: string;
  releasedBy: string | null;
  releasedAt: string | null;
  releaseNote: string | null;
}

export interface NewStop {
  scope: string;
  reason: string;
  devices: readonly string[];
  actor: string;
  /** When it was pressed; default now. */
  at?: Date;
}

interface StopRow {
  id: string;
  scope: string;
  reason: string;
  devices: string;
  created_by: string;
  created_at: string;
  released_by: string | null;
  released_at: string | null;
  release_note: string | null;
}

const COLUMNS = 'id, scope, reason, devices, created_by, created_at, released_by, released_at, release_note';

function toRecord(r: StopRow): StopRecord {
  return {
    id: r.id,
    scope: r.scope,
    reason: r.reason,
    devices: JSON.parse(r.devices) as string[],
    createdBy: r.created_by,
    createdAt: r.created_at,
    releasedBy: r.released_by,
    releasedAt: r.released_at,
    releaseNote: r.release_note,
  };
}

export class StopStore {
  readonly #insert;
  readonly #byId;
  readonly #active;
  readonly #recent;
  readonly #release;
  readonly #insertEvent;
  readonly #createTx;
  readonly #releaseTx;

  constructor(db: Database) {
    this.#insert = db.prepare<[StopRow]>(
      `INSERT INTO stops (${COLUMNS})
       VALUES (@id, @scope, @reason, @devices, @created_by, @created_at, @released_by, @released_at, @release_note)`,
    );
    this.#byId = db.prepare<[string], StopRow>(`SELECT ${COLUMNS} FROM stops WHERE id = ?`);
    this.#active = db.prepare<[], StopRow>(`SELECT ${COLUMNS} FROM stops WHERE released_at IS NULL ORDER BY id`);
    this.#recent = db.prepare<[number], StopRow>(`SELECT ${COLUMNS} FROM stops ORDER BY id DESC LIMIT ?`);
    this.#release = db.prepare<[string, string, string | null, string]>(
      'UPDATE stops SET released_by = ?, released_at = ?, release_note = ? WHERE id = ? AND released_at IS NULL',
    );
    this.#insertEvent = db.prepare<[string, string, string, string]>(
      'INSERT INTO events (at, mission_id, type, actor, data) VALUES (?, NULL, ?, ?, ?)',
    );
    this.#createTx = db.transaction((row: StopRow) => {
      this.#insert.run(row);
      this.#insertEvent.run(row.created_at, 'stop', row.created_by, JSON.stringify({ stop: row.id, scope: row.scope, reason: row.reason, devices: JSON.parse(row.devices) as unknown }));
    });
    this.#releaseTx = db.transaction((actor: string, at: string, note: string | null): StopRecord[] => {
      const released: StopRecord[] = [];
      for (const row of this.#active.all()) {
        this.#release.run(actor, at, note, row.id);
        this.#insertEvent.run(at, 'stop.released', actor, JSON.stringify({ stop: row.id, scope: row.scope, ...(note === null ? {} : { note }) }));
        released.push(toRecord({ ...row, released_by: actor, released_at: at, release_note: note }));
      }
      return released;
    });
  }

  /** Stores a new, active stop (on disk when this returns: the database runs synchronous=FULL). */
  create(input: NewStop): StopRecord {
    const row: StopRow = {
      id: newId('stop_'),
      scope: input.scope,
      reason: input.reason,
      devices: JSON.stringify([...input.devices]),
      created_by: input.actor,
      created_at: (input.at ?? new Date()).toISOString(),
      released_by: null,
      released_at: null,
      release_note: null,
    };
    this.#createTx.immediate(row);
    return toRecord(row);
  }

  get(id: string): StopRecord | undefined {
    const row = this.#byId.get(id);
    return row && toRecord(row);
  }

  /** The stops not released yet, oldest first. */
  active(): StopRecord[] {
    return this.#active.all().map(toRecord);
  }

  /** The latest stops, released or not, newest first. */
  recent(limit = 50): StopRecord[] {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
    return this.#recent.all(limit).map(toRecord);
  }

  /** Releases every active stop at once, in one transaction; returns them as released (oldest first). */
  release(actor: string, note?: string, at: Date = new Date()): StopRecord[] {
    return this.#releaseTx.immediate(actor, at.toISOString(), note ?? null);
  }
}
