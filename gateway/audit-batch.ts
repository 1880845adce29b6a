// Refused requests without a valid token are audited in batches: a flood of them (60,000
// anonymous POSTs to routes that do not exist) would otherwise be 60,000 synced rows. Repeats
// of one address, method, route, status and code within a window become one row with a count,
// written when the window ends, or before any other row so the log keeps its order. Requests
// made with a valid token are the trail and keep one row each (gateway/app.ts).
import type { NewAuditEntry } from './store/audit.ts';

/** How long repeats are gathered into one row. */
export const BATCH_WINDOW_MS = 60_000;
/** How many different rows a window gathers; past it, the rest share one row (address and path `(many)`). */
export const BATCH_KEYS_MAX = 256;

type Batched = NewAuditEntry & { at: Date; address: string; count: number };

export class AnonymousAuditBatch {
  readonly #rows = new Map<string, Batched>();
  #windowStart: number | undefined;

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
    if (!this.#rows.has(key) && this.#rows.size >= this.maxKeys) key = '(many)';
    const row = this.#rows.get(key);
    if (row) row.count++;
    else if (key === '(many)') this.#rows.set(key, { ...entry, at, address: '(many)', path: '(many)', count: 1 });
    else this.#rows.set(key, { ...entry, at, count: 1 });
  }

  /** Rows gathered and not yet written. */
  get pending(): number {
    return this.#rows.size;
  }

  /** Writes every gathered row, oldest first, and starts a new window. */
  flush(): void {
    const rows = [...this.#rows.values()].sort((a, b) => a.at.getTime() - b.at.getTime());
    this.#rows.clear();
    this.#windowStart = undefined;
    for (const row of rows) this.append(row);
  }
}
