// Traffic between robots on the nav graph: who keeps a robot from driving an edge. Only robots on
// nodes near the edge are asked (an index kept up to date as robots enter and leave nodes); the
// answers are those of asking every robot.
import t from 'tap';
import type { NavGraph } from '../../planners/route.ts';
import { TRAFFIC_CLEARANCE, Traffic, type TrafficRobot } from '../../sim/traffic.ts';
import { generateSite, prepareSite } from '../bench/generate.ts';

/** A straight line of nodes along x: a at 0, b at 5, d at 8, c at 10, far at 100 (metres). */
const graph: NavGraph = {
  points: new Map([
    ['a', [0, 0]],
    ['b', [5, 0]],
    ['d', [8, 0]],
    ['c', [10, 0]],
    ['far', [100, 0]],
  ]),
  arcs: new Map(),
  keepOutZones: [],
};
const robot = (id: string, radius: number, at: string): TrafficRobot => ({ id, radius, occupied: new Set([at]) });

t.test('a robot blocks an edge only while it occupies a node near it; entering and leaving keep the index true', async (t) => {
  const traffic = new Traffic(graph);
  const mover = robot('amr-1', 0.5, 'a');
  const other = robot('amr-2', 0.5, 'c');
  traffic.add(mover);
  traffic.add(other);
  t.equal(traffic.blocker(mover, 'a', 'b'), undefined, 'amr-2 at c is 5 m from b: the way is clear');
  traffic.enter(other, 'b');
  t.equal(traffic.blocker(mover, 'a', 'b'), 'amr-2', 'driving into b, amr-2 occupies it');
  t.same([...other.occupied].sort(), ['b', 'c']);
  traffic.leave(other, 'b');
  t.equal(traffic.blocker(mover, 'a', 'b'), undefined, 'gone from b, it blocks no more');
  t.same([...other.occupied], ['c']);
  t.same([...traffic.occupiedNodes('amr-1')], ['c']);
});

t.test('a robot added later with a larger footprint is asked too, though the edge was asked about before', async (t) => {
  const traffic = new Traffic(graph);
  const mover = robot('amr-1', 0.5, 'a');
  traffic.add(mover);
  t.equal(traffic.blocker(mover, 'a', 'b'), undefined);
  const big = robot('big', 3, 'd');
  traffic.add(big);
  t.equal(traffic.blocker(mover, 'a', 'b'), 'big', 'its 3 m radius reaches b from d (3 m away)');
});

t.test('of several robots in the way, the lowest id answers, whatever the order they came in', async (t) => {
  for (const order of [['amr-3', 'amr-2'], ['amr-2', 'amr-3']]) {
    const traffic = new Traffic(graph);
    const mover = robot('amr-9', 0.5, 'a');
    traffic.add(mover);
    for (const id of order) traffic.add(robot(id, 0.5, 'b'));
    t.equal(traffic.blocker(mover, 'a', 'b'), 'amr-2', `added ${order.join(', ')}`);
  }
  const traffic = new Traffic(graph);
  const mover = robot('amr-1', 0.5, 'b');
  traffic.add(mover);
  traffic.add(robot('amr-2', 0.5, 'a'));
  t.equal(traffic.blocker(mover, 'b', 'c'), undefined, 'a robot may always drive away from another');
  t.equal(traffic.blocker(mover, 'b', 'a'), 'amr-2', 'but not into it');
});

t.test('on a large hall the nodes near an edge and the robots near a point are found in the cells around them: the same as a scan of the whole graph', async (t) => {
  const graph = prepareSite(generateSite(50)).graph;
  const ids = [...graph.points.keys()];
  const radius = 0.5;
  const reach = 2 * radius + TRAFFIC_CLEARANCE;
  const traffic = new Traffic(graph);
  // Every tenth node has a robot on it.
  const robots = ids.filter((_, k) => k % 10 === 0).map((at, k) => robot(`amr-${String(k).padStart(3, '0')}`, radius, at));
  for (const r of robots) traffic.add(r);
  let edges = 0;
  for (const [from, arcs] of graph.arcs) {
    for (const arc of arcs) {
      const a = graph.points.get(from)!;
      const b = graph.points.get(arc.to)!;
      const scan = ids.filter((id) => id === arc.to || segmentDistance(graph.points.get(id)!, a, b) < reach);
      if (JSON.stringify(traffic.nodesNearEdge(from, arc.to)) !== JSON.stringify(scan)) t.fail(`${from} → ${arc.to}: ${traffic.nodesNearEdge(from, arc.to)} against ${scan}`);
      edges++;
    }
  }
  t.ok(edges > 500, `${edges} edges compared`);
  let near = 0;
  for (const id of ids) {
    const p = graph.points.get(id)!;
    const found = new Set(traffic.robotsNear(p, radius).map((r) => r.id));
    const scan = robots.filter((r) => [...r.occupied].some((n) => Math.hypot(p[0] - graph.points.get(n)![0], p[1] - graph.points.get(n)![1]) < radius + r.radius + TRAFFIC_CLEARANCE));
    for (const r of scan) if (!found.has(r.id)) t.fail(`${r.id} near ${id} not found`);
    near += scan.length;
  }
  t.ok(near > 30, `${near} robot–node pairs within reach, all found`);
  t.same(traffic.robotsNear([-1000, -1000], radius), [], 'nothing near a point far off the hall');
});

function segmentDistance(p: readonly number[], a: readonly number[], b: readonly number[]): number {
  const dx = b[0]! - a[0]!;
  const dy = b[1]! - a[1]!;
  const len2 = dx * dx + dy * dy;
  const u = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0]! - a[0]!) * dx + (p[1]! - a[1]!) * dy) / len2));
  return Math.hypot(p[0]! - (a[0]! + u * dx), p[1]! - (a[1]! + u * dy));
}
