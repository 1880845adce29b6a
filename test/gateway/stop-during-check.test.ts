// Issue #13, finding 4: a plan check held STOP back for minutes. The check ran on the event loop,
// and a STOP pressed 1.5 s into a 132 s check was answered, and reached the broker, 131 s after the
// press. Now the finding's plan is refused at once, and a STOP pressed while the largest allowed
// checks run is answered, and its instantActions are on a real Mosquitto broker, before the first
// of those checks answers. Order, not time: the checks take hundreds of times what STOP does.
import t from 'tap';
import { readConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { startMosquitto } from '../helpers/brokers.ts';
import { until } from '../helpers/wait.ts';
import { demoSiteCopy, tempDirFor } from './harness.ts';
import { withoutPolicies } from '../helpers/demo-site.ts';

const ADMIN_TOKEN = 'test-admin-token-0123456789';

const post = (g: Gateway, path: string, body: unknown) =>
  fetch(`${g.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** A plan at the limits whose check is long: 200 AMR steps on three roles, every assignment of them tried. */
function heavyPlan(g: Gateway, k: number): unknown {
  const stations = g.site.index.site.stations.map((s) => s.id);
  return {
    schema: 'phygate.plan/v1',
    name: `heavy-${k}`,
    roles: { r0: { kind: 'amr' }, r1: { kind: 'amr' }, r2: { kind: 'amr' } },
    steps: Array.from({ length: 200 }, (_, i) => ({ id: `s${i}`, action: 'navigate', device: `$r${i % 3}`, params: { to: stations[(i * 7 + k) % stations.length] } })),
  };
}

t.test('finding 4 on a gateway with Mosquitto: the 257 KB plan is a 400; STOP goes out while the largest checks run', async (t) => {
  const broker = await startMosquitto(t);
  const g = await startGateway(
    readConfig({
      PHYGATE_PORT: '0',
      PHYGATE_MQTT_URL: broker.url,
      PHYGATE_DATA_DIR: tempDirFor(t),
      PHYGATE_LOG_LEVEL: 'silent',
      PHYGATE_ADMIN_TOKEN: ADMIN_TOKEN,
      PHYGATE_CHECK_WORKERS: '1',
      PHYGATE_CHECK_BUDGET_MS: '120000',
      PHYGATE_SITE: demoSiteCopy(t, withoutPolicies),
    }),
  );
  t.teardown(() => g.close());
  await until('every device online', () => g.fleet.list().every((d) => d.online));

  // The finding's plan: 200 steps, 600-character ids, each step after an unknown 600-character id.
  const pad = (s: string) => (s + 'x'.repeat(600)).slice(0, 600);
  const finding = JSON.stringify({ plan: { schema: 'phygate.plan/v1', steps: Array.from({ length: 200 }, (_, i) => ({ id: pad(`s${i}-`), action: 'wait', device: 'arm-1', params: { seconds: 1 }, after: [pad(`u${i}-`)] })) } });
  t.ok(Buffer.byteLength(finding) > 250_000, `the plan is ${Buffer.byteLength(finding)} bytes`);
  const refused = await post(g, '/v1/plans/check', finding);
  t.equal(refused.status, 400, 'refused');
  t.match(await refused.json(), { code: 'VALIDATION_FAILED', details: { problems: [{ path: 'plan.steps.0.id', message: 'at most 64 characters' }] } });

  // What reaches the AMRs, read off the broker by a client of its own.
  const order: string[] = [];
  const watch = await connectMqtt({ url: broker.url, clientId: `stop-during-check-${process.pid}` });
  t.teardown(() => closeMqtt(watch, true));
  watch.on('message', (topic, payload) => {
    const actions = (JSON.parse(payload.toString()) as { actions: { actionType: string }[] }).actions;
    if (actions.some((a) => a.actionType === 'startPause')) order.push(`startPause ${topic.split('/')[3]}`);
  });
  await watch.subscribeAsync('uagv/v2/+/+/instantActions', { qos: 1 });

  // Three checks of the largest plans, back to back on the one worker.
  const checks = [0, 1, 2].map((k) =>
    post(g, '/v1/plans/check', { plan: heavyPlan(g, k) }).then(async (r) => {
      order.push(`check ${k}`);
      return { status: r.status, report: (await r.json()) as { verdict: string; steps: unknown[] } };
    }),
  );
  await until('the first check is running in the worker', () => g.checks.running === 1);
  const stop = await post(g, '/v1/stop', { scope: 'all', reason: 'during the checks' });
  order.push('stop answered');
  t.equal(stop.status, 200, 'STOP answered');
  const told = ((await stop.json()) as { told: { device: string; result: string }[] }).told;
  t.ok(told.filter((d) => d.device.startsWith('amr-')).every((d) => d.result === 'sent'), 'the broker confirmed each AMR message');
  await until('every AMR startPause seen on the broker', () => ['amr-1', 'amr-2', 'amr-3'].every((a) => order.includes(`startPause ${a}`)));
  const first = order.findIndex((e) => e.startsWith('check '));
  t.equal(first, -1, `no check has answered yet: ${order.join(', ')}`);

  const answers = await Promise.all(checks);
  t.same(answers.map((a) => a.status), [200, 200, 200], 'the checks answer afterwards, each with its report');
  t.ok(answers.every((a) => a.report.steps.length > 0), 'full reports');
  t.ok(order.indexOf('stop answered') < order.findIndex((e) => e.startsWith('check ')), 'STOP was answered before any check');
  t.ok(['amr-1', 'amr-2', 'amr-3'].every((a) => order.indexOf(`startPause ${a}`) < order.findIndex((e) => e.startsWith('check '))), "and every AMR's instantActions were on the broker before any check answered");
});
