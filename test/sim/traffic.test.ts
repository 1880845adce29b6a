// Traffic between robots on the nav graph: who keeps a robot from driving an edge. Only robots on
// nodes near the edge are asked (an index kept up to date as robots enter and leave nodes); the
// answers are those of asking every robot.
import t from 'tap';
import type { NavGraph } from '../../planners/route.ts';
import { Traffic, type TrafficRobot } from '../../sim/traffic.ts';

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
