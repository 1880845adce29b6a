// The Nav2 occupancy map and the costmap filter masks of a site, rasterised from the same
// obstacles the plan check reads (sim/world/sdf.ts, filtered as sim/world/collision.ts does), so
// Nav2 and the check see the same hall.
import type { Site, Zone } from '../../planners/site.ts';
import { DEFAULT_ROBOT_HEIGHT } from '../world/collision.ts';
import type { Obstacle } from '../world/sdf.ts';

export const DEFAULT_MAP_RESOLUTION = 0.05;

/**
 * Speed mask cells hold the zone's limit as `value × SPEED_MASK_MULTIPLIER` m/s (Nav2's absolute
 * speed filter, type 2); 0 means no limit, so the highest limit a cell can hold is 1 m/s.
 */
export const SPEED_MASK_MULTIPLIER = 0.01;

export interface Grid {
  resolution: number;
  /** Cells along x and y; cell (i, j) spans [i·res, (i+1)·res) × [j·res, (j+1)·res) from the origin. */
  width: number;
  height: number;
  /** World position of the grid's south-west corner: the site's origin. */
  originX: number;
  originY: number;
  /** Row-major from the south row up: cells[j * width + i]. */
  cells: Uint8Array;
}

/** The obstacles a robot can hit: under its top and above the floor, as the collision world counts them. */
export function drivingObstacles(obstacles: readonly Obstacle[], robotHeight = DEFAULT_ROBOT_HEIGHT): Obstacle[] {
  return obstacles.filter((o) => o.zMin < robotHeight && o.zMax > 0);
}

/**
 * The grid covering the site from its origin to the farthest obstacle, node or zone. Cells west
 * or south of the origin are not in the map (the hall's origin is its south-west corner).
 */
export function gridFor(site: Site, obstacles: readonly Obstacle[], resolution: number): Grid {
  let maxX = 0;
  let maxY = 0;
  for (const o of obstacles) {
    const [, x1, , y1] = bounds(o);
    maxX = Math.max(maxX, x1);
    maxY = Math.max(maxY, y1);
  }
  for (const n of site.nodes) {
    maxX = Math.max(maxX, n.x);
    maxY = Math.max(maxY, n.y);
  }
  for (const z of site.zones) for (const [x, y] of z.polygon) [maxX, maxY] = [Math.max(maxX, x), Math.max(maxY, y)];
  const width = Math.max(1, Math.ceil(maxX / resolution - 1e-9));
  const height = Math.max(1, Math.ceil(maxY / resolution - 1e-9));
  return { resolution, width, height, originX: 0, originY: 0, cells: new Uint8Array(width * height) };
}

/** Axis-aligned bounds [x0, x1, y0, y1] of an obstacle seen from above. */
export function bounds(o: Obstacle): [number, number, number, number] {
  if (o.shape.kind === 'circle') return [o.x - o.shape.r, o.x + o.shape.r, o.y - o.shape.r, o.y + o.shape.r];
  const c = Math.abs(Math.cos(o.yaw));
  const s = Math.abs(Math.sin(o.yaw));
  const ex = o.shape.hx * c + o.shape.hy * s;
  const ey = o.shape.hx * s + o.shape.hy * c;
  return [o.x - ex, o.x + ex, o.y - ey, o.y + ey];
}

// Touching is not overlapping: a wall whose face lies on a cell border leaves that cell free.
const TOUCH = 1e-9;

/**
 * Whether an obstacle overlaps the axis-aligned square centred at (cx, cy) with half-side h.
 * A cell that an obstacle covers only in part is occupied: a thin wall is never lost between
 * cell centres, so Nav2 never plans through something the check would hit.
 */
export function overlapsSquare(o: Obstacle, cx: number, cy: number, h: number): boolean {
  if (o.shape.kind === 'circle') {
    const dx = Math.max(Math.abs(o.x - cx) - h, 0);
    const dy = Math.max(Math.abs(o.y - cy) - h, 0);
    return dx * dx + dy * dy < (o.shape.r - TOUCH) ** 2;
  }
  // Separating axes of two rectangles: the square's x and y, and the box's own two axes.
  const c = Math.cos(o.yaw);
  const s = Math.sin(o.yaw);
  const dx = o.x - cx;
  const dy = o.y - cy;
  const { hx, hy } = o.shape;
  if (Math.abs(dx) >= h + hx * Math.abs(c) + hy * Math.abs(s) - TOUCH) return false;
  if (Math.abs(dy) >= h + hx * Math.abs(s) + hy * Math.abs(c) - TOUCH) return false;
  const squareOnAxis = h * (Math.abs(c) + Math.abs(s));
  if (Math.abs(dx * c + dy * s) >= hx + squareOnAxis - TOUCH) return false;
  if (Math.abs(-dx * s + dy * c) >= hy + squareOnAxis - TOUCH) return false;
  return true;
}

/** 1 for every cell an obstacle overlaps, 0 for the rest. */
export function rasteriseObstacles(grid: Grid, obstacles: readonly Obstacle[]): Grid {
  const { resolution: r, width, height } = grid;
  const h = r / 2;
  for (const o of obstacles) {
    const [x0, x1, y0, y1] = bounds(o);
    const i0 = Math.max(0, Math.floor((x0 - grid.originX) / r));
    const i1 = Math.min(width - 1, Math.floor((x1 - grid.originX) / r));
    const j0 = Math.max(0, Math.floor((y0 - grid.originY) / r));
    const j1 = Math.min(height - 1, Math.floor((y1 - grid.originY) / r));
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        if (grid.cells[j * width + i]) continue;
        if (overlapsSquare(o, grid.originX + (i + 0.5) * r, grid.originY + (j + 0.5) * r, h)) grid.cells[j * width + i] = 1;
      }
    }
  }
  return grid;
}

export function insidePolygon(x: number, y: number, polygon: readonly (readonly [number, number])[]): boolean {
  let inside = false;
  for (let a = 0, b = polygon.length - 1; a < polygon.length; b = a++) {
    const [xa, ya] = polygon[a]!;
    const [xb, yb] = polygon[b]!;
    if (ya > y !== yb > y && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) inside = !inside;
  }
  return inside;
}

/** Mask values by cell centre: 100 inside a keep-out zone, else 0. */
export function keepoutMask(grid: Grid, zones: readonly Zone[]): Grid {
  return fillZones(grid, zones, (z) => (z.kind === 'keep-out' ? 100 : 0), (a, b) => Math.max(a, b));
}

/** Mask values by cell centre: a slow zone's limit in units of SPEED_MASK_MULTIPLIER (1..100), the lowest where zones overlap; 0 is no limit. */
export function speedMask(grid: Grid, zones: readonly Zone[]): Grid {
  return fillZones(
    grid,
    zones,
    (z) => (z.kind === 'slow' ? Math.min(100, Math.max(1, Math.round(z.maxSpeed / SPEED_MASK_MULTIPLIER))) : 0),
    (a, b) => (a === 0 ? b : b === 0 ? a : Math.min(a, b)),
  );
}

function fillZones(grid: Grid, zones: readonly Zone[], value: (z: Zone) => number, merge: (a: number, b: number) => number): Grid {
  const { resolution: r, width, height } = grid;
  for (const z of zones) {
    const v = value(z);
    if (v === 0) continue;
    for (let j = 0; j < height; j++) {
      for (let i = 0; i < width; i++) {
        if (insidePolygon(grid.originX + (i + 0.5) * r, grid.originY + (j + 0.5) * r, z.polygon)) {
          grid.cells[j * width + i] = merge(grid.cells[j * width + i]!, v);
        }
      }
    }
  }
  return grid;
}

/** A binary PGM (P5): the image's first row is the grid's north row, as map_server reads it. */
export function toPgm(grid: Grid, pixel: (value: number) => number): Buffer {
  const header = Buffer.from(`P5\n${grid.width} ${grid.height}\n255\n`, 'ascii');
  const body = Buffer.alloc(grid.width * grid.height);
  for (let j = 0; j < grid.height; j++) {
    const row = grid.height - 1 - j;
    for (let i = 0; i < grid.width; i++) body[row * grid.width + i] = pixel(grid.cells[j * grid.width + i]!);
  }
  return Buffer.concat([header, body]);
}

/** Reads a P5 PGM written by toPgm back into a grid of pixel values (south row first). */
export function readPgm(data: Buffer, resolution: number): Grid {
  const m = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(data.subarray(0, 64).toString('latin1'));
  if (!m) throw new Error('not a binary 8-bit PGM');
  const width = Number(m[1]);
  const height = Number(m[2]);
  const body = data.subarray(m[0].length);
  if (body.length !== width * height) throw new Error(`PGM body has ${body.length} bytes, not ${width * height}`);
  const cells = new Uint8Array(width * height);
  for (let j = 0; j < height; j++) cells.set(body.subarray((height - 1 - j) * width, (height - j) * width), j * width);
  return { resolution, width, height, originX: 0, originY: 0, cells };
}

// map_server's trinary mode: black (0) is occupied, white (254) free.
export const OCCUPIED_PIXEL = 0;
export const FREE_PIXEL = 254;

export interface MapFiles {
  /** File name → contents, for a `maps/` folder. */
  files: Map<string, string | Buffer>;
  occupancy: Grid;
}

/**
 * map.pgm/.yaml (trinary occupancy for map_server and AMCL), keepout.pgm/.yaml and speed.pgm/.yaml
 * (raw masks for the costmap filters: in raw mode map_server takes a pixel value 0..100 as the
 * cell's value, which is what the keepout and speed filters read).
 */
export function buildMapFiles(site: Site, obstacles: readonly Obstacle[], resolution = DEFAULT_MAP_RESOLUTION): MapFiles {
  if (!(resolution > 0 && resolution <= 1)) throw new RangeError(`the map resolution must be above 0 and at most 1 m, not ${resolution}`);
  const driving = drivingObstacles(obstacles);
  const occupancy = rasteriseObstacles(gridFor(site, driving, resolution), driving);
  const keepout = keepoutMask({ ...occupancy, cells: new Uint8Array(occupancy.cells.length) }, site.zones);
  const speed = speedMask({ ...occupancy, cells: new Uint8Array(occupancy.cells.length) }, site.zones);
  const yaml = (image: string, mode: 'trinary' | 'raw') =>
    [
      `image: ${image}`,
      `mode: ${mode}`,
      `resolution: ${resolution}`,
      // The site's origin is the map's south-west corner.
      'origin: [0.0, 0.0, 0.0]',
      'negate: 0',
      'occupied_thresh: 0.65',
      'free_thresh: 0.25',
      '',
    ].join('\n');
  const files = new Map<string, string | Buffer>([
    ['map.pgm', toPgm(occupancy, (v) => (v ? OCCUPIED_PIXEL : FREE_PIXEL))],
    ['map.yaml', yaml('map.pgm', 'trinary')],
    ['keepout.pgm', toPgm(keepout, (v) => v)],
    ['keepout.yaml', yaml('keepout.pgm', 'raw')],
    ['speed.pgm', toPgm(speed, (v) => v)],
    ['speed.yaml', yaml('speed.pgm', 'raw')],
  ]);
  return { files, occupancy };
}
