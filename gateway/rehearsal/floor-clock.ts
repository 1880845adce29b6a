// The rehearsal's makespan on the floor's own clock. A rehearsal runs the virtual fleet at high
// speed (PHYGATE_REHEARSAL_SPEED, 20× by default), so every real millisecond of messaging — an
// order over MQTT, a state back, the executor's turn — is twenty simulated ones: 50 ms between
// two steps reads as a second of floor time, and a plan whose robots did everything on time ran
// "slower than checked". The check's makespan has no such gaps (it dispatches at once). So the
// rehearsal counts simulated time only while something on the floor is at work: a robot on a
// route, moving, running an action or charging, a machine running a job, or a `wait` step timing.
// Time in which every device stands idle waiting for a message is left out; a robot waiting for
// another to pass is counted, since the other one is at work.
//
// Pure, on the time it is given: the rehearsal world looks at the floor every few ms (SAMPLE_MS)
// and tells it whether anything was at work.

export class FloorClock {
  private lastMs: number;
  private lastBusy = false;
  private busyMs = 0;

  /** `speed`: simulated seconds per real second; `startMs`: real time (ms) the clock starts at. */
  constructor(
    private readonly speed: number,
    startMs: number,
  ) {
    this.lastMs = startMs;
  }

  /**
   * A look at the floor at real time `nowMs`: whether anything on it is at work. The time since
   * the last look counts when the floor was at work at either look (a device that started or
   * finished in between was at work for part of it; at most one look's interval is over-counted).
   */
  sample(nowMs: number, busy: boolean): void {
    if (nowMs > this.lastMs && (busy || this.lastBusy)) this.busyMs += nowMs - this.lastMs;
    this.lastMs = Math.max(this.lastMs, nowMs);
    this.lastBusy = busy;
  }

  /** Simulated seconds in which the floor was at work, to 0.1 s. */
  get seconds(): number {
    return Math.round((this.busyMs / 1000) * this.speed * 10) / 10;
  }
}
