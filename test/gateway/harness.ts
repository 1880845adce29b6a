// Test harness for the HTTP gateway: an app built from the demo site, a throwaway store in its own
// temp folder, the virtual fleet parked at home and one token per role. Nothing listens; use
// `app.inject()`.
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tap, { type Test } from 'tap';
import { buildApp, type App, type AppDeps } from '../../gateway/app.ts';
import { ROLES, type Role } from '../../gateway/auth/roles.ts';
import { readConfig, type Config } from '../../gateway/config.ts';
import type { Checker } from '../../gateway/checks/checker.ts';
import { CheckPool } from '../../gateway/checks/pool.ts';
import type { EventHub } from '../../gateway/events.ts';
import type { MissionRunner } from '../../gateway/missions/service.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import type { TabletAssets } from '../../gateway/tablet-assets.ts';
import type { PlanInput } from '../../planners/plan.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { parkFleetAtHome } from '../../sim/parked-fleet.ts';
import { loadSiteFolder, type LoadedSite } from '../../sim/site-folder.ts';
import { TEST_GATEWAY_ENV } from '../helpers/child-env.ts';
import { copyDemoSite, DEMO_SITE_DIR, SHIPPED_POLICY } from '../helpers/demo-site.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export { DEMO_SITE_DIR };

/** A fixed clock, four hours before the canonical plan's deadline (2026-11-24T12:00:00Z). */
export const FIXED_NOW = (): Date => new Date('2026-11-24T08:00:00Z');

export interface TestAppOptions {
  /** Config values laid over the defaults (`readConfig({})`) and the silent log level. */
  config?: Partial<Config>;
  /** A site folder other than the demo site. */
  siteDir?: string;
  /**
   * The clock the mission service uses. Defaults to FIXED_NOW, before the canonical plan's
   * deadline, so verdicts do not depend on the day the tests run.
   */
  now?: () => Date;
  /** A data folder to use instead of a fresh temp folder (not removed by close()). */
  dataDir?: string;
  /** What the tablet serves, instead of gateway/tablet/dist. */
  tablet?: TabletAssets;
  /** Where the log goes (with `config.PHYGATE_LOG_LEVEL`; silent by default). */
  logStream?: NodeJS.WritableStream;
  /** What runs approved missions; none by default, so nothing moves. */
  runner?: (store: Store) => MissionRunner;
  /** The live event stream, to publish what an executor would. */
  hub?: EventHub;
  /**
   * Where checks run. By default one pool of worker threads per site folder, shared by the test
   * file's apps (a worker takes a while to start); with PHYGATE_CHECK_* in `config`, the app's own.
   */
  checker?: (site: LoadedSite) => Checker;
  /** The device side the app is given (an executor, its STOP service and traffic), made from the app's store, fleet and site. */
  floor?: (parts: { store: Store; fleet: FleetRegistry; site: LoadedSite }) => Pick<AppDeps, 'runner' | 'stops' | 'traffic' | 'rehearsalFleet'>;
}

const sharedPools = new Map<string, CheckPool>();

/** The test file's check pool for a site folder, closed when the file's tests are done. */
function sharedPool(dir: string, site: LoadedSite): CheckPool {
  let pool = sharedPools.get(dir);
  if (!pool) {
    if (sharedPools.size === 0) tap.teardown(() => Promise.all([...sharedPools.values()].map((p) => p.close())));
    sharedPools.set(dir, (pool = new CheckPool({ site, size: 1, budgetMs: 120_000, nice: Number(TEST_GATEWAY_ENV.PHYGATE_CHECK_NICE) })));
  }
  return pool;
}

export interface TestApp {
  app: App;
  site: LoadedSite;
  store: Store;
  fleet: FleetRegistry;
  dataDir: string;
  /** One live token per role, named `<role>-test`. */
  tokens: Record<Role, string>;
  /** `{ authorization: 'Bearer …' }` for the role's token. */
  auth(role: Role): { authorization: string };
  close(): Promise<void>;
}

/** A fresh temp data folder, `phygate-XXXXXX` under the OS temp dir. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'phygate-'));
}

export async function testApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? tempDir();
  const config: Config = { ...readConfig({ ...TEST_GATEWAY_ENV }), PHYGATE_LOG_LEVEL: 'silent', ...opts.config };
  const siteDir = opts.siteDir ?? DEMO_SITE_DIR;
  const site = loadSiteFolder(siteDir);
  const ownChecks = opts.config?.PHYGATE_CHECK_WORKERS !== undefined || opts.config?.PHYGATE_CHECK_BUDGET_MS !== undefined;
  const checker = opts.checker ? opts.checker(site) : ownChecks ? undefined : sharedPool(siteDir, site);
  const store = openStore(dataDir);
  const fleet = new FleetRegistry(site.index);
  parkFleetAtHome(fleet, new Date());
  const tokens = Object.fromEntries(ROLES.map((role) => [role, store.tokens.create(role, `${role}-test`).token])) as Record<Role, string>;
  let app: App;
  try {
    app = await buildApp({
      config,
      site,
      store,
      fleet,
      now: opts.now ?? FIXED_NOW,
      ...(opts.tablet ? { tablet: opts.tablet } : {}),
      ...(opts.logStream ? { logStream: opts.logStream } : {}),
      ...(opts.runner ? { runner: opts.runner(store) } : {}),
      ...(opts.floor ? opts.floor({ store, fleet, site }) : {}),
      ...(opts.hub ? { hub: opts.hub } : {}),
      ...(checker ? { checker } : {}),
    });
  } catch (err) {
    store.close();
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  let closed = false;
  return {
    app,
    site,
    store,
    fleet,
    dataDir,
    tokens,
    auth: (role) => ({ authorization: `Bearer ${tokens[role]}` }),
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
      if (store.db.open) store.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** testApp() whose app, store and temp folder are closed and removed when the test `t` ends. */
export async function appFor(t: Test, opts: TestAppOptions = {}): Promise<TestApp> {
  const h = await testApp(opts);
  t.teardown(() => h.close());
  return h;
}

/** A temp data folder removed when the test `t` ends. */
export function tempDirFor(t: Test): string {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A copy of the demo site folder (site.yaml and world.sdf) in a temp folder removed when `t`
 * ends, with `edit` applied to the text of site.yaml. Throws if the edit changed nothing.
 */
export function demoSiteCopy(t: Test, edit: (yaml: string) => string): string {
  const dir = tempDirFor(t);
  copyDemoSite(dir);
  const file = join(dir, 'site.yaml');
  const before = readFileSync(file, 'utf8');
  const after = edit(before);
  if (after === before) throw new Error('demoSiteCopy: the edit did not change site.yaml');
  writeFileSync(file, after);
  return dir;
}

export { SHIPPED_POLICY };

/**
 * A copy of the demo site whose devices say `policy:` with the given blocks (e.g. `{ model:
 * amr-track.onnx }`), the shipped model and its certificate copied beside site.yaml.
 */
export function policySite(t: Test, policies: Record<string, string>, edit: (yaml: string) => string = (y) => y): string {
  const site = demoSiteCopy(t, (yaml) => {
    let out = yaml;
    for (const [id, block] of Object.entries(policies)) {
      // The demo's own policy line (amr-3's) is replaced; any other device gets one.
      const line = new RegExp(`(serialNumber: ${id} }\\n)(    policy: .*\\n)?`);
      if (!line.test(out)) throw new Error(`policySite: no device '${id}' in the demo site`);
      out = out.replace(line, `$1    policy: ${block}\n`);
    }
    return edit(out);
  });
  copyFileSync(SHIPPED_POLICY, join(site, 'amr-track.onnx'));
  copyFileSync(`${SHIPPED_POLICY}.cert.json`, join(site, 'amr-track.onnx.cert.json'));
  return site;
}

/** The canonical plan of planners/plan-format.md ("brackets-to-shelf"), as an agent writes it. */
export function canonicalPlan(): PlanInput {
  return {
    schema: 'phygate.plan/v1',
    name: 'brackets-to-shelf',
    goal: 'Machine 4 brackets on cnc-1 and put them on shelf-2',
    requester: { agent: 'manager-1', model: 'any string' },
    priority: 5,
    deadline: '2026-11-24T12:00:00Z',
    roles: { courier: { kind: 'amr' } },
    steps: [
      { id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2', count: 4 } },
      { id: 'fetch', action: 'navigate', device: '$courier', params: { to: 'cnc-1' } },
      { id: 'load', action: 'arm.transfer', device: 'arm-1', params: { from: 'cnc-1', to: '$courier' }, after: ['mill', 'fetch'] },
      { id: 'carry', action: 'drop', device: '$courier', params: { at: 'shelf-2' }, after: ['load'] },
    ],
  };
}

/** A well-formed plan that fails its check: an unknown station and an unknown program. */
export function failingPlan(): PlanInput {
  return {
    schema: 'phygate.plan/v1',
    name: 'bad-plan',
    roles: { courier: { kind: 'amr' } },
    steps: [
      { id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'no-such-program' } },
      { id: 'go', action: 'navigate', device: '$courier', params: { to: 'dock-z' } },
    ],
  };
}

