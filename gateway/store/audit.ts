// The request audit log: who did what, when, and how it ended, for every state-changing request
// and every rejected one. Append-only (triggers refuse UPDATE and DELETE) and hash-chained: each
// row's hash covers the previous row's hash and its own fields, so `verify()` finds a row that
// was edited, removed or slipped in behind the triggers' back.
import { createHash } from 'node:crypto';
import type { Database } from './database.ts';

/** The prev_hash of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

export interface AuditEntry {
  seq: number;
  at: string;
  /** The token's name, or `anonymous` when the request carried no valid token. */
  actor: string;
  role: string | null;
  method: string;
  /** Without the query string. */
  path: string;
  status: number;
  /** The error code of a 4xx/5xx answer. */
  code: string | null;
  requestId: string;
  /**
   * How many refused requests without a valid token this row stands for: the same address,
   * method, route, status and code within a minute (the first one's `at`, `path` and
   * `requestId`). Absent on every other row: each of those is one request.
   */
  count?: number;
  /** The client address of such a row. */
  address?: string;
  /** The use case, e.g. `missions.approve` (gateway/use-cases.ts); absent on rows of requests that are none. */
  operation?: string;
  prevHash: string;
  hash: string;
}

export type NewAuditEntry = Pick<AuditEntry, 'actor' | 'role' | 'method' | 'path' | 'status' | 'code' | 'requestId'> & {
  /** When it happened; default now. */
  at?: Date;
  count?: number;
  address?: string;
  operation?: string;
};

export type ChainCheck = { ok: true; rows: number } | { ok: false; seq: number; reason: string };

/**
 * What a read's incremental check found: `rows` rows, from the first, verified so far (now or by
 * an earlier read), `pending` rows after them not yet verified; or the first row that does not verify.
 */
export type ChainProgress = { ok: true; rows: number; pending: number } | { ok: false; seq: number; reason: string };

interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  role: string | null;
  method: string;
  path: string;
  status: number;
  code: string | null;
  request_id: string;
  count: number | null;
  address: string | null;
  operation: string | null;
  prev_hash: string;
  hash: string;
}

const COLUMNS = 'seq, at, actor, role, method, path, status, code, request_id, count, address, operation, prev_hash, hash';

/** The page size of `list()` when none is given, and the most it returns. */
export const AUDIT_PAGE = 100;
export const AUDIT_PAGE_MAX = 1000;

type HashedFields = Omit<AuditRow, 'prev_hash' | 'hash' | 'count' | 'address' | 'operation'> & Partial<Pick<AuditRow, 'count' | 'address' | 'operation'>>;

/**
 * The JSON the hash covers: every field but the hashes, keys sorted, no whitespace. Written out
 * key by key, so the hash never depends on how an object happened to be built. `address` and
 * `count` (and `operation`) are left out when null, so rows written before they existed keep their hashes.
 */
export function canonicalAuditJson(r: HashedFields): string {
  return JSON.stringify({
    actor: r.actor,
    ...(r.address == null ? {} : { address: r.address }),
    at: r.at,
    code: r.code,
    ...(r.count == null ? {} : { count: r.count }),
    method: r.method,
    ...(r.operation == null ? {} : { operation: r.operation }),
    path: r.path,
    requestId: r.request_id,
    role: r.role,
    seq: r.seq,
    status: r.status,
  });
}

export function auditHash(prevHash: string, r: HashedFields): string {
  return createHash('sha256').update(prevHash).update(canonicalAuditJson(r)).digest('hex');
}

function toEntry(r: AuditRow): AuditEntry {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    role: r.role,
    method: r.method,
    path: r.path,
    status: r.status,
    code: r.code,
    requestId: r.request_id,
    ...(r.count === null ? {} : { count: r.count }),
    ...(r.address === null ? {} : { address: r.address }),
    ...(r.operation == null ? {} : { operation: r.operation }),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export class AuditStore {
  readonly #last;
  readonly #insert;
  readonly #page;
  readonly #all;
  readonly #appendTx;
  readonly #row;
  readonly #lastSeq;
  readonly #checkpoint;
  readonly #saveCheckpoint;
  #verified = 0;

  constructor(db: Database) {
    this.#row = db.prepare<[number], AuditRow>(`SELECT ${COLUMNS} FROM audit WHERE seq = ?`);
    this.#lastSeq = db.prepare<[], number | null>('SELECT max(seq) FROM audit').pluck();
    this.#checkpoint = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_checkpoint WHERE id = 1');
    this.#saveCheckpoint = db.prepare<[number, string]>(
      'INSERT INTO audit_checkpoint (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
    );
    this.#last = db.prepare<[], Pick<AuditRow, 'seq' | 'hash'>>('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
    this.#insert = db.prepare<[AuditRow]>(
      `INSERT INTO audit (${COLUMNS})
       VALUES (@seq, @at, @actor, @role, @method, @path, @status, @code, @request_id, @count, @address, @operation, @prev_hash, @hash)`,
    );
    this.#page = db.prepare<[number, number], AuditRow>(`SELECT ${COLUMNS} FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`);
    this.#all = db.prepare<[], AuditRow>(`SELECT ${COLUMNS} FROM audit ORDER BY seq`);
    // Read the chain's end and write the next link under one write lock (run .immediate()), so
    // two writers, even in two processes, cannot both link to the same row.
    this.#appendTx = db.transaction((fields: Omit<AuditRow, 'seq' | 'prev_hash' | 'hash'>): AuditRow => {
      const last = this.#last.get();
      const seq = (last?.seq ?? 0) + 1;
      const prev_hash = last?.hash ?? GENESIS_HASH;
      const row: AuditRow = { ...fields, seq, prev_hash, hash: auditHash(prev_hash, { ...fields, seq }) };
      this.#insert.run(row);
      return row;
    });
  }

  /** Appends one row at the end of the chain (on disk when this returns). */
  append(entry: NewAuditEntry): AuditEntry {
    const row = this.#appendTx.immediate({
      at: (entry.at ?? new Date()).toISOString(),
      actor: entry.actor,
      role: entry.role,
      method: entry.method,
      path: entry.path,
      status: entry.status,
      code: entry.code,
      request_id: entry.requestId,
      count: entry.count ?? null,
      address: entry.address ?? null,
      operation: entry.operation ?? null,
    });
    return toEntry(row);
  }

  /** Rows after `afterSeq` (default: from the start), oldest first, at most `limit` (default 100, at most 1000). */
  list(opts: { afterSeq?: number; limit?: number } = {}): AuditEntry[] {
    const afterSeq = opts.afterSeq ?? 0;
    const limit = opts.limit ?? AUDIT_PAGE;
    if (!Number.isInteger(afterSeq) || afterSeq < 0) throw new RangeError(`afterSeq must be a non-negative integer, got ${afterSeq}`);
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_PAGE_MAX) throw new RangeError(`limit must be an integer from 1 to ${AUDIT_PAGE_MAX}, got ${limit}`);
    return this.#page.all(afterSeq, limit).map(toEntry);
  }

  /**
   * Recomputes the whole chain. Reports the first row whose seq, link or hash is wrong. A row
   * removed from the end leaves a shorter chain that still verifies: compare `rows` with a
   * count or hash kept elsewhere to catch that.
   */
  verify(): ChainCheck {
    let prevSeq = 0;
    let prevHash = GENESIS_HASH;
    let rows = 0;
    for (const r of this.#all.iterate()) {
      const broken = this.#brokenLink(r, prevSeq, prevHash);
      if (broken) return broken;
      prevSeq = r.seq;
      prevHash = r.hash;
      rows++;
    }
    return { ok: true, rows };
  }

  /**
   * Verifies at most `budget` rows past the checkpoint (the last row an earlier call verified,
   * with its hash, kept in the database) and moves the checkpoint on: what a read costs is what
   * it asks for, not the length of the log. Also rechecked each time: the checkpoint's own row
   * (its hash unchanged and matching its fields), so a chain rewritten from before the
   * checkpoint to its end still shows. An edit to a row before the checkpoint that leaves the
   * checkpoint's row alone is not seen here: `verify()` recomputes everything (`phygate audit verify`).
   */
  verifyIncrementally(budget: number): ChainProgress {
    const cp = this.#checkpoint.get() ?? { seq: 0, hash: GENESIS_HASH };
    if (cp.seq > 0) {
      const at = this.#row.get(cp.seq);
      this.#verified++;
      if (!at) return { ok: false, seq: cp.seq, reason: `row ${cp.seq}, verified before, is gone` };
      if (at.hash !== cp.hash || at.hash !== auditHash(at.prev_hash, at)) {
        return { ok: false, seq: cp.seq, reason: 'the row verified last changed since it was verified' };
      }
    }
    let prevSeq = cp.seq;
    let prevHash = cp.hash;
    for (const r of budget > 0 ? this.#page.iterate(cp.seq, budget) : []) {
      this.#verified++;
      const broken = this.#brokenLink(r, prevSeq, prevHash);
      if (broken) return broken;
      prevSeq = r.seq;
      prevHash = r.hash;
    }
    if (prevSeq !== cp.seq) this.#saveCheckpoint.run(prevSeq, prevHash);
    return { ok: true, rows: prevSeq, pending: Math.max(0, (this.#lastSeq.get() ?? 0) - prevSeq) };
  }

  /** Rows this store has hashed for verifyIncrementally() so far: what reads cost, for tests and measurements. */
  get rowsVerified(): number {
    return this.#verified;
  }

  #brokenLink(r: AuditRow, prevSeq: number, prevHash: string): Extract<ChainCheck, { ok: false }> | undefined {
    if (r.seq !== prevSeq + 1) return { ok: false, seq: r.seq, reason: `seq ${r.seq} follows ${prevSeq}: rows are missing` };
    if (r.prev_hash !== prevHash) return { ok: false, seq: r.seq, reason: 'prev_hash is not the hash of the row before' };
    if (r.hash !== auditHash(r.prev_hash, r)) return { ok: false, seq: r.seq, reason: 'hash does not match the row' };
    return undefined;
  }
}
