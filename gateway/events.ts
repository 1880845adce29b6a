// The gateway's live event stream: device state changes (and, later, mission and step changes)
// fanned out to Server-Sent Events subscribers. Per key (a device id) events are throttled: at
// most one per `throttleMs`, and the last state always arrives, so a vehicle publishing at 10 Hz
// cannot flood a tablet while the picture stays current.
export interface GatewayEvent {
  /** Rising per hub, so a client can tell order and gaps. */
  id: number;
  type: string;
  data: unknown;
}

export type EventListener = (e: GatewayEvent) => void;

export class EventHub {
  private seq = 0;
  private readonly listeners = new Set<EventListener>();
  private readonly lastSent = new Map<string, number>();
  private readonly pending = new Map<string, { type: string; data: unknown; timer: NodeJS.Timeout }>();

  constructor(
    private readonly throttleMs = 200,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** Sends now (no throttle): for events that must never be coalesced. */
  publish(type: string, data: unknown): void {
    const e = { id: ++this.seq, type, data };
    for (const l of this.listeners) l(e);
  }

  /** Sends at most one event per key per throttle window; the latest data wins. */
  publishThrottled(key: string, type: string, data: unknown): void {
    const pending = this.pending.get(key);
    if (pending) {
      pending.type = type;
      pending.data = data;
      return;
    }
    const now = this.clock();
    const wait = (this.lastSent.get(key) ?? -Infinity) + this.throttleMs - now;
    if (wait <= 0) {
      this.lastSent.set(key, now);
      this.publish(type, data);
      return;
    }
    const entry = {
      type,
      data,
      timer: setTimeout(() => {
        this.pending.delete(key);
        this.lastSent.set(key, this.clock());
        this.publish(entry.type, entry.data);
      }, wait),
    };
    this.pending.set(key, entry);
  }

  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    this.listeners.clear();
  }
}
