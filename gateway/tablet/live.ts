// The live feed: GET /v1/events (Server-Sent Events) with the token in the query, since
// EventSource cannot send headers. The browser reconnects by itself after a dropped stream;
// when it gives up (an error answer) or the stream goes quiet, this reconnects with back-off.
// While there is no stream the state is `lost`: the screen says so and greys what it shows.
import type { DeviceState, StopRecord, TrafficDevice } from './api.ts';

export type LiveStatus = 'connecting' | 'live' | 'lost';

export interface LiveHandlers {
  status(status: LiveStatus, since: Date): void;
  /** Every device, first thing after each (re)connect: anything may have changed meanwhile. */
  snapshot(devices: DeviceState[]): void;
  device(d: DeviceState): void;
  mission(e: { id: string; status: string; reason?: string }): void;
  step(e: { missionId: string; step: string; status: string; reason?: string; device?: string }): void;
  /** A rehearsal started or ended (README, "Rehearsal"). */
  rehearsal(e: { id: string; missionId: string; status: string }): void;
  stop(s: StopRecord): void;
  released(e: { released: StopRecord[] }): void;
  alert(e: { message: string; missionId?: string; step?: string; device?: string }): void;
  /** Who holds which nodes, the routes, who waits for whom: every AMR, each time any of it changes. */
  traffic(e: { devices: TrafficDevice[] }): void;
  /** The gateway no longer accepts the token (revoked): signing in again is the only way on. */
  unauthorized(): void;
}

const BACKOFF_MS = [1000, 2000, 4000, 8000];
/** The server writes at least a keep-alive comment every 15 s, but those do not reach script: devices report far more often. */
const QUIET_MS = 45_000;

export class Live {
  private source: EventSource | undefined;
  private status: LiveStatus = 'connecting';
  private attempts = 0;
  private retry: number | undefined;
  private lastMessage = Date.now();
  private readonly watchdog: number;
  private closed = false;

  constructor(
    private readonly token: string,
    private readonly on: LiveHandlers,
  ) {
    this.watchdog = window.setInterval(() => void this.checkQuiet(), 5000);
    this.connect();
  }

  close(): void {
    this.closed = true;
    window.clearInterval(this.watchdog);
    window.clearTimeout(this.retry);
    this.source?.close();
  }

  private connect(): void {
    if (this.closed) return;
    this.source?.close();
    const es = new EventSource(`/v1/events?access_token=${encodeURIComponent(this.token)}`);
    this.source = es;
    const listen = <T>(type: string, handle: (data: T) => void) =>
      es.addEventListener(type, (e) => {
        this.lastMessage = Date.now();
        handle(JSON.parse((e as MessageEvent<string>).data) as T);
      });
    listen<{ devices: DeviceState[] }>('snapshot', (d) => {
      this.attempts = 0;
      this.setStatus('live');
      this.on.snapshot(d.devices);
    });
    listen<DeviceState>('device', (d) => this.on.device(d));
    listen<Parameters<LiveHandlers['mission']>[0]>('mission', (d) => this.on.mission(d));
    listen<Parameters<LiveHandlers['step']>[0]>('step', (d) => this.on.step(d));
    listen<Parameters<LiveHandlers['rehearsal']>[0]>('rehearsal', (d) => this.on.rehearsal(d));
    listen<StopRecord>('stop', (d) => this.on.stop(d));
    listen<{ released: StopRecord[] }>('stop.released', (d) => this.on.released(d));
    listen<Parameters<LiveHandlers['alert']>[0]>('alert', (d) => this.on.alert(d));
    listen<Parameters<LiveHandlers['traffic']>[0]>('traffic', (d) => this.on.traffic(d));
    es.onerror = () => {
      if (this.source !== es) return;
      this.setStatus('lost');
      // CONNECTING: the browser tries again by itself. CLOSED: it gave up (an error answer).
      if (es.readyState === EventSource.CLOSED) void this.reconnectLater();
    };
  }

  private async reconnectLater(): Promise<void> {
    window.clearTimeout(this.retry);
    const who = await timedFetch('/v1/whoami', { headers: { authorization: `Bearer ${this.token}` } });
    if (who?.status === 401) {
      this.close();
      this.on.unauthorized();
      return;
    }
    const wait = BACKOFF_MS[Math.min(this.attempts, BACKOFF_MS.length - 1)]!;
    this.attempts++;
    this.retry = window.setTimeout(() => this.connect(), wait);
  }

  /** A stream that is open but silent may be a dead connection (Wi-Fi gone): ask the gateway directly. */
  private async checkQuiet(): Promise<void> {
    if (this.status !== 'live' || Date.now() - this.lastMessage < QUIET_MS) return;
    this.lastMessage = Date.now();
    const health = await timedFetch('/healthz');
    if (health?.ok) {
      // The gateway is there, the stream said nothing: open a fresh one, which starts with a snapshot.
      this.connect();
      return;
    }
    this.setStatus('lost');
    this.source?.close();
    void this.reconnectLater();
  }

  private setStatus(status: LiveStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.on.status(status, new Date());
  }
}

/** fetch() that gives up after a few seconds; undefined when there is no answer. */
async function timedFetch(url: string, init: RequestInit = {}, timeoutMs = 4000): Promise<Response | undefined> {
  const abort = new AbortController();
  const timer = window.setTimeout(() => abort.abort(), timeoutMs);
  try {
    return await fetch(url, { ...init, cache: 'no-store', signal: abort.signal });
  } catch {
    return undefined;
  } finally {
    window.clearTimeout(timer);
  }
}
