// Mission change notifications for `phygate mcp` (stdio): a client subscribes to
// phygate://missions/{id} and is sent notifications/resources/updated whenever that mission or
// one of its steps changes. The gateway's /mcp is stateless and cannot push, so the stdio
// process follows the gateway's own event stream (GET /v1/events, the `mission` and `step`
// events) with the client's token, for as long as something is subscribed.

/** The mission a resource URI names, or undefined for the others (they never change while the gateway runs). */
export function missionOf(uri: string): string | undefined {
  const m = /^phygate:\/\/missions\/([^/?#]+)$/.exec(uri);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

export const missionUri = (id: string) => `phygate://missions/${encodeURIComponent(id)}`;

/** One Server-Sent Event. */
export interface StreamEvent {
  event: string;
  data: string;
}

/** Splits a Server-Sent Events body into events as it arrives; comment lines (keep-alives) are skipped. */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) yield { event, data: data.join('\n') };
    }
  }
}

/** The mission a gateway event is about: a `mission` event's id, a `step` event's missionId. */
export function missionOfEvent(e: StreamEvent): string | undefined {
  if (e.event !== 'mission' && e.event !== 'step') return undefined;
  try {
    const data = JSON.parse(e.data) as { id?: unknown; missionId?: unknown };
    const id = e.event === 'mission' ? data.id : data.missionId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

export interface MissionUpdatesOptions {
  /** The gateway's GET /v1/events. */
  eventsUrl: URL;
  token: string;
  /** Called with the URI of a subscribed mission that changed. */
  updated: (uri: string) => void;
  /** Told when the stream fails or ends; it is opened again after `retryMs` while something is subscribed. */
  warn: (message: string) => void;
  retryMs?: number;
}

/** The subscribed missions, and the event stream that is open while there are any. */
export class MissionUpdates {
  private readonly subscribed = new Set<string>();
  private stream: AbortController | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly opts: MissionUpdatesOptions) {}

  subscribe(uri: string): void {
    const id = missionOf(uri);
    if (id === undefined) return;
    this.subscribed.add(id);
    if (!this.stream) this.open();
  }

  unsubscribe(uri: string): void {
    const id = missionOf(uri);
    if (id !== undefined) this.subscribed.delete(id);
    if (this.subscribed.size === 0) this.close();
  }

  close(): void {
    clearTimeout(this.retry);
    this.retry = undefined;
    this.stream?.abort();
    this.stream = undefined;
  }

  private open(): void {
    const stream = new AbortController();
    this.stream = stream;
    void (async () => {
      try {
        const res = await fetch(this.opts.eventsUrl, { headers: { authorization: `Bearer ${this.opts.token}`, accept: 'text/event-stream' }, signal: stream.signal });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} ${await res.text()}`);
        for await (const e of readEvents(res.body)) {
          const id = missionOfEvent(e);
          if (id !== undefined && this.subscribed.has(id)) this.opts.updated(missionUri(id));
        }
        throw new Error('the stream ended');
      } catch (err) {
        if (stream.signal.aborted) return;
        this.opts.warn(`the gateway's event stream (${this.opts.eventsUrl.href}): ${(err as Error).message}; mission updates resume when it is back`);
        this.stream = undefined;
        if (this.subscribed.size > 0) this.retry = setTimeout(() => this.subscribed.size > 0 && !this.stream && this.open(), this.opts.retryMs ?? 2000);
      }
    })();
  }
}
