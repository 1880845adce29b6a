// The floor map: the site from GET /v1/site drawn as SVG in metres (world y points up, so the
// picture uses y' = -y), with robots and machines updated in place as their states arrive.
// Robots are drawn a little larger than their footprint so they can be read from a metre away.
// Their names and what they say (paused, whom they wait for) are placed where they cover no
// station's name, no machine and no other robot's label, as measured in the page.
import type { DeviceState, SiteDevice, SiteView, TrafficDevice, TrafficWait, Zone } from './api.ts';
import { s } from './dom.ts';
import { TrafficLayer } from './traffic.ts';
import { deviceStateWords, deviceTone, percent, waitReason, waitWords } from './words.ts';

const r2 = (n: number) => Math.round(n * 100) / 100;
/** World angle (radians, counter-clockwise) → SVG rotation (degrees, clockwise on screen). */
const svgDeg = (rad: number) => r2((-rad * 180) / Math.PI);
/** How far in front of its station a machine stands (the station's theta faces it). */
const MACHINE_OFFSET_M = 1.2;

interface Box {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** How much two boxes overlap, in square metres (0: not at all). */
const overlap = (a: Box, b: Box) => Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0)) * Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));
/** Robot names: where they sit (the baseline, on screen), above or below the robot. */
const NAME_ABOVE = -0.85;
const NAME_BELOW = 1.55;
/**
 * Where what a robot says (its state, whom it waits for) may go: beside it on the right or the
 * left, level with it, lower or higher, then clear of its name; the first that covers nothing is
 * taken.
 */
const SIDE_PLACES: { x: number; dy: number }[] = [
  { x: 0.85, dy: 0 },
  { x: -0.85, dy: 0 },
  { x: 0.85, dy: 0.9 },
  { x: -0.85, dy: 0.9 },
  { x: 0.85, dy: -0.9 },
  { x: -0.85, dy: -0.9 },
  { x: 1.4, dy: -1.8 },
  { x: -1.4, dy: -1.8 },
  { x: 1.4, dy: 1.8 },
  { x: -1.4, dy: 1.8 },
];
/** What a label may cover least: a station's name, then a machine, a zone's name or the map's edge, then another robot or its label. */
const WEIGHT = { station: 100, machine: 10, other: 1 };

interface Marker {
  g: SVGGElement;
  state: SVGTextElement;
  title: SVGTitleElement;
  last?: DeviceState;
}

type Robot = Marker & { body: SVGGElement; name: SVGTextElement; wait: SVGTextElement };

export class FloorMap {
  readonly el: SVGSVGElement;
  private readonly robotLayer: SVGGElement;
  private readonly robots = new Map<string, Robot>();
  private readonly traffic: TrafficLayer;
  /** Whom each waiting robot waits for. */
  private readonly waits = new Map<string, TrafficWait>();
  private labelsDue = false;
  private readonly machines = new Map<string, Marker & { bar?: SVGRectElement; barWidth: number }>();
  private stale = false;

  constructor(private readonly site: SiteView) {
    const b = bounds(site);
    this.traffic = new TrafficLayer(site);
    this.el = s('svg', {
      class: 'map',
      viewBox: `${r2(b.x0)} ${r2(-b.y1)} ${r2(b.x1 - b.x0)} ${r2(b.y1 - b.y0)}`,
      preserveAspectRatio: 'xMidYMid meet',
      role: 'img',
      'aria-label': `Floor map of ${site.name}`,
    });
    this.el.append(
      defs(),
      s('rect', { class: 'ground', x: r2(b.x0), y: r2(-b.y1), width: r2(b.x1 - b.x0), height: r2(b.y1 - b.y0) }),
      s('g', { class: 'zones' }, ...site.zones.map(zoneShape)),
      s('g', { class: 'lanes' }, ...this.lanes()),
      this.traffic.el,
      s('g', { class: 'obstacles' }, ...site.world.obstacles.map(obstacleShape)),
      s('g', { class: 'stations' }, ...this.stations()),
      s('g', { class: 'zone-labels' }, ...site.zones.map(zoneLabel)),
      s('g', { class: 'machines' }, ...this.machineMarkers()),
    );
    this.robotLayer = s('g', { class: 'robots' });
    this.el.append(this.robotLayer);
  }

  /** A device's new state: robots move, machines change colour and progress. */
  update(d: DeviceState): void {
    const machine = this.machines.get(d.id);
    if (machine) return this.updateMachine(machine, d);
    if (!d.pose) return;
    const robot = this.robots.get(d.id) ?? this.addRobot(d.id);
    robot.last = d;
    const { x, y, theta } = d.pose;
    robot.g.setAttribute('transform', `translate(${r2(x)} ${r2(-y)})`);
    robot.g.dataset.x = String(r2(x));
    robot.g.dataset.y = String(r2(y));
    robot.body.setAttribute('transform', `rotate(${svgDeg(theta)})`);
    this.paint(robot, d);
    this.labelsLater();
  }

  /** Labels are placed once per frame, after whatever changed them. */
  private labelsLater(): void {
    if (this.labelsDue) return;
    this.labelsDue = true;
    window.requestAnimationFrame(() => this.placeLabels());
  }

  /**
   * Each robot's name above or below it, and what it says beside it, where they cover the least:
   * nothing if they can. Boxes are measured in the page, in the map's units (y down); a map not
   * laid out (no size yet) keeps its labels where they are until it is.
   */
  private placeLabels(): void {
    this.labelsDue = false;
    const toMap = this.el.getScreenCTM()?.inverse();
    if (!toMap) return;
    const boxOf = (el: SVGGraphicsElement): Box | undefined => {
      const b = el.getBBox();
      const m = el.getScreenCTM();
      if (!m || (b.width === 0 && b.height === 0)) return undefined;
      const t = toMap.multiply(m);
      const xs = [b.x, b.x + b.width].flatMap((x) => [b.y, b.y + b.height].map((y) => t.a * x + t.c * y + t.e));
      const ys = [b.x, b.x + b.width].flatMap((x) => [b.y, b.y + b.height].map((y) => t.b * x + t.d * y + t.f));
      return { x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) };
    };
    const measured = (els: Iterable<Element>) => [...els].map((el) => boxOf(el as SVGGraphicsElement)).filter((b): b is Box => !!b);
    const stations = measured(this.el.querySelectorAll('.stations text'));
    const machines = measured(this.el.querySelectorAll('g.machine, .zone-labels text'));
    const robots = [...this.robots.values()].filter((r) => r.last?.pose).sort((a, b) => b.last!.pose!.y - a.last!.pose!.y || a.last!.pose!.x - b.last!.pose!.x);
    // A robot's labels may touch its own body (a turned robot's corners reach its name), not another's.
    const bodies = new Map(robots.map((r) => [r, boxOf(r.body)]));
    const others: Box[] = [];
    let self: Robot | undefined;
    const covered = (box: Box, boxes: Iterable<Box | undefined>) => {
      let sum = 0;
      for (const b of boxes) if (b) sum += overlap(box, b);
      return sum;
    };
    const ground = boxOf(this.el.querySelector<SVGGraphicsElement>('.ground')!);
    const area = (b: Box) => (b.x1 - b.x0) * (b.y1 - b.y0);
    const cost = (box: Box | undefined) =>
      box === undefined
        ? 0
        : WEIGHT.station * covered(box, stations) +
          WEIGHT.machine * (covered(box, machines) + (ground ? area(box) - overlap(box, ground) : 0)) +
          WEIGHT.other * (covered(box, others) + covered(box, [...bodies].filter(([r]) => r !== self).map(([, b]) => b)));
    /** Tries each place in turn, keeps the first that covers nothing, else the one that covers least. */
    const place = <P>(places: P[], put: (p: P) => void, box: () => Box | undefined) => {
      let best: { p: P; cost: number } | undefined;
      for (const p of places) {
        put(p);
        const c = cost(box());
        if (!best || c < best.cost) best = { p, cost: c };
        if (c === 0) break;
      }
      if (best) put(best.p);
      const b = box();
      if (b) others.push(b);
    };
    for (const r of robots) {
      self = r;
      place([NAME_ABOVE, NAME_BELOW], (y) => r.name.setAttribute('y', String(y)), () => boxOf(r.name));
      const said = [r.state, r.wait].filter((t) => t.textContent);
      if (said.length === 0) continue;
      place(
        SIDE_PLACES,
        (p) => this.saySide(r, p),
        () => {
          const boxes = measured(said);
          return boxes.length === 0 ? undefined : { x0: Math.min(...boxes.map((b) => b.x0)), x1: Math.max(...boxes.map((b) => b.x1)), y0: Math.min(...boxes.map((b) => b.y0)), y1: Math.max(...boxes.map((b) => b.y1)) };
        },
      );
    }
  }

  /** A robot's state and wait lines at one of SIDE_PLACES: the wait below the state when there is one. */
  private saySide(r: Robot, p: { x: number; dy: number }): void {
    const left = p.x < 0;
    r.state.setAttribute('x', String(p.x));
    r.state.setAttribute('y', String(r2(0.2 + p.dy)));
    r.wait.setAttribute('y', String(r2((r.state.textContent ? 0.85 : 0.1) + p.dy)));
    for (const t of [r.state, r.wait]) t.classList.toggle('left', left);
    for (const span of r.wait.querySelectorAll('tspan')) span.setAttribute('x', String(p.x));
  }

  /** Who holds which nodes, the routes reserved, and whom a waiting robot waits for. */
  showTraffic(devices: readonly TrafficDevice[]): void {
    this.traffic.show(devices);
    this.waits.clear();
    for (const d of devices) if (d.waitsFor) this.waits.set(d.id, d.waitsFor);
    for (const [id, robot] of this.robots) this.showWait(id, robot);
  }

  /** Next to a waiting robot: whom it waits for (in that robot's route colour), and why. */
  private showWait(id: string, robot: Robot): void {
    const w = this.waits.get(id);
    const signature = w ? waitWords(w) : '';
    if (robot.g.dataset.waits === signature) return;
    robot.g.dataset.waits = signature;
    robot.wait.setAttribute('class', `wait ${w ? this.traffic.colourOf(w.device) : ''}`);
    robot.wait.replaceChildren(...(w ? [s('tspan', { class: 'who', x: 0.85, dy: 0 }, `waits for ${w.device}`), s('tspan', { x: 0.85, dy: 0.6 }, waitReason(w))] : []));
    if (robot.last) this.paint(robot, robot.last);
    this.labelsLater();
  }

  /** No live feed: robots and machines are drawn as last known, not as current. */
  setStale(stale: boolean): void {
    this.stale = stale;
    this.el.classList.toggle('stale', stale);
    for (const m of [...this.robots.values(), ...this.machines.values()]) if (m.last) this.paint(m, m.last);
    this.labelsLater();
  }

  private paint(m: Marker, d: DeviceState): void {
    const tone = deviceTone(d);
    m.g.setAttribute('class', `${m.g.classList.contains('robot') ? 'robot' : 'machine'} tone-${tone}`);
    m.g.dataset.tone = tone;
    const words = deviceStateWords(d);
    const progress = d.progress !== undefined && d.state === 'running' ? ` ${percent(d.progress)}` : '';
    // Colour says idle or busy; words are for what needs attention, and a machine's progress.
    const robot = m.g.classList.contains('robot');
    m.state.textContent = this.stale ? (robot ? 'last known' : '') : tone === 'idle' || (tone === 'busy' && robot) ? '' : tone === 'busy' ? `${d.state}${progress}` : words;
    const wait = robot && this.waits.get(d.id);
    m.title.textContent = `${d.id}: ${this.stale ? 'last known state, ' : ''}${words}${d.soc !== undefined ? `, battery ${percent(d.soc)}` : ''}${wait ? `; ${waitWords(wait)}` : ''}`;
  }

  private addRobot(id: string): Robot {
    const body = s(
      'g',
      { class: 'body' },
      s('rect', { class: 'hull', x: -0.7, y: -0.5, width: 1.4, height: 1.0, rx: 0.25 }),
      s('polygon', { class: 'heading', points: '0.6,0 0.02,-0.34 0.02,0.34' }),
    );
    const title = s('title', null, id);
    const state = s('text', { class: 'state', x: 0.85, y: 0.2 });
    const name = s('text', { class: 'name', y: NAME_ABOVE }, id);
    const wait = s('text', { class: 'wait', x: 0.85, y: 0.1 });
    const g = s('g', { class: 'robot', 'data-id': id }, title, body, name, state, wait);
    const robot = { g, body, name, state, title, wait };
    this.robots.set(id, robot);
    this.robotLayer.append(g);
    this.showWait(id, robot);
    return robot;
  }

  private updateMachine(m: Marker & { bar?: SVGRectElement; barWidth: number }, d: DeviceState): void {
    m.last = d;
    this.paint(m, d);
    if (m.bar) m.bar.setAttribute('width', String(r2(m.barWidth * Math.min(1, Math.max(0, d.state === 'running' || d.state === 'done' ? (d.progress ?? 0) : 0)))));
  }

  private lanes(): SVGElement[] {
    const at = new Map(this.site.nodes.map((n) => [n.id, n]));
    return this.site.edges.flatMap((e) => {
      const a = at.get(e.from);
      const b = at.get(e.to);
      return a && b ? [s('line', { x1: a.x, y1: -a.y, x2: b.x, y2: -b.y })] : [];
    });
  }

  /** Stations with a machine at them are named by the machine. */
  private stations(): SVGElement[] {
    const machineStations = new Set(this.site.devices.flatMap((d) => [d.station, d.from, d.to]).filter(Boolean));
    return this.site.stations.map((st) =>
      s(
        'g',
        { class: `station kind-${st.kind}`, transform: `translate(${st.x} ${-st.y})` },
        s('rect', { x: -0.25, y: -0.25, width: 0.5, height: 0.5 }),
        machineStations.has(st.id) ? null : s('text', { y: 1.2 }, st.id),
      ),
    );
  }

  private machineMarkers(): SVGElement[] {
    return this.site.devices.flatMap((d) => {
      const place = this.machinePlace(d);
      if (!place) return [];
      const { x, y, w, h } = place;
      const title = s('title', null, d.id);
      // Rectangles are named above; a round arm (small, among machines) at its upper right.
      const round = d.kind === 'arm';
      const label = round ? { x: 0.55, y: -0.7, anchor: 'start' } : { x: 0, y: r2(-h / 2 - 0.9), anchor: 'middle' };
      const state = s('text', { class: 'state', x: label.x, y: r2(label.y - 0.6), 'text-anchor': label.anchor });
      const barWidth = Math.max(1.6, w);
      const bar = d.kind === 'arm' ? undefined : s('rect', { class: 'bar', x: r2(-barWidth / 2), y: r2(h / 2 + 0.15), width: 0, height: 0.28 });
      const g = s(
        'g',
        { class: 'machine', 'data-id': d.id, transform: `translate(${r2(x)} ${r2(-y)})` },
        title,
        round ? s('circle', { class: 'hull', r: 0.45 }) : s('rect', { class: 'hull', x: r2(-w / 2), y: r2(-h / 2), width: r2(w), height: r2(h), rx: 0.12 }),
        bar ? s('rect', { class: 'track', x: r2(-barWidth / 2), y: r2(h / 2 + 0.15), width: r2(barWidth), height: 0.28 }) : null,
        bar ?? null,
        s('text', { class: 'name', x: label.x, y: label.y, 'text-anchor': label.anchor }, d.id),
        state,
      );
      this.machines.set(d.id, { g, state, title, barWidth, ...(bar ? { bar } : {}) });
      return [g];
    });
  }

  /** Where a machine is drawn: in front of its station (conveyors: along both ends; arms: their pose). */
  private machinePlace(d: SiteDevice): { x: number; y: number; w: number; h: number } | undefined {
    if (d.kind === 'amr') return undefined;
    if (d.pose) return { x: d.pose.x, y: d.pose.y, w: 0.9, h: 0.9 };
    const front = (id: string | undefined) => {
      const st = this.site.stations.find((x) => x.id === id);
      return st && { x: st.x + MACHINE_OFFSET_M * Math.cos(st.theta), y: st.y + MACHINE_OFFSET_M * Math.sin(st.theta) };
    };
    if (d.from && d.to) {
      const a = front(d.from);
      const b = front(d.to);
      if (!a || !b) return undefined;
      return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2, w: Math.max(1, Math.abs(b.x - a.x)) + 0.6, h: Math.max(0.6, Math.abs(b.y - a.y) + 0.6) };
    }
    const p = front(d.station);
    return p && { ...p, w: 1.6, h: 1.2 };
  }
}

function bounds(site: SiteView): { x0: number; y0: number; x1: number; y1: number } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const n of site.nodes) xs.push(n.x), ys.push(n.y);
  for (const z of site.zones) for (const [x, y] of z.polygon) xs.push(x), ys.push(y);
  for (const o of site.world.obstacles) {
    const r = o.shape.kind === 'circle' ? o.shape.r : Math.hypot(o.shape.hx, o.shape.hy);
    const rx = o.shape.kind === 'box' ? Math.abs(o.shape.hx * Math.cos(o.yaw)) + Math.abs(o.shape.hy * Math.sin(o.yaw)) : r;
    const ry = o.shape.kind === 'box' ? Math.abs(o.shape.hx * Math.sin(o.yaw)) + Math.abs(o.shape.hy * Math.cos(o.yaw)) : r;
    xs.push(o.x - rx, o.x + rx);
    ys.push(o.y - ry, o.y + ry);
  }
  const pad = 0.4;
  return { x0: Math.min(...xs) - pad, y0: Math.min(...ys) - pad, x1: Math.max(...xs) + pad, y1: Math.max(...ys) + pad };
}

function defs(): SVGDefsElement {
  const hatch = (id: string, cls: string) =>
    s(
      'pattern',
      { id, width: 0.7, height: 0.7, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      s('rect', { class: `${cls}-ground`, width: 0.7, height: 0.7 }),
      s('rect', { class: `${cls}-stripe`, width: 0.28, height: 0.7 }),
    );
  return s('defs', null, hatch('pg-keep-out', 'keep-out'), hatch('pg-slow', 'slow'));
}

function zoneShape(z: Zone): SVGElement {
  return s('polygon', { class: `zone ${z.kind}`, 'data-zone': z.id, points: z.polygon.map(([x, y]) => `${x},${-y}`).join(' ') });
}

/** Width of a line of text in metres, roughly, at a font size in metres. */
const textWidth = (text: string, size: number) => text.length * size * 0.72;

/**
 * KEEP OUT / SLOW written in the zone, as large as fits (at most 0.8 m): across it near its top
 * edge, or along it when the zone is narrow.
 */
function zoneLabel(z: Zone): SVGElement {
  const xs = z.polygon.map((p) => p[0]);
  const ys = z.polygon.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const title = z.kind === 'keep-out' ? 'KEEP OUT' : `SLOW${z.maxSpeed !== undefined ? ` ${z.maxSpeed} m/s` : ''}`;
  const along = `${title} · ${z.id}`;
  const across = Math.min(0.8, (0.9 * (x1 - x0)) / (textWidth(title, 1) || 1), (0.9 * (x1 - x0)) / (textWidth(z.id, 0.65) || 1));
  const alongSize = Math.min(0.8, (0.9 * (y1 - y0)) / textWidth(along, 1), (0.8 * (x1 - x0)) / 1);
  if (across >= alongSize) {
    const top = y1 - 0.3 - across;
    return s(
      'g',
      { class: `zone-label ${z.kind}`, transform: `translate(${r2((x0 + x1) / 2)} ${r2(-top)})` },
      s('text', { class: 'kind', 'font-size': r2(across) }, title),
      s('text', { class: 'id', y: r2(across * 0.85), 'font-size': r2(across * 0.65) }, z.id),
    );
  }
  return s(
    'g',
    { class: `zone-label ${z.kind}`, transform: `translate(${r2((x0 + x1) / 2)} ${r2(-(y0 + y1) / 2)}) rotate(-90)` },
    s('text', { class: 'kind', y: r2(alongSize * 0.35), 'font-size': r2(alongSize) }, along),
  );
}

function obstacleShape(o: SiteView['world']['obstacles'][number]): SVGElement {
  const at = `translate(${r2(o.x)} ${r2(-o.y)})`;
  if (o.shape.kind === 'circle') return s('circle', { r: o.shape.r, transform: at });
  const { hx, hy } = o.shape;
  return s('rect', { x: -hx, y: -hy, width: r2(2 * hx), height: r2(2 * hy), transform: `${at} rotate(${svgDeg(o.yaw)})` });
}
