// The composition root: configuration, site, store, fleet and HTTP server wired into one gateway.
import { resolve } from 'node:path';
import { FleetRegistry } from '../robots/fleet-registry.ts';
import { parkFleetAtHome } from '../sim/parked-fleet.ts';
import { openSiteFolder, type LoadedSite } from '../sim/site-folder.ts';
import { buildApp, type App } from './app.ts';
import type { Config } from './config.ts';
import { openStore, type Store } from './store/index.ts';

export interface Gateway {
  app: App;
  site: LoadedSite;
  store: Store;
  fleet: FleetRegistry;
  /** Where it listens, e.g. http://127.0.0.1:8080 */
  url: string;
  /** A token created because none existed; shown once, never stored in plaintext. */
  bootstrapToken?: string;
  close(): Promise<void>;
}

export async function startGateway(config: Config): Promise<Gateway> {
  const site = await openSiteFolder(config.PHYGATE_SITE);
  const store = openStore(resolve(config.PHYGATE_DATA_DIR));
  let built: App | undefined;
  try {
    const fleet = new FleetRegistry(site.index);
    // Until devices report over MQTT, the virtual fleet is the demo fleet parked at home.
    if (config.PHYGATE_VIRTUAL_FLEET) parkFleetAtHome(fleet, new Date());
    const app = (built = await buildApp({ config, site, store, fleet }));
    const address = await app.listen({ port: config.PHYGATE_PORT, host: config.PHYGATE_HOST });
    // Only once listening: a start that fails must not leave an admin token nobody was shown.
    const bootstrapToken =
      !config.PHYGATE_ADMIN_TOKEN && store.tokens.count() === 0 ? store.tokens.create('admin', 'bootstrap-admin').token : undefined;
    let closing: Promise<void> | undefined;
    return {
      app,
      site,
      store,
      fleet,
      url: address,
      ...(bootstrapToken ? { bootstrapToken } : {}),
      close: () =>
        (closing ??= (async () => {
          await app.close();
          store.close();
        })()),
    };
  } catch (err) {
    await built?.close();
    store.close();
    throw err;
  }
}
