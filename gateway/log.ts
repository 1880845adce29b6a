// The gateway's one logger (pino, Fastify's own): the HTTP server, the device masters and ports,
// the executor, STOP and the ROS 2 adapter all write through it, at one level, to one stream.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** The URL with any `access_token` query value replaced, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, '$1REDACTED');
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
