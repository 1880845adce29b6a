// A robot driven by a learned policy, on the tablet (issue #15): its device row names the policy
// (name, version, SHA-256) and says how often the safety shield stepped in, by reason when opened,
// as GET /v1/robots/{id} has it. amr-3 of a demo site copy is driven by the shipped policy (with
// its certificate) and drives to the printer.
import t from 'tap';
import { call } from '../gateway/gateway-process.ts';
import { policySite } from '../gateway/harness.ts';
import { until } from '../helpers/wait.ts';
import { browserFor, checkScreen, pageFor, screenshot, signIn, tabletGateway } from './browser.ts';

interface Policy {
  name: string;
  version: string;
  sha256: string;
  interventions: number;
  byReason: Record<string, number>;
}

t.test('the tablet shows which policy drives a robot and how often its shield stepped in', async (t) => {
  const site = policySite(t, { 'amr-3': '{ model: amr-track.onnx }' });
  const { url, tokens } = await tabletGateway(t, 20, site);
  const context = await browserFor(t);
  const page = await pageFor(t, context);
  const robot = async (id: string) => (await call(url, tokens.viewer, 'GET', `/v1/robots/${id}`)).json as { policy?: Policy; state: string; at?: string };
  await signIn(page, url, tokens.viewer);
  await page.getByRole('tab', { name: 'Devices' }).click();
  const row = page.locator('li.device[data-device="amr-3"]');

  await t.test('the GET /v1/robots list has the policy too', async (t) => {
    const list = (await call(url, tokens.viewer, 'GET', '/v1/robots')).json as { robots: { id: string; policy?: Policy }[] };
    t.match(list.robots.find((r) => r.id === 'amr-3')?.policy, { name: 'amr-track-mlp', version: '1.0.0', sha256: /^[0-9a-f]{64}$/ }, 'amr-3 with its policy');
    t.equal(list.robots.find((r) => r.id === 'amr-1')?.policy, undefined, 'amr-1 (no policy) without');
  });

  await t.test('after a drive, the row names the policy and counts the interventions as the API does', async (t) => {
    const plan = { schema: 'phygate.plan/v1', name: 'amr-3-to-printer', steps: [{ id: 'go', action: 'navigate', device: 'amr-3', params: { to: 'printer-1' } }] };
    const m = await call(url, tokens.agent, 'POST', '/v1/missions', { plan });
    t.equal(m.status, 201, 'submitted');
    t.equal((await call(url, tokens.operator, 'POST', `/v1/missions/${m.json.id}/approve`, { planHash: m.json.planHash })).status, 200, 'approved');
    await until('the mission done', async () => (await call(url, tokens.viewer, 'GET', `/v1/missions/${m.json.id}`)).json.status === 'succeeded', 60_000);
    await until('interventions counted', async () => ((await robot('amr-3')).policy?.interventions ?? 0) > 0);
    const summary = row.locator('details.policy summary');
    await summary.waitFor();
    t.notOk(await row.locator('ul.by-reason').isVisible(), 'the reasons are folded away');
    await summary.click();
    // The shield counts on while the robot stands (a tick missed on a busy machine counts): the row
    // and the API are compared as one reading, until they agree.
    const parse = (l: string) => /^(\S+) \(.*\): (\d+)$/.exec(l)?.slice(1) ?? [l];
    const seen = await until("the row to say what GET /v1/robots/amr-3 says", async () => {
      const policy = (await robot('amr-3')).policy!;
      const text = await summary.textContent();
      const shown = (await row.locator('ul.by-reason li').allTextContents()).map(parse).sort();
      const counted = Object.entries(policy.byReason).filter(([, n]) => n > 0).map(([r, n]) => [r, String(n)]).sort();
      return text === `Policy ${policy.name} ${policy.version} · SHA-256 ${policy.sha256.slice(0, 12)}safety shield stepped in ${policy.interventions} times` && JSON.stringify(shown) === JSON.stringify(counted) ? { policy, shown } : undefined;
    }, 30_000);
    t.pass(`name, version, the start of the SHA-256 and ${seen.policy.interventions} interventions in total, as the API has them`);
    t.ok(seen.shown.length > 0, `each reason with its count, as the API has them: ${seen.shown.map((r) => r.join(' ')).join(', ')}`);
    t.equal(await row.locator('p.sha').textContent(), `SHA-256 ${seen.policy.sha256}`, 'opened: the whole SHA-256');
    t.equal(await page.locator('li.device[data-device="amr-1"] details.policy').count(), 0, 'a robot without a policy has no policy line');
    await screenshot(page, '30-policy');
    await checkScreen(t, page, 'devices with a policy');
  });
});
