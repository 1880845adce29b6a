// The logger every part of the gateway is handed: the shape of pino's (Fastify's logger), so one
// logger serves the HTTP server, the device masters, the ports, the executor and STOP.
export interface Log {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const nothing = () => {};

/** For parts built without a logger (tests that do not read the log). */
export const silentLog: Log = { debug: nothing, info: nothing, warn: nothing, error: nothing };

/** An error for a log line: its stack when it has one. */
export function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
