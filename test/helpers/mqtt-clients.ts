// MQTT clients for tests about who a broker lets in and what it lets through: one connection
// attempt without reconnects (its CONNACK refusal code, or the client), a raw socket that writes
// MQTT bytes by hand (a packet too big to build with a client, plain MQTT sent to a TLS port),
// and a watcher that proves it was sent nothing: the broker keeps the order of what it delivers
// to one client, so when a marker published after the forged message arrives, the forged one
// would already have.
import { connect as netConnect, type Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export type Attempt = { ok: true; client: MqttClient } | { ok: false; code: number | undefined; message: string };

/** One CONNECT: the client, or the broker's refusal (CONNACK return code) or the connection's end. */
export function connectOnce(url: string, opts: IClientOptions = {}): Promise<Attempt> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, clean: true, log: () => {}, ...opts });
    const fail = (code: number | undefined, message: string) => {
      client.end(true);
      resolve({ ok: false, code, message });
    };
    client.once('connect', () => resolve({ ok: true, client }));
    client.once('error', (err) => fail((err as { code?: number }).code, err.message));
    client.once('close', () => fail(undefined, 'closed before CONNACK'));
  });
}

/** Connects or throws with the reason. */
export async function mustConnect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const a = await connectOnce(url, opts);
  if (!a.ok) throw new Error(`could not connect to ${url} as ${opts.username ?? 'anonymous'}: ${a.message} (${a.code})`);
  a.client.on('error', () => {});
  return a.client;
}

/** Resolves when the client's connection is gone (the broker closed it). */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => (client.connected ? client.once('close', () => resolve()) : resolve()));
}

/** MQTT's remaining-length encoding. */
export function varLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
};

/** An MQTT 3.1.1 CONNECT packet (clean session, 60 s keepalive). */
export function connectPacket(clientId: string, username?: string, password?: string): Buffer {
  const flags = 0x02 | (username !== undefined ? 0x80 : 0) | (password !== undefined ? 0x40 : 0);
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, flags, 0, 60]),
    str(clientId),
    ...(username !== undefined ? [str(username)] : []),
    ...(password !== undefined ? [str(password)] : []),
  ]);
  return Buffer.concat([Buffer.from([0x10]), varLength(body.length), body]);
}

export interface RawConnection {
  socket: Socket;
  /** Every byte the broker sent. */
  received(): Buffer;
  /** Resolves when the socket is closed, whoever closed it. */
  closed: Promise<void>;
}

export function rawConnect(port: number, host = '127.0.0.1'): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, host);
    const chunks: Buffer[] = [];
    const closedP = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, received: () => Buffer.concat(chunks), closed: closedP }));
    socket.once('error', reject);
  });
}

/** Resolves with the CONNACK's return code once it arrived on a raw connection. */
export async function connack(c: RawConnection): Promise<number> {
  for (;;) {
    const r = c.received();
    if (r.length >= 4 && r[0] === 0x20) return r[3]!;
    if (c.socket.destroyed) throw new Error('closed before CONNACK');
    await new Promise((res) => setTimeout(res, 10));
  }
}

/**
 * Subscribes `watcher` to `topics` and to `markerTopic`; `act` runs, then `mark` publishes to
 * `markerTopic`; resolves with every message on `topics` the watcher got before the marker.
 */
export async function heardBefore(watcher: MqttClient, topics: string[], markerTopic: string, act: () => Promise<void>, mark: () => Promise<void>): Promise<{ topic: string; payload: string; retain: boolean }[]> {
  const heard: { topic: string; payload: string; retain: boolean }[] = [];
  let resolveMarker!: () => void;
  const marker = new Promise<void>((r) => (resolveMarker = r));
  const onMessage = (topic: string, payload: Buffer, packet: { retain: boolean }) => {
    if (topic === markerTopic) resolveMarker();
    else if (topics.includes(topic)) heard.push({ topic, payload: payload.toString(), retain: packet.retain });
  };
  watcher.on('message', onMessage);
  await watcher.subscribeAsync([...topics, markerTopic], { qos: 1 });
  await act();
  await mark();
  await marker;
  watcher.off('message', onMessage);
  return heard;
}

/** The QoS granted per topic (128: refused); mqtt.js rejects a SUBACK with a refusal, so read it off the error. */
export function grants(client: MqttClient, topics: string | string[]): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(topics, { qos: 1 }, (err, granted) => {
      const fromError = (err as { packet?: { granted?: number[] } } | null)?.packet?.granted;
      if (fromError) return resolve(fromError.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos)));
      if (err) return reject(err);
      resolve((granted ?? []).map((g) => g.qos));
    });
  });
}
