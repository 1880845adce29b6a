// The tablet in a real browser: Debian's Chromium driven by playwright-core (no browser is ever
// downloaded), against a real gateway in this process with its virtual fleet on free ports.
// Everything started here is closed when the test ends. (The browser tests have a folder of their
// own, apart from test/tablet/'s serving tests: tap starts test files in the order of their paths,
// and these long ones, which mostly wait on the browser and floor time, overlap the rest of the
// suite when they start early instead of running on alone at its end.)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Test } from 'tap';
import type { Role } from '../../gateway/auth/roles.ts';
import { readConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import { demoSiteCopy, REPO_ROOT } from '../gateway/harness.ts';
import { withoutPolicies } from '../helpers/demo-site.ts';
import { freePort } from '../helpers/net.ts';
import { TEST_GATEWAY_ENV } from '../helpers/child-env.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(REPO_ROOT, '.tap/screenshots');
export const LANDSCAPE = { width: 1280, height: 800 };
export const PORTRAIT = { width: 800, height: 1280 };

export interface TabletGateway {
  /** The gateway running now (a new one after `restart`). */
  gateway: Gateway;
  url: string;
  /** One token per role, named like a tablet or an agent would be. */
  tokens: Record<Role, string>;
  /** The gateway's data folder. */
  dataDir: string;
  /** Closes the gateway if it runs and starts it again on the same ports and data folder. */
  restart(): Promise<Gateway>;
}

/**
 * A gateway with `site`'s virtual fleet, `speed` times faster than real time. By default the site
 * is a copy of the demo with every AMR on the analytic motion model: a policy-driven AMR at these
 * speeds keeps a core busy, and only test/browser/policy.test.ts is about it.
 */
export async function tabletGateway(t: Test, speed = 10, site = demoSiteCopy(t, withoutPolicies)): Promise<TabletGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'phygate-tablet-'));
  // Fixed ports, so a restarted gateway is where the page was; another test's process may take a
  // port between freePort() and the gateway's bind, and then the start is tried on new ones.
  const configFor = async () =>
    readConfig({
      ...TEST_GATEWAY_ENV,
      PHYGATE_PORT: String(await freePort()),
      PHYGATE_MQTT_PORT: String(await freePort()),
      PHYGATE_DATA_DIR: dataDir,
      PHYGATE_LOG_LEVEL: 'silent',
      PHYGATE_FLEET_SPEED: String(speed),
      PHYGATE_ADMIN_TOKEN: 'tablet-test-admin-token-0123456789',
      PHYGATE_SITE: site,
    });
  const first = async (): Promise<[Gateway, Awaited<ReturnType<typeof configFor>>]> => {
    for (let attempt = 1; ; attempt++) {
      const config = await configFor();
      try {
        return [await startGateway(config), config];
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 3) continue;
        rmSync(dataDir, { recursive: true, force: true });
        throw err;
      }
    }
  };
  const [started, config] = await first();
  let gateway = started;
  t.teardown(async () => {
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const names: Record<Role, string> = { viewer: 'wall-tablet', agent: 'manager-agent', operator: 'tablet-1', admin: 'admin-test' };
  const tokens = Object.fromEntries(Object.entries(names).map(([role, name]) => [role, gateway.store.tokens.create(role as Role, name).token])) as Record<Role, string>;
  const running: TabletGateway = {
    gateway,
    url: gateway.url,
    tokens,
    dataDir,
    restart: async () => {
      await gateway.close();
      gateway = await startGateway(config);
      running.gateway = gateway;
      return gateway;
    },
  };
  return running;
}

/** Chromium with its own profile folder, removed with the test; the browser is closed first. */
export async function browserFor(t: Test): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'phygate-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      viewport: LANDSCAPE,
      deviceScaleFactor: 1,
      hasTouch: true,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  t.teardown(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

/**
 * A page that fails the test on any script error, and on any console error but those `expected`
 * and the network errors of a gateway that is gone (tests stop it on purpose).
 */
export async function pageFor(t: Test, context: BrowserContext, expected: RegExp[] = []): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => t.fail(`script error in the page: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' && !/net::ERR_/.test(text) && !expected.some((e) => e.test(text))) t.fail(`console error: ${text}`);
  });
  return page;
}

/**
 * A plan that passes its check with warnings on the demo site: four parts milled on cnc-1 (long
 * enough for a test to press STOP while it runs) and taken to shelf-2 by whichever AMR the check
 * picks, and amr-3 sent to the printer across the slow walkway, where it waits for the other robot.
 */
export function tabletPlan(): object {
  return {
    schema: 'phygate.plan/v1',
    name: 'brackets-and-clips',
    goal: 'Mill four brackets on cnc-1 and put them on shelf-2; fetch clips from the printer',
    roles: { courier: { kind: 'amr' } },
    steps: [
      { id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2', count: 4 } },
      { id: 'fetch', action: 'navigate', device: '$courier', params: { to: 'cnc-1' } },
      { id: 'load', action: 'arm.transfer', device: 'arm-1', params: { from: 'cnc-1', to: '$courier' }, after: ['mill', 'fetch'] },
      { id: 'carry', action: 'drop', device: '$courier', params: { at: 'shelf-2' }, after: ['load'] },
      { id: 'clips', action: 'navigate', device: 'amr-3', params: { to: 'printer-1' } },
    ],
  };
}

export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#live-status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Robot markers on the map: where the page draws each one, in site metres. */
export async function robotsOnMap(page: Page): Promise<Record<string, { x: number; y: number; tone: string }>> {
  return page.$$eval('svg.map g.robot', (gs) =>
    Object.fromEntries(gs.map((g) => [g.getAttribute('data-id')!, { x: Number((g as SVGGElement).dataset.x), y: Number((g as SVGGElement).dataset.y), tone: (g as SVGGElement).dataset.tone ?? '' }])),
  );
}

/**
 * Robot labels (names, states such as "paused", whom a robot waits for) that cover a station's
 * name on the map, as drawn on screen: "amr-2 'paused' covers dock-b". Empty when none does.
 */
export async function labelsOverStations(page: Page): Promise<string[]> {
  return page.$$eval('svg.map .stations text, svg.map g.robot text', (texts) => {
    const box = (el: Element) => el.getBoundingClientRect();
    const stations = texts.filter((el) => el.closest('.stations')).map((el) => ({ name: el.textContent ?? '', box: box(el) }));
    const labels = texts.filter((el) => el.closest('g.robot') && el.textContent).map((el) => ({ name: `${el.closest('g.robot')!.getAttribute('data-id')} '${el.textContent}'`, box: box(el) }));
    // Half a pixel of anti-aliasing either way is not covering.
    const covers = (a: DOMRect, b: DOMRect) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
    return labels.flatMap((l) => stations.filter((st) => covers(l.box, st.box)).map((st) => `${l.name} covers ${st.name}`));
  });
}

/**
 * What every screen must be: no horizontal scrolling, every control named for assistive
 * technology (the names Chromium's accessibility tree computes), touch targets of 48 px and more,
 * STOP at least 64 px and fully on screen.
 */
export async function checkScreen(t: Test, page: Page, what: string): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  t.ok(scrollWidth <= innerWidth, `${what}: no horizontal scrolling (${scrollWidth} <= ${innerWidth})`);

  const cdp = await page.context().newCDPSession(page);
  const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: { ignored: boolean; role?: { value: string }; name?: { value: string } }[] };
  await cdp.detach();
  const controls = nodes.filter((n) => !n.ignored && ['button', 'textbox', 'tab', 'link', 'checkbox', 'combobox', 'slider'].includes(n.role?.value ?? ''));
  t.ok(controls.length > 0, `${what}: there are controls`);
  const unnamed = controls.filter((n) => !n.name?.value.trim()).map((n) => n.role?.value);
  t.same(unnamed, [], `${what}: every control has an accessible name`);

  const small = await page.$$eval('button, input, [role="tab"]', (els) =>
    els
      .filter((el) => (el as HTMLElement).offsetParent !== null || getComputedStyle(el).position === 'fixed')
      .map((el) => ({ el: `${el.tagName.toLowerCase()} ${el.id || el.textContent?.trim().slice(0, 30)}`, box: el.getBoundingClientRect() }))
      .filter(({ box }) => box.width > 0 && (box.width < 48 || box.height < 48))
      .map(({ el, box }) => `${el} ${Math.round(box.width)}x${Math.round(box.height)}`),
  );
  t.same(small, [], `${what}: touch targets are at least 48 px`);

  const stop = await page.locator('#stop').boundingBox();
  if (stop) {
    const viewport = page.viewportSize()!;
    t.ok(stop.height >= 64 && stop.width >= 64, `${what}: STOP is at least 64 px (${Math.round(stop.width)}x${Math.round(stop.height)})`);
    t.ok(stop.x >= 0 && stop.y >= 0 && stop.x + stop.width <= viewport.width && stop.y + stop.height <= viewport.height, `${what}: STOP is entirely on screen`);
  }
}
