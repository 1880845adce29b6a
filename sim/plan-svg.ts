// The picture of a checked plan: the floor seen from above (world y up), the routes each robot
// would drive, where robots would wait for each other or get stuck, and a legend with the
// verdict. It is what an operator looks at on a tablet before approving a plan.
//
// Pure and deterministic: the same input gives the same string, byte for byte (no clock, no
// randomness, numbers written with at most two decimals).
import type { CheckReport, Issue } from '../planners/report.ts';
import type { SiteIndex, SiteNode, Station, Zone } from '../planners/site.ts';
import type { Obstacle } from './world/sdf.ts';

export interface PlanSvgInput {
  site: SiteIndex;
  obstacles: readonly Obstacle[];
  report: CheckReport;
  /** Shown at the top; default "Plan check". */
  title?: string;
}

/** Pixels per metre when the floor fits; larger floors are drawn smaller. */
export const PX_PER_M = 30;
/** Route colours, one per device in the order the report's steps first name them. */
export const ROUTE_PALETTE = ['#1565c0', '#2e7d32', '#6a1b9a', '#00838f', '#ad1457', '#4e342e', '#283593', '#827717'] as const;
export const VERDICT_COLOURS = { pass: '#2e7d32', warn: '#f9a825', fail: '#c62828' } as const;

const MAX_MAP_W = 1500;
const MAX_MAP_H = 1100;
const MARGIN = 40;
const HEADER = 60;
const GAP = 24;
const PANEL_W = 300;
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif";
const MONO = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace";
const CONFLICT = { fill: '#ff9800', stroke: '#e65100', text: '#a33f00' };
const DEADLOCK = { stroke: '#d50000', text: '#b71c1c' };
const KEEP_OUT = { fill: '#e53935', stroke: '#c62828', text: '#8e1b1b' };
const SLOW = { fill: '#ffb300', stroke: '#e08e00', text: '#7a4f00' };
const OBSTACLE = { fill: '#9e9e9e', stroke: '#6d6d6d' };
const STATION_FILL: Record<Station['kind'], string> = {
  dock: '#90caf9',
  machine: '#b0bec5',
  shelf: '#d7ccc8',
  charger: '#fff176',
  conveyor: '#cfd8dc',
  booth: '#ffccbc',
  parking: '#c8e6c9',
  other: '#ffffff',
};

export function renderPlanSvg(input: PlanSvgInput): string {
  const { site, report } = input;
  const title = input.title?.trim() || 'Plan check';
  const view = layout(site, input.obstacles);
  const labels = new LabelPlacer(view.map);

  // ---- what is drawn where, before anything is written ----
  const routes = planRoutes(site, report, view);
  for (const r of routes) labels.avoidPolyline(r.points);
  for (const s of site.site.stations) {
    const n = site.node(s.node);
    if (n) labels.avoidBox(squareBox(view.px(n.x), view.py(n.y), 7));
  }
  const marks = issueMarks(site, report.issues, view);
  for (const m of marks) labels.avoidBox(squareBox(m.x, m.y, 13));

  const zoneLabels = site.site.zones.map((z) => zoneLabel(z, view, labels));
  const markLabels = marks.map((m) => labels.place(m.x, m.y, m.label, 14, true, 16));
  const stepLabels = routes.map((r) => {
    const end = r.points[r.points.length - 1]!;
    return labels.place(end.x, end.y, r.step, 14, true, 9);
  });
  const stationLabels = site.site.stations.flatMap((s) => {
    const n = site.node(s.node);
    return n ? [{ station: s, node: n, label: labels.place(view.px(n.x), view.py(n.y), s.id, 13, false, 9) }] : [];
  });

  // Nodes the issues name that are not stations (an aisle node where robots meet) get their id too.
  const stationNodes = new Set(site.site.stations.map((st) => st.node));
  const namedNodes = [...new Set(report.issues.flatMap((i) => (typeof i.at === 'string' ? [i.at] : [])))].filter((id) => !stationNodes.has(id) && site.node(id));
  const nodeLabels = namedNodes.map((id) => {
    const n = site.node(id)!;
    return { id, label: labels.place(view.px(n.x), view.py(n.y), id, 12, false, 9) };
  });
  // A parked robot a DEADLOCK names stands where the check left it: drawn, with its id.
  const parked = [...new Map(report.issues.flatMap((i) => (i.code === 'DEADLOCK' && i.withAt && i.with && site.locate(i.withAt) ? [[i.with, i.withAt] as const] : []))).entries()].map(([id, at]) => {
    const n = site.locate(at)!;
    return { id, at, x: view.px(n.x), y: view.py(n.y) };
  });
  for (const r of parked) labels.avoidBox(squareBox(r.x, r.y, 9));
  const parkedLabels = parked.map((r) => labels.place(r.x, r.y, `${r.id} (parked)`, 13, true, 11));
  // Arms stand where site.yaml puts them: a mark and their id.
  const arms = site.site.devices.flatMap((d) => (d.kind === 'arm' ? [{ id: d.id, x: view.px(d.pose.x), y: view.py(d.pose.y) }] : []));
  for (const a of arms) labels.avoidBox(squareBox(a.x, a.y, 8));
  const armLabels = arms.map((a) => labels.place(a.x, a.y, a.id, 13, true, 10));

  const panel = legendPanel(input, routes, view.map.x1 + GAP, HEADER);
  const width = Math.ceil(view.map.x1 + GAP + PANEL_W + MARGIN / 2);
  const height = Math.ceil(Math.max(view.map.y1 + 58, HEADER + panel.height + MARGIN / 2));

  // ---- the document ----
  const o: string[] = [];
  o.push(
    // Scales to fit the screen it is shown on (a tablet, an <img>); tools without a viewport
    // take the viewBox's size, at PX_PER_M.
    `<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%" viewBox="0 0 ${width} ${height}" preserveAspectRatio="xMidYMin meet" font-family="${esc(FONT)}" role="img" aria-label="${esc(`${title}: ${report.verdict}`)}">`,
  );
  o.push(`<title>${esc(title)}</title>`);
  o.push('<defs>');
  o.push(el('clipPath', { id: 'pg-map' }, [el('rect', { x: view.map.x0, y: view.map.y0, width: view.map.x1 - view.map.x0, height: view.map.y1 - view.map.y0 })]));
  const colours = [...new Set(routes.map((r) => r.colour))];
  for (const c of ['#8a8a8a', ...colours]) o.push(arrowMarker(c));
  o.push('</defs>');
  o.push(el('rect', { class: 'background', x: 0, y: 0, width, height, fill: '#ffffff' }));

  // header
  o.push(el('text', { class: 'title', x: view.map.x0, y: 28, 'font-size': 21, 'font-weight': 700, fill: '#1a1a1a' }, esc(title)));
  o.push(
    el(
      'text',
      { class: 'subtitle', x: view.map.x0, y: 48, 'font-size': 13, fill: '#555555' },
      esc(`${site.site.name} (${site.site.id}) · seen from above, north up · grid 1 m`),
    ),
  );

  // the floor
  o.push(el('rect', { class: 'floor', x: view.map.x0, y: view.map.y0, width: view.map.x1 - view.map.x0, height: view.map.y1 - view.map.y0, fill: '#f6f6f2', stroke: '#bdbdbd' }));
  o.push('<g clip-path="url(#pg-map)">');
  o.push(grid(view));
  o.push(zonesSvg(site.site.zones, view));
  o.push(obstaclesSvg(input.obstacles, view));
  o.push(edgesSvg(site, view));
  o.push(nodesSvg(site.site.nodes, view));
  o.push(stationsSvg(stationLabels, view));
  for (const a of arms) {
    o.push(
      el('g', { class: 'arm', 'data-device': a.id }, [
        el('circle', { cx: a.x, cy: a.y, r: 7, fill: '#ffffff', stroke: '#5d4037', 'stroke-width': 2 }),
        el('circle', { cx: a.x, cy: a.y, r: 2.5, fill: '#5d4037' }),
        el('title', {}, esc(`${a.id} (arm)`)),
      ]),
    );
  }
  for (const r of parked) {
    o.push(
      el('g', { class: 'parked-robot', 'data-device': r.id, 'data-at': r.at }, [
        el('rect', { x: r.x - 9, y: r.y - 7, width: 18, height: 14, rx: 3, fill: '#78909c', stroke: '#263238', 'stroke-width': 1.5 }),
        el('title', {}, esc(`${r.id}, parked at ${r.at}`)),
      ]),
    );
  }
  o.push(routesSvg(routes));
  o.push('</g>');
  o.push(axisLabels(view));
  o.push(scaleBar(view));

  // labels above everything drawn on the floor, issues on top
  o.push('<g class="labels">');
  for (const z of zoneLabels) o.push(z);
  for (const s of stationLabels) o.push(labelText(s.label, '#263238', 400, { class: 'station-label', 'data-station': s.station.id }));
  for (const n of nodeLabels) o.push(labelText(n.label, '#555555', 400, { class: 'node-label', 'data-node': n.id }));
  arms.forEach((a, i) => o.push(labelText(armLabels[i]!, '#5d4037', 700, { class: 'arm-label', 'data-device': a.id })));
  parked.forEach((r, i) => o.push(labelText(parkedLabels[i]!, '#263238', 700, { class: 'parked-label', 'data-device': r.id })));
  routes.forEach((r, i) => o.push(labelText(stepLabels[i]!, r.colour, 700, { class: 'step-label', 'data-step': r.step, 'data-device': r.device })));
  o.push('</g>');
  o.push('<g class="issues">');
  marks.forEach((m, i) => o.push(issueSvg(m, markLabels[i]!)));
  o.push('</g>');
  o.push(panel.svg);
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}

// ---- layout ----------------------------------------------------------------------------------

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

interface View {
  scale: number;
  world: Box;
  /** The map's rectangle on the page, px. */
  map: Box;
  px(x: number): number;
  py(y: number): number;
}

function layout(site: SiteIndex, obstacles: readonly Obstacle[]): View {
  // What the plan is about: the nav graph, zones and arms. Obstacles near it are shown too
  // (walls around the hall); one far away does not shrink the picture.
  const core: [number, number][] = site.site.nodes.map((n) => [n.x, n.y]);
  for (const z of site.site.zones) core.push(...z.polygon);
  for (const d of site.devicesOfKind('arm')) core.push([d.pose.x, d.pose.y]);
  let world = grow(boundsOf(core), 0.5);
  const near = grow(world, 3);
  for (const ob of obstacles) {
    const b = clip(obstacleBounds(ob), near);
    if (b) world = union(world, b);
  }
  const w = Math.max(world.x1 - world.x0, 1);
  const h = Math.max(world.y1 - world.y0, 1);
  const scale = Math.min(PX_PER_M, MAX_MAP_W / w, MAX_MAP_H / h);
  const map = { x0: MARGIN, y0: HEADER + 8, x1: MARGIN + w * scale, y1: HEADER + 8 + h * scale };
  return {
    scale,
    world,
    map,
    px: (x) => map.x0 + (x - world.x0) * scale,
    py: (y) => map.y0 + (world.y1 - y) * scale,
  };
}

function boundsOf(points: readonly (readonly [number, number])[]): Box {
  if (points.length === 0) return { x0: 0, y0: 0, x1: 1, y1: 1 };
  let b = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  for (const [x, y] of points) b = { x0: Math.min(b.x0, x), y0: Math.min(b.y0, y), x1: Math.max(b.x1, x), y1: Math.max(b.y1, y) };
  return b;
}

const grow = (b: Box, d: number): Box => ({ x0: b.x0 - d, y0: b.y0 - d, x1: b.x1 + d, y1: b.y1 + d });
const union = (a: Box, b: Box): Box => ({ x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) });

function clip(a: Box, to: Box): Box | undefined {
  const b = { x0: Math.max(a.x0, to.x0), y0: Math.max(a.y0, to.y0), x1: Math.min(a.x1, to.x1), y1: Math.min(a.y1, to.y1) };
  return b.x0 <= b.x1 && b.y0 <= b.y1 ? b : undefined;
}

/** Corners of a box obstacle in world metres, counter-clockwise. */
function boxCorners(ob: Obstacle & { shape: { kind: 'box' } }): [number, number][] {
  const { hx, hy } = ob.shape;
  const c = Math.cos(ob.yaw);
  const s = Math.sin(ob.yaw);
  return ([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]] as const).map(([dx, dy]) => [ob.x + c * dx - s * dy, ob.y + s * dx + c * dy]);
}

function obstacleBounds(ob: Obstacle): Box {
  if (ob.shape.kind === 'circle') return { x0: ob.x - ob.shape.r, y0: ob.y - ob.shape.r, x1: ob.x + ob.shape.r, y1: ob.y + ob.shape.r };
  return boundsOf(boxCorners(ob as Obstacle & { shape: { kind: 'box' } }));
}

// ---- the floor ---------------------------------------------------------------------------------

function gridStep(scale: number): number {
  return scale >= 12 ? 1 : scale >= 3 ? 5 : 10;
}

function grid(v: View): string {
  const step = gridStep(v.scale);
  const minor: string[] = [];
  const majors: string[] = [];
  for (let i = Math.ceil(v.world.x0 / step); i * step <= v.world.x1; i++) {
    const x = v.px(i * step);
    (i % 5 === 0 ? majors : minor).push(`M${num(x)} ${num(v.map.y0)}V${num(v.map.y1)}`);
  }
  for (let i = Math.ceil(v.world.y0 / step); i * step <= v.world.y1; i++) {
    const y = v.py(i * step);
    (i % 5 === 0 ? majors : minor).push(`M${num(v.map.x0)} ${num(y)}H${num(v.map.x1)}`);
  }
  return [
    el('path', { class: 'grid', d: minor.join(''), stroke: '#e6e6e0', 'stroke-width': 1, fill: 'none' }),
    el('path', { class: 'grid major', d: majors.join(''), stroke: '#d6d6ce', 'stroke-width': 1, fill: 'none' }),
  ].join('\n');
}

/** World coordinates every 5 grid steps along the bottom and left of the map, in metres. */
function axisLabels(v: View): string {
  const major = gridStep(v.scale) * 5;
  const out: string[] = ['<g class="axis" font-size="11" fill="#777777">'];
  for (let i = Math.ceil(v.world.x0 / major); i * major <= v.world.x1; i++) {
    out.push(el('text', { x: v.px(i * major), y: v.map.y1 + 14, 'text-anchor': 'middle' }, `${i * major}`));
  }
  for (let i = Math.ceil(v.world.y0 / major); i * major <= v.world.y1; i++) {
    out.push(el('text', { x: v.map.x0 - 6, y: v.py(i * major) + 4, 'text-anchor': 'end' }, `${i * major}`));
  }
  out.push('</g>');
  return out.join('\n');
}

function scaleBar(v: View): string {
  const metres = gridStep(v.scale) * 5;
  const x0 = v.map.x0;
  const y = v.map.y1 + 34;
  const x1 = x0 + metres * v.scale;
  return [
    '<g class="scale-bar">',
    el('path', { d: `M${num(x0)} ${num(y - 5)}V${num(y)}H${num(x1)}V${num(y - 5)}`, stroke: '#444444', 'stroke-width': 1.5, fill: 'none' }),
    el('text', { x: x1 + 6, y: y + 1, 'font-size': 12, fill: '#444444' }, `${metres} m`),
    '</g>',
  ].join('\n');
}

function zonesSvg(zones: readonly Zone[], v: View): string {
  const out: string[] = ['<g class="zones">'];
  for (const z of zones) {
    const c = z.kind === 'keep-out' ? KEEP_OUT : SLOW;
    out.push(
      el('polygon', {
        class: `zone ${z.kind}`,
        'data-zone': z.id,
        points: z.polygon.map(([x, y]) => `${num(v.px(x))},${num(v.py(y))}`).join(' '),
        fill: c.fill,
        'fill-opacity': z.kind === 'keep-out' ? 0.2 : 0.25,
        stroke: c.stroke,
        'stroke-width': 2,
        'stroke-dasharray': '8 5',
      }),
    );
  }
  out.push('</g>');
  return out.join('\n');
}

/** A zone's name (and what it means) at its centroid, turned upright in a tall narrow zone. */
function zoneLabel(z: Zone, v: View, labels: LabelPlacer): string {
  const c = z.kind === 'keep-out' ? KEEP_OUT : SLOW;
  const what = z.kind === 'keep-out' ? 'keep out' : `slow ≤ ${num(z.maxSpeed)} m/s`;
  const [cx, cy] = centroid(z.polygon.map(([x, y]) => [v.px(x), v.py(y)] as [number, number]));
  const b = boundsOf(z.polygon.map(([x, y]) => [v.px(x), v.py(y)]));
  const size = 13;
  const attrs = { class: 'zone-label', 'data-zone': z.id, 'font-size': size, 'font-weight': 700, fill: c.text, 'text-anchor': 'middle', ...HALO };
  const wide = Math.max(textWidth(z.id, size, true), textWidth(what, size, true));
  // Candidates: the centroid, then shifted along the zone, staying inside its bounding box.
  const shifts = [0, 1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6];
  if (b.x1 - b.x0 < wide + 8 && b.y1 - b.y0 > b.x1 - b.x0) {
    const line = `${z.id} · ${what}`;
    const w = textWidth(line, size, true);
    const boxes = shifts.map((k) => ({ x0: cx - size * 0.7, y0: cy - w / 2 + k * 16, x1: cx + size * 0.7, y1: cy + w / 2 + k * 16 }));
    const at = labels.placeBox(boxes.filter((c) => c.y0 >= b.y0 && c.y1 <= b.y1), boxes[0]!);
    const my = (at.y0 + at.y1) / 2;
    return el('text', { ...attrs, x: cx, y: my + size * 0.35, transform: `rotate(-90 ${num(cx)} ${num(my)})` }, esc(line));
  }
  const h = size * 2.6;
  const boxes = shifts.flatMap((k) => [0, -1, 1].map((j) => ({ x0: cx - wide / 2 + j * 20, y0: cy - h / 2 + k * 12, x1: cx + wide / 2 + j * 20, y1: cy + h / 2 + k * 12 })));
  const at = labels.placeBox(boxes.filter((c) => c.x0 >= b.x0 && c.x1 <= b.x1 && c.y0 >= b.y0 && c.y1 <= b.y1), boxes[0]!);
  const mx = (at.x0 + at.x1) / 2;
  return [el('text', { ...attrs, x: mx, y: at.y0 + size }, esc(z.id)), el('text', { ...attrs, x: mx, y: at.y0 + size * 2.2 }, esc(what))].join('\n');
}

function centroid(points: readonly [number, number][]): [number, number] {
  let a = 0;
  let x = 0;
  let y = 0;
  points.forEach(([x0, y0], i) => {
    const [x1, y1] = points[(i + 1) % points.length]!;
    const cross = x0 * y1 - x1 * y0;
    a += cross;
    x += (x0 + x1) * cross;
    y += (y0 + y1) * cross;
  });
  if (Math.abs(a) < 1e-9) {
    const b = boundsOf(points);
    return [(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2];
  }
  return [x / (3 * a), y / (3 * a)];
}

function obstaclesSvg(obstacles: readonly Obstacle[], v: View): string {
  const out: string[] = [`<g class="obstacles" fill="${OBSTACLE.fill}" stroke="${OBSTACLE.stroke}" stroke-width="1">`];
  for (const ob of obstacles) {
    const tip = el('title', {}, esc(ob.model));
    if (ob.shape.kind === 'circle') {
      out.push(el('circle', { class: 'obstacle circle', 'data-model': ob.model, cx: v.px(ob.x), cy: v.py(ob.y), r: ob.shape.r * v.scale }, [tip]));
    } else {
      const corners = boxCorners(ob as Obstacle & { shape: { kind: 'box' } });
      out.push(el('polygon', { class: 'obstacle box', 'data-model': ob.model, points: corners.map(([x, y]) => `${num(v.px(x))},${num(v.py(y))}`).join(' ') }, [tip]));
    }
  }
  out.push('</g>');
  return out.join('\n');
}

function edgesSvg(site: SiteIndex, v: View): string {
  const out: string[] = ['<g class="edges" stroke="#c2c2c2" stroke-width="1.5" fill="none">'];
  for (const e of site.site.edges) {
    const a = site.node(e.from);
    const b = site.node(e.to);
    if (!a || !b) continue;
    const attrs: Record<string, string | number> = { class: e.oneWay ? 'edge one-way' : 'edge', 'data-from': e.from, 'data-to': e.to, x1: v.px(a.x), y1: v.py(a.y), x2: v.px(b.x), y2: v.py(b.y) };
    if (e.oneWay) attrs['marker-end'] = `url(#${markerId('#8a8a8a')})`;
    out.push(el('line', attrs));
  }
  out.push('</g>');
  return out.join('\n');
}

function nodesSvg(nodes: readonly SiteNode[], v: View): string {
  const out: string[] = ['<g class="nodes" fill="#9a9a9a">'];
  for (const n of nodes) out.push(el('circle', { class: 'node', 'data-node': n.id, cx: v.px(n.x), cy: v.py(n.y), r: 2.5 }));
  out.push('</g>');
  return out.join('\n');
}

function stationsSvg(stations: readonly { station: Station; node: SiteNode }[], v: View): string {
  const out: string[] = ['<g class="stations" stroke="#37474f" stroke-width="1.5">'];
  for (const { station, node } of stations) {
    const x = v.px(node.x);
    const y = v.py(node.y);
    out.push(
      el('rect', { class: 'station', 'data-station': station.id, 'data-kind': station.kind, x: x - 5.5, y: y - 5.5, width: 11, height: 11, rx: 2, fill: STATION_FILL[station.kind] }, [
        el('title', {}, esc(`${station.id} (${station.kind})`)),
      ]),
    );
  }
  out.push('</g>');
  return out.join('\n');
}

// ---- routes ------------------------------------------------------------------------------------

interface Pt {
  x: number;
  y: number;
}

interface DrawnRoute {
  step: string;
  device: string;
  colour: string;
  startS: number;
  endS: number;
  nodes: string[];
  /** Metres along the route's nodes, as `phygate check` prints it. */
  lengthM: number;
  /** The polyline on the page, shifted to the right of travel so routes on one aisle stay apart. */
  points: Pt[];
}

function planRoutes(site: SiteIndex, report: CheckReport, v: View): DrawnRoute[] {
  const devices: string[] = []; // in the order their first route is drawn: that picks the colour
  const lanes = new Map<string, number[]>(); // directed edge "a>b" → lanes already used on it
  const out: DrawnRoute[] = [];
  for (const s of report.steps) {
    const nodes = (s.route ?? []).filter((id) => site.locate(id) !== undefined);
    const pts: Pt[] = [];
    for (const id of nodes) {
      const n = site.locate(id)!;
      const p = { x: v.px(n.x), y: v.py(n.y) };
      const last = pts[pts.length - 1];
      if (!last || Math.hypot(last.x - p.x, last.y - p.y) > 0.01) pts.push(p);
    }
    if (pts.length < 2) continue;
    const device = s.device ?? '?';
    if (!devices.includes(device)) devices.push(device);
    const directed = nodes.slice(1).map((b, i) => `${nodes[i]}>${b}`);
    const used = new Set(directed.flatMap((k) => lanes.get(k) ?? []));
    let lane = 0;
    while (used.has(lane)) lane++;
    for (const k of directed) lanes.set(k, [...(lanes.get(k) ?? []), lane]);
    out.push({
      step: s.id,
      device,
      colour: ROUTE_PALETTE[devices.indexOf(device) % ROUTE_PALETTE.length]!,
      startS: s.startS,
      endS: s.endS,
      nodes,
      lengthM: nodes.slice(1).reduce((m, id, i) => {
        const a = site.locate(nodes[i]!)!;
        const b = site.locate(id)!;
        return m + Math.hypot(b.x - a.x, b.y - a.y);
      }, 0),
      points: offsetPolyline(pts, 3 + 5 * Math.min(lane, 5)),
    });
  }
  return out;
}

/** The polyline moved `d` px to the right of the direction of travel (y down on the page). */
function offsetPolyline(pts: readonly Pt[], d: number): Pt[] {
  const normals = pts.slice(1).map((b, i) => {
    const a = pts[i]!;
    const len = Math.hypot(b.x - a.x, b.y - a.y);
    return { x: -(b.y - a.y) / len, y: (b.x - a.x) / len };
  });
  const out: Pt[] = [];
  pts.forEach((p, i) => {
    const nIn = normals[i - 1];
    const nOut = normals[i];
    if (!nIn || !nOut) {
      const n = (nIn ?? nOut)!;
      out.push({ x: p.x + n.x * d, y: p.y + n.y * d });
      return;
    }
    const mx = nIn.x + nOut.x;
    const my = nIn.y + nOut.y;
    const ml = Math.hypot(mx, my);
    if (ml < 0.2) {
      // (nearly) a U-turn: keep both sides
      out.push({ x: p.x + nIn.x * d, y: p.y + nIn.y * d }, { x: p.x + nOut.x * d, y: p.y + nOut.y * d });
      return;
    }
    const cos = (mx * nIn.x + my * nIn.y) / ml;
    const k = Math.min(d / cos, 3 * d) / ml;
    out.push({ x: p.x + mx * k, y: p.y + my * k });
  });
  return out;
}

const markerId = (colour: string) => `pg-arrow-${colour.replace('#', '')}`;

function arrowMarker(colour: string): string {
  return el(
    'marker',
    { id: markerId(colour), viewBox: '0 0 10 10', refX: 7, refY: 5, markerWidth: 4, markerHeight: 4, orient: 'auto', markerUnits: 'strokeWidth' },
    [el('path', { d: 'M0 0L10 5L0 10z', fill: colour })],
  );
}

function routesSvg(routes: readonly DrawnRoute[]): string {
  const out: string[] = ['<g class="routes" fill="none" stroke-linejoin="round" stroke-linecap="round">'];
  const pointsOf = (r: DrawnRoute) => r.points.map((p) => `${num(p.x)},${num(p.y)}`).join(' ');
  // White casings first, so a route crossing another stays visible.
  for (const r of routes) out.push(el('polyline', { class: 'route-casing', points: pointsOf(r), stroke: '#ffffff', 'stroke-width': 6, 'stroke-opacity': 0.9 }));
  for (const r of routes) {
    const tip = el('title', {}, esc(`${r.step} · ${r.device} · ${num1(r.startS)}–${num1(r.endS)} s · ${r.nodes.join(' → ')}`));
    out.push(
      el('polyline', { class: 'route', 'data-device': r.device, 'data-step': r.step, points: pointsOf(r), stroke: r.colour, 'stroke-width': 3, 'marker-end': `url(#${markerId(r.colour)})` }, [tip]),
    );
    const arrows: string[] = [];
    r.points.slice(1).forEach((b, i) => {
      const a = r.points[i]!;
      const len = Math.hypot(b.x - a.x, b.y - a.y);
      if (len < 40) return;
      const ux = (b.x - a.x) / len;
      const uy = (b.y - a.y) / len;
      const count = Math.max(1, Math.floor(len / 160));
      for (let j = 0; j < count; j++) {
        const f = (j + 0.5) / count;
        const mx = a.x + (b.x - a.x) * f;
        const my = a.y + (b.y - a.y) * f;
        arrows.push(`M${num(mx + ux * 5)} ${num(my + uy * 5)}L${num(mx - ux * 4 - uy * 4.5)} ${num(my - uy * 4 + ux * 4.5)}L${num(mx - ux * 4 + uy * 4.5)} ${num(my - uy * 4 - ux * 4.5)}z`);
      }
    });
    if (arrows.length > 0) out.push(el('path', { class: 'route-arrows', 'data-step': r.step, d: arrows.join(''), fill: r.colour, stroke: 'none' }));
    const start = r.points[0]!;
    out.push(el('circle', { class: 'route-start', 'data-step': r.step, cx: start.x, cy: start.y, r: 4, fill: '#ffffff', stroke: r.colour, 'stroke-width': 2.5 }));
  }
  out.push('</g>');
  return out.join('\n');
}

// ---- issues on the map -------------------------------------------------------------------------

interface IssueMark {
  issue: Issue;
  kind: 'conflict' | 'deadlock';
  x: number;
  y: number;
  label: string;
}

function issueMarks(site: SiteIndex, issues: readonly Issue[], v: View): IssueMark[] {
  const out: IssueMark[] = [];
  for (const issue of issues) {
    if (issue.code !== 'ROBOT_CONFLICT' && issue.code !== 'DEADLOCK') continue;
    const n = issue.at === undefined ? undefined : site.locate(issue.at);
    if (!n) continue;
    const who = issue.device ?? issue.step ?? 'a robot';
    let label: string;
    if (issue.code === 'ROBOT_CONFLICT') {
      if (issue.detour) {
        const waited = issue.waitS ? `waits ${num1(issue.waitS)} s, ` : '';
        label = `${who} ${waited}detours${issue.with ? ` around ${issue.with}` : ''}`;
      } else {
        const wait = issue.waitS === undefined ? 'waits' : `waits ${num1(issue.waitS)} s`;
        label = `${who} ${wait}${issue.with ? ` for ${issue.with}` : ''}`;
      }
    } else if (issue.withAt !== undefined) {
      // The other robot does not move at all: it is in the way, not locked in a cycle with this one.
      label = `DEADLOCK: ${who} blocked by ${issue.with ?? 'a robot'} (parked)`;
    } else {
      label = `DEADLOCK: ${who}${issue.with ? ` ⇄ ${issue.with}` : ''}`;
    }
    out.push({ issue, kind: issue.code === 'ROBOT_CONFLICT' ? 'conflict' : 'deadlock', x: v.px(n.x), y: v.py(n.y), label });
  }
  return out;
}

function issueSvg(m: IssueMark, label: Placed): string {
  const data: Record<string, string | number> = { class: m.kind, 'data-at': m.issue.at! };
  if (m.issue.device !== undefined) data['data-device'] = m.issue.device;
  if (m.issue.with !== undefined) data['data-with'] = m.issue.with;
  if (m.issue.step !== undefined) data['data-step'] = m.issue.step;
  const tip = el('title', {}, esc(`${m.issue.code}${m.issue.step ? ` ${m.issue.step}` : ''}: ${m.issue.message}`));
  if (m.kind === 'conflict') {
    return el('g', data, [
      tip,
      el('circle', { class: 'conflict-marker', cx: m.x, cy: m.y, r: 11, fill: CONFLICT.fill, 'fill-opacity': 0.3, stroke: CONFLICT.stroke, 'stroke-width': 3 }),
      labelText(label, CONFLICT.text, 700, {}),
    ]);
  }
  const d = 9;
  const cross = `M${num(m.x - d)} ${num(m.y - d)}L${num(m.x + d)} ${num(m.y + d)}M${num(m.x + d)} ${num(m.y - d)}L${num(m.x - d)} ${num(m.y + d)}`;
  return el('g', data, [
    tip,
    el('path', { d: cross, stroke: '#ffffff', 'stroke-width': 8, 'stroke-linecap': 'round', fill: 'none' }),
    el('path', { class: 'deadlock-marker', 'data-x': m.x, 'data-y': m.y, d: cross, stroke: DEADLOCK.stroke, 'stroke-width': 4, 'stroke-linecap': 'round', fill: 'none' }),
    labelText(label, DEADLOCK.text, 700, {}),
  ]);
}

// ---- the legend --------------------------------------------------------------------------------

function legendPanel(input: PlanSvgInput, routes: readonly DrawnRoute[], x0: number, y0: number): { svg: string; height: number } {
  const { report } = input;
  const o: string[] = [];
  const pad = 14;
  const inner = PANEL_W - 2 * pad;
  const tx = x0 + pad;
  let y = y0 + pad;
  const line = (text: string, size: number, attrs: Record<string, string | number> = {}) => {
    y += size + 4;
    o.push(el('text', { x: tx, y, 'font-size': size, fill: '#222222', ...attrs }, esc(text)));
  };
  const heading = (text: string) => {
    y += 10;
    line(text, 13, { 'font-weight': 700, fill: '#444444', class: 'legend-heading' });
    y += 2;
  };

  // verdict
  const errors = report.issues.filter((i) => i.severity === 'error').length;
  const warnings = report.issues.length - errors;
  const vc = VERDICT_COLOURS[report.verdict];
  o.push(el('rect', { class: 'verdict', 'data-verdict': report.verdict, x: tx, y, width: 86, height: 30, rx: 5, fill: vc }));
  o.push(
    el('text', { x: tx + 43, y: y + 21, 'font-size': 17, 'font-weight': 700, 'text-anchor': 'middle', fill: report.verdict === 'warn' ? '#1a1a1a' : '#ffffff' }, report.verdict.toUpperCase()),
  );
  const counts = report.issues.length === 0 ? 'no issues' : [plural(errors, 'error'), plural(warnings, 'warning')].filter(Boolean).join(', ');
  o.push(el('text', { class: 'verdict-text', x: tx + 98, y: y + 20, 'font-size': 14, fill: '#333333' }, esc(counts)));
  y += 34;
  const stuck = report.steps.filter((st) => st.blocked).length + (report.notRun?.length ?? 0);
  const total = report.steps.length + (report.notRun?.length ?? 0);
  line(
    stuck > 0 && stuck === total
      ? 'makespan: none (no step finishes)'
      : `makespan ${num1(report.makespanS)} s${report.makespanS >= 60 ? ` (${duration(report.makespanS)})` : ''}${stuck > 0 ? `; ${stuck} of ${total} steps do not finish` : ''}`,
    14,
    { class: 'makespan' },
  );
  y += 2;
  line(`plan ${report.planHash.slice(0, 12)}`, 13, { class: 'plan-hash', 'font-family': MONO, fill: '#555555' });
  for (const [role, device] of Object.entries(report.assignments)) line(`$${role} → ${device}`, 13, { class: 'assignment', fill: '#333333' });

  // devices
  const moving = [...new Set(routes.map((r) => r.device))];
  if (moving.length > 0) heading('Routes');
  for (const device of moving) {
    const mine = routes.filter((r) => r.device === device);
    const colour = mine[0]!.colour;
    // The routes' length, as the CLI prints it, and "stuck" when the check saw it drive less.
    const planned = mine.reduce((m, r) => m + r.lengthM, 0);
    const driven = report.devices.find((d) => d.id === device)?.distanceM;
    const dist = `${num1(planned)} m${driven !== undefined && driven < planned - 0.05 ? ' (stuck)' : ''}`;
    y += 20;
    o.push(
      el('g', { class: 'legend-device', 'data-device': device, 'data-colour': colour }, [
        el('line', { x1: tx, y1: y - 5, x2: tx + 30, y2: y - 5, stroke: colour, 'stroke-width': 3, 'marker-end': `url(#${markerId(colour)})` }),
        el('text', { x: tx + 42, y, 'font-size': 14, 'font-weight': 700, fill: colour }, esc(device)),
        el(
          'text',
          { x: tx + 42 + textWidth(device, 14, true) + 8, y, 'font-size': 13, fill: '#555555' },
          esc(ellipsize(`${mine.map((r) => r.step).join(', ')} · ${dist}`, charsFor(inner - 50 - textWidth(device, 14, true), 13))),
        ),
      ]),
    );
  }
  const still = report.steps.filter((s) => !moving.includes(s.device ?? '?') && s.device !== undefined);
  if (still.length > 0) {
    const byDevice = new Map<string, string[]>();
    for (const s of still) byDevice.set(s.device!, [...(byDevice.get(s.device!) ?? []), s.id]);
    const text = `also: ${[...byDevice].map(([d, steps]) => `${d} (${steps.join(', ')})`).join(', ')}`;
    y += 4;
    for (const l of wrap(text, charsFor(inner, 13), 3)) line(l, 13, { fill: '#555555' });
  }

  // issues
  if (report.issues.length > 0) heading(`Issues (${report.issues.length})`);
  const shown = report.issues.slice(0, 8);
  for (const i of shown) {
    const colour = i.severity === 'error' ? VERDICT_COLOURS.fail : '#b26a00';
    y += 19;
    o.push(el('circle', { cx: tx + 5, cy: y - 4.5, r: 4.5, fill: colour }));
    o.push(el('text', { class: 'legend-issue', 'data-code': i.code, x: tx + 15, y, 'font-size': 13, 'font-weight': 700, fill: colour }, esc(ellipsize(`${i.code}${i.step ? ` ${i.step}` : ''}`, charsFor(inner - 15, 13, true)))));
    for (const l of wrap(i.message, charsFor(inner - 15, 13), 2)) {
      y += 16;
      o.push(el('text', { x: tx + 15, y, 'font-size': 13, fill: '#333333' }, esc(l)));
    }
  }
  if (report.issues.length > shown.length) line(`+ ${report.issues.length - shown.length} more in the report`, 13, { fill: '#555555' });

  // key
  heading('Key');
  const key = (draw: (cy: number) => string, text: string) => {
    y += 20;
    o.push(draw(y - 5), el('text', { x: tx + 34, y, 'font-size': 13, fill: '#333333' }, esc(text)));
  };
  const swatch = (cy: number, attrs: Record<string, string | number>) => el('rect', { x: tx, y: cy - 7, width: 24, height: 14, ...attrs });
  key((cy) => el('circle', { cx: tx + 12, cy, r: 8, fill: CONFLICT.fill, 'fill-opacity': 0.3, stroke: CONFLICT.stroke, 'stroke-width': 3 }), 'robot waits for another (conflict)');
  key((cy) => el('path', { d: `M${num(tx + 6)} ${num(cy - 6)}l12 12m0 -12l-12 12`, stroke: DEADLOCK.stroke, 'stroke-width': 4, 'stroke-linecap': 'round', fill: 'none' }), 'deadlock: a robot that never gets through');
  if (report.issues.some((i) => i.code === 'DEADLOCK' && i.withAt !== undefined)) key((cy) => el('rect', { x: tx + 3, y: cy - 7, width: 18, height: 14, rx: 3, fill: '#78909c', stroke: '#263238', 'stroke-width': 1.5 }), 'a parked robot in the way');
  key((cy) => swatch(cy, { fill: KEEP_OUT.fill, 'fill-opacity': 0.2, stroke: KEEP_OUT.stroke, 'stroke-dasharray': '4 3' }), 'keep-out zone');
  key((cy) => swatch(cy, { fill: SLOW.fill, 'fill-opacity': 0.25, stroke: SLOW.stroke, 'stroke-dasharray': '4 3' }), 'slow zone');
  key((cy) => swatch(cy, { fill: OBSTACLE.fill, stroke: OBSTACLE.stroke }), input.site.site.world === undefined ? 'obstacle (a wall in site.yaml)' : 'obstacle (from the world file)');
  // One row per kind of station the site has, in its colour.
  const kinds = [...new Set(input.site.site.stations.map((st) => st.kind))];
  for (const kind of kinds) {
    key((cy) => el('rect', { class: 'key-station', 'data-kind': kind, x: tx + 6.5, y: cy - 5.5, width: 11, height: 11, rx: 2, fill: STATION_FILL[kind], stroke: '#37474f', 'stroke-width': 1.5 }), `station: ${kind}`);
  }
  if (input.site.site.devices.some((d) => d.kind === 'arm')) {
    key((cy) => el('circle', { cx: tx + 12, cy, r: 7, fill: '#ffffff', stroke: '#5d4037', 'stroke-width': 2 }), 'arm');
  }
  key((cy) => el('circle', { cx: tx + 12, cy, r: 4, fill: '#ffffff', stroke: '#555555', 'stroke-width': 2.5 }), 'where a route starts');

  const height = y - y0 + pad;
  const frame = el('rect', { x: x0, y: y0, width: PANEL_W, height, rx: 8, fill: '#fafafa', stroke: '#cccccc' });
  return { svg: ['<g class="legend">', frame, ...o, '</g>'].join('\n'), height };
}

function plural(n: number, word: string): string {
  return n === 0 ? '' : `${n} ${word}${n === 1 ? '' : 's'}`;
}

function duration(s: number): string {
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h} h ${m} min` : `${m} min ${sec} s`;
}

// ---- labels ------------------------------------------------------------------------------------

interface Placed {
  text: string;
  size: number;
  bold: boolean;
  /** Text start, baseline. */
  x: number;
  y: number;
  box: Box;
}

const HALO = { stroke: '#ffffff', 'stroke-width': 3.5, 'stroke-linejoin': 'round', 'paint-order': 'stroke' } as const;

function labelText(p: Placed, fill: string, weight: number, attrs: Record<string, string | number>): string {
  return el('text', { ...attrs, x: p.x, y: p.y, 'font-size': p.size, 'font-weight': weight, fill, ...HALO }, esc(p.text));
}

/**
 * Greedy label placement: each label goes to the first of a fixed list of spots around its
 * anchor that costs least — overlapping another label costs most, then covering a station or an
 * issue marker, then crossing a route, then leaving the map. Deterministic: ties keep list order.
 */
class LabelPlacer {
  private readonly labels: Box[] = [];
  private readonly markers: Box[] = [];
  private readonly segments: [Pt, Pt][] = [];

  constructor(private readonly map: Box) {}

  /** Something a label should not cover: a station or an issue marker. */
  avoidBox(b: Box): void {
    this.markers.push(b);
  }

  avoidPolyline(points: readonly Pt[]): void {
    for (let i = 1; i < points.length; i++) this.segments.push([points[i - 1]!, points[i]!]);
  }

  /** The cheapest of `candidates` (earlier ones win ties), or `fallback` when there are none; taken. */
  placeBox(candidates: readonly Box[], fallback: Box): Box {
    let best: { cost: number; box: Box } | undefined;
    candidates.forEach((box, i) => {
      const cost = this.cost(box) + i * 0.5;
      if (!best || cost < best.cost) best = { cost, box };
    });
    const box = best?.box ?? fallback;
    this.labels.push(box);
    return box;
  }

  place(ax: number, ay: number, text: string, size: number, bold: boolean, gap: number): Placed {
    const w = textWidth(text, size, bold);
    const h = size * 1.2;
    let best: { cost: number; box: Box } | undefined;
    for (const [i, [dx, dy]] of CANDIDATES.entries()) {
      for (const [j, reach] of [1, 2.2].entries()) {
        const g = gap * reach;
        const cx = ax + dx * (g + w / 2);
        const cy = ay + dy * (g + h / 2);
        const box = { x0: cx - w / 2, y0: cy - h / 2, x1: cx + w / 2, y1: cy + h / 2 };
        const cost = this.cost(box) + i * 0.5 + j * 40;
        if (!best || cost < best.cost) best = { cost, box };
      }
    }
    const box = best!.box;
    this.labels.push(box);
    return { text, size, bold, x: box.x0, y: box.y0 + size * 0.92, box };
  }

  private cost(b: Box): number {
    let c = 0;
    for (const l of this.labels) c += overlapArea(b, l) > 0 ? 1000 + overlapArea(b, l) : 0;
    for (const m of this.markers) c += overlapArea(b, m) > 0 ? 300 : 0;
    for (const [p, q] of this.segments) if (segmentHitsBox(p, q, b)) c += 60;
    const inside = clip(b, this.map);
    const area = (b.x1 - b.x0) * (b.y1 - b.y0);
    if (!inside || (inside.x1 - inside.x0) * (inside.y1 - inside.y0) < area - 0.5) c += 5000;
    return c;
  }
}

/** Directions (unit-ish) from the anchor to a label's centre, in order of preference. */
const CANDIDATES: readonly (readonly [number, number])[] = [
  [1, 0],
  [-1, 0],
  [0, -1],
  [0, 1],
  [0.8, -0.8],
  [0.8, 0.8],
  [-0.8, -0.8],
  [-0.8, 0.8],
];

function overlapArea(a: Box, b: Box): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  return w > 0 && h > 0 ? w * h : 0;
}

function squareBox(x: number, y: number, r: number): Box {
  return { x0: x - r, y0: y - r, x1: x + r, y1: y + r };
}

function segmentHitsBox(p: Pt, q: Pt, b: Box): boolean {
  // Liang–Barsky clipping of the segment against the box.
  let t0 = 0;
  let t1 = 1;
  const dx = q.x - p.x;
  const dy = q.y - p.y;
  const edges: [number, number][] = [
    [-dx, p.x - b.x0],
    [dx, b.x1 - p.x],
    [-dy, p.y - b.y0],
    [dy, b.y1 - p.y],
  ];
  for (const [pp, qq] of edges) {
    if (pp === 0) {
      if (qq < 0) return false;
      continue;
    }
    const r = qq / pp;
    if (pp < 0) t0 = Math.max(t0, r);
    else t1 = Math.min(t1, r);
    if (t0 > t1) return false;
  }
  return true;
}

// ---- text and numbers --------------------------------------------------------------------------

/** Approximate rendered width of a line of text, px (sans-serif). */
function textWidth(text: string, size: number, bold = false): number {
  return [...text].length * size * (bold ? 0.62 : 0.56) + 2;
}

function charsFor(width: number, size: number, bold = false): number {
  return Math.max(8, Math.floor(width / (size * (bold ? 0.62 : 0.56))));
}

function ellipsize(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join('')}…`;
}

/** Words into at most `lines` lines of `max` characters; the last one ends in … when cut. */
function wrap(text: string, max: number, lines: number): string[] {
  const out: string[] = [];
  let cur = '';
  const words = text.split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    let w = words[i]!;
    while ([...w].length > max) {
      if (cur) {
        out.push(cur);
        cur = '';
      }
      out.push([...w].slice(0, max).join(''));
      w = [...w].slice(max).join('');
    }
    const next = cur ? `${cur} ${w}` : w;
    if ([...next].length <= max) cur = next;
    else {
      out.push(cur);
      cur = w;
    }
  }
  if (cur) out.push(cur);
  if (out.length <= lines) return out;
  const kept = out.slice(0, lines);
  // The next line did not fit on this one, so together they are too long: cut with an ellipsis.
  kept[lines - 1] = ellipsize(`${kept[lines - 1]} ${out[lines]}`, max);
  return kept;
}

/** A number with at most two decimals, no trailing zeros, never "-0". */
export function num(v: number): string {
  if (!Number.isFinite(v)) return '0';
  const s = v.toFixed(2).replace(/\.?0+$/, '');
  return s === '-0' ? '0' : s;
}

function num1(v: number): string {
  if (!Number.isFinite(v)) return '0';
  const s = v.toFixed(1);
  return s === '-0.0' ? '0.0' : s;
}

/** XML-escape text or an attribute value; characters XML 1.0 cannot hold become U+FFFD. */
export function esc(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** An element; attribute values are escaped here, children are already markup. */
function el(name: string, attrs: Record<string, string | number>, children?: string | string[]): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? num(v) : esc(v)}"`)
    .join('');
  if (children === undefined || (Array.isArray(children) && children.length === 0)) return `<${name}${a}/>`;
  return `<${name}${a}>${Array.isArray(children) ? children.join('') : children}</${name}>`;
}
