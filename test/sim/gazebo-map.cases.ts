// `phygate map`: the occupancy map is the checker's hall. Every occupied cell overlaps an
// obstacle of the world (asked of the collision engine, not of the rasteriser), every cell whose
// centre lies in an obstacle is occupied, every station and nav-graph node stands free with the
// footprint's clearance, and the filter masks hold the keep-out and slow zones.
import t, { type Test } from 'tap';
import { fileURLToPath } from 'node:url';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { buildMapFiles, drivingObstacles, FREE_PIXEL, insidePolygon, OCCUPIED_PIXEL, overlapsSquare, readPgm, SPEED_MASK_MULTIPLIER, type Grid } from '../../sim/gazebo/map.ts';
import { createCollisionWorld } from '../../sim/world/collision.ts';
import type { Obstacle } from '../../sim/world/sdf.ts';
import { DEFAULT_CLEARANCE } from '../../sim/world/validate.ts';

const demo = loadSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url)));
const site = demo.index.site;
const world = await createCollisionWorld(demo.world.obstacles);
t.teardown(() => world.free());

const cellCentre = (g: Grid, i: number, j: number) => ({ x: g.originX + (i + 0.5) * g.resolution, y: g.originY + (j + 0.5) * g.resolution });

function occupiedOf(t: Test, resolution: number): Grid {
  const { files } = buildMapFiles(site, demo.world.obstacles, resolution);
  // Read back from the PGM as map_server would: the file is what Nav2 gets.
  const pgm = readPgm(files.get('map.pgm') as Buffer, resolution);
  t.same([...new Set(pgm.cells)].sort((a, b) => a - b), [OCCUPIED_PIXEL, FREE_PIXEL], `${resolution} m: only occupied and free pixels`);
  return { ...pgm, cells: pgm.cells.map((p) => (p === OCCUPIED_PIXEL ? 1 : 0)) };
}

for (const resolution of [0.05, 0.1]) {
  t.test(`${resolution} m: every occupied cell overlaps an obstacle, every obstacle's cells are occupied`, async (t) => {
    const g = occupiedOf(t, resolution);
    t.equal(g.originX, 0);
    // The far walls' outer faces: the hall is 30 × 20 m, walls 0.2 m thick centred on its outline.
    t.equal(g.width, Math.ceil(30.1 / resolution - 1e-9));
    t.equal(g.height, Math.ceil(20.1 / resolution - 1e-9));
    let occupied = 0;
    let stray = 0;
    let missed = 0;
    for (let j = 0; j < g.height; j++) {
      for (let i = 0; i < g.width; i++) {
        const { x, y } = cellCentre(g, i, j);
        const cell = g.cells[j * g.width + i]!;
        if (cell) {
          occupied++;
          // The cell as a box of its own size: Rapier says whether it touches an obstacle.
          if (world.footprintHits(x, y, 0, { length: resolution, width: resolution }).length === 0) stray++;
        } else if (world.circleHits(x, y, 1e-4).length > 0) missed++;
      }
    }
    t.ok(occupied > 1000, `${occupied} occupied cells`);
    t.equal(stray, 0, 'no occupied cell without an obstacle');
    t.equal(missed, 0, 'no free cell whose centre is in an obstacle');
  });
}

t.test('the obstacles counted are the checker\'s: the mezzanine overhead is not in the map, the lift is', async (t) => {
  const counted = new Set(drivingObstacles(demo.world.obstacles).map((o) => o.model));
  t.same(counted, new Set(world.obstacles.map((o) => o.model)), 'the same models as the collision world');
  t.notOk(counted.has('mezzanine'));
  const g = occupiedOf(t, 0.1);
  const at = (x: number, y: number) => g.cells[Math.floor(y / 0.1) * g.width + Math.floor(x / 0.1)];
  t.equal(at(27.45, 17), 0, 'under the mezzanine is free');
  t.equal(at(26, 18.9), 1, 'the lift is occupied');
  t.equal(at(6, 7), 1, 'a pillar is occupied');
});

t.test('a thin wall between cell centres is still in the map (cells it partly covers are occupied)', async (t) => {
  const wall: Obstacle = { model: 'w', link: 'l', collision: 'c', shape: { kind: 'box', hx: 0.02, hy: 1 }, x: 1.05, y: 1, yaw: 0, zMin: 0, zMax: 1, static: true };
  // Centres at 0.95 and 1.15: the 0.04 m wall at x 1.03–1.07 holds neither, and overlaps the cell [1.0, 1.1].
  t.ok(overlapsSquare(wall, 1.05, 0.5, 0.05));
  t.notOk(overlapsSquare(wall, 0.95, 0.5, 0.05), 'the cell beside it is free');
  t.notOk(overlapsSquare({ ...wall, x: 1.12 }, 1.05, 0.5, 0.05), 'touching a cell border is not overlapping it');
  const rotated: Obstacle = { ...wall, yaw: Math.PI / 4, x: 0, y: 0, shape: { kind: 'box', hx: 1, hy: 0.01 } };
  t.ok(overlapsSquare(rotated, 0.3, 0.3, 0.05), 'a diagonal wall through the cell');
  t.notOk(overlapsSquare(rotated, 0.3, -0.3, 0.05), 'not a cell off its line');
  const pillar: Obstacle = { ...wall, shape: { kind: 'circle', r: 0.1 }, x: 0, y: 0 };
  t.ok(overlapsSquare(pillar, 0.12, 0.12, 0.05));
  t.notOk(overlapsSquare(pillar, 0.2, 0.2, 0.05), "the corner of the cell is 0.15·√2 away");
});

/**
 * The robot at a node as the site check places it (sim/world/validate.ts): parked at the station's
 * heading at a station node, else the disc it sweeps turning in place; grown by `margin`.
 */
function robotAt(nodeId: string, margin: number): Obstacle {
  const node = demo.index.node(nodeId)!;
  const station = site.stations.find((s) => s.node === nodeId);
  const fp = demo.index.devicesOfKind('amr')[0]!.footprint;
  const base = { model: 'robot', link: 'l', collision: 'c', x: node.x, y: node.y, zMin: 0, zMax: 1, static: false };
  return station
    ? { ...base, yaw: station.theta, shape: { kind: 'box', hx: fp.length / 2 + margin, hy: fp.width / 2 + margin } }
    : { ...base, yaw: 0, shape: { kind: 'circle', r: Math.hypot(fp.length / 2, fp.width / 2) + margin } };
}

for (const resolution of [0.02, 0.05]) {
  t.test(`${resolution} m: every station and nav-graph node is free with the footprint's clearance`, async (t) => {
    const g = occupiedOf(t, resolution);
    // An occupied cell lies within one cell diagonal of an obstacle, and the site check keeps
    // DEFAULT_CLEARANCE between robot and obstacles: so the robot grown by what is left is clear.
    const margin = Math.max(0, DEFAULT_CLEARANCE - resolution * Math.SQRT2);
    for (const node of site.nodes) {
      const robot = robotAt(node.id, margin);
      let blocked = 0;
      // The cells within 1 m of the node (the robot reaches 0.55 m).
      const [i0, j0] = [Math.max(0, Math.floor((robot.x - 1) / resolution)), Math.max(0, Math.floor((robot.y - 1) / resolution))];
      const [i1, j1] = [Math.min(g.width - 1, Math.floor((robot.x + 1) / resolution)), Math.min(g.height - 1, Math.floor((robot.y + 1) / resolution))];
      for (let j = j0; j <= j1; j++) {
        for (let i = i0; i <= i1; i++) {
          if (!g.cells[j * g.width + i]) continue;
          const { x, y } = cellCentre(g, i, j);
          if (overlapsSquare(robot, x, y, resolution / 2)) blocked++;
        }
      }
      t.equal(blocked, 0, `${node.id}: free (+${margin.toFixed(3)} m)`);
    }
    // And the test does find a robot placed on an obstacle: at cnc-1's station, 1 m north.
    const onCnc = { ...robotAt('cnc-1', margin), y: 14.4 };
    const hits = [...g.cells.keys()].filter((k) => g.cells[k] && overlapsSquare(onCnc, cellCentre(g, k % g.width, Math.floor(k / g.width)).x, cellCentre(g, k % g.width, Math.floor(k / g.width)).y, resolution / 2));
    t.ok(hits.length > 0, 'a robot inside the CNC is not free');
  });
}

t.test('the keepout mask holds the keep-out zones, the speed mask the slow zones; nodes read as the route planner sees them', async (t) => {
  const resolution = 0.05;
  const { files } = buildMapFiles(site, demo.world.obstacles, resolution);
  const keepout = readPgm(files.get('keepout.pgm') as Buffer, resolution);
  const speed = readPgm(files.get('speed.pgm') as Buffer, resolution);
  const at = (g: Grid, x: number, y: number) => g.cells[Math.floor(y / resolution) * g.width + Math.floor(x / resolution)];
  for (const node of site.nodes) {
    const inKeepOut = site.zones.some((z) => z.kind === 'keep-out' && insidePolygon(node.x, node.y, z.polygon));
    t.equal(at(keepout, node.x, node.y), inKeepOut ? 100 : 0, `${node.id} keepout`);
    const limits = site.zones.flatMap((z) => (z.kind === 'slow' && insidePolygon(node.x, node.y, z.polygon) ? [z.maxSpeed] : []));
    const expected = limits.length === 0 ? 0 : Math.round(Math.min(...limits) / SPEED_MASK_MULTIPLIER);
    t.equal(at(speed, node.x, node.y), expected, `${node.id} speed`);
  }
  t.equal(at(keepout, 27.5, 4), 100, 'booth-in lies in the paint booth keep-out zone');
  t.equal(at(speed, 9.75, 15)! * SPEED_MASK_MULTIPLIER, 0.5, 'the walkway: 0.5 m/s');
  t.equal(at(speed, 12, 15), 0, 'beside it: no limit');
  let cells = 0;
  for (let k = 0; k < speed.cells.length; k++) if (speed.cells[k]) cells++;
  // The walkway is 1.5 × 8.8 m.
  t.ok(Math.abs(cells * resolution * resolution - 1.5 * 8.8) < 0.2, `${cells} slow cells`);
});

t.test('a resolution out of range is refused', async (t) => {
  t.throws(() => buildMapFiles(site, demo.world.obstacles, 0), /above 0 and at most 1 m, not 0/);
  t.throws(() => buildMapFiles(site, demo.world.obstacles, Number.NaN), /not NaN/);
});
