// The embedded MQTT broker (aedes) that `npm start` runs when no broker URL is configured, so
// robots on the network (and the virtual fleet) connect to the gateway machine directly.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';

export interface EmbeddedBroker {
  /** mqtt://host:port */
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmbeddedBroker(opts: { host: string; port: number }): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker();
  const server: Server = createServer(aedes.handle);
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
    url: `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        // Stop accepting, drop the clients (their last wills fire), then close the broker.
        server.close();
        aedes.close(() => resolve());
      })),
  };
}
