// Request budgets per minute: one bucket per token (by the token's id, however its header was
// spelled) and a smaller one per client address for requests without a valid token. A fixed
// window per key, on an injected clock, so tests move time instead of waiting.
import type { AuthOptions } from './auth/bearer.ts';
import { ApiError } from './errors.ts';

/** The bucket new keys share while the map is full. */
const OVERFLOW = '(overflow)';

export type Take = { ok: true } | { ok: false; retryAfterS: number };

interface Window {
  start: number;
  used: number;
}

export class RateLimiter {
  readonly #windows = new Map<string, Window>();

  /**
   * @param max requests per key per window
   * @param windowMs the window's length
   * @param maxKeys how many keys are tracked at once: past it, expired windows are dropped, and
   *   if none has expired, new keys share one overflow bucket. Callers with many addresses (a
   *   flood from a whole IPv6 prefix) cannot grow the map without bound.
   */
  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly now: () => number,
    private readonly maxKeys = 10_000,
  ) {}

  /** Counts one request against `key`; refused once `max` were counted in this window. */
  take(key: string): Take {
    const t = this.now();
    let w = this.#windows.get(key);
    if (w && t - w.start >= this.windowMs) w = undefined;
    if (!w) {
      if (key !== OVERFLOW && !this.#windows.has(key) && this.#windows.size >= this.maxKeys) {
        this.#sweep(t);
        if (this.#windows.size >= this.maxKeys) return this.take(OVERFLOW);
      }
      w = { start: t, used: 0 };
      this.#windows.set(key, w);
    }
    if (w.used >= this.max) return { ok: false, retryAfterS: Math.max(1, Math.ceil((w.start + this.windowMs - t) / 1000)) };
    w.used++;
    return { ok: true };
  }

  /** Keys tracked now. */
  get size(): number {
    return this.#windows.size;
  }

  #sweep(t: number): void {
    for (const [key, w] of this.#windows) if (t - w.start >= this.windowMs) this.#windows.delete(key);
  }
}

/**
 * The gateway's request budgets, for installAuth's `limit`: a request with a valid token counts
 * against its token (by id: `Bearer`, `bearer`, a tab or two spaces are one token, one bucket);
 * one without counts against its client address, with a smaller budget, whatever the answer
 * (401, 404). Over budget: 429 RATE_LIMITED with Retry-After.
 */
export function requestBudgets(opts: { perToken: number; anonymous: number; now: () => number }): NonNullable<AuthOptions['limit']> {
  const tokens = new RateLimiter(opts.perToken, 60_000, opts.now);
  const addresses = new RateLimiter(opts.anonymous, 60_000, opts.now);
  return (req, reply, principal) => {
    const taken = principal ? tokens.take(principal.id) : addresses.take(req.ip);
    if (taken.ok) return;
    void reply.header('retry-after', String(taken.retryAfterS));
    const limiter = principal ? tokens : addresses;
    throw new ApiError('RATE_LIMITED', `more than ${limiter.max} requests in a minute ${principal ? `for token '${principal.name}'` : `without a valid token from ${req.ip}`}; retry in ${taken.retryAfterS} s`);
  };
}
