// The embedded MQTT broker (aedes) that `npm start` runs when no broker URL is configured, so
// robots on the network (and the virtual fleet) connect to the gateway machine directly.
//
// Who may do what (gateway/broker-auth.ts decides): every client logs in, the gateway with its
// own credentials, each device with its own; a device publishes only on its own state topics
// and subscribes only to its own command topics; only the gateway sends orders, instant actions
// and commands and may subscribe broadly. A publish the client may not make closes its
// connection (MQTT 3.1.1 has no way to refuse one publish); a subscription it may not make is
// refused in the SUBACK (0x80), so it receives nothing. The limits below bound what one client
// can make the gateway hold in memory; the broker shares the gateway's event loop with STOP.
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';

/** Who a client logged in as. */
export type Principal = { kind: 'gateway' } | { kind: 'device'; deviceId: string } | { kind: 'anonymous' };

/** The topics one device may use, exactly (no wildcards). */
export interface DeviceTopics {
  publish: ReadonlySet<string>;
  subscribe: ReadonlySet<string>;
}

/** What the broker asks about clients; gateway/broker-auth.ts answers from the site and the store. */
export interface BrokerAuth {
  /** The principal these credentials belong to; undefined refuses the connection. */
  authenticate(username: string | undefined, password: Buffer | undefined): Promise<Principal | undefined>;
  /** The topics of a device of the site. */
  topics(deviceId: string): DeviceTopics | undefined;
}

export interface BrokerLimits {
  /** Largest MQTT packet, in bytes of its remaining length: a client that sends a bigger one is disconnected before it is read. */
  maxPacketBytes: number;
  /** Connections open at once; more are closed as they arrive. */
  maxConnections: number;
  /** Subscriptions one client may hold (the gateway's own are not counted). */
  maxSubscriptionsPerClient: number;
}

export const DEFAULT_BROKER_LIMITS: BrokerLimits = { maxPacketBytes: 256 * 1024, maxConnections: 256, maxSubscriptionsPerClient: 32 };

/** How long a new connection may take to finish its TLS handshake, and then to send CONNECT. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Client ids the gateway's own connection uses: nobody else may take them (a second CONNECT with an id takes its session over). */
export const GATEWAY_CLIENT_ID_PREFIX = 'phygate-gateway';

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** Who may connect and what they may do; 'off': anyone may do anything (gateway/main.ts allows it only on loopback). */
  auth: BrokerAuth | 'off';
  limits?: Partial<BrokerLimits>;
  /** PEM certificate and key: the broker speaks MQTT over TLS only (mqtts://). */
  tls?: { cert: string; key: string };
  /** Where refusals are logged (at most LOG_BURST lines per LOG_WINDOW_MS); none: only counted. */
  log?: { warn(obj: object, msg: string): void };
  /** The clock of the log's rate bound (tests move it). */
  now?: () => number;
}

/** What the broker refused since it started. */
export interface BrokerStats {
  /** CONNECTs without a valid login, or a device claiming the gateway's client id. */
  refusedConnections: number;
  /** Publishes (and last wills) on a topic the client may not use; each closed its connection. */
  refusedPublishes: number;
  /** Subscriptions refused in the SUBACK: a topic the client may not read, or over its cap. */
  refusedSubscriptions: number;
  /** Connections closed because a packet announced more than the packet limit. */
  oversizedPackets: number;
}

export interface EmbeddedBroker {
  /** mqtt://host:port, or mqtts:// with TLS */
  url: string;
  port: number;
  stats(): BrokerStats;
  close(): Promise<void>;
}

/** At most this many refusal lines per window; the rest are counted, and the next line says how many. */
export const LOG_BURST = 20;
export const LOG_WINDOW_MS = 10_000;

/**
 * A warn log that a flood of refusals cannot turn into a flood of lines (each one synchronous
 * work on the event loop STOP runs on): LOG_BURST lines per window, then silence until the next
 * window, whose first line carries `suppressed`.
 */
export function boundedLog(log: EmbeddedBrokerOptions['log'], now: () => number = Date.now): (obj: object, msg: string) => void {
  let windowStart = -Infinity;
  let lines = 0;
  let suppressed = 0;
  return (obj, msg) => {
    if (!log) return;
    const t = now();
    if (t - windowStart >= LOG_WINDOW_MS) {
      windowStart = t;
      lines = 0;
    }
    if (lines >= LOG_BURST) {
      suppressed++;
      return;
    }
    lines++;
    log.warn(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
    suppressed = 0;
  };
}

/** CONNACK return codes of MQTT 3.1.1. */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
const IDENTIFIER_REJECTED = 2;

function refused(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * Watches the bytes aedes reads off a socket and destroys the socket as soon as a packet's fixed
 * header announces more than `max` bytes, before its body arrives: aedes's parser would
 * otherwise buffer the whole packet (a 100 MB publish, 100 MB of memory). It reads the MQTT
 * framing only: one header byte, the remaining length (1–4 bytes, 7 bits each), then that many
 * bytes it skips.
 */
export function guardPacketSize(socket: Socket, limit: { max: number }, onOversize: (bytes: number) => void = () => {}): void {
  let skip = 0;
  let inLength = false;
  let length = 0;
  let multiplier = 1;
  // With aedes's 'readable' listener in place, 'data' fires for each chunk aedes reads, just
  // before aedes parses it (Node: 'readable' keeps control of the flow).
  socket.on('data', (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length && !socket.destroyed) {
      if (skip > 0) {
        const take = Math.min(skip, chunk.length - i);
        skip -= take;
        i += take;
      } else if (!inLength) {
        i++; // the packet type and flags
        inLength = true;
        length = 0;
        multiplier = 1;
      } else {
        const b = chunk[i++]!;
        length += (b & 0x7f) * multiplier;
        multiplier *= 128;
        if (b & 0x80) {
          if (multiplier > 128 ** 3) socket.destroy(); // more than four length bytes: not MQTT
          continue;
        }
        inLength = false;
        if (length > limit.max) {
          onOversize(length);
          socket.destroy();
        }
        skip = length;
      }
    }
  });
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const limits = { ...DEFAULT_BROKER_LIMITS, ...opts.limits };
  const principals = new WeakMap<Client, Principal>();
  const packetLimits = new WeakMap<object, { max: number }>();
  const unlimited = (client: Client) => {
    const limit = packetLimits.get(client.conn);
    if (limit) limit.max = Infinity;
  };
  const subscriptions = new WeakMap<Client, Set<string>>();
  const auth = opts.auth;
  const stats: BrokerStats = { refusedConnections: 0, refusedPublishes: 0, refusedSubscriptions: 0, oversizedPackets: 0 };
  const warn = boundedLog(opts.log, opts.now);
  const who = (client: Client) => {
    const p = principals.get(client);
    return p?.kind === 'device' ? p.deviceId : p?.kind ?? 'anonymous';
  };
  const address = (client: Client) => (client.conn as Partial<Socket>).remoteAddress;
  const refuseSubscription = (client: Client, topic: string, why: string, done: (err: Error | null, sub: null) => void) => {
    stats.refusedSubscriptions++;
    warn({ client: client.id, as: who(client), topic }, `embedded broker: refused the subscription of ${who(client)} to '${topic}' (${why})`);
    done(null, null);
  };
  const hooks: AedesOptions =
    auth === 'off'
      ? {
          authenticate: (client, _username, _password, done) => {
            if (client.id.startsWith(GATEWAY_CLIENT_ID_PREFIX)) unlimited(client);
            done(null, true);
          },
        }
      : {
          authenticate: (client, username, password, done) => {
            auth.authenticate(username, password).then(
              (principal) => {
                const refuse = (why: string, code: number) => {
                  stats.refusedConnections++;
                  // The username is what the client claimed; the password is never logged.
                  warn({ client: client.id, username, address: address(client) }, `embedded broker: refused the CONNECT of '${client.id}' as '${username ?? '(anonymous)'}' (${why})`);
                  done(refused(why, code), false);
                };
                if (!principal) return refuse(username === undefined ? 'no login' : 'bad username or password', username === undefined ? NOT_AUTHORIZED : BAD_USERNAME_OR_PASSWORD);
                if (principal.kind !== 'gateway' && client.id.startsWith(GATEWAY_CLIENT_ID_PREFIX)) {
                  return refuse(`client id '${client.id}' is reserved for the gateway`, IDENTIFIER_REJECTED);
                }
                principals.set(client, principal);
                // The gateway's own orders are bounded by the site, not by what a device may send.
                if (principal.kind === 'gateway') unlimited(client);
                done(null, true);
              },
              () => {
                stats.refusedConnections++;
                done(refused('the credentials could not be checked', NOT_AUTHORIZED), false);
              },
            );
          },
        };
  const aedes = await Aedes.createBroker({
    ...hooks,
    // A connection that has not logged in by then is closed: idle sockets must not hold the
    // connection slots real devices need (aedes waits 30 s by default).
    connectTimeout: CONNECT_TIMEOUT_MS,
    authorizePublish: (client, packet, done) => {
      if (packet.topic.startsWith('$SYS')) return done(new Error('$SYS topics are reserved'));
      // null: a publish of the broker itself, not of a client.
      if (client === null || auth === 'off') return done(null);
      const principal = principals.get(client);
      if (principal?.kind === 'gateway') return done(null);
      if (principal?.kind === 'device' && auth.topics(principal.deviceId)?.publish.has(packet.topic)) return done(null);
      // Wills are checked here too when they fire: a will on another device's topic never goes out.
      stats.refusedPublishes++;
      warn({ client: client.id, as: who(client), topic: packet.topic, retain: packet.retain }, `embedded broker: ${who(client)} may not publish on '${packet.topic}'; its connection is closed`);
      done(new Error(`not allowed to publish on '${packet.topic}'`));
    },
    authorizeSubscribe: (client, sub, done) => {
      // Without logins (loopback only) the gateway is known by its client id alone: nobody is kept out anyway.
      const principal = auth === 'off' ? (client.id.startsWith(GATEWAY_CLIENT_ID_PREFIX) ? ({ kind: 'gateway' } as const) : ({ kind: 'anonymous' } as const)) : principals.get(client);
      if (principal?.kind === 'gateway') return done(null, sub);
      const allowed = principal?.kind === 'anonymous' || (principal?.kind === 'device' && auth !== 'off' && auth.topics(principal.deviceId)?.subscribe.has(sub.topic));
      if (!allowed) return refuseSubscription(client, sub.topic, 'not its topic', done);
      let held = subscriptions.get(client);
      if (!held) subscriptions.set(client, (held = new Set()));
      if (!held.has(sub.topic) && held.size >= limits.maxSubscriptionsPerClient) return refuseSubscription(client, sub.topic, `it holds ${held.size}, the most allowed`, done);
      held.add(sub.topic);
      done(null, sub);
    },
  });
  aedes.on('unsubscribe', (topics, client) => {
    const held = subscriptions.get(client);
    for (const topic of topics) held?.delete(topic);
  });
  const accept = (socket: Socket) => {
    // Small packets (acknowledgements, instant actions) go out at once, not held by Nagle's algorithm.
    socket.setNoDelay(true);
    const limit = { max: limits.maxPacketBytes };
    packetLimits.set(socket, limit);
    aedes.handle(socket);
    guardPacketSize(socket, limit, (bytes) => {
      stats.oversizedPackets++;
      warn({ address: socket.remoteAddress, bytes, limit: limit.max }, `embedded broker: closed a connection from ${socket.remoteAddress ?? '?'} that announced a packet of ${bytes} bytes (limit ${limit.max})`);
    });
  };
  const server: Server = opts.tls ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: CONNECT_TIMEOUT_MS }, accept) : createNetServer(accept);
  server.maxConnections = limits.maxConnections;
  // A client that breaks off the TLS handshake (or speaks plain MQTT to it) is its own problem.
  server.on('tlsClientError', (_err, socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // The broker's timers would keep a gateway that cannot start alive, serving nothing.
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    const e = err as NodeJS.ErrnoException;
    throw Object.assign(new Error(`the embedded MQTT broker cannot listen on ${opts.host}:${opts.port} (${e.code ?? e.message}); set PHYGATE_MQTT_PORT to a free port, or PHYGATE_MQTT_URL to use another broker`), { code: e.code });
  }
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | undefined;
  return {
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    stats: () => ({ ...stats }),
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        // Stop accepting, drop the clients (their last wills fire), then close the broker.
        server.close();
        aedes.close(() => resolve());
      })),
  };
}
