// kill -9 of the gateway while two AMRs drive, end to end (test/gateway/traffic-floor.ts): the
// reservations are in the SQLite file — every node held once, the node each AMR stands on held by
// it — and the gateway restarted on the same data folder takes them over: both missions go on to
// succeeded and no two robots are ever on one node.
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import mqtt from 'mqtt';
import t from 'tap';
import { DATABASE_FILE } from '../../gateway/store/database.ts';
import { until } from '../helpers/wait.ts';
import { assertApart, startFloor, type Mission } from './traffic-floor.ts';

t.setTimeout(240_000);

const navigate = (device: string, to: string) => ({ schema: 'phygate.plan/v1', name: `${device}-to-${to}`, steps: [{ id: 'go', action: 'navigate', device, params: { to } }] });

t.test('SIGKILL of the gateway while amr-1 and amr-2 drive: the holds survive in the file, and the restarted gateway carries both missions to succeeded', async (t) => {
  const floor = await startFloor(t, 5);
  // The node each AMR last reported, straight from the broker: the gateway is dead for a while.
  const lastNode = new Map<string, string>();
  const client = await mqtt.connectAsync(floor.broker.url, { clientId: `traffic-kill-${process.pid}` });
  t.teardown(() => client.endAsync(true));
  await client.subscribeAsync('uagv/v2/+/+/state', { qos: 0 });
  client.on('message', (_topic, payload) => {
    const s = JSON.parse(payload.toString()) as { serialNumber: string; lastNodeId: string };
    lastNode.set(s.serialNumber, s.lastNodeId);
  });

  const ids: string[] = [];
  for (const plan of [navigate('amr-1', 'shelf-3'), navigate('amr-2', 'cnc-1')]) {
    const sub = await floor.submit(plan);
    if (sub.status !== 201) return t.fail(`${plan.name} passes: ${JSON.stringify(sub.json.details?.report?.issues ?? sub.json)}`);
    t.equal((await floor.approve(sub.json)).status, 200, `${plan.name} approved`);
    ids.push(sub.json.id as string);
  }
  await until(
    'amr-1 and amr-2 both on their way',
    () => {
      const last = floor.watch.samples.at(-1)?.traffic ?? [];
      return ['amr-1', 'amr-2'].every((id) => (last.find((d) => d.id === id)?.path?.reached ?? 0) >= 1);
    },
    60_000,
  );

  floor.gateway.child.kill('SIGKILL');
  t.same(await floor.gateway.exited, { code: null, signal: 'SIGKILL' }, 'killed mid-run');
  const killedAt = floor.watch.samples.length;
  // The robots drive on to the end of what was granted and stop there: let them report it.
  await new Promise((r) => setTimeout(r, 3_000));
  const db = new Sqlite(join(floor.dataDir, DATABASE_FILE), { fileMustExist: true, readonly: true });
  const holds = db.prepare('SELECT node, device FROM traffic_holds').all() as { node: string; device: string }[];
  const paths = db.prepare('SELECT device, mission_id FROM traffic_paths ORDER BY device').all() as { device: string; mission_id: string }[];
  db.close();
  const nodes = holds.map((h) => h.node);
  t.equal(new Set(nodes).size, nodes.length, `every node held once: ${holds.map((h) => `${h.node}:${h.device}`).join(', ')}`);
  for (const amr of ['amr-1', 'amr-2', 'amr-3']) {
    const at = lastNode.get(amr);
    t.ok(at && holds.some((h) => h.node === at && h.device === amr), `${amr} stands at '${at}', which it holds`);
  }
  t.same(paths.map((p) => [p.device, p.mission_id]), [['amr-1', ids[0]], ['amr-2', ids[1]]], 'both routes are in the file');

  await floor.restart();
  const done: Mission[] = await Promise.all(ids.map((id) => floor.over(id)));
  await floor.watch.stop();
  t.same(done.map((m) => m.status), ['succeeded', 'succeeded'], 'after the restart both missions go on to succeeded');
  const after = floor.watch.samples.slice(killedAt);
  t.ok(after.length > 0, `sampled after the restart (${after.length})`);
  const shared = after.flatMap((s) => {
    const at = Object.entries(s.poses).flatMap(([id, p]) => (p.at ? [`${p.at}`] : []));
    return at.length === new Set(at).size ? [] : [`${JSON.stringify(s.poses)} @ ${s.ms}`];
  });
  t.same(shared, [], 'no two robots on one node after the restart');
  t.comment(`polls missed while the gateway was down: ${floor.watch.missed}`);
  assertApart(t, floor.watch);
});
