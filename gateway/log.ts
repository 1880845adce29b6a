// The gateway's one logger (pino, Fastify's own): the HTTP server, the device masters and ports,
// the executor, STOP and the ROS 2 adapter all write through it, at one level, to one stream.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The URL with the value of every query key that decodes to `access_token` replaced, for logs.
 * The key is decoded before it is compared, the way the query parser decodes it
 * (`access%5Ftoken`, `%61ccess_token`, `ACCESS_TOKEN` all carry a token to someone), and again
 * while decoding still changes it, so no spelling of the key leaves its value in a log.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const end = hash < 0 ? url.length : hash;
  const pairs = url.slice(q + 1, end).split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    return decodedKey(key).toLowerCase() === 'access_token' ? `${key}=REDACTED` : pair;
  });
  return `${url.slice(0, q + 1)}${pairs.join('&')}${url.slice(end)}`;
}

/** The key %-decoded (and `+` as a space) until it no longer changes, at most a few times. */
function decodedKey(key: string): string {
  let k = key;
  for (let i = 0; i < 4; i++) {
    let next: string;
    try {
      next = decodeURIComponent(k.replaceAll('+', ' '));
    } catch {
      // A malformed escape: decode what is well-formed, leave the rest.
      next = k.replace(/%[0-9A-Fa-f]{2}/g, (e) => String.fromCharCode(parseInt(e.slice(1), 16)));
    }
    if (next === k) break;
    k = next;
  }
  return k;
}

export function createLogger(level: string, stream?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      // A token passed as ?access_token= (EventSource) must never reach the logs.
      serializers: {
        req: (req: { method: string; url: string; host?: string; ip?: string; socket?: { remotePort?: number } }) => ({
          method: req.method,
          url: redactUrl(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
    },
    stream ?? process.stdout,
  );
}
