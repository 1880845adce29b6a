// Access tokens for the API. The plaintext is shown once at creation; only its sha256 is stored,
// so the database file alone grants nothing.
import { randomBytes } from 'node:crypto';
import { isRole, type Role } from '../auth/roles.ts';
import { sha256 } from '../../planners/plan.ts';
import type { Database } from './database.ts';
import { newId } from './ids.ts';

export const TOKEN_PREFIX = 'pgt_';

export interface TokenHolder {
  id: string;
  name: string;
  role: Role;
  /** When it stops being accepted (ISO 8601); null: never. */
  expiresAt: string | null;
}

export interface NewToken extends TokenHolder {
  /** The secret itself; not recoverable later. */
  token: string;
}

export interface TokenRecord extends TokenHolder {
  createdAt: string;
  revokedAt: string | null;
}

interface TokenRow {
  id: string;
  name: string;
  role: Role;
  created_at: string;
  revoked_at: string | null;
  expires_at: string | null;
}

const toRecord = (r: TokenRow): TokenRecord => ({
  id: r.id,
  name: r.name,
  role: r.role,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  expiresAt: r.expires_at,
});

export class TokenStore {
  readonly #insert;
  readonly #byHash;
  readonly #count;
  readonly #list;
  readonly #get;
  readonly #revoke;

  constructor(db: Database) {
    this.#insert = db.prepare<[string, string, Role, string, string, string | null]>(
      'INSERT INTO tokens (id, name, role, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#byHash = db.prepare<[string], TokenHolder>(
      'SELECT id, name, role, expires_at AS expiresAt FROM tokens WHERE token_hash = ? AND revoked_at IS NULL',
    );
    this.#count = db.prepare<[], number>('SELECT count(*) FROM tokens WHERE revoked_at IS NULL').pluck();
    this.#list = db.prepare<[], TokenRow>(
      'SELECT id, name, role, created_at, revoked_at, expires_at FROM tokens ORDER BY id',
    );
    this.#get = db.prepare<[string], TokenRow>('SELECT id, name, role, created_at, revoked_at, expires_at FROM tokens WHERE id = ?');
    this.#revoke = db.prepare<[string, string]>(
      'UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
    );
  }

  /** A new token; with `expiresAt` it is refused from that moment on. */
  create(role: Role, name: string, opts: { expiresAt?: Date; now?: Date } = {}): NewToken {
    if (!isRole(role)) throw new TypeError(`unknown role '${String(role)}'`);
    const now = opts.now ?? new Date();
    if (opts.expiresAt && !(opts.expiresAt.getTime() > now.getTime())) throw new RangeError(`expiresAt ${opts.expiresAt.toISOString()} is not after now`);
    const id = newId('tok_');
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const expiresAt = opts.expiresAt ? opts.expiresAt.toISOString() : null;
    this.#insert.run(id, name, role, sha256(token), now.toISOString(), expiresAt);
    return { id, name, role, expiresAt, token };
  }

  /**
   * The holder of an unrevoked token, or undefined. Expiry is the caller's to judge (it has the
   * clock): `expiresAt` says when.
   */
  verify(token: string): TokenHolder | undefined {
    if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX)) return undefined;
    const row = this.#byHash.get(sha256(token));
    return row && { id: row.id, name: row.name, role: row.role, expiresAt: row.expiresAt };
  }

  /** Unrevoked tokens. */
  count(): number {
    return this.#count.get() as number;
  }

  /** All tokens, revoked ones included, oldest first; never the hashes. */
  list(): TokenRecord[] {
    return this.#list.all().map(toRecord);
  }

  /** One token's record, revoked or not; undefined for an unknown id. */
  get(id: string): TokenRecord | undefined {
    const row = this.#get.get(id);
    return row && toRecord(row);
  }

  /** True if the token was live and is now revoked; false if unknown or already revoked. */
  revoke(id: string, now: Date = new Date()): boolean {
    return this.#revoke.run(now.toISOString(), id).changes === 1;
  }
}
