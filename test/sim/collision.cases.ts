// The 2D collision world: a robot's footprint at a pose, and driven along a straight line.
import t, { type Test } from 'tap';
import { createCollisionWorld, type CollisionWorld } from '../../sim/world/collision.ts';
import type { Obstacle } from '../../sim/world/sdf.ts';

const robot = { length: 0.8, width: 0.6 };

function obstacle(model: string, shape: Obstacle['shape'], x = 0, y = 0, extra: Partial<Obstacle> = {}): Obstacle {
  return { model, link: 'body', collision: 'c', shape, x, y, yaw: 0, zMin: 0, zMax: 1, static: true, ...extra };
}

async function worldOf(t: Test, obstacles: Obstacle[]): Promise<CollisionWorld> {
  const w = await createCollisionWorld(obstacles);
  t.teardown(() => w.free());
  return w;
}

for (const [what, shape] of [
  ['a 1 m box', { kind: 'box', hx: 0.5, hy: 0.5 }],
  ['a cylinder of radius 0.5 m', { kind: 'circle', r: 0.5 }],
] as const) {
  t.test(`${what} at the origin`, async (t) => {
    const w = await worldOf(t, [obstacle('thing', shape)]);
    t.same(w.footprintHits(0, 0, 0, robot), ['thing'], 'a robot on top of it');
    t.same(w.footprintHits(2, 0, 0, robot), [], '2 m away');
    t.same(w.sweepHits({ x: -3, y: 0 }, { x: 3, y: 0 }, robot), ['thing'], 'driving through it');
    t.same(w.sweepHits({ x: -3, y: 2 }, { x: 3, y: 2 }, robot), [], 'driving past it 2 m north');
    t.same(w.sweepHits({ x: 3, y: 0 }, { x: -3, y: 0 }, robot), ['thing'], 'either way');
  });
}

t.test('the margin grows the footprint on every side', async (t) => {
  const w = await worldOf(t, [obstacle('box', { kind: 'box', hx: 0.5, hy: 0.5 })]);
  // Robot centre 1 m east facing east: its back edge is at x 0.6, the box ends at 0.5.
  t.same(w.footprintHits(1, 0, 0, robot), []);
  t.same(w.footprintHits(1, 0, 0, robot, 0.15), ['box']);
  // Facing north the robot is 0.6 m wide in x: its west edge is at x 0.7.
  t.same(w.footprintHits(1, 0, Math.PI / 2, robot, 0.15), []);
  // Driving past 0.9 m north of the box's centre: the robot's side is at y 0.6.
  t.same(w.sweepHits({ x: -3, y: 0.9 }, { x: 3, y: 0.9 }, robot), []);
  t.same(w.sweepHits({ x: -3, y: 0.9 }, { x: 3, y: 0.9 }, robot, 0.15), ['box']);
});

t.test('a sweep covers both end poses: stopping short of an obstacle is clear, overrunning it is not', async (t) => {
  const w = await worldOf(t, [obstacle('wall', { kind: 'box', hx: 0.1, hy: 2 }, 5, 0)]);
  t.same(w.sweepHits({ x: 0, y: 0 }, { x: 4.4, y: 0 }, robot), [], 'front at x 4.8, wall from 4.9');
  t.same(w.sweepHits({ x: 0, y: 0 }, { x: 4.6, y: 0 }, robot), ['wall'], 'front at x 5.0');
  t.same(w.sweepHits({ x: 0, y: 0 }, { x: 10, y: 0 }, robot), ['wall'], 'through a thin wall between the ends');
  t.same(w.sweepHits({ x: 1, y: -3 }, { x: 9, y: 3 }, robot), ['wall'], 'diagonally');
  t.same(w.sweepHits({ x: 4.4, y: 0 }, { x: 4.4, y: 0 }, robot), [], 'a zero-length sweep is the footprint');
  t.same(w.sweepHits({ x: 4.6, y: 0 }, { x: 4.6, y: 0 }, robot), ['wall']);
});

t.test('every obstacle on the way is reported, once, by model name', async (t) => {
  const w = await worldOf(t, [
    obstacle('b', { kind: 'circle', r: 0.2 }, 2, 0),
    obstacle('a', { kind: 'box', hx: 0.2, hy: 0.2 }, 4, 0),
    obstacle('a', { kind: 'box', hx: 0.2, hy: 0.2 }, 5, 0),
    obstacle('far', { kind: 'box', hx: 0.2, hy: 0.2 }, 4, 3),
  ]);
  t.same(w.sweepHits({ x: 0, y: 0 }, { x: 8, y: 0 }, robot), ['a', 'b']);
  t.same(w.circleHits(4, 1.5, 1.35), ['a', 'far']);
  t.same(w.circleHits(4, 1.5, 1), []);
});

t.test('only obstacles between the floor and robot height count', async (t) => {
  const w = await worldOf(t, [
    obstacle('deck', { kind: 'box', hx: 5, hy: 5 }, 0, 0, { zMin: 3, zMax: 3.2 }),
    obstacle('beam', { kind: 'box', hx: 5, hy: 0.1 }, 0, 0, { zMin: 1.8, zMax: 2 }),
    obstacle('slab', { kind: 'box', hx: 50, hy: 50 }, 0, 0, { zMin: -0.2, zMax: 0 }),
    obstacle('table', { kind: 'box', hx: 0.5, hy: 0.5 }, 0, 0, { zMin: 0.7, zMax: 0.75 }),
  ]);
  t.same(w.obstacles.map((o) => o.model), ['table']);
  t.same(w.footprintHits(0, 0, 0, robot), ['table']);
  const tall = await createCollisionWorld(w.obstacles, { robotHeight: 0.5 });
  t.teardown(() => tall.free());
  t.same(tall.footprintHits(0, 0, 0, robot), [], 'a low robot drives under the table');
});

t.test('a freed world says so instead of touching released memory', async (t) => {
  const w = await createCollisionWorld([obstacle('x', { kind: 'circle', r: 1 })]);
  w.free();
  w.free();
  t.throws(() => w.footprintHits(0, 0, 0, robot), /already freed/);
});
