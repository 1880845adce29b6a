// After a STOP between two nodes, a virtual AMR resumes from where it stands, along its edge: the
// gateway's resumed order starts at the edge's first node (behind it) with a deviation that covers
// the AMR (gateway/execution/work-request.ts, routeFrom); the AMR must not jump back to that node.
// Real Mosquitto, the real master, a virtual AMR; every pose it reports after the resume is read.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { findRoute } from '../../planners/route.ts';
import type { Amr } from '../../planners/site.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { Vda5050Master, type OrderProgress } from '../../robots/vda5050/master.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { NODE_TOLERANCE_M } from '../../robots/vda5050/vehicle-checks.ts';
import { startVirtualAmr } from '../../sim/virtual-amr.ts';
import { startMosquitto } from '../helpers/brokers.ts';
import { recordingLog, type LogLine } from '../helpers/log.ts';

const demo = loadSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
const amr1 = demo.index.device('amr-1') as Amr;

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('a virtual AMR stopped between two nodes drives on along its edge, not from the edge start', async (t) => {
  const broker = await startMosquitto(t);
  const fleet = new FleetRegistry(demo.index);
  const client = await connectMqtt({ url: broker.url, clientId: `resume-master-${process.pid}` });
  t.teardown(() => closeMqtt(client, true));
  const logs: LogLine[] = [];
  const master = new Vda5050Master({ client, site: demo.index, fleet, graph: demo.graph, log: recordingLog(logs) });
  await master.start();
  t.teardown(() => master.stop());
  const progress: OrderProgress[] = [];
  master.onOrderProgress((p) => progress.push(p));
  const amr = await startVirtualAmr({ brokerUrl: broker.url, site: demo.index, graph: demo.graph, amrId: 'amr-1', startNode: 'dock-a', speed: 10, visualizationIntervalMs: 50 });
  t.teardown(() => amr.close());
  const state = () => fleet.get('amr-1')!;
  await until('amr-1 is online with a pose', () => state().online && state().pose !== undefined);

  const found = findRoute(demo.graph, 'dock-a', 'shelf-1', amr1.limits, { start: demo.index.station('dock-a')!.theta, end: demo.index.station('shelf-1')!.theta });
  if (!found.ok) throw new Error('no route dock-a → shelf-1');
  const route = found.route.nodes;
  const offNodes = () => Math.min(...route.map((id) => Math.hypot(amr.position().x - demo.index.node(id)!.x, amr.position().y - demo.index.node(id)!.y)));
  await master.sendOrder('amr-1', { route, actionsAtEnd: ['pick'] });
  // STOP well between two nodes, so the halt cannot land on one.
  await until('amr-1 is mid-edge', () => offNodes() > 0.5);
  await master.stopVehicle('amr-1');
  await until('the order is cancelled', () => progress.at(-1)?.cancelled === true);
  const held = amr.position();
  const at = state().at!;
  const next = route[route.indexOf(at) + 1]!;
  const from = demo.index.node(at)!;
  const off = Math.hypot(held.x - from.x, held.y - from.y);
  t.ok(off > NODE_TOLERANCE_M, `halted ${off.toFixed(2)} m past its last node ${at}, on the way to ${next}`);
  await master.instantAction('amr-1', 'stopPause');
  await until('released', () => state().paused === false);

  // The gateway's resumed order: from the last node, with a deviation covering where it stands.
  const poses: { x: number; y: number }[] = [];
  const record = setInterval(() => poses.push(amr.position()), 5);
  t.teardown(() => clearInterval(record));
  const resumed = await master.sendOrder('amr-1', { route: route.slice(route.indexOf(at)), actionsAtEnd: ['pick'], startDeviationXY: off + NODE_TOLERANCE_M });
  await until('the resumed order finishes', () => progress.at(-1)?.orderId === resumed.orderId && progress.at(-1)!.finished === true);
  clearInterval(record);
  const back = Math.min(...poses.map((p) => Math.hypot(p.x - from.x, p.y - from.y)));
  t.ok(back >= off - 1e-6, `it never came back towards ${at}: closest ${back.toFixed(3)} m, halted at ${off.toFixed(3)} m`);
  const shelf = demo.index.node('shelf-1')!;
  t.ok(Math.hypot(amr.position().x - shelf.x, amr.position().y - shelf.y) < 1e-6, 'it ends on shelf-1');
});
