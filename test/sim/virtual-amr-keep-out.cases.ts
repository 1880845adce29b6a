// A virtual AMR refuses an order into a keep-out zone, whoever sent it (issue finding 1: it took
// one into booth-in, inside the paint booth): the order is rejected with a VDA 5050 noRoute
// error in its state and it does not start driving. The planner never routes there, so such an
// order comes from someone else. A real broker, the order published raw as an attacker would.
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { startVirtualAmr } from '../../sim/virtual-amr.ts';
import { startAedes } from '../helpers/brokers.ts';
import { until } from '../helpers/wait.ts';

const demo = loadSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
const AMR1 = 'uagv/v2/phygate/amr-1';

interface State {
  orderId: string;
  driving: boolean;
  nodeStates: unknown[];
  lastNodeId: string;
  errors: { errorType: string; errorLevel: string; errorDescription?: string; errorReferences?: { referenceKey: string; referenceValue: string }[] }[];
}

function order(orderId: string, nodes: string[]) {
  const node = (id: string, sequenceId: number) => {
    const n = demo.index.node(id)!;
    return { nodeId: id, sequenceId, released: true, actions: [], nodePosition: { x: n.x, y: n.y, mapId: demo.index.site.mapId } };
  };
  return {
    headerId: 1, timestamp: new Date().toISOString(), version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-1', orderId, orderUpdateId: 0,
    nodes: nodes.map((id, i) => node(id, 2 * i)),
    edges: nodes.slice(1).map((id, i) => ({ edgeId: `${nodes[i]}-${id}`, sequenceId: 2 * i + 1, released: true, startNodeId: nodes[i], endNodeId: id, actions: [] })),
  };
}

t.test('an order into booth-in (keep-out zone paint-booth) is refused with an error in the state; an order beside it is driven', async (t) => {
  const broker = await startAedes(t);
  const amr = await startVirtualAmr({ brokerUrl: broker.url, site: demo.index, graph: demo.graph, amrId: 'amr-1', startNode: 'sa-8', speed: 50, stateIntervalMs: 200 });
  t.teardown(() => amr.close());
  const client = await connectMqtt({ url: broker.url, clientId: `keep-out-${process.pid}` });
  t.teardown(() => closeMqtt(client, true));
  const states: State[] = [];
  client.on('message', (_topic, payload) => states.push(JSON.parse(payload.toString()) as State));
  await client.subscribeAsync(`${AMR1}/state`, { qos: 0 });
  await until('amr-1 reports its state', () => states.length > 0);

  await client.publishAsync(`${AMR1}/order`, JSON.stringify(order('into-the-booth', ['sa-8', 'booth-in'])), { qos: 0 });
  const refused = await until('amr-1 reports the order refused', () => states.find((s) => s.errors.some((e) => e.errorType === 'noRouteError')));
  const error = refused.errors.find((e) => e.errorType === 'noRouteError')!;
  const refs = Object.fromEntries((error.errorReferences ?? []).map((r) => [r.referenceKey, r.referenceValue]));
  t.match(refs, { orderId: 'into-the-booth', edgeId: 'sa-8-booth-in' }, 'the error names the order and the edge');
  t.match(error.errorDescription, "the way from 'sa-8' to 'booth-in' enters keep-out zone 'paint-booth'", 'and the zone');
  t.not(refused.orderId, 'into-the-booth', 'the order was not taken');
  t.same([refused.driving, refused.nodeStates, refused.lastNodeId], [false, [], 'sa-8'], 'it stands on sa-8 with nothing to drive');
  const p = amr.position();
  t.same([p.x, p.y], [24, 4], 'still on sa-8');

  // The same vehicle drives an order that stays outside the zone: the refusal was about the zone.
  await client.publishAsync(`${AMR1}/order`, JSON.stringify(order('beside-the-booth', ['sa-8', 'sa-7'])), { qos: 0 });
  await until('amr-1 arrives at sa-7', () => states.some((s) => s.orderId === 'beside-the-booth' && s.lastNodeId === 'sa-7' && s.nodeStates.length === 0));
  t.pass('the order beside the booth is driven to its end');
});
