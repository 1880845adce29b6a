// What the missions benchmark (test/bench/missions.ts) relies on. The vehicles with `orders`
// behave like vehicles: one takes an order, shows it in its state, drives it and finishes it;
// `cancelOrder` makes it drop the order; the others go on publishing without one. The gateway
// setup runs its missions with every step running and every order on its vehicle, and undoing it
// leaves the vehicles without orders. Checked through phygate's own master on a real broker, the
// vehicles in their child process as the bench runs them.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { Vda5050Master } from '../../robots/vda5050/master.ts';
import { DEFAULT_INTERFACE_NAME } from '../../robots/vda5050/topics.ts';
import { startMosquitto } from '../helpers/brokers.ts';
import { until } from '../helpers/wait.ts';
import { AMR_STRIDE, gatewayWith, type MissionsProbe } from './gateway-setup.ts';
import { fleetSite } from './generate.ts';
import type { SetupRun } from './state-ingestor.ts';
import type { FromPublisher, PublisherStart, ToPublisher } from './state-publisher.ts';

/** A broker, the vehicles of fleetSite(n) taking orders at `speed` in their process, and phygate's master. */
async function floor(t: Test, n: number, speed: number) {
  const broker = await startMosquitto(t);
  const site = fleetSite(n);
  const home = site.node('dock-a')!;
  const child = fork(fileURLToPath(new URL('./state-publisher.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  t.teardown(async () => {
    if (child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.disconnect();
    await gone;
  });
  const answer = (m: ToPublisher, type: FromPublisher['type']) =>
    new Promise<FromPublisher>((resolve, reject) => {
      const on = (r: FromPublisher) => {
        if (r.type === 'error') reject(new Error(r.message));
        if (r.type !== type && r.type !== 'error') return;
        child.off('message', on);
        resolve(r);
      };
      child.on('message', on);
      child.send(m);
    });
  const start: PublisherStart = {
    type: 'start',
    url: broker.url,
    interfaceName: DEFAULT_INTERFACE_NAME,
    manufacturer: site.devicesOfKind('amr')[0]!.vda5050.manufacturer,
    serialNumbers: site.devicesOfKind('amr').map((a) => a.vda5050.serialNumber),
    connections: 1,
    hz: 10,
    slots: 2,
    mapId: site.site.mapId,
    node: home.id,
    x: home.x,
    y: home.y,
    orders: { speed },
  };
  const client = await connectMqtt({ url: broker.url, clientId: `test-gateway-${process.pid}` });
  t.teardown(() => closeMqtt(client, true));
  const fleet = new FleetRegistry(site);
  const master = new Vda5050Master({ client, site, fleet });
  t.teardown(() => master.stop());
  await master.start();
  await answer(start, 'started');
  await until('every vehicle online at dock-a', () => fleet.list().filter((d) => d.at === 'dock-a').length === n);
  return { url: broker.url, site, client, fleet, master, answer };
}

t.test('vehicles with orders take, drive, finish and cancel them', async (t) => {
  const { site, fleet, master, answer } = await floor(t, 2, 4);
  t.equal(master.lastState('amr-0001')!.orderId, '', 'no order before one is sent');

  // dock-a → sa-1 → sa-2 → dock-b, 9 m at 4 m/s.
  const order = await master.sendOrder('amr-0001', { route: ['dock-a', 'sa-1', 'sa-2', 'dock-b'] });
  const running = await until('the vehicle shows the order', () => {
    const p = master.progress('amr-0001');
    return p?.orderId === order.orderId && p.remainingNodes.length > 0 ? p : undefined;
  });
  t.ok(running.remainingNodes.includes('dock-b'), 'the nodes ahead are in its state');
  const finished = await until('the order is finished', () => (master.progress('amr-0001')?.finished ? master.progress('amr-0001') : undefined), 10_000);
  t.equal(finished!.lastNodeId, 'dock-b', 'it ends at the last node');
  const dockB = site.node('dock-b')!;
  t.same(fleet.get('amr-0001')!.pose && { x: fleet.get('amr-0001')!.pose!.x, y: fleet.get('amr-0001')!.pose!.y }, { x: dockB.x, y: dockB.y }, 'and stands there');
  t.equal(master.lastState('amr-0002')!.orderId, '', 'the other vehicle has no order');

  // A route of 12.8 m: cancelled on the way.
  const long = await master.sendOrder('amr-0002', { route: ['dock-a', 'sa-1', 'sa-2', 'sa-3', 'shelf-1'] });
  await until('amr-0002 drives its order', () => master.progress('amr-0002')?.orderId === long.orderId);
  await master.instantAction('amr-0002', 'cancelOrder');
  const cancelled = await until('the order is cancelled', () => (master.progress('amr-0002')?.cancelled ? master.progress('amr-0002') : undefined));
  t.equal(cancelled!.finished, false, 'a cancelled order is not finished');
  t.same(master.lastState('amr-0002')!.nodeStates, [], 'no nodes left ahead');
  t.equal(fleet.get('amr-0002')!.state, 'idle', 'the vehicle stands idle');

  const count = await answer({ type: 'count' }, 'count');
  t.match(count, { orders: { taken: 2, finished: 1, cancelled: 1 } }, 'the vehicles count what they did');
  await answer({ type: 'stop' }, 'stopped');
});

t.test('the gateway setup runs its missions until it is undone', async (t) => {
  const missions = 3;
  const { url, site, client, fleet, master, answer } = await floor(t, missions * AMR_STRIDE, 0.05);
  const run = (await gatewayWith(missions)({ kind: 'phygate', url, site, client, fleet, master })) as SetupRun;
  const probe = run.probe!() as MissionsProbe;
  t.same(probe.missions, { running: missions }, 'every mission runs');
  t.same(probe.steps, { running: missions }, 'with its step running');
  t.equal(probe.ordersOnVehicles, missions, 'and its order on its vehicle');
  const amrs = ['amr-0001', 'amr-0011', 'amr-0021'];
  t.ok(amrs.every((a) => /\.go\.0\.[0-9a-f]{32}$/.test(master.lastState(a)!.orderId)), 'the AMRs the missions name drive their orders');
  t.equal(master.lastState('amr-0002')!.orderId, '', 'the others have none');
  await run.undo!();
  t.ok(amrs.every((a) => master.lastState(a)!.nodeStates.length === 0), 'undone: the vehicles dropped their orders');
  const count = await answer({ type: 'count' }, 'count');
  t.match(count, { orders: { taken: missions, cancelled: missions } }, 'each was told to cancel its order');
  await answer({ type: 'stop' }, 'stopped');
});
