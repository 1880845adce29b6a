// A fake clock for tests on fake time: nothing happens until the test moves time on, and then
// every timer due runs, in the order it falls due (ties in the order they were set).
import type { Clock, Timer } from '../../gateway/execution/clock.ts';

interface Pending {
  at: number;
  seq: number;
  f: () => void;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(start = Date.parse('2026-11-24T08:00:00Z')) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  after(ms: number, f: () => void): Timer {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: ++this.seq, f };
    this.pending.push(p);
    return { cancel: () => (this.pending = this.pending.filter((x) => x !== p)) };
  }

  /** Moves time on by `ms`, running each timer as its time comes (timers they set run too, if due). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.pending.filter((p) => p.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.pending = this.pending.filter((p) => p !== next);
      this.t = next.at;
      next.f();
    }
    this.t = end;
  }

  /** Timers still to run. */
  get timers(): number {
    return this.pending.length;
  }
}
