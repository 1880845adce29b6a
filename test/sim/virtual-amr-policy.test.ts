// A virtual AMR driven by a policy: a copy of the demo site whose amr-1 says `policy:`, the test's
// own tracking model (policy-tracker.ts), the real policy runtime (onnxruntime in its worker), the
// shield on the site's zones and world, real Mosquitto and the real VDA 5050 master. The AMR
// reports the order's nodes in order, picks at the end, counts the shield's interventions in its
// state's `information`; a model that cannot get there makes it report a FATAL error; a model
// that does not fit the contract keeps that AMR off while the rest of the fleet runs.
import t, { type Test } from 'tap';
import { findRoute } from '../../planners/route.ts';
import type { Amr } from '../../planners/site.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { Vda5050Master, type OrderProgress } from '../../robots/vda5050/master.ts';
import { PolicyPilot } from '../../sim/policy-pilot.ts';
import { loadSiteFolder, type LoadedSite } from '../../sim/site-folder.ts';
import { NODE_TOLERANCE_M } from '../../robots/vda5050/vehicle-checks.ts';
import { startVirtualAmr } from '../../sim/virtual-amr.ts';
import { startVirtualFleet } from '../../sim/virtual-fleet.ts';
import { startMosquitto } from '../helpers/brokers.ts';
import { until } from '../helpers/wait.ts';
import { demoSiteCopy } from '../gateway/harness.ts';
import { writeTracker } from './policy-tracker.ts';
import { writeMlpModel } from '../../robots/policy/model-writer.ts';
import { trackerMetadata, trackerMlp } from './policy-tracker.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The demo site with `policy: { model }` on amr-1, and the model written there by `write`. */
function policySite(t: Test, write: (dir: string) => void, model = 'tracker.onnx', device = 'amr-1'): LoadedSite {
  const dir = demoSiteCopy(t, (yaml) => yaml.replace(`serialNumber: ${device} }\n`, `serialNumber: ${device} }\n    policy: { model: ${model} }\n`));
  write(dir);
  return loadSiteFolder(dir);
}

async function master(t: Test, site: LoadedSite, brokerUrl: string) {
  const fleet = new FleetRegistry(site.index);
  const client = await connectMqtt({ url: brokerUrl, clientId: `policy-master-${process.pid}-${Math.random().toString(36).slice(2)}` });
  t.teardown(() => closeMqtt(client, true));
  const m = new Vda5050Master({ client, site: site.index, fleet, graph: site.graph });
  await m.start();
  t.teardown(() => m.stop());
  const progress: OrderProgress[] = [];
  m.onOrderProgress((p) => progress.push(p));
  return { master: m, fleet, progress };
}

async function pilotFor(t: Test, site: LoadedSite, speed: number, logs: string[] = []): Promise<PolicyPilot> {
  const started = await PolicyPilot.start({ site, speed, log: (l) => logs.push(l) });
  if (!started.pilot) throw new Error(`no pilot: ${[...started.refused.values()].join('; ')}`);
  const pilot = started.pilot;
  t.teardown(() => pilot.close());
  return pilot;
}

t.test('a policy-driven virtual AMR drives an order over several nodes, reports them in order and picks at the end', async (t) => {
  const site = policySite(t, (dir) => writeTracker(dir));
  const broker = await startMosquitto(t);
  const { master: m, fleet, progress } = await master(t, site, broker.url);
  const spy = await connectMqtt({ url: broker.url, clientId: `policy-spy-${process.pid}` });
  t.teardown(() => closeMqtt(spy, true));
  let lastState: { information?: { infoType: string; infoReferences?: { referenceKey: string; referenceValue: string }[] }[] } = {};
  spy.on('message', (topic, payload) => {
    if (topic.endsWith('/amr-1/state')) lastState = JSON.parse(payload.toString('utf8'));
  });
  await spy.subscribeAsync('#');
  // 200 control ticks per real second (20 Hz × 10): the run takes a few real seconds.
  const pilot = await pilotFor(t, site, 10);
  const amr = await startVirtualAmr({ brokerUrl: broker.url, site: site.index, graph: site.graph, amrId: 'amr-1', startNode: 'dock-a', speed: 10, pilot, visualizationIntervalMs: 50 });
  t.teardown(() => amr.close());
  await until('amr-1 online', () => fleet.get('amr-1')?.online === true && fleet.get('amr-1')?.pose !== undefined);
  const amr1 = site.index.device('amr-1') as Amr;
  const found = findRoute(site.graph, 'dock-a', 'shelf-1', amr1.limits, { start: site.index.station('dock-a')!.theta, end: site.index.station('shelf-1')!.theta });
  if (!found.ok) throw new Error('no route dock-a → shelf-1');
  const route = found.route.nodes;
  t.ok(route.length >= 3, `a route over ${route.length} nodes: ${route.join(' → ')}`);
  const seen: string[] = [];
  m.onOrderProgress((p) => {
    if (seen.at(-1) !== p.lastNodeId) seen.push(p.lastNodeId);
  });
  await m.sendOrder('amr-1', { route, actionsAtEnd: ['pick'] });
  const done = await until('the order finished', () => progress.find((p) => p.finished || p.failed), 120_000);
  t.notOk(done.failed, 'not failed');
  t.ok(done.finished, 'finished: every node reached and the pick done');
  t.same(seen.filter((n) => route.includes(n)), route, 'nodes reached in the order of the route');
  const end = site.index.node('shelf-1')!;
  const p = amr.position();
  t.ok(Math.hypot(p.x - end.x, p.y - end.y) <= NODE_TOLERANCE_M, `stands within ${NODE_TOLERANCE_M} m of shelf-1`);
  t.equal(fleet.get('amr-1')?.cargo, 1, 'carries the tote it picked');
  const policy = amr.policy()!;
  t.match(policy, { name: 'test-tracker', version: '1.0.0', sha256: /^[0-9a-f]{64}$/ }, 'names its policy');
  t.ok(policy.ticks > 0, `${policy.ticks} control ticks`);
  const total = Object.values(policy.interventions).reduce((a, b) => a + b, 0);
  t.ok(total > 0, `the shield stepped in ${total} times (${JSON.stringify(policy.interventions)})`);
  // Upward, in the state's information: the last state on the wire.
  const info = lastState.information?.find((i) => i.infoType === 'policyShield');
  t.ok(info, 'the state carries a policyShield information entry');
  const refs = Object.fromEntries((info?.infoReferences ?? []).map((r) => [r.referenceKey, r.referenceValue]));
  t.equal(refs.policySha256, policy.sha256, 'naming the model by its SHA-256');
  t.ok(Number(refs.interventions) > 0, `and the interventions: ${refs.interventions}`);
});

t.test('a policy that cannot reach the next node makes the AMR report a FATAL error: the order fails', async (t) => {
  // A model that never moves: v's limits are [0, 0].
  const site = policySite(t, (dir) =>
    writeFileSync(join(dir, 'still.onnx'), writeMlpModel(trackerMlp(), { metadata: trackerMetadata({ name: 'still', actions: [
      { name: 'v', unit: 'm/s', scale: 1, min: 0, max: 0 },
      { name: 'omega', unit: 'rad/s', scale: 1, min: 0, max: 0 },
    ] }) })),
  'still.onnx');
  const broker = await startMosquitto(t);
  const { master: m, fleet, progress } = await master(t, site, broker.url);
  // Fast: the timeout is in simulated seconds, which the pilot runs through as fast as it can.
  const pilot = await pilotFor(t, site, 1000);
  const amr = await startVirtualAmr({ brokerUrl: broker.url, site: site.index, graph: site.graph, amrId: 'amr-1', startNode: 'dock-a', speed: 10, pilot });
  t.teardown(() => amr.close());
  await until('amr-1 online', () => fleet.get('amr-1')?.online === true && fleet.get('amr-1')?.at !== undefined);
  const amr1 = site.index.device('amr-1') as Amr;
  const found = findRoute(site.graph, 'dock-a', 'shelf-1', amr1.limits, {});
  if (!found.ok) throw new Error('no route');
  await m.sendOrder('amr-1', { route: found.route.nodes });
  const failed = await until('the order failed', () => progress.find((p) => p.failed), 60_000);
  t.match(failed.failed, /policyTimeout|did not reach node/, `failed: ${failed.failed}`);
  const start = site.index.node('dock-a')!;
  t.ok(Math.hypot(amr.position().x - start.x, amr.position().y - start.y) < 1e-9, 'it never moved');
});

t.test('a model that does not fit the contract keeps its AMR off; the rest of the fleet runs', async (t) => {
  // Six observations where amr.track has eight.
  const site = policySite(t, (dir) => writeFileSync(join(dir, 'bad.onnx'), writeMlpModel({ layers: [{ ...trackerMlp().layers[1]!, inputs: 6 }] }, { metadata: trackerMetadata() })), 'bad.onnx', 'amr-2');
  const broker = await startMosquitto(t);
  const logs: string[] = [];
  const vf = await startVirtualFleet({ brokerUrl: broker.url, site, speed: 10, log: (l) => logs.push(l) });
  t.teardown(() => vf.close());
  t.notOk(vf.amrs.has('amr-2'), 'amr-2 is not started');
  t.match(vf.refused.get('amr-2'), /bad\.onnx: input obs shape: dimension 1 is 6, but amr.track has 8 observations/, 'and the fleet says why');
  t.match(logs.join('\n'), /amr-2: policy model refused, the AMR is not started: .*bad\.onnx: input obs shape/, 'in a log line');
  t.ok(vf.amrs.has('amr-1') && vf.amrs.has('amr-3'), 'the other AMRs run');
  t.equal(vf.amrs.get('amr-1')!.policy(), undefined, 'on the analytic motion model');
  t.ok(vf.machines.size > 0, 'and the machines');
});

t.test('closed in the middle of a control tick, the pilot ends its loop and close() resolves', async (t) => {
  const site = policySite(t, (dir) => writeTracker(dir));
  const pilot = await pilotFor(t, site, 20);
  let closing: Promise<void> | undefined;
  let sensed = 0;
  // The gateway closing while the loop is in a tick: the tick then drives nothing, and before the
  // fix the loop went to sleep waiting for a nudge that close() had already given.
  const vehicle = {
    id: 'amr-1',
    sense: () => {
      sensed++;
      closing ??= pilot.close();
      return undefined;
    },
    stopped: () => false,
    act: () => {},
    fault: () => {},
    moving: () => false,
  };
  pilot.attach(site.index.device('amr-1') as Amr, vehicle);
  await until('the first tick', () => closing !== undefined);
  await closing;
  t.equal(sensed, 1, 'the loop ticked once and ended');
});
