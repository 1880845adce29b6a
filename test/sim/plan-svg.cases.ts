// The plan picture: a hand-built report on a small hand-built site, parsed back as XML, so each
// assertion looks at what an operator would see (colours, where markers are, the text).
import t from 'tap';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { CheckReport, Issue } from '../../planners/report.ts';
import { indexSite, SiteSchema } from '../../planners/site.ts';
import { PX_PER_M, renderPlanSvg, ROUTE_PALETTE, VERDICT_COLOURS, type PlanSvgInput } from '../../sim/plan-svg.ts';
import type { Obstacle } from '../../sim/world/sdf.ts';

// ---- a small site: a 12 m x 6 m loop with two stations, a keep-out and a slow zone ----

const amr = (id: string, home: string) => ({
  id,
  kind: 'amr' as const,
  home,
  vda5050: { manufacturer: 'test', serialNumber: id },
  footprint: { length: 0.8, width: 0.6 },
  massKg: 60,
  payloadKg: 30,
  limits: { maxSpeed: 1, maxAccel: 0.5, maxDecel: 0.7, maxTurnRate: 1 },
  battery: { capacityWh: 800, chargePowerW: 400, idlePowerW: 30, rollingFriction: 0.02, efficiency: 0.8 },
  transport: { loadS: 15, unloadS: 15 },
});

const site = indexSite(
  SiteSchema.parse({
    schema: 'phygate.site/v1',
    id: 'tiny',
    name: 'Tiny hall',
    mapId: 'tiny',
    nodes: [
      { id: 'a', x: 1, y: 1 },
      { id: 'b', x: 5, y: 1 },
      { id: 'c', x: 5, y: 4 },
      { id: 'd', x: 1, y: 4 },
      { id: 'e', x: 10, y: 1 },
      { id: 'e-dock', x: 10, y: 0.5 },
    ],
    edges: [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
      { from: 'c', to: 'd' },
      { from: 'd', to: 'a' },
      { from: 'b', to: 'e', oneWay: true },
      { from: 'e', to: 'e-dock' },
    ],
    stations: [
      { id: 'dock', node: 'e-dock', kind: 'dock' },
      { id: 'home-1', node: 'a', kind: 'charger' },
    ],
    zones: [
      { id: 'spray', kind: 'keep-out', polygon: [[7, 3], [11, 3], [11, 5.5], [7, 5.5]] },
      { id: 'aisle', kind: 'slow', maxSpeed: 0.5, polygon: [[2.5, 0.2], [3.5, 0.2], [3.5, 5.5], [2.5, 5.5]] },
    ],
    devices: [amr('amr-1', 'home-1'), amr('amr-2', 'dock')],
  }),
);

const obstacle = (model: string, shape: Obstacle['shape'], x: number, y: number, yaw = 0): Obstacle => ({
  model,
  link: 'body',
  collision: 'c',
  shape,
  x,
  y,
  yaw,
  zMin: 0,
  zMax: 1,
  static: true,
});

const obstacles: Obstacle[] = [
  obstacle('crate', { kind: 'box', hx: 1, hy: 0.25 }, 3, 2.5, Math.PI / 2),
  obstacle('pillar', { kind: 'circle', r: 0.3 }, 7.5, 2),
];

const conflict: Issue = {
  code: 'ROBOT_CONFLICT',
  severity: 'warning',
  step: 'deliver',
  device: 'amr-2',
  with: 'amr-1',
  at: 'b',
  atS: 12.5,
  waitS: 4.24,
  message: 'amr-2 would meet amr-1 at b; it waits 4.2 s',
  hint: 'make deliver wait for patrol',
};

function report(over: Partial<CheckReport> = {}): CheckReport {
  return {
    verdict: 'warn',
    planHash: '0123456789abcdef'.repeat(4),
    worldHash: 'f'.repeat(64),
    assignments: { courier: 'amr-2' },
    makespanS: 95.25,
    steps: [
      { id: 'patrol', device: 'amr-1', startS: 0, endS: 30, route: ['a', 'b', 'c'] },
      { id: 'deliver', device: 'amr-2', startS: 0, endS: 40, route: ['dock', 'e', 'b', 'a'] },
      { id: 'wait', device: 'amr-2', startS: 40, endS: 50 },
      { id: 'press', device: 'press-1', startS: 0, endS: 20 },
      { id: 'return', device: 'amr-1', startS: 30, endS: 60, route: ['c', 'd', 'a'] },
    ],
    devices: [
      { id: 'amr-1', distanceM: 14, socStart: 0.9, socEnd: 0.88 },
      { id: 'amr-2', distanceM: 9.5, socStart: 0.9, socEnd: 0.89 },
    ],
    issues: [conflict],
    ...over,
  };
}

const input = (over: Partial<PlanSvgInput> = {}): PlanSvgInput => ({ site, obstacles, report: report(), title: 'Tiny plan', ...over });

// ---- reading the SVG back ----

interface Element {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: Element[];
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  attributesGroupName: '@',
  textNodeName: '#text',
  alwaysCreateTextNode: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  isArray: (_n, _p, _l, isAttribute) => !isAttribute,
});

function toElements(name: string, node: unknown): Element {
  const o = (node ?? {}) as Record<string, unknown>;
  const children: Element[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (k === '@' || k === '#text') continue;
    for (const c of v as unknown[]) children.push(toElements(k, c));
  }
  const text = Array.isArray(o['#text']) ? (o['#text'] as string[]).join('') : typeof o['#text'] === 'string' ? (o['#text'] as string) : '';
  return { name, attrs: (o['@'] as Record<string, string>) ?? {}, text, children };
}

function parse(svg: string): Element {
  const valid = XMLValidator.validate(svg);
  if (valid !== true) throw new Error(`not well-formed XML: ${valid.err.msg} at ${valid.err.line}:${valid.err.col}`);
  const doc = parser.parse(svg) as Record<string, unknown[]>;
  return toElements('svg', doc.svg![0]);
}

function all(root: Element, pred: (e: Element) => boolean): Element[] {
  const out: Element[] = [];
  const visit = (e: Element) => {
    if (pred(e)) out.push(e);
    e.children.forEach(visit);
  };
  visit(root);
  return out;
}

const hasClass = (e: Element, c: string) => (e.attrs.class ?? '').split(' ').includes(c);
const byClass = (root: Element, c: string, name?: string) => all(root, (e) => hasClass(e, c) && (name === undefined || e.name === name));
const textOf = (e: Element): string => e.text + e.children.map(textOf).join('');
const allText = (root: Element) => all(root, (e) => e.name === 'text').map(textOf);

function nodeDot(root: Element, id: string): { x: number; y: number } {
  const [dot] = all(root, (e) => hasClass(e, 'node') && e.attrs['data-node'] === id);
  if (!dot) throw new Error(`no node dot for ${id}`);
  return { x: Number(dot.attrs.cx), y: Number(dot.attrs.cy) };
}

// ---- the tests ----

t.test('two devices: one route polyline per step, one colour per device, in step order', async (t) => {
  const svg = parse(renderPlanSvg(input()));
  const routes = byClass(svg, 'route', 'polyline');
  t.same(
    routes.map((r) => [r.attrs['data-step'], r.attrs['data-device']]),
    [
      ['patrol', 'amr-1'],
      ['deliver', 'amr-2'],
      ['return', 'amr-1'],
    ],
    'steps with a route, in report order; the step without a route draws nothing',
  );
  const colour = (step: string) => routes.find((r) => r.attrs['data-step'] === step)!.attrs.stroke;
  t.equal(colour('patrol'), ROUTE_PALETTE[0], 'the first device gets the first palette colour');
  t.equal(colour('deliver'), ROUTE_PALETTE[1]);
  t.not(colour('patrol'), colour('deliver'), 'two devices, two colours');
  t.equal(colour('return'), colour('patrol'), "a device's steps share its colour");
  for (const r of routes) t.match(r.attrs['marker-end'], /^url\(#pg-arrow-[0-9a-f]{6}\)$/, `${r.attrs['data-step']}: an arrowhead at the end`);

  // The polyline passes the route's nodes (shifted a few px to the right of travel, so two
  // routes on one aisle stay apart).
  const pts = (step: string) => routes.find((r) => r.attrs['data-step'] === step)!.attrs.points!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
  const patrol = pts('patrol');
  t.equal(patrol.length, 3);
  for (const [i, id] of ['a', 'b', 'c'].entries()) {
    const n = nodeDot(svg, id);
    t.ok(Math.hypot(patrol[i]![0] - n.x, patrol[i]![1] - n.y) < 12, `patrol passes node ${id}`);
  }
  const deliver = pts('deliver');
  t.ok(Math.hypot(deliver[0]![0] - nodeDot(svg, 'e-dock').x, deliver[0]![1] - nodeDot(svg, 'e-dock').y) < 12, 'a station in a route is drawn at its node');

  const legend = byClass(svg, 'legend-device');
  t.same(
    legend.map((l) => [l.attrs['data-device'], l.attrs['data-colour']]),
    [
      ['amr-1', ROUTE_PALETTE[0]],
      ['amr-2', ROUTE_PALETTE[1]],
    ],
    'the legend names each device with its colour',
  );
  t.match(textOf(legend[0]!), /amr-1.*patrol, return · 14\.0 m/, "the legend lists the device's steps and distance");
  t.equal(byClass(svg, 'step-label', 'text').map(textOf).join(','), 'patrol,deliver,return', 'each route has its step id near its end');
});

t.test('the floor: y up at 30 px/m, nodes, edges, stations, zones and obstacles', async (t) => {
  const svg = parse(renderPlanSvg(input()));
  const a = nodeDot(svg, 'a');
  const b = nodeDot(svg, 'b');
  const d = nodeDot(svg, 'd');
  t.equal(b.x - a.x, 4 * PX_PER_M, 'x: 4 m east is 120 px right');
  t.equal(b.y, a.y, 'same y, same row');
  t.equal(a.y - d.y, 3 * PX_PER_M, 'y is flipped: 3 m north is 90 px up');
  t.equal(byClass(svg, 'node', 'circle').length, 6);
  t.equal(byClass(svg, 'edge', 'line').length, 6);
  t.same(byClass(svg, 'one-way').map((e) => `${e.attrs['data-from']}>${e.attrs['data-to']}`), ['b>e'], 'a one-way edge is marked');

  const stations = byClass(svg, 'station', 'rect');
  t.same(stations.map((s) => s.attrs['data-station']), ['dock', 'home-1']);
  t.same(byClass(svg, 'station-label').map(textOf), ['dock', 'home-1'], 'stations are labelled with their ids');

  const [keepOut] = byClass(svg, 'keep-out', 'polygon');
  t.equal(keepOut?.attrs['data-zone'], 'spray');
  t.ok(hasClass(keepOut!, 'zone'));
  t.ok(Number(keepOut!.attrs['fill-opacity']) < 1, 'translucent');
  const [slow] = byClass(svg, 'slow', 'polygon');
  t.equal(slow?.attrs['data-zone'], 'aisle');
  const zoneText = byClass(svg, 'zone-label').map(textOf).join(' | ');
  t.match(zoneText, /spray/, 'the keep-out zone is named');
  t.match(zoneText, /aisle.*0\.5 m\/s/, 'the slow zone is named with its speed limit');

  // The crate is 2 m x 0.5 m turned by 90°: on the page it stands 15 px wide and 60 px tall.
  const [crate] = all(svg, (e) => hasClass(e, 'obstacle') && e.attrs['data-model'] === 'crate');
  t.equal(crate?.name, 'polygon');
  const xs = crate!.attrs.points!.split(' ').map((p) => Number(p.split(',')[0]));
  const ys = crate!.attrs.points!.split(' ').map((p) => Number(p.split(',')[1]));
  t.equal(Math.max(...xs) - Math.min(...xs), 15, 'rotated box: width');
  t.equal(Math.max(...ys) - Math.min(...ys), 60, 'rotated box: height');
  const [pillar] = all(svg, (e) => hasClass(e, 'obstacle') && e.attrs['data-model'] === 'pillar');
  t.equal(pillar?.name, 'circle');
  t.equal(Number(pillar!.attrs.r), 0.3 * PX_PER_M);
  t.equal(Number(pillar!.attrs.cx) - a.x, 6.5 * PX_PER_M, 'at its x');
  t.equal(a.y - Number(pillar!.attrs.cy), 1 * PX_PER_M, 'at its y');
});

t.test('a ROBOT_CONFLICT is an orange circle at its node, saying who waits how long for whom', async (t) => {
  const svg = parse(renderPlanSvg(input()));
  const conflicts = byClass(svg, 'conflict', 'g');
  t.equal(conflicts.length, 1);
  const g = conflicts[0]!;
  t.match(g.attrs, { 'data-at': 'b', 'data-device': 'amr-2', 'data-with': 'amr-1', 'data-step': 'deliver' });
  const [circle] = byClass(g, 'conflict-marker', 'circle');
  const b = nodeDot(svg, 'b');
  t.equal(Number(circle!.attrs.cx), b.x, "at node b's x");
  t.equal(Number(circle!.attrs.cy), b.y, "at node b's y");
  t.not(Number(circle!.attrs.cx), nodeDot(svg, 'a').x, 'not at another node');
  t.equal(circle!.attrs.stroke, '#e65100', 'orange');
  t.equal(allText(g).join(''), 'amr-2 waits 4.2 s for amr-1');
  t.equal(byClass(svg, 'deadlock').length, 0, 'no deadlock drawn');
});

t.test('a DEADLOCK is a red cross at its node; issues without a known place are only listed', async (t) => {
  const deadlock: Issue = { code: 'DEADLOCK', severity: 'error', step: 'return', device: 'amr-1', with: 'amr-2', at: 'd', atS: 40, message: 'amr-1 and amr-2 block each other at d', hint: 'order them' };
  const nowhere: Issue = { ...conflict, at: 'no-such-node' };
  const unplaced: Issue = { ...conflict, at: undefined, device: 'amr-1' };
  const svg = parse(renderPlanSvg(input({ report: report({ verdict: 'fail', issues: [deadlock, nowhere, unplaced] }) })));
  const [g] = byClass(svg, 'deadlock', 'g');
  t.match(g?.attrs, { 'data-at': 'd', 'data-device': 'amr-1', 'data-with': 'amr-2' });
  const [cross] = byClass(g!, 'deadlock-marker');
  t.same([Number(cross!.attrs['data-x']), Number(cross!.attrs['data-y'])], [nodeDot(svg, 'd').x, nodeDot(svg, 'd').y], 'at node d');
  t.match(cross!.attrs.d, /^M[\d.]+ [\d.]+L[\d.]+ [\d.]+M[\d.]+ [\d.]+L[\d.]+ [\d.]+$/, 'two strokes: a cross');
  t.match(allText(g!).join(''), /DEADLOCK: amr-1 ⇄ amr-2/);
  t.equal(byClass(svg, 'conflict', 'g').length, 0, 'conflicts at an unknown or no node get no marker');
  t.same(byClass(svg, 'legend-issue').map((e) => e.attrs['data-code']), ['DEADLOCK', 'ROBOT_CONFLICT', 'ROBOT_CONFLICT'], 'but every issue is listed');
});

t.test('the legend: verdict in its colour, makespan, planHash prefix, roles', async (t) => {
  for (const verdict of ['pass', 'warn', 'fail'] as const) {
    const svg = parse(renderPlanSvg(input({ report: report({ verdict }) })));
    const [badge] = byClass(svg, 'verdict', 'rect');
    t.equal(badge?.attrs['data-verdict'], verdict);
    t.equal(badge?.attrs.fill, VERDICT_COLOURS[verdict], `${verdict} in its colour`);
    t.ok(allText(byClass(svg, 'legend')[0]!).includes(verdict.toUpperCase()), `says ${verdict.toUpperCase()}`);
  }
  const legend = allText(parse(renderPlanSvg(input({ report: report({ makespanS: 3725 }) }))));
  t.ok(legend.includes('makespan 3725.0 s (1 h 2 min)'), 'a long makespan also in hours and minutes');
  const svg = parse(renderPlanSvg(input()));
  t.equal(textOf(byClass(svg, 'makespan')[0]!), 'makespan 95.3 s (1 min 35 s)');
  t.equal(textOf(byClass(svg, 'plan-hash')[0]!), 'plan 0123456789ab', 'the first 12 hex digits of the planHash');
  t.equal(textOf(byClass(svg, 'assignment')[0]!), '$courier → amr-2');
  t.equal(textOf(byClass(svg, 'verdict-text')[0]!), '1 warning');
  t.ok(allText(svg).includes('also: press-1 (press)'), 'devices that do not drive are listed with their steps, those that drive are not');

  // A robot that got stuck: its route's length as the CLI prints it, and what it drove (issue #18: it said "0.0 m").
  const base = report();
  const stuckRep = report({ devices: base.devices.map((d) => (d.id === 'amr-2' ? { ...d, distanceM: 0 } : d)) });
  const stuckLegend = byClass(parse(renderPlanSvg(input({ report: stuckRep }))), 'legend-device').find((l) => l.attrs['data-device'] === 'amr-2')!;
  t.match(textOf(stuckLegend), /deliver · [1-9]\d*\.\d m \(stuck\)$/, 'planned metres, and that it did not drive them');
  t.match(textOf(byClass(parse(renderPlanSvg(input())), 'legend-device')[1]!), /deliver · \d+\.\d m$/, 'not stuck when it drove its route');
  const none = report({ steps: base.steps.map((st) => ({ ...st, blocked: true })) });
  t.equal(textOf(byClass(parse(renderPlanSvg(input({ report: none }))), 'makespan')[0]!), 'makespan: none (no step finishes)', 'no makespan for a plan where nothing finishes');
  const some = report({ steps: base.steps.map((st, i) => (i === 0 ? { ...st, blocked: true } : st)) });
  t.match(textOf(byClass(parse(renderPlanSvg(input({ report: some }))), 'makespan')[0]!), /; 1 of \d+ steps do not finish$/);

  const many = Array.from({ length: 11 }, (_, i) => ({ ...conflict, step: `s${i}`, at: undefined }));
  const crowded = parse(renderPlanSvg(input({ report: report({ issues: many }) })));
  t.equal(byClass(crowded, 'legend-issue').length, 8, 'at most 8 issues in the legend');
  t.ok(allText(crowded).includes('+ 3 more in the report'));
});

t.test('every text is XML-escaped: a title with <&>, device ids and messages', async (t) => {
  const title = 'Bolts <&> "nuts" \'n\' washers \u0007';
  const odd: Issue = { ...conflict, device: 'amr-"2"', message: '<script>alert(1)</script> & more' };
  const raw = renderPlanSvg(input({ title, report: report({ issues: [odd] }) }));
  t.equal(XMLValidator.validate(raw), true, 'well-formed XML');
  t.notOk(raw.includes('<&>'), 'no raw <&>');
  t.notOk(raw.includes('<script>'), 'no raw markup from a message');
  t.ok(raw.includes('Bolts &lt;&amp;&gt; &quot;nuts&quot; &apos;n&apos; washers \uFFFD'), 'escaped; a control character XML cannot hold is replaced');
  const svg = parse(raw);
  const [titleEl] = all(svg, (e) => e.name === 'title');
  t.equal(titleEl?.text, 'Bolts <&> "nuts" \'n\' washers \uFFFD', 'and reads back as written');
  t.equal(textOf(byClass(svg, 'title', 'text')[0]!), titleEl?.text, 'the visible title too');
  t.equal(byClass(svg, 'conflict', 'g')[0]?.attrs['data-device'], 'amr-"2"', 'attribute values are escaped');
  t.ok(allText(svg).some((s) => s.includes('<script>alert(1)</script> & more')), 'the message reads back as written');
});

t.test('deterministic, with fixed number formatting', async (t) => {
  const first = renderPlanSvg(input());
  const again = renderPlanSvg({ site, obstacles: structuredClone(obstacles), report: structuredClone(report()), title: 'Tiny plan' });
  t.equal(again, first, 'the same input gives the same bytes');
  t.not(renderPlanSvg(input({ report: report({ issues: [] }) })), first, 'a different report gives a different picture');
  t.ok(first.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), 'an SVG document');
  t.match(first, /^<svg [^>]*width="100%" height="100%" viewBox="0 0 \d+ \d+"/, 'scales to fit the screen; the viewBox gives its size');
  const body = first.slice(first.indexOf('>') + 1); // below the root, whose size is 100%
  const numbers = [...body.matchAll(/ (?:x|y|cx|cy|r|x1|y1|x2|y2|width|height)="([^"]*)"/g)].map((m) => m[1]!);
  t.ok(numbers.length > 50);
  t.same(numbers.filter((n) => !/^-?\d+(\.\d{1,2})?$/.test(n) || n === '-0'), [], 'at most two decimals, never -0');
  for (const m of first.matchAll(/ points="([^"]*)"/g)) {
    const bad = m[1]!.split(/[ ,]/).filter((n) => !/^-?\d+(\.\d{1,2})?$/.test(n));
    if (bad.length > 0) t.fail(`points with ${bad.join(' ')}`);
  }
  t.match(first, /<title>Tiny plan<\/title>/);
  t.match(renderPlanSvg(input({ title: '   ' })), /<title>Plan check<\/title>/, 'a blank title falls back');
});

t.test('a far-away obstacle does not shrink the floor; a huge site is drawn smaller', async (t) => {
  const far = obstacle('far-tree', { kind: 'circle', r: 1 }, 500, 500);
  const near = renderPlanSvg(input());
  const withFar = renderPlanSvg(input({ obstacles: [...obstacles, far] }));
  const size = (s: string) => / viewBox="0 0 (\d+) (\d+)"/.exec(s)!.slice(1).map(Number);
  t.same(size(withFar), size(near), 'the picture keeps its size');
  t.ok(withFar.includes('data-model="far-tree"'), 'the obstacle is still in the document (clipped to the map)');

  const big = indexSite({ ...site.site, nodes: [...site.site.nodes, { id: 'far', x: 400, y: 120 }] });
  const svg = parse(renderPlanSvg(input({ site: big })));
  const [w] = size(renderPlanSvg(input({ site: big })));
  t.ok(w! < 2000, `a 400 m site still fits a screen (${w} px)`);
  t.ok(nodeDot(svg, 'b').x - nodeDot(svg, 'a').x < 4 * PX_PER_M, 'at fewer px per metre');
});

t.test('odd input: a route that turns back, a long word, a zone without area, a step without a device', async (t) => {
  const flat = indexSite({ ...site.site, zones: [...site.site.zones, { id: 'line', kind: 'keep-out', polygon: [[1, 5], [2, 5], [3, 5]] }] });
  const longWord = 'x'.repeat(120);
  const svg = parse(
    renderPlanSvg({
      site: flat,
      obstacles,
      report: report({
        steps: [
          { id: 'there-and-back', device: 'amr-1', startS: 0, endS: 20, route: ['a', 'b', 'a'] },
          { id: 'ghost', startS: 0, endS: 5, route: ['c', 'unknown-node', 'd'] },
          { id: 'lost', device: 'amr-2', startS: 0, endS: 5, route: ['unknown-node', 'c'] },
        ],
        issues: [{ ...conflict, message: `${longWord} here`, at: undefined }],
      }),
    }),
  );
  const routes = byClass(svg, 'route', 'polyline');
  t.same(routes.map((r) => r.attrs['data-step']), ['there-and-back', 'ghost'], 'a route with fewer than two known nodes is not drawn');
  const back = routes[0]!.attrs.points!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
  t.equal(back.length, 4, 'the turn back keeps both sides of the lane');
  t.ok(back[0]![1] !== back[3]![1], 'there and back are drawn on two sides of the aisle');
  t.equal(routes[1]!.attrs['data-device'], '?', 'a step without a device still shows its route');
  t.equal(routes[1]!.attrs.points!.split(' ').length, 2, 'unknown nodes are left out');
  t.ok(byClass(svg, 'zone-label').some((e) => textOf(e) === 'line'), 'a zone without area is still labelled');
  const lines = all(byClass(svg, 'legend')[0]!, (e) => e.name === 'text').map(textOf).filter((s) => s.includes('xxxx'));
  t.equal(lines.length, 2, 'a long message is wrapped onto at most two lines');
  t.ok(lines.every((l) => [...l].length <= 50), 'each short enough for the panel');
  t.ok(lines[1]!.endsWith('…'), 'and cut with an ellipsis');
});

t.test('a detour from the simulator is drawn as a detour, not as a wait of 0 s', async (t) => {
  const { buildSite, checkSmall, CORRIDOR_WITH_BYPASS } = await import('./fixtures/small-site.ts');
  const report = checkSmall(CORRIDOR_WITH_BYPASS, [
    { id: 'a', action: 'navigate', device: 'amr-a', params: { to: 'e' } },
    { id: 'b', action: 'navigate', device: 'amr-b', params: { to: 'w' } },
  ]);
  const svg = renderPlanSvg({ site: indexSite(buildSite(CORRIDOR_WITH_BYPASS)), obstacles: [], report });
  const detour = report.issues.find((i) => i.detour)!;
  t.match(svg, new RegExp(`${detour.device} (waits [\\d.]+ s, )?detours around ${detour.with}`));
  t.notMatch(svg, /waits 0(\.0)? s/);
});

t.test('on the demo site (issue #18): the aisle nodes issues name have their ids, the arm is drawn and named, the key has each kind of station', async (t) => {
  const { loadSiteFolder } = await import('../../sim/site-folder.ts');
  const { checkOnSite } = await import('../../sim/checker.ts');
  const { PlanSchema } = await import('../../planners/plan.ts');
  const demo = loadSiteFolder(new URL('../../launch/sites/demo', import.meta.url).pathname);
  const plan = PlanSchema.parse({
    schema: 'phygate.plan/v1',
    steps: [
      { id: 'a', action: 'navigate', device: 'amr-1', params: { to: 'shelf-2' } },
      { id: 'b', action: 'navigate', device: 'amr-2', params: { to: 'dock-a' } },
    ],
  });
  const report = checkOnSite(demo, plan);
  const named = [...new Set(report.issues.flatMap((i) => (i.at ? [i.at] : [])))].filter((id) => !demo.index.site.stations.some((s) => s.node === id));
  t.ok(named.length > 0, `the plan's issues name aisle nodes: ${named.join(', ')}`);
  const svg = parse(renderPlanSvg({ site: demo.index, obstacles: demo.world.obstacles, report }));
  t.same(byClass(svg, 'node-label', 'text').map((e) => e.attrs['data-node']).sort(), named.sort(), 'each such node is labelled');
  t.same(byClass(svg, 'arm').map((e) => e.attrs['data-device']), ['arm-1'], 'the arm is drawn');
  t.same(byClass(svg, 'arm-label', 'text').map(textOf), ['arm-1'], 'and named');
  t.same(byClass(svg, 'key-station', 'rect').map((e) => e.attrs['data-kind']).sort(), [...new Set(demo.index.site.stations.map((s) => s.kind))].sort(), 'one key row per kind of station');
});

t.test('a DEADLOCK behind a parked robot (issue #18): the issue says where it stands, and the picture draws it as parked, not as two robots blocking each other', async (t) => {
  const { loadSiteFolder } = await import('../../sim/site-folder.ts');
  const { checkOnSite } = await import('../../sim/checker.ts');
  const { PlanSchema } = await import('../../planners/plan.ts');
  const demo = loadSiteFolder(new URL('../../launch/sites/demo', import.meta.url).pathname);
  const staying = { ...demo, index: indexSite(SiteSchema.parse({ ...demo.index.site, policies: { ...demo.index.site.policies, idle: 'stay' } })) };
  const report = checkOnSite(staying, PlanSchema.parse({ schema: 'phygate.plan/v1', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'dock-b' } }] }));
  const dl = report.issues.find((i) => i.code === 'DEADLOCK');
  t.match(dl, { device: 'amr-1', with: 'amr-2', withAt: 'dock-b' }, 'amr-2 stands on dock-b and nothing moves it');
  const svg = parse(renderPlanSvg({ site: staying.index, obstacles: demo.world.obstacles, report }));
  t.same(byClass(svg, 'parked-robot').map((e) => [e.attrs['data-device'], e.attrs['data-at']]), [['amr-2', 'dock-b']], 'the parked robot is drawn where it stands');
  t.same(byClass(svg, 'parked-label', 'text').map(textOf), ['amr-2 (parked)']);
  t.match(allText(byClass(svg, 'deadlock')[0]!).join(''), /DEADLOCK: amr-1 blocked by amr-2 \(parked\)/);
  t.notMatch(allText(svg).join(' '), /amr-1 ⇄ amr-2/, 'not drawn as a cycle');
});
