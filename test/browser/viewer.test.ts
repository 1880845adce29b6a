// A viewer at the tablet: sees everything, gets none of the operator's buttons, and can stop the
// floor while robots drive. Devices and alerts: a machine that goes offline is an alert that
// stays until acknowledged, also across a reload.
import t from 'tap';
import { call } from '../gateway/gateway-process.ts';
import { until } from '../helpers/wait.ts';
import { browserFor, checkScreen, LANDSCAPE, pageFor, PORTRAIT, robotsOnMap, screenshot, signIn, tabletGateway, tabletPlan } from './browser.ts';

interface Robot {
  id: string;
  kind: string;
  paused?: boolean;
  state: string;
  pose?: { x: number; y: number };
}

t.test('a viewer watches, stops moving robots, and gets no operator buttons', async (t) => {
  // Slow enough that the robots are still driving when the viewer presses STOP.
  // The AMRs on the analytic motion model (tabletGateway's default), which stops dead at a pause.
  const { gateway, url, tokens } = await tabletGateway(t, 5);
  const context = await browserFor(t);
  const page = await pageFor(t, context);
  const robots = async () => ((await call(url, tokens.viewer, 'GET', '/v1/robots')).json as { robots: Robot[] }).robots.filter((r) => r.kind === 'amr');

  const running = await call(url, tokens.agent, 'POST', '/v1/missions', { plan: tabletPlan() });
  t.equal((await call(url, tokens.operator, 'POST', `/v1/missions/${running.json.id}/approve`, { planHash: running.json.planHash })).status, 200);
  const waiting = await call(url, tokens.agent, 'POST', '/v1/missions', {
    plan: { schema: 'phygate.plan/v1', name: 'restock-shelf-1', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }] },
  });
  t.equal(waiting.status, 201);

  await t.test('signed in as a viewer: missions with their reports, without Approve, Reject, Pause or Cancel', async (t) => {
    await signIn(page, url, tokens.viewer);
    t.equal(await page.locator('#who').textContent(), 'wall-tablet · viewer');
    const card = page.locator(`#missions-awaiting [data-mission="${waiting.json.id}"]`);
    await card.waitFor();
    await card.locator('img').waitFor();
    t.match(await card.textContent(), /restock-shelf-1.*Takes/);
    await page.locator(`#missions-running [data-mission="${running.json.id}"]`).waitFor();
    for (const name of ['Approve', 'Reject', 'Pause', 'Resume', 'Cancel mission']) t.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `no ${name} button`);
    t.ok(await page.locator('#stop').isVisible(), 'STOP is there for every role');
    await checkScreen(t, page, 'viewer');
  });

  await t.test('STOP while robots drive: one press pauses every robot and each stays where it stopped', async (t) => {
    await until('a robot to drive on the map', async () => Object.values(await robotsOnMap(page)).some((r) => r.tone === 'busy'), 10_000);
    t.ok((await robots()).some((r) => r.state === 'driving'), 'a robot drives');
    const sent = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/v1/stop');
    const pressed = Date.now();
    await page.locator('#stop').click();
    t.match((await sent).postDataJSON(), { scope: 'all' }, "a viewer's press alone sends STOP for the whole floor");
    await until('every AMR to report paused', async () => (await robots()).every((r) => r.paused === true), 15_000, 20);
    // How fast is for `npm run bench` (STOP latency), not for a test on a busy machine.
    t.comment(`every AMR reported paused ${Date.now() - pressed} ms after the press`);
    const banner = page.locator('#stop-banner');
    await banner.waitFor({ state: 'visible', timeout: 2000 });
    t.match(await banner.textContent(), /STOP ACTIVE.*Pressed by wall-tablet.*An operator releases it/);
    t.equal(await banner.getByRole('button').count(), 0, 'no Release for a viewer');

    await until('the robots to be drawn paused', async () => Object.values(await robotsOnMap(page)).every((r) => r.tone === 'paused'), 5000);
    const stoppedAt = await robotsOnMap(page);
    const server = await robots();
    await new Promise((r) => setTimeout(r, 1000));
    const later = await robotsOnMap(page);
    for (const [id, at] of Object.entries(stoppedAt)) {
      t.ok(Math.hypot(later[id]!.x - at.x, later[id]!.y - at.y) < 0.05, `${id} stays where it stopped on the map`);
      const pose = server.find((r) => r.id === id)!.pose!;
      t.ok(Math.hypot(pose.x - at.x, pose.y - at.y) < 0.3, `${id} is drawn where it reports itself`);
    }
    await screenshot(page, '10-viewer-stop');
    await checkScreen(t, page, 'viewer, STOP, landscape');
    await page.setViewportSize(PORTRAIT);
    await screenshot(page, '10-viewer-stop-portrait');
    await checkScreen(t, page, 'viewer, STOP, portrait');
    await page.setViewportSize(LANDSCAPE);
  });

  await t.test('devices: battery, online, paused, cargo and what machines do', async (t) => {
    await page.getByRole('tab', { name: 'Devices' }).click();
    const rows = page.locator('#panel-devices li.device');
    await until('every device listed', async () => (await rows.count()) === 7);
    const amr = page.locator('li.device[data-device="amr-2"]');
    t.match(await amr.textContent(), /amr-2.*amr.*paused.*\d+ %.*(no cargo|tote)/);
    t.equal(await amr.locator('meter').count(), 1, 'a battery gauge');
    t.match(await page.locator('li.device[data-device="cnc-1"]').textContent(), /cnc-1.*cnc/);
    await screenshot(page, '11-viewer-devices');
    await checkScreen(t, page, 'devices');
  });

  await t.test('a machine going offline is an alert that stays until acknowledged, across a reload', async (t) => {
    await gateway.virtualFleet!.machines.get('printer-1')!.close();
    await until('printer-1 to be drawn offline', async () => (await page.locator('g.machine[data-id="printer-1"]').getAttribute('data-tone')) === 'offline', 5000);
    t.match(await page.locator('li.device[data-device="printer-1"]').textContent(), /offline/);
    await page.locator('#badge-alerts', { hasText: '2' }).waitFor({ timeout: 5000 });
    await page.getByRole('tab', { name: /Alerts/ }).click();
    const alerts = page.locator('#panel-alerts li.alert');
    t.equal(await alerts.count(), 2);
    t.match(await alerts.nth(0).textContent(), /Offline.*printer-1 is offline/, 'newest first');
    t.match(await alerts.nth(1).textContent(), /STOP.*STOP pressed by wall-tablet/);
    await screenshot(page, '12-viewer-alerts');
    await checkScreen(t, page, 'alerts');

    await alerts.nth(0).getByRole('button', { name: /Acknowledge: printer-1 is offline/ }).click();
    await until('one alert left', async () => (await alerts.count()) === 1);
    await page.reload();
    await page.locator('#live-status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
    t.equal(await page.locator('#who').textContent(), 'wall-tablet · viewer', 'still signed in after a reload');
    t.equal(await page.locator('#badge-alerts').textContent(), '1', 'the unacknowledged alert is still there');
    t.equal(await page.locator('#panel-alerts li.alert').count(), 1);
    t.ok(await page.locator('#stop-banner').isVisible(), 'and so is the STOP banner');
  });

  await t.test('sign out forgets the token', async (t) => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Access token').waitFor();
    t.equal(await page.evaluate(() => sessionStorage.getItem('phygate.token')), null);
    t.notOk(await page.locator('#stop').isVisible());
  });
});
