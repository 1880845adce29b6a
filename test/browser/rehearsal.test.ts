// A mission rehearsed and then run, on the tablet in Chromium against a real gateway with its
// virtual fleet (what `npm start` runs, no ROS): the operator presses Rehearse on a plan waiting
// for approval, sees the rehearsal's result beside the check, approves it, and the real (virtual)
// fleet runs it to the end.
import t from 'tap';
import { call } from '../gateway/gateway-process.ts';
import { until } from '../helpers/wait.ts';
import { browserFor, checkScreen, pageFor, screenshot, signIn, tabletGateway } from './browser.ts';

t.test('a mission rehearsed on the tablet, then approved and run', async (t) => {
  const { gateway, url, tokens } = await tabletGateway(t, 30);
  const context = await browserFor(t);
  const page = await pageFor(t, context);
  await signIn(page, url, tokens.operator);

  const plan = { schema: 'phygate.plan/v1', name: 'amr-1-to-park-1', goal: 'Park amr-1 by the south wall', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'park-1' } }] };
  const submitted = await call(url, tokens.agent, 'POST', '/v1/missions', { plan });
  t.equal(submitted.status, 201);
  const id = submitted.json.id as string;
  const card = page.locator(`#missions-awaiting [data-mission="${id}"]`);
  await card.waitFor({ timeout: 10_000 });
  const band = card.getByLabel('Rehearsal on the simulated fleet');
  t.equal(await band.textContent(), 'Not rehearsed yet.', 'beside the check: not rehearsed');

  await card.getByRole('button', { name: 'Rehearse' }).click();
  await card.locator('.rehearsal-succeeded').waitFor({ timeout: 30_000 });
  // The rehearsal's time is on the floor's clock, which leaves out the messages between steps
  // (gateway/rehearsal/floor-clock.ts); a machine loaded enough to delay them while a robot is at
  // work can still make it read more than 1.5 × the check, and then the band says so (that
  // timing is asserted where it is the subject: test/gateway/rehearsal.test.ts).
  t.match(await band.textContent(), /^Rehearsal passed: took \d+ s \(the check: \d+ s\); closest robots amr-\d and amr-\d, [\d.]+ m apart near [\w-]+\.(Warning: the mission took [\d.]+ s, more than 1\.5 × the check's [\d.]+ s)?$/, 'its result, with its time against the check and the closest robots');
  const stored = (await call(url, tokens.viewer, 'GET', `/v1/missions/${id}`)).json as { status: string; rehearsal: { status: string; requestedBy: string } };
  t.same([stored.status, stored.rehearsal.status, stored.rehearsal.requestedBy], ['awaiting_approval', 'succeeded', 'tablet-1'], 'rehearsed by the operator signed in, still waiting for approval');
  t.equal(gateway.fleet.get('amr-1')?.at, 'dock-a', 'the real fleet did not move');
  await screenshot(page, 'rehearsal-passed');
  await checkScreen(t, page, 'rehearsed plan');

  await card.getByRole('button', { name: 'Approve' }).click();
  await card.getByRole('button', { name: 'Yes, approve' }).click();
  const done = await until('the mission to succeed on the fleet', async () => {
    const m = (await call(url, tokens.viewer, 'GET', `/v1/missions/${id}`)).json as { status: string };
    return m.status === 'succeeded' || m.status === 'failed' ? m : undefined;
  });
  t.equal(done.status, 'succeeded', 'then it ran');
  t.equal(gateway.fleet.get('amr-1')?.at, 'park-1', 'amr-1 is at park-1');
});
