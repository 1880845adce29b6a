// Refused requests without a valid token are audited in batches: a flood of them (60,000
// anonymous POSTs to routes that do not exist) would otherwise be 60,000 synced rows. Repeats
// of one address, method, route, status and code within a window become one row with a count.
// Requests made with a valid token are the trail and keep one row each (gateway/app.ts); before
// one is written the gathered rows are, so the log keeps its order.
import type { NewAuditEntry } from './store/audit.ts';

/** How long repeats are gathered into one row. */
export const BATCH_WINDOW_MS = 60_000;
/**
 * How many rows a window writes at most, besides the one for the rest (address and path
 * `(many)`). Counted over the window, not per flush: interleaving authenticated requests with
 * the flood cannot turn each flush into new rows.
 */
export const BATCH_KEYS_MAX = 256;

const MANY = '(many)';

type Batched = NewAuditEntry & { at: Date; address: string; count: number };

export class AnonymousAuditBatch {
  readonly #rows = new Map<string, Batched>();
  #windowStart: number | undefined;
  /** Rows this window wrote already (flushes before authenticated rows). */
  #written = 0;

  constructor(
    private readonly append: (entry: NewAuditEntry) => void,
    private readonly now: () => Date,
    private readonly windowMs = BATCH_WINDOW_MS,
    private readonly maxKeys = BATCH_KEYS_MAX,
  ) {}

  /**
   * Counts one refused anonymous request. `route` is the route's pattern (`/v1/missions/:id`),
   * or undefined when no route matched: then every path is one route, so varying the path does
   * not make rows.
   */
  add(entry: NewAuditEntry & { address: string }, route: string | undefined): void {
    const at = entry.at ?? this.now();
    if (this.#windowStart !== undefined && at.getTime() - this.#windowStart >= this.windowMs) this.flush();
    this.#windowStart ??= at.getTime();
    let key = [entry.address, entry.method, route ?? '(no route)', entry.status, entry.code ?? ''].join('\n');
    if (!this.#rows.has(key) && this.#written + this.#rows.size - (this.#rows.has(MANY) ? 1 : 0) >= this.maxKeys) key = MANY;
    const row = this.#rows.get(key);
    if (row) row.count++;
    else if (key === MANY) this.#rows.set(key, { ...entry, at, address: MANY, path: MANY, count: 1 });
    else this.#rows.set(key, { ...entry, at, count: 1 });
  }

  /** Rows gathered and not yet written. */
  get pending(): number {
    return this.#rows.size;
  }

  /**
   * Writes the gathered rows, oldest first, within the window (before an authenticated row):
   * the `(many)` row waits for the window's end, so it is written once a window.
   */
  flushBefore(): void {
    const rows = [...this.#rows.entries()].filter(([key]) => key !== MANY);
    for (const [key] of rows) this.#rows.delete(key);
    this.#written += rows.length;
    this.#write(rows.map(([, row]) => row));
  }

  /** Writes every gathered row, oldest first, and starts a new window. */
  flush(): void {
    const rows = [...this.#rows.values()];
    this.#rows.clear();
    this.#windowStart = undefined;
    this.#written = 0;
    this.#write(rows);
  }

  #write(rows: Batched[]): void {
    for (const row of rows.sort((a, b) => a.at.getTime() - b.at.getTime())) this.append(row);
  }
}
