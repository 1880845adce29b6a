// An operator's day on the tablet, in Chromium against a real gateway and its virtual fleet:
// sign in, see the fleet on the map, get a plan to approve with its report and picture, approve
// it and watch the robots move, press STOP, release it and resume, see a mission fail and why (also
// after a reload), and lose the server.
// Each screen is saved under .tap/screenshots/ (landscape 1280x800, the main screen also portrait).
import t from 'tap';
import { call } from '../gateway/gateway-process.ts';
import { until } from '../helpers/wait.ts';
import { browserFor, checkScreen, labelsOverStations, LANDSCAPE, pageFor, PORTRAIT, robotsOnMap, screenshot, signIn, tabletGateway, tabletPlan } from './browser.ts';

interface Robot {
  id: string;
  kind: string;
  paused?: boolean;
  pose?: { x: number; y: number };
}

t.test("an operator's day", async (t) => {
  // 30x: the plan's 430 s of floor time in 14 s, and still 10 s of milling after the AMRs reach
  // their stations (at 66 s of floor time) to press STOP in. The AMRs drive on the analytic motion
  // model (tabletGateway's default; the tablet with a policy AMR: policy.test.ts).
  const running = await tabletGateway(t, 30);
  const { gateway, url, tokens } = running;
  const context = await browserFor(t);
  // The wrong token's 401, and the stream cut when the server goes, are expected; so is a 503 from
  // the gateway while it closes (a request of the page can reach it then).
  const page = await pageFor(t, context, [/status of 401/, /status of 503/]);
  const robots = async () => ((await call(url, tokens.viewer, 'GET', '/v1/robots')).json as { robots: Robot[] }).robots;
  const mission = async (id: string) => (await call(url, tokens.viewer, 'GET', `/v1/missions/${id}`)).json as { status: string; planHash: string; report: unknown };
  let missionId = '';

  await t.test('sign in: a wrong token is refused, an operator token shows who is signed in', async (t) => {
    await page.goto(`${url}/`);
    await t.resolves(page.getByLabel('Access token').waitFor(), 'the sign-in screen');
    t.notOk(await page.locator('#stop').isVisible(), 'no STOP before signing in: it needs a token');
    await page.getByLabel('Access token').fill('pgt_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This token is not accepted').waitFor();
    await screenshot(page, '01-sign-in-refused');
    await checkScreen(t, page, 'sign-in');

    await signIn(page, url, tokens.operator);
    t.equal(await page.locator('#who').textContent(), 'tablet-1 · operator');
    t.equal(await page.locator('#site-name').textContent(), 'Demo machining hall');
    t.ok(await page.locator('#stop').isVisible(), 'STOP is on screen');
    t.equal(await page.evaluate(() => sessionStorage.getItem('phygate.token')), tokens.operator, 'the token is kept for this tab only');
  });

  await t.test('the demo fleet appears on the map where the robots are', async (t) => {
    const server = await robots();
    const amrs = server.filter((r) => r.kind === 'amr');
    t.equal(amrs.length, 3);
    const drawn = await until('three robots on the map', async () => {
      const r = await robotsOnMap(page);
      return Object.keys(r).length === 3 ? r : undefined;
    });
    for (const amr of amrs) {
      t.ok(Math.abs(drawn[amr.id]!.x - amr.pose!.x) < 0.05 && Math.abs(drawn[amr.id]!.y - amr.pose!.y) < 0.05, `${amr.id} drawn at (${amr.pose!.x}, ${amr.pose!.y})`);
      t.equal(drawn[amr.id]!.tone, 'idle', `${amr.id} is drawn idle`);
    }
    for (const id of ['arm-1', 'cnc-1', 'printer-1', 'conveyor-1']) t.equal(await page.locator(`g.machine[data-id="${id}"]`).getAttribute('data-tone'), 'idle', `${id} is on the map, idle`);
    t.ok(await page.locator('polygon.zone.keep-out[data-zone="paint-booth"]').count(), 'the keep-out zone is drawn');
    t.ok(await page.locator('polygon.zone.slow[data-zone="walkway"]').count(), 'the slow zone is drawn');
    t.match(await page.locator('g.zone-label.keep-out').textContent(), /KEEP OUT/);
    t.match(await page.locator('g.zone-label.slow').textContent(), /SLOW 0\.5 m\/s/);
    for (const station of ['dock-a', 'shelf-2', 'charger-1', 'booth-in']) t.ok(await page.locator('g.station text', { hasText: station }).count(), `station ${station} is named`);
    t.ok((await page.locator('g.obstacles > *').count()) > 10, 'walls and obstacles are drawn');
    await screenshot(page, '02-fleet-landscape');
    await checkScreen(t, page, 'fleet, landscape');
    await page.setViewportSize(PORTRAIT);
    await screenshot(page, '02-fleet-portrait');
    await checkScreen(t, page, 'fleet, portrait');
    await page.setViewportSize(LANDSCAPE);
  });

  await t.test('a submitted plan shows up for approval with its report and picture', async (t) => {
    const submitted = await call(url, tokens.agent, 'POST', '/v1/missions', { plan: tabletPlan() });
    t.equal(submitted.status, 201);
    missionId = submitted.json.id;
    const report = submitted.json.report as { verdict: string; issues: { message: string }[] };
    t.equal(report.verdict, 'warn', 'the plan passes with warnings');
    const card = page.locator(`#missions-awaiting [data-mission="${missionId}"]`);
    await card.waitFor({ timeout: 5000 });
    t.match(await card.locator('.chip').textContent(), /Passed with warnings/);
    const text = (await card.textContent())!;
    t.match(text, /brackets-and-clips/);
    t.match(text, /Takes\s*about \d+ min( \d+ s)? once approved \(about \d+ s on this floor, which runs 30× faster\)/, 'how long it takes, on real robots and on this floor');
    t.match(text, /amr-2 \(courier\)/, 'which robot got the role');
    t.ok(report.issues.length > 0, 'the report has issues');
    for (const issue of report.issues) t.ok(text.includes(issue.message), `issue in plain words: ${issue.message}`);
    const img = card.locator('img');
    await img.waitFor();
    t.ok(await until('the route picture to load', () => img.evaluate((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0)), 'the route picture is shown');
    t.match(await img.getAttribute('alt'), /Route picture of brackets-and-clips/);
    t.equal(await page.locator('#badge-missions').textContent(), '1', 'the Missions tab counts it');
    t.ok(await card.getByRole('button', { name: 'Approve' }).isVisible(), 'Approve');
    t.ok(await card.getByRole('button', { name: 'Reject' }).isVisible(), 'Reject');
    const approve = await card.getByRole('button', { name: 'Approve' }).boundingBox();
    t.ok(approve && approve.y >= 0 && approve.y + approve.height <= LANDSCAPE.height, `Approve is on screen without scrolling, under the report (top at ${approve?.y.toFixed(0)} px of ${LANDSCAPE.height})`);
    await screenshot(page, '03-approval');
    await checkScreen(t, page, 'approval, landscape');

    await card.getByRole('button', { name: /Enlarge the route picture/ }).click();
    await page.locator('#picture-dialog[open]').waitFor();
    await screenshot(page, '03-approval-picture');
    await page.getByRole('button', { name: 'Close' }).click();
    await page.locator('#picture-dialog[open]').waitFor({ state: 'detached' });

    await page.setViewportSize(PORTRAIT);
    await screenshot(page, '03-approval-portrait');
    await checkScreen(t, page, 'approval, portrait');
    await page.setViewportSize(LANDSCAPE);
  });

  await t.test('approving it sends the checked planHash and makes robots move on the map', async (t) => {
    const before = await robotsOnMap(page);
    const card = page.locator(`[data-mission="${missionId}"]`);
    await card.getByRole('button', { name: 'Approve' }).click();
    // Deliberate: the question says which robots and machines will move, and nothing is sent before yes.
    const question = await card.locator('.confirm-question').textContent();
    const report = (await mission(missionId)).report as { assignments: Record<string, string> };
    const courier = Object.values(report.assignments)[0]!;
    t.match(question, new RegExp(`^Approve .*\\? It starts now, as checked: .*${courier} \\(courier\\).* work`), `the question names what moves: ${question}`);
    t.equal((await mission(missionId)).status, 'awaiting_approval', 'nothing approved before yes');
    await card.getByRole('button', { name: 'Yes, approve' }).click();
    await page.locator(`#missions-running [data-mission="${missionId}"]`).waitFor({ timeout: 5000 });
    const approved = gateway.store.missions.events(missionId).find((e) => e.type === 'mission.approved');
    t.equal(approved?.actor, 'tablet-1', 'approved by the operator signed in');
    t.equal((approved?.data as { planHash?: string }).planHash, (await mission(missionId)).planHash, 'with the hash of the checked plan');
    const moved = await until(
      'a robot to move on the map',
      async () => {
        const now = await robotsOnMap(page);
        const ids = Object.keys(now).filter((id) => Math.hypot(now[id]!.x - before[id]!.x, now[id]!.y - before[id]!.y) > 1);
        return ids.length > 0 ? ids : undefined;
      },
      10_000,
    );
    t.ok(moved.every((id) => id === 'amr-2' || id === 'amr-3'), `the robots of the plan move: ${moved.join(', ')}`);
    t.equal(await page.locator('#panel-missions .missions-section').first().locator('[data-mission]').count(), 0, 'nothing waits for approval any more');
    await screenshot(page, '04-running');
    await checkScreen(t, page, 'running');
  });

  await t.test('STOP: one press, no question, pauses every robot and the banner appears', async (t) => {
    // Pressed while cnc-1 mills and the AMRs wait at their stations, so resuming has the rest of
    // the mission to go on with. (STOP on robots between two nodes: viewer.test.ts.)
    const steps = async () => Object.fromEntries(((await call(url, tokens.viewer, 'GET', `/v1/missions/${missionId}`)).json as { steps: { id: string; status: string }[] }).steps.map((s) => [s.id, s.status]));
    await until('the AMRs to reach their stations', async () => {
      const now = await steps();
      return now.fetch === 'succeeded' && now.clips === 'succeeded';
    }, 15_000);
    t.equal((await steps()).mill, 'running', 'cnc-1 still mills');
    t.equal((await mission(missionId)).status, 'running', 'the mission is still running when STOP is pressed');
    const sent = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/v1/stop');
    const pressed = Date.now();
    await page.locator('#stop').click();
    t.match((await sent).postDataJSON(), { scope: 'all' }, 'the press alone sends STOP for the whole floor, asking nothing first');
    await until('every AMR to report paused', async () => (await robots()).filter((r) => r.kind === 'amr').every((r) => r.paused === true), 15_000, 20);
    // How fast is for `npm run bench` (STOP latency), not for a test on a busy machine.
    t.comment(`every AMR reported paused ${Date.now() - pressed} ms after the press`);
    const banner = page.locator('#stop-banner');
    await banner.waitFor({ state: 'visible', timeout: 2000 });
    t.match(await banner.textContent(), /STOP ACTIVE.*Pressed by tablet-1/);
    t.ok(await banner.getByRole('button', { name: 'Release STOP…' }).isVisible(), 'operators get Release');
    await until('the mission to pause', async () => (await mission(missionId)).status === 'paused', 5000);
    await page.locator(`#missions-running [data-mission="${missionId}"] .chip`, { hasText: 'paused' }).waitFor({ timeout: 5000 });
    const card = page.locator(`#missions-running [data-mission="${missionId}"]`);
    t.equal(await card.locator('.note').textContent(), 'Paused: STOP (all): STOP button on the tablet. Nothing new starts until it is resumed.', 'why it is paused');
    t.equal(await card.locator('[data-step="mill"] .reason').textContent(), 'STOP: STOP button on the tablet', 'and why its step is blocked');
    await until('the robots to be drawn paused', async () => Object.values(await robotsOnMap(page)).every((r) => r.tone === 'paused'), 5000);
    await until('"paused" written by every robot', async () => (await page.locator('svg.map g.robot text.state', { hasText: 'paused' }).count()) === 3, 5000);
    t.same(await labelsOverStations(page), [], 'no robot\'s name or "paused" covers a station\'s name');
    t.equal(await page.locator('#badge-alerts').textContent(), '1', 'the STOP is an alert until acknowledged');
    const pressedRecord = page.locator('ol.stop-history li.stop-record').first();
    await until('the STOP in the STOP history, active', async () => (await pressedRecord.getAttribute('class')) === 'stop-record active', 5000);
    t.match(await pressedRecord.textContent(), /^activePressed by tablet-1 at .*: STOP button on the tablet/, 'the STOP history lists it: who pressed it and why');
    await screenshot(page, '05-stop-active');
    await checkScreen(t, page, 'STOP active, landscape');
    await page.setViewportSize(PORTRAIT);
    await screenshot(page, '05-stop-active-portrait');
    await checkScreen(t, page, 'STOP active, portrait');
    await page.setViewportSize(LANDSCAPE);
  });

  await t.test('release asks first; then resume, and the mission goes on to the end', async (t) => {
    const banner = page.locator('#stop-banner');
    await banner.getByRole('button', { name: 'Release STOP…' }).click();
    await banner.getByText('Is the floor safe?').waitFor();
    t.equal((await call(url, tokens.viewer, 'GET', '/v1/stop')).json.active, true, 'nothing is released before confirming');
    await screenshot(page, '06-release-confirm');
    await checkScreen(t, page, 'release confirmation');
    await banner.getByRole('button', { name: 'Yes, release STOP' }).click();
    await banner.waitFor({ state: 'hidden', timeout: 5000 });
    t.equal((await call(url, tokens.viewer, 'GET', '/v1/stop')).json.active, false, 'released');
    t.equal((await mission(missionId)).status, 'paused', 'missions stay paused until resumed');

    // The STOP history (under the alerts) says who released it and with what note, as the API does.
    await page.getByRole('tab', { name: 'Alerts' }).click();
    const [latest] = ((await call(url, tokens.viewer, 'GET', '/v1/stop/history')).json as { stops: { id: string; createdBy: string; reason: string; releasedBy: string; releaseNote: string }[] }).stops;
    t.match(latest, { createdBy: 'tablet-1', reason: 'STOP button on the tablet', releasedBy: 'tablet-1', releaseNote: 'released on the tablet by tablet-1' }, 'the API has the release');
    const record = page.locator(`ol.stop-history li[data-stop="${latest!.id}"]`);
    await record.locator('.chip', { hasText: 'released' }).waitFor({ timeout: 5000 });
    t.match(await record.locator('.release').textContent(), /^Released by tablet-1 at \d.*: released on the tablet by tablet-1$/, 'the history says who released it and the note');
    t.match(await record.locator('.pressed').textContent(), /^Pressed by tablet-1 at \d.*: STOP button on the tablet$/, 'and who pressed it, when and why');
    t.match(await record.locator('.scope').textContent(), /^everything · \d+ devices$/, 'and what it stopped');
    await screenshot(page, '06-stop-history');
    await page.getByRole('tab', { name: 'Missions' }).click();

    const card = page.locator(`#missions-running [data-mission="${missionId}"]`);
    // Released: the blocked step no longer reads as if the STOP were on; it says what comes next.
    await card.locator('[data-step="mill"] .reason', { hasText: 'released' }).waitFor({ timeout: 5000 });
    t.equal(await card.locator('[data-step="mill"] .reason').textContent(), 'STOP: STOP button on the tablet — the STOP was released; resume the mission to run it again');
    await card.getByRole('button', { name: 'Resume' }).click();
    await until('the mission to run again', async () => (await mission(missionId)).status !== 'paused', 5000);
    await page.locator(`#missions-running [data-mission="${missionId}"] .chip`, { hasText: 'running' }).waitFor({ timeout: 5000 });
    await screenshot(page, '07-resumed');
    await until('the mission to succeed', async () => (await mission(missionId)).status === 'succeeded', 40_000, 200);
    const finished = page.locator(`#missions-finished [data-mission="${missionId}"]`);
    await finished.waitFor({ timeout: 5000 });
    t.match(await finished.textContent(), /done.*5 of 5 steps done/);
    await screenshot(page, '08-finished');
  });

  await t.test('a machine fault fails its step: alerts until acknowledged, the machine drawn in fault, the outcome with its reason', async (t) => {
    const plan = { schema: 'phygate.plan/v1', name: 'clips', steps: [{ id: 'print', action: 'machine.run', device: 'printer-1', params: { program: 'clip-x' } }] };
    const submitted = await call(url, tokens.agent, 'POST', '/v1/missions', { plan });
    t.equal((await call(url, tokens.operator, 'POST', `/v1/missions/${submitted.json.id}/approve`, { planHash: submitted.json.planHash })).status, 200);
    await until('printer-1 to print', async () => (await page.locator('g.machine[data-id="printer-1"]').getAttribute('data-tone')) === 'busy', 5000);
    gateway.virtualFleet!.machines.get('printer-1')!.fault({ code: 'NOZZLE_CLOGGED', message: 'the nozzle is clogged' });
    await until('printer-1 to be drawn in fault', async () => (await page.locator('g.machine[data-id="printer-1"]').getAttribute('data-tone')) === 'fault', 5000);
    const finished = page.locator(`#missions-finished [data-mission="${submitted.json.id}"]`);
    await finished.waitFor({ timeout: 5000 });
    t.match(await finished.textContent(), /failed.*failed: print/);
    await page.getByRole('tab', { name: /Alerts/ }).click();
    const alerts = page.locator('#panel-alerts li.alert');
    await until('the step and mission alerts', async () => (await alerts.count()) === 3);
    const texts = await alerts.allTextContents();
    t.ok(texts.slice(0, 2).some((x) => /Failed.*Mission clips failed: printer-1 ended the job fault: NOZZLE_CLOGGED/.test(x)), 'the mission failed, and why');
    t.ok(texts.slice(0, 2).some((x) => /Failed.*Step print of clips failed/.test(x)), 'its step failed');
    t.match(texts[2], /STOP.*STOP pressed by tablet-1/, 'the older STOP alert stays until acknowledged');
    await screenshot(page, '09-step-failed');
    await checkScreen(t, page, 'alerts');
    await page.getByRole('button', { name: 'Acknowledge all 3' }).click();
    await until('no alert left', async () => (await alerts.count()) === 0);
    t.ok(await page.locator('#badge-alerts').isHidden(), 'no badge');
    await page.getByRole('tab', { name: /Missions/ }).click();
    t.equal(await finished.locator('.outcome-reason').textContent(), 'failed: printer-1 ended the job fault: NOZZLE_CLOGGED: the nozzle is clogged', 'why it failed, on its card');

    // Why it failed comes from the gateway, not only from the events this page saw.
    await page.reload();
    await page.locator('#live-status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
    await page.getByRole('tab', { name: /Missions/ }).click();
    const reloaded = page.locator(`#missions-finished [data-mission="${submitted.json.id}"]`);
    await reloaded.waitFor({ timeout: 5000 });
    t.equal(await reloaded.locator('.outcome-reason').textContent(), 'failed: printer-1 ended the job fault: NOZZLE_CLOGGED: the nozzle is clogged', 'after a reload too');
    t.match(await reloaded.textContent(), /failed: print/);
    await screenshot(page, '09-failed-after-reload');
  });

  await t.test('losing the server: the screen says so and greys the robots; it reconnects by itself', async (t) => {
    await gateway.close();
    const banner = page.locator('#live-banner');
    await banner.waitFor({ state: 'visible', timeout: 5000 });
    t.match(await banner.textContent(), /NO CONNECTION.*reconnecting/);
    t.equal(await page.locator('#live-status').textContent(), '✗ Disconnected');
    t.ok(await page.locator('svg.map.stale').count(), 'the map is marked stale');
    const fills = await page.$$eval('svg.map g.robot .hull', (hulls) => hulls.map((h) => getComputedStyle(h).fill));
    t.same(fills, fills.map(() => 'rgb(163, 168, 174)'), 'every robot is drawn grey, not in a live colour');
    t.same(await page.$$eval('svg.map g.robot text.state', (els) => els.map((e) => e.textContent)), ['last known', 'last known', 'last known']);
    await page.getByRole('tab', { name: 'Devices' }).click();
    t.equal(await page.locator('li.device.stale').count(), 7, 'every device row is greyed');
    await page.getByRole('tab', { name: /Missions/ }).click();
    await screenshot(page, '09-disconnected');
    await checkScreen(t, page, 'disconnected, landscape');
    await page.setViewportSize(PORTRAIT);
    await screenshot(page, '09-disconnected-portrait');
    await checkScreen(t, page, 'disconnected, portrait');
    await page.setViewportSize(LANDSCAPE);

    await running.restart();
    await page.locator('#live-status', { hasText: 'Live' }).waitFor({ timeout: 15_000 });
    await banner.waitFor({ state: 'hidden' });
    t.equal(await page.locator('svg.map.stale').count(), 0, 'the map is current again');
    t.same(new Set(Object.values(await robotsOnMap(page)).map((r) => r.tone)), new Set(['idle']), 'robots in their live colours');
    t.equal(await page.locator(`#missions-finished [data-mission="${missionId}"]`).count(), 1, 'missions read again');
    await screenshot(page, '09-reconnected');
  });
});
