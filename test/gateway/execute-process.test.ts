// End to end as on a real floor: the virtual fleet in its own process (`phygate fleet
// --speed 50`) over a real Mosquitto, the gateway with no fleet of its own. The README's plan
// runs to succeeded.
import t from 'tap';
import { startMosquitto } from '../helpers/brokers.ts';
import { gatewayOnBroker, spawnFleet } from './gateway-process.ts';
import { canonicalPlan, tempDirFor } from './harness.ts';
import { until } from '../helpers/wait.ts';

const ADMIN = 'test-admin-token-0123456789';
const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
/** The fleet's time scale: the README's plan is 430 s of floor time, under 9 s at 50x. */
const SPEED = 50;

/**
 * The floor both tests run on, one for the file (starting the fleet process costs seconds of
 * CPU): Mosquitto, a gateway on it and the fleet process at SPEED, all online. Stopped when the
 * file's tests end.
 */
const floor = (async () => {
  const broker = await startMosquitto(t);
  const g = await gatewayOnBroker(t, broker.url, ADMIN, tempDirFor(t));
  spawnFleet(t, broker.url, SPEED);
  await until('the fleet online', () => g.fleet.list().every((d) => d.online));
  return { broker, g };
})();

/** The floor, all online, with the README's plan submitted on it. */
async function floorWithSubmittedPlan() {
  const { broker, g } = await floor;
  await until('the fleet online', () => g.fleet.list().every((d) => d.online));
  const sub = (await (await fetch(`${g.url}/v1/missions`, { method: 'POST', headers, body: JSON.stringify({ plan: canonicalPlan() }) })).json()) as { id: string; planHash: string; report: { makespanS: number } };
  return { broker, g, sub };
}

t.test(`the README's plan on the fleet process at --speed ${SPEED} over Mosquitto runs to succeeded`, async (t) => {
  const { g, sub } = await floorWithSubmittedPlan();
  const approved = await fetch(`${g.url}/v1/missions/${sub.id}/approve`, { method: 'POST', headers, body: JSON.stringify({ planHash: sub.planHash }) });
  t.equal(approved.status, 200);
  const started = Date.now();
  const done = await until(
    'succeeded',
    async () => {
      const m = (await (await fetch(`${g.url}/v1/missions/${sub.id}`, { headers })).json()) as { status: string; steps: { status: string }[] };
      if (m.status === 'failed') throw new Error(`the mission failed: ${JSON.stringify(g.store.missions.events(sub.id).at(-1))}`);
      return m.status === 'succeeded' ? m : undefined;
    },
    90_000,
  );
  const seconds = (Date.now() - started) / 1000;
  t.same(done.steps.map((s) => s.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
  // The fleet process keeps floor time at its speed: the mission cannot end before the check's
  // makespan at that speed. (No upper bound: a busy machine only adds time; how close a run
  // comes to the prediction is for a benchmark.)
  const floorS = sub.report.makespanS / SPEED;
  t.ok(seconds >= floorS * 0.9, `it took ${seconds.toFixed(1)} s at ${SPEED}x, not less than the check's ${sub.report.makespanS} s / ${SPEED} = ${floorS.toFixed(1)} s`);
});

t.test('Mosquitto restarted mid-mission: the mission still completes, no step dispatched twice', async (t) => {
  const { broker, g, sub } = await floorWithSubmittedPlan();
  await fetch(`${g.url}/v1/missions/${sub.id}/approve`, { method: 'POST', headers, body: JSON.stringify({ planHash: sub.planHash }) });
  // Restart while the mill runs (360 s of floor time, 7 s at 50x).
  await until('the mill running', () => g.store.missions.get(sub.id)!.steps.find((s) => s.id === 'mill')!.status === 'running');
  await broker.restart();
  t.pass('the broker went down and came back');
  const done = await until(
    'the mission over',
    () => {
      const m = g.store.missions.get(sub.id)!;
      return m.status === 'succeeded' || m.status === 'failed' ? m : undefined;
    },
    90_000,
  );
  t.equal(done.status, 'succeeded', JSON.stringify(g.store.missions.events(sub.id).filter((e) => /failed|blocked/.test(e.type))));
  const dispatched = g.store.missions.events(sub.id).filter((e) => e.type === 'step.dispatched').map((e) => (e.data as { step: string }).step);
  t.same(dispatched.sort(), ['carry', 'fetch', 'load', 'mill'], 'each step dispatched exactly once');
});
