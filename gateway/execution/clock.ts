// Time for the executor, passed in: every timeout, resend and grace period goes through a Clock,
// so tests run on fake time and a paused mission's timeouts stand still.
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `f` once, `ms` from now (a timer never keeps the process alive). */
  after(ms: number, f: () => void): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, f) {
    const t = setTimeout(f, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A timer that can be paused: time paused does not count, resuming goes on with the time left. */
export class Countdown {
  private timer: Timer | undefined;
  private startedAt = 0;
  private left: number;
  private over = false;

  constructor(
    private readonly clock: Clock,
    readonly totalMs: number,
    private readonly onEnd: () => void,
  ) {
    this.left = totalMs;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Milliseconds still to run. */
  get remainingMs(): number {
    return this.timer ? Math.max(0, this.left - (this.clock.now() - this.startedAt)) : this.left;
  }

  /** Starts, or goes on after a pause; nothing once it has ended or been cancelled. */
  resume(): this {
    if (this.timer || this.over) return this;
    this.startedAt = this.clock.now();
    this.timer = this.clock.after(this.left, () => {
      this.timer = undefined;
      this.over = true;
      this.left = 0;
      this.onEnd();
    });
    return this;
  }

  pause(): void {
    if (!this.timer) return;
    this.left = this.remainingMs;
    this.timer.cancel();
    this.timer = undefined;
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.over = true;
  }
}
