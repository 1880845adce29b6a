// Traffic on the tablet: each robot's reserved route and where it is going on the map, and a robot
// that waits says whom it waits for and why, on the map and in its device row, its labels covering
// no station's name. amr-1 drives dock-a → shelf-3 along the
// south aisle and amr-2 dock-b → dock-a against it: amr-2 waits for amr-1. Pausing amr-1's mission
// holds that picture still for as long as the test looks (its route and holds stay), so nothing
// here races the robots.
import t, { type Test } from 'tap';
import { call } from '../gateway/gateway-process.ts';
import { until } from '../helpers/wait.ts';
import { browserFor, checkScreen, labelsOverStations, pageFor, screenshot, signIn, tabletGateway } from './browser.ts';

interface TrafficDevice {
  id: string;
  holds: string[];
  path?: { missionId: string; nodes: string[]; reached: number; granted: number };
  waitsFor?: { device: string; node: string; why: 'held' | 'near' | 'schedule'; missionId?: string };
}

const drive = (device: string, to: string) => ({ schema: 'phygate.plan/v1', name: `${device}-to-${to}`, steps: [{ id: 'go', action: 'navigate', device, params: { to } }] });
const REASON = { held: 'it holds', near: 'it is too close to', schedule: 'the checked schedule has it first at' } as const;

t.test('the tablet shows reserved routes and whom a waiting robot waits for', async (t) => {
  const { url, tokens } = await tabletGateway(t, 2);
  const context = await browserFor(t);
  const page = await pageFor(t, context);
  const traffic = async () => ((await call(url, tokens.viewer, 'GET', '/v1/traffic')).json as { devices: TrafficDevice[] }).devices;
  const of = async (id: string) => (await traffic()).find((d) => d.id === id)!;
  const approve = async (plan: object) => {
    const m = await call(url, tokens.agent, 'POST', '/v1/missions', { plan });
    t.equal(m.status, 201, `${(plan as { name: string }).name} submitted`);
    t.equal((await call(url, tokens.operator, 'POST', `/v1/missions/${m.json.id}/approve`, { planHash: m.json.planHash })).status, 200, 'and approved');
    return m.json.id as string;
  };
  await signIn(page, url, tokens.viewer);

  await t.test('before anything moves, every robot holds the node it stands on', async (t) => {
    const holds = async () => page.$$eval('svg.map g.traffic-of', (gs) => Object.fromEntries(gs.map((g) => [g.getAttribute('data-device'), g.getAttribute('data-holds')])));
    const drawn = await until('the holds read from GET /v1/traffic', async () => {
      const h = await holds();
      return Object.keys(h).length === 3 ? h : undefined;
    });
    t.same(drawn, { 'amr-1': 'dock-a', 'amr-2': 'dock-b', 'amr-3': 'charger-1' });
    t.equal(await page.locator('[data-reserved-for]').count(), 0, 'no route reserved');
    t.equal(await page.locator('svg.map g.destination').count(), 0, 'no destination marked');
    t.equal(await page.locator('svg.map g.robot .wait tspan').count(), 0, 'nobody waits');
  });

  let first = '';
  let wait: NonNullable<TrafficDevice['waitsFor']>;
  await t.test('amr-1 drives, amr-2 waits for it', async (t) => {
    first = await approve(drive('amr-1', 'shelf-3'));
    await until('amr-1 to be granted its first nodes', async () => ((await of('amr-1')).path?.granted ?? 0) > 0, 20_000);
    t.equal((await call(url, tokens.operator, 'POST', `/v1/missions/${first}/pause`)).status, 200, "amr-1's mission paused: it keeps its route and what it holds");
    await approve(drive('amr-2', 'dock-a'));
    wait = await until('amr-2 to wait', async () => (await of('amr-2')).waitsFor, 20_000);
    t.equal(wait.device, 'amr-1', 'amr-2 waits for amr-1');
    t.equal(wait.missionId, first, "amr-1's mission");
  });

  const expected = () => `waits for amr-1 (mission ${first}): ${REASON[wait.why]} ${wait.node}`;
  const looks = async (t: Test, what: string) => {
    const amr1 = await of('amr-1');
    const p = amr1.path!;
    const reserved = page.locator('svg.map polyline.reserved[data-reserved-for="amr-1"]');
    await until(`${what}: amr-1's reserved route on the map`, async () => (await reserved.getAttribute('data-nodes').catch(() => null)) === p.nodes.slice(p.reached, p.granted + 1).join(' '), 20_000);
    t.pass(`${what}: amr-1's reserved route ${p.nodes.slice(p.reached, p.granted + 1).join(' → ')} is drawn`);
    t.equal(await page.locator('svg.map polyline.ahead[data-ahead-for="amr-1"]').getAttribute('data-nodes'), p.nodes.slice(p.granted).join(' '), `${what}: and the rest of its route, dashed`);
    t.equal(await page.locator('svg.map g.traffic-of[data-device="amr-1"]').getAttribute('data-holds'), amr1.holds.join(' '), `${what}: the nodes it holds`);
    t.equal(await page.locator('svg.map g.destination[data-destination-for="amr-1"]').getAttribute('data-node'), p.nodes.at(-1), `${what}: amr-1's destination marked, the end of its route`);
    t.equal(p.nodes.at(-1), 'shelf-3', `${what}: which is shelf-3`);
    t.equal(await page.locator('svg.map g.traffic-of[data-device="amr-1"] circle.hold').count(), amr1.holds.length, `${what}: each ringed`);
    const label = page.locator('svg.map g.robot[data-id="amr-2"] text.wait');
    await until(`${what}: amr-2's wait on the map`, async () => /waits for amr-1/.test((await label.textContent()) ?? ''), 20_000);
    t.equal(await label.textContent(), `waits for amr-1${REASON[wait.why]} ${wait.node}`, `${what}: next to amr-2, whom it waits for and why`);
    t.match(await page.locator('svg.map g.robot[data-id="amr-2"] > title').textContent(), expected(), `${what}: and in its title`);
    await page.getByRole('tab', { name: 'Devices' }).click();
    const row = page.locator('li.device[data-device="amr-2"]');
    await until(`${what}: amr-2's row says whom it waits for`, async () => ((await row.textContent()) ?? '').includes(expected()), 20_000);
    t.equal(await row.getByRole('note').textContent(), `amr-2 ${expected()}`, `${what}: in amr-2's row, for screen readers too`);
    t.notMatch(await page.locator('li.device[data-device="amr-1"]').textContent(), /waits for/, `${what}: amr-1 waits for nobody`);
    await until(`${what}: amr-1 drawn paused`, async () => (await page.locator('svg.map g.robot[data-id="amr-1"] text.state').textContent()) === 'paused', 20_000);
    t.same(await labelsOverStations(page), [], `${what}: no robot's name, "paused" or wait covers a station's name`);
  };

  await t.test('the map shows amr-1 reserved route and amr-2 waiting for it, live', async (t) => {
    await looks(t, 'live');
    await screenshot(page, '20-traffic-waiting');
    await checkScreen(t, page, 'traffic, devices');
  });

  await t.test('after a reload the picture is read from GET /v1/traffic', async (t) => {
    await page.reload();
    await page.locator('#live-status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
    await looks(t, 'reloaded');
  });

  await t.test('amr-1 goes on: amr-2 stops waiting, and once both arrived no route is reserved', async (t) => {
    t.equal((await call(url, tokens.operator, 'POST', `/v1/missions/${first}/resume`)).status, 200);
    await until('amr-2 to stop waiting on the map', async () => (await page.locator('svg.map g.robot[data-id="amr-2"] .wait tspan').count()) === 0, 60_000);
    await until('amr-2 to be granted the way to dock-a', async () => ((await page.locator('svg.map polyline.reserved[data-reserved-for="amr-2"]').getAttribute('data-nodes').catch(() => null)) ?? '').includes(' '), 60_000);
    await until('both robots to arrive and hold only where they stand', async () => (await page.locator('svg.map g.traffic-of[data-device="amr-2"]').getAttribute('data-holds')) === 'dock-a', 90_000);
    await until('no route reserved any more', async () => (await page.locator('[data-reserved-for]').count()) === 0, 30_000);
    t.equal(await page.locator('svg.map g.destination').count(), 0, 'nor a destination marked');
    t.equal(await page.locator('svg.map g.traffic-of[data-device="amr-1"]').getAttribute('data-holds'), 'shelf-3', 'amr-1 holds shelf-3');
    t.notMatch(await page.locator('li.device[data-device="amr-2"]').textContent(), /waits for/, "amr-2's row no longer says it waits");
  });
});
