// Synthetic shop floors and shift plans for the check benchmark (`npm run bench`) and its test, and
// the demo site with a large fleet for the MQTT benchmarks.
// Not a test itself: test/bench/generate.test.ts checks what it builds.
//
// The hall is a grid of parallel aisles (a nav node every 3 m) joined by cross aisles at both ends
// of every cell. All of them are one-way: even aisles run east, odd ones west, and each cross aisle
// leads from the westbound to the eastbound aisle at a cell's west end and back at its east end,
// so robots circulate in loops instead of meeting head-on. Every station sits on a short spur one
// node off an aisle, so a robot parked there leaves the aisle free. The floor is cut into cells of
// up to five AMRs; each cell has a home dock per AMR, a shelf per AMR (plus a spare), a cnc, a
// printer, a conveyor and an arm that reaches the cnc and the conveyor's in-station. Chargers are
// shared, one per four AMRs. Device parameters are the demo site's (launch/sites/demo).
import { fileURLToPath } from 'node:url';
import { canonicalJson, MAX_STEPS, PlanSchema, sha256, type Plan, type PlanInput } from '../../planners/plan.ts';
import { buildNavGraph, type NavGraph } from '../../planners/route.ts';
import { crossCheckSite, indexSite, SiteSchema, type Amr, type Arm, type Conveyor, type Device, type Machine, type Site, type SiteIndex } from '../../planners/site.ts';
import { loadSiteFolder, type LoadedSite } from '../../sim/site-folder.ts';

export const AMRS_PER_CELL = 5;
export const AMRS_PER_CHARGER = 4;
export const NODE_SPACING_M = 3;
export const AISLE_SPACING_M = 9;
export const SPUR_M = 1.5;
/** Node columns per cell along its aisle: a cross aisle at columns 0 and 10, stations at 1..9. */
export const CELL_COLS = 11;
const MARGIN_M = 3;
const SPUR_SPEED = 0.5;

export const DEMO_DIR = fileURLToPath(new URL('../../launch/sites/demo/', import.meta.url));

let demoCache: LoadedSite | undefined;
/** The demo site (launch/sites/demo), loaded once. */
export function demoSite(): LoadedSite {
  demoCache ??= loadSiteFolder(DEMO_DIR);
  return demoCache;
}

/** The demo site with its AMRs replaced by `n` clones of amr-1 (amr-0001 …), validated and indexed. */
export function fleetSite(n: number): SiteIndex {
  const demo = demoSite().index.site;
  const model = demo.devices.find((d): d is Amr => d.kind === 'amr' && d.id === 'amr-1');
  if (!model) throw new Error('the demo site has no amr-1');
  const amrs: Amr[] = Array.from({ length: n }, (_, i) => {
    const id = `amr-${String(i + 1).padStart(4, '0')}`;
    return { ...structuredClone(model), id, vda5050: { ...model.vda5050, serialNumber: id } };
  });
  const site = SiteSchema.parse({ ...structuredClone(demo), devices: [...demo.devices.filter((d) => d.kind !== 'amr'), ...amrs] });
  const problems = crossCheckSite(site);
  if (problems.length > 0) throw new Error(`the ${n}-AMR site is broken: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return indexSite(site);
}

/** The device models of the demo site: realistic parameters for the generated fleet. */
function demoModels() {
  const devices = demoSite().index.site.devices;
  const find = <K extends Device['kind']>(id: string, kind: K) => {
    const d = devices.find((x) => x.id === id);
    if (!d || d.kind !== kind) throw new Error(`the demo site has no ${kind} '${id}'`);
    return d as Extract<Device, { kind: K }>;
  };
  return {
    amr: find('amr-1', 'amr'),
    cnc: find('cnc-1', 'cnc') as Machine,
    printer: find('printer-1', 'printer') as Machine,
    conveyor: find('conveyor-1', 'conveyor'),
    arm: find('arm-1', 'arm'),
    policies: demoSite().index.site.policies,
  };
}

type Side = 'N' | 'S';
type Slot = readonly [Side, number];

/** Where each station of a cell sits: side of the aisle and column within the cell (1..9). */
const CELL_SLOTS = {
  cnc: ['N', 1] as Slot,
  conveyorIn: ['N', 2] as Slot,
  // column 3 north is the conveyor's belt
  conveyorOut: ['N', 4] as Slot,
  printer: ['N', 5] as Slot,
  docks: [['S', 1], ['S', 2], ['S', 3], ['S', 4], ['S', 5]] as Slot[],
  chargers: [['S', 6], ['S', 7]] as Slot[],
  shelves: [['N', 6], ['N', 7], ['N', 8], ['N', 9], ['S', 8], ['S', 9]] as Slot[],
};

export interface HallLayout {
  cells: number;
  cellRows: number;
  cellsPerRow: number;
  aisles: number;
  /** Nodes per aisle (cellsPerRow × CELL_COLS). */
  columns: number;
  widthM: number;
  depthM: number;
}

export function hallLayout(robots: number): HallLayout {
  if (!Number.isInteger(robots) || robots < 1) throw new RangeError(`robots must be a positive integer, got ${robots}`);
  const cells = Math.ceil(robots / AMRS_PER_CELL);
  const cellRows = Math.ceil(Math.sqrt(cells));
  const cellsPerRow = Math.ceil(cells / cellRows);
  // At least two aisles, so a one-way aisle always has a way back.
  const aisles = Math.max(2, cellRows);
  const columns = cellsPerRow * CELL_COLS;
  return {
    cells,
    cellRows,
    cellsPerRow,
    aisles,
    columns,
    widthM: 2 * MARGIN_M + (columns - 1) * NODE_SPACING_M,
    depthM: 2 * MARGIN_M + (aisles - 1) * AISLE_SPACING_M,
  };
}

const aisleNode = (aisle: number, col: number) => `a${aisle + 1}-${col}`;
const colX = (col: number) => MARGIN_M + col * NODE_SPACING_M;
const aisleY = (aisle: number) => MARGIN_M + aisle * AISLE_SPACING_M;
const cellOfAmr = (i: number) => Math.ceil(i / AMRS_PER_CELL);
const chargerOfAmr = (i: number) => Math.ceil(i / AMRS_PER_CHARGER);

/** A hall for `robots` AMRs (see the file comment), validated with SiteSchema. */
export function generateSite(robots: number): Site {
  const layout = hallLayout(robots);
  const m = demoModels();
  const nodes: { id: string; x: number; y: number }[] = [];
  const edges: { from: string; to: string; maxSpeed?: number; oneWay?: boolean }[] = [];
  const stations: { id: string; node: string; theta: number; kind: 'dock' | 'machine' | 'shelf' | 'charger' | 'conveyor' }[] = [];
  const devices: unknown[] = [];

  for (let a = 0; a < layout.aisles; a++) {
    for (let c = 0; c < layout.columns; c++) nodes.push({ id: aisleNode(a, c), x: colX(c), y: aisleY(a) });
    // Even aisles run east, odd aisles west.
    for (let c = 0; c + 1 < layout.columns; c++) {
      edges.push(a % 2 === 0 ? { from: aisleNode(a, c), to: aisleNode(a, c + 1), oneWay: true } : { from: aisleNode(a, c + 1), to: aisleNode(a, c), oneWay: true });
    }
  }
  // One-way cross aisles at both ends of every cell, with a node every 3 m: at the west end from
  // the westbound (odd) aisle to the eastbound (even) one, at the east end the other way round.
  const between = Math.round(AISLE_SPACING_M / NODE_SPACING_M) - 1;
  for (let a = 0; a + 1 < layout.aisles; a++) {
    const even = a % 2 === 0 ? a : a + 1;
    const odd = a % 2 === 0 ? a + 1 : a;
    for (let base = 0; base < layout.columns; base += CELL_COLS) {
      for (const [c, from, to] of [[base, odd, even], [base + CELL_COLS - 1, even, odd]] as const) {
        let prev = aisleNode(from, c);
        for (let k = 1; k <= between; k++) {
          const id = `x${a + 1}-${c}-${k}`;
          const y = aisleY(a) + (from === a ? k : between + 1 - k) * NODE_SPACING_M;
          nodes.push({ id, x: colX(c), y });
          edges.push({ from: prev, to: id, oneWay: true });
          prev = id;
        }
        edges.push({ from: prev, to: aisleNode(to, c), oneWay: true });
      }
    }
  }

  const cellPlace = (cell: number) => {
    const row = Math.floor((cell - 1) / layout.cellsPerRow);
    return { aisle: row, base: ((cell - 1) % layout.cellsPerRow) * CELL_COLS };
  };
  const addStation = (cell: number, id: string, slot: Slot, kind: (typeof stations)[number]['kind']) => {
    const { aisle, base } = cellPlace(cell);
    const [side, k] = slot;
    const col = base + k;
    const dy = side === 'N' ? SPUR_M : -SPUR_M;
    nodes.push({ id, x: colX(col), y: aisleY(aisle) + dy });
    edges.push({ from: aisleNode(aisle, col), to: id, maxSpeed: SPUR_SPEED });
    // A parked robot faces into its station, away from the aisle.
    stations.push({ id, node: id, theta: side === 'N' ? round4(Math.PI / 2) : round4(-Math.PI / 2), kind });
  };

  const chargersInCell = new Map<number, number>();
  for (let cell = 1; cell <= layout.cells; cell++) {
    const first = (cell - 1) * AMRS_PER_CELL + 1;
    const last = Math.min(robots, cell * AMRS_PER_CELL);
    for (let i = first; i <= last; i++) {
      addStation(cell, `dock-${i}`, CELL_SLOTS.docks[i - first]!, 'dock');
      devices.push({
        id: `amr-${i}`,
        kind: 'amr',
        home: `dock-${i}`,
        vda5050: { manufacturer: m.amr.vda5050.manufacturer, serialNumber: `amr-${i}` },
        footprint: { ...m.amr.footprint },
        massKg: m.amr.massKg,
        payloadKg: m.amr.payloadKg,
        limits: { ...m.amr.limits },
        battery: { ...m.amr.battery },
        transport: { ...m.amr.transport },
      });
      // Charger j serves AMRs 4j-3..4j and stands in the cell of the first of them.
      if ((i - 1) % AMRS_PER_CHARGER === 0) {
        const n = chargersInCell.get(cell) ?? 0;
        chargersInCell.set(cell, n + 1);
        addStation(cell, `charger-${chargerOfAmr(i)}`, CELL_SLOTS.chargers[n]!, 'charger');
      }
    }
    const shelves = last - first + 2;
    for (let s = 1; s <= shelves; s++) addStation(cell, `shelf-${cell}-${s}`, CELL_SLOTS.shelves[s - 1]!, 'shelf');
    addStation(cell, `cnc-${cell}`, CELL_SLOTS.cnc, 'machine');
    addStation(cell, `conveyor-${cell}-in`, CELL_SLOTS.conveyorIn, 'conveyor');
    addStation(cell, `conveyor-${cell}-out`, CELL_SLOTS.conveyorOut, 'conveyor');
    addStation(cell, `printer-${cell}`, CELL_SLOTS.printer, 'machine');
    const { aisle, base } = cellPlace(cell);
    // The arm stands behind the cnc and the conveyor's in-station, within reach of both.
    const cx = (colX(base + CELL_SLOTS.cnc[1]) + colX(base + CELL_SLOTS.conveyorIn[1])) / 2;
    devices.push({
      id: `arm-${cell}`,
      kind: 'arm',
      pose: { x: cx, y: aisleY(aisle) + SPUR_M + 0.7 },
      reachM: m.arm.reachM,
      reaches: [`cnc-${cell}`, `conveyor-${cell}-in`],
      transferS: m.arm.transferS,
    });
    devices.push({ id: `cnc-${cell}`, kind: 'cnc', station: `cnc-${cell}`, programs: { ...m.cnc.programs } });
    devices.push({ id: `printer-${cell}`, kind: 'printer', station: `printer-${cell}`, programs: { ...m.printer.programs } });
    devices.push({ id: `conveyor-${cell}`, kind: 'conveyor', from: `conveyor-${cell}-in`, to: `conveyor-${cell}-out`, transferS: m.conveyor.transferS });
  }

  return SiteSchema.parse({
    schema: 'phygate.site/v1',
    id: `bench-${robots}`,
    name: `Generated hall for ${robots} AMR${robots === 1 ? '' : 's'} (${layout.widthM} m x ${layout.depthM} m, ${layout.cells} cell${layout.cells === 1 ? '' : 's'})`,
    mapId: `bench-${robots}`,
    nodes,
    edges,
    stations,
    zones: [],
    devices,
    policies: { ...m.policies },
  });
}

function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/** What a check needs of a site: its index, nav graph and a world hash (no world file: hash of the site). */
export interface BenchSite {
  index: SiteIndex;
  graph: NavGraph;
  worldHash: string;
}

export function prepareSite(site: Site): BenchSite {
  return { index: indexSite(site), graph: buildNavGraph(site), worldHash: sha256(canonicalJson(site)) };
}

// ---- shift plans ------------------------------------------------------------------------

export interface ShiftOptions {
  /**
   * Feed cycles per AMR (pick at its shelf → drop at a machine or the conveyor). When given,
   * every AMR does exactly this much work whatever `hours` says: for scaling comparisons.
   */
  cyclesPerAmr?: number;
  /** State of charge the AMRs start with, as in the fleet the plan is checked against (default 0.9). */
  soc?: number;
}

type JobKind = 'cnc' | 'print' | 'convey';
/** The job mix of a cell: 2 cnc, 1 print and 2 conveyor jobs per five. */
const PATTERN: readonly JobKind[] = ['cnc', 'print', 'convey', 'cnc', 'convey'];
/** cnc programs, alternating (names of the demo's program table). */
const CNC_RUNS = [
  { program: 'housing-a', count: 2 },
  { program: 'bracket-v2', count: 4 },
] as const;
const PRINT_RUN = { program: 'clip-x', count: 1 } as const;
/** Plan a charge when the AMR would otherwise end a job below reserve + this margin. */
const CHARGE_MARGIN = 0.05;
/** Time a robot loses per leg to turning in place and speeding up and slowing down (an estimate). */
const LEG_OVERHEAD_S = 10;

type StepInput = PlanInput['steps'][number];
interface Emitted {
  step: StepInput;
  /** Estimated start (s); orders the plan's steps. */
  t: number;
  seq: number;
  cell: number;
}

interface AmrState {
  amr: Amr;
  index: number;
  home: string;
  shelf: string;
  charger: string;
  /** Estimated time it is free for the next step. */
  free: number;
  at: string;
  last?: string;
  soc: number;
  charges: number;
}

interface Cell {
  n: number;
  amrs: AmrState[];
  cnc: Machine;
  printer: Machine;
  conveyor: Conveyor;
  arm: Arm;
}

/** Shortest drive times between stations on the directed nav graph (a planning estimate, not the checker's). */
function legTimes(site: Site, amr: Amr) {
  const out = new Map<string, { to: string; s: number }[]>();
  for (const n of site.nodes) out.set(n.id, []);
  const pos = new Map(site.nodes.map((n) => [n.id, n]));
  for (const e of site.edges) {
    const a = pos.get(e.from)!;
    const b = pos.get(e.to)!;
    const s = Math.hypot(a.x - b.x, a.y - b.y) / Math.min(amr.limits.maxSpeed, e.maxSpeed ?? Infinity);
    out.get(e.from)!.push({ to: e.to, s });
    if (!e.oneWay) out.get(e.to)!.push({ to: e.from, s });
  }
  const memo = new Map<string, Map<string, number>>();
  const from = (src: string) => {
    let best = memo.get(src);
    if (best) return best;
    best = new Map([[src, 0]]);
    const open = new Set([src]);
    const done = new Set<string>();
    while (open.size > 0) {
      let cur = '';
      let curS = Infinity;
      for (const n of open) if (best.get(n)! < curS) [cur, curS] = [n, best.get(n)!];
      open.delete(cur);
      done.add(cur);
      for (const arc of out.get(cur)!) {
        if (done.has(arc.to)) continue;
        const s = curS + arc.s;
        if (s < (best.get(arc.to) ?? Infinity)) {
          best.set(arc.to, s);
          open.add(arc.to);
        }
      }
    }
    memo.set(src, best);
    return best;
  };
  return (a: string, b: string) => {
    if (a === b) return 0;
    const s = from(a).get(b);
    if (s === undefined) throw new Error(`no path from '${a}' to '${b}' on site '${site.id}'`);
    return s + LEG_OVERHEAD_S;
  };
}

function cellsOf(site: Site, robots: number, soc: number): Cell[] {
  const device = (id: string) => {
    const d = site.devices.find((x) => x.id === id);
    if (!d) throw new Error(`site '${site.id}' has no device '${id}': was it made by generateSite?`);
    return d;
  };
  const cells: Cell[] = [];
  for (let i = 1; i <= robots; i++) {
    const amr = device(`amr-${i}`);
    if (amr.kind !== 'amr') throw new Error(`'amr-${i}' is not an AMR`);
    const n = cellOfAmr(i);
    let cell = cells[n - 1];
    if (!cell) {
      cell = {
        n,
        amrs: [],
        cnc: device(`cnc-${n}`) as Machine,
        printer: device(`printer-${n}`) as Machine,
        conveyor: device(`conveyor-${n}`) as Conveyor,
        arm: device(`arm-${n}`) as Arm,
      };
      cells[n - 1] = cell;
    }
    const slot = cell.amrs.length + 1;
    cell.amrs.push({ amr, index: i, home: amr.home, shelf: `shelf-${n}-${slot}`, charger: `charger-${chargerOfAmr(i)}`, free: 0, at: amr.home, soc, charges: 0 });
  }
  return cells;
}

/**
 * The steps of a shift on a generated site, each tagged with its cell. Each AMR repeats feed
 * cycles — pick at its own shelf, then drop at the cell's cnc, printer or conveyor in-station —
 * chained with `after` on its previous step and on the machine being free; the cnc runs a
 * program and the arm moves the part onto the conveyor; the conveyor runs when two parts wait;
 * an AMR charges (at the charger free first) when its estimated charge would fall near the
 * reserve; with `hours`, an AMR stops when its next job would end after them; and an AMR that would
 * stay parked at a station another AMR visits later drives home at the end.
 */
function shiftSteps(site: Site, robots: number, hours: number, opts: ShiftOptions): Emitted[] {
  if (!(hours > 0)) throw new RangeError(`hours must be positive, got ${hours}`);
  const soc0 = opts.soc ?? 0.9;
  const cells = cellsOf(site, robots, soc0);
  const horizon = hours * 3600;
  const policies = site.policies;
  const amrModel = cells[0]!.amrs[0]!.amr;
  const leg = legTimes(site, amrModel);
  const out: Emitted[] = [];
  let seq = 0;
  const emit = (cell: number, t: number, step: StepInput) => out.push({ step, t, seq: seq++, cell });
  const after = (...ids: (string | undefined)[]) => {
    const list = ids.filter((x): x is string => x !== undefined);
    return list.length > 0 ? { after: list } : {};
  };
  /** Last charge per charger: the next one there waits for it (chargers are shared across cells). */
  const chargerLast = new Map<string, { id: string; t: number }>();
  const chargers = site.stations.filter((st) => st.kind === 'charger').map((st) => st.id);
  /** Who drives to which station, in plan order: to know who must clear a station at the end. */
  const visits: { station: string; amr: string }[] = [];

  const energyJ = (a: AmrState, fromS: number, toS: number, driveS: number) => {
    const b = a.amr.battery;
    const metres = Math.max(0, driveS - 2 * LEG_OVERHEAD_S) * a.amr.limits.maxSpeed;
    const roll = (a.amr.massKg + a.amr.payloadKg) * 9.81 * b.rollingFriction * metres;
    return b.idlePowerW * Math.max(0, toS - fromS) + roll / b.efficiency;
  };
  const capJ = (a: AmrState) => a.amr.battery.capacityWh * 3600;

  for (const cell of cells) {
    const st = { cnc: cell.cnc.station, printer: cell.printer.station, convIn: cell.conveyor.from };
    let cncClear: { id?: string; t: number } = { t: 0 };
    let printerClear: { id?: string; t: number } = { t: 0 };
    let convInLast: { id?: string; t: number } = { t: 0 };
    const conveyor: { last?: string; free: number } = { free: 0 };
    let armFree = 0;
    let pending: { id: string; t: number }[] = [];
    let conveys = 0;
    const flush = () => {
      if (pending.length === 0) return;
      const t = Math.max(conveyor.free, ...pending.map((p) => p.t));
      const id = `c${cell.n}-convey-${pad(++conveys)}`;
      emit(cell.n, t, { id, action: 'convey', device: cell.conveyor.id, params: { count: pending.length }, ...after(...pending.map((p) => p.id), conveyor.last) });
      conveyor.last = id;
      conveyor.free = t + cell.conveyor.transferS * pending.length;
      pending = [];
    };

    const jobsTotal = opts.cyclesPerAmr !== undefined ? opts.cyclesPerAmr * cell.amrs.length : Infinity;
    let cncJobs = 0;
    /** By the hour: AMRs still taking jobs (one whose next job would end after the horizon stops). */
    const active = new Set(cell.amrs);
    for (let j = 0; j < jobsTotal && active.size > 0; ) {
      const kind = PATTERN[j % PATTERN.length]!;
      // Fixed work: round robin over the cell's AMRs. By the hour: whoever is free first.
      const a = opts.cyclesPerAmr !== undefined ? cell.amrs[j % cell.amrs.length]! : [...active].sort((x, y) => x.free - y.free || x.index - y.index)[0]!;
      const target = kind === 'cnc' ? st.cnc : kind === 'print' ? st.printer : st.convIn;
      const clear = kind === 'cnc' ? cncClear : kind === 'print' ? printerClear : convInLast;

      // Estimate the job, with a charge first if the battery would run low.
      let start = a.free;
      let from = a.at;
      let soc = a.soc;
      let charge: { at: string; t: number; end: number; arrive: number } | undefined;
      const estimate = (s0: number, at: string) => {
        const pickEnd = s0 + leg(at, a.shelf) + a.amr.transport.loadS;
        const dropStart = Math.max(pickEnd, clear.t);
        const dropEnd = dropStart + leg(a.shelf, target) + a.amr.transport.unloadS;
        return { pickEnd, dropStart, dropEnd, drive: leg(at, a.shelf) + leg(a.shelf, target) };
      };
      let e = estimate(start, from);
      if (soc - energyJ(a, start, e.dropEnd, e.drive) / capJ(a) < policies.batteryReserve + CHARGE_MARGIN) {
        // The charger it can start charging at first: its own, or another one that is free sooner.
        const options = chargers.map((c) => {
          const t = Math.max(start, chargerLast.get(c)?.t ?? 0);
          return { c, t, arrive: t + leg(from, c) };
        });
        const best = options.sort((x, y) => x.arrive - y.arrive || Number(y.c === a.charger) - Number(x.c === a.charger) || x.c.localeCompare(y.c))[0]!;
        const socThere = soc - energyJ(a, start, best.arrive, leg(from, best.c)) / capJ(a);
        const netW = a.amr.battery.chargePowerW - a.amr.battery.idlePowerW;
        const end = best.arrive + Math.max(0, ((policies.chargeTarget - socThere) * capJ(a)) / netW);
        charge = { at: best.c, t: best.t, end, arrive: best.arrive };
        start = end;
        from = best.c;
        soc = policies.chargeTarget;
        e = estimate(start, from);
      }
      const run = kind === 'cnc' ? CNC_RUNS[cncJobs % CNC_RUNS.length]! : PRINT_RUN;
      const machine = kind === 'cnc' ? cell.cnc : cell.printer;
      const runEnd = e.dropEnd + (kind === 'convey' ? 0 : (machine.programs[run.program] ?? 0) * run.count);
      const armEnd = kind === 'cnc' ? Math.max(runEnd, armFree) + cell.arm.transferS : runEnd;
      const jobEnd = kind === 'print' ? runEnd : Math.max(armEnd, conveyor.free) + cell.conveyor.transferS;
      const fits = opts.cyclesPerAmr !== undefined || jobEnd <= horizon;
      if (charge) {
        // A charge that is needed happens even when no job fits after it: the AMR ends its shift there.
        const id = `amr-${a.index}-charge-${++a.charges}`;
        const prev = chargerLast.get(charge.at);
        emit(cell.n, charge.t, { id, action: 'charge', device: a.amr.id, params: { at: charge.at }, ...after(a.last, prev?.id) });
        visits.push({ station: charge.at, amr: a.amr.id });
        chargerLast.set(charge.at, { id, t: charge.end });
        Object.assign(a, { last: id, at: charge.at, free: charge.end, soc });
      }
      if (!fits) {
        active.delete(a);
        continue;
      }
      const jid = `c${cell.n}-j${pad(++j)}`;
      const item = kind === 'cnc' ? 'bar-stock' : kind === 'print' ? 'print-kit' : 'kit';
      emit(cell.n, start, { id: `${jid}-pick`, action: 'pick', device: a.amr.id, params: { at: a.shelf, item, count: 1 }, ...after(a.last) });
      emit(cell.n, e.dropStart, { id: `${jid}-drop`, action: 'drop', device: a.amr.id, params: { at: target }, ...after(`${jid}-pick`, clear.id) });
      visits.push({ station: target, amr: a.amr.id });
      a.soc = soc - energyJ(a, start, e.dropEnd, e.drive) / capJ(a);
      a.free = e.dropEnd;
      a.at = target;
      a.last = `${jid}-drop`;
      if (kind === 'cnc') {
        cncJobs++;
        emit(cell.n, e.dropEnd, { id: `${jid}-run`, action: 'machine.run', device: cell.cnc.id, params: { ...run }, after: [`${jid}-drop`] });
        emit(cell.n, Math.max(runEnd, armFree), { id: `${jid}-unload`, action: 'arm.transfer', device: cell.arm.id, params: { from: st.cnc, to: st.convIn }, after: [`${jid}-run`] });
        armFree = armEnd;
        cncClear = { id: `${jid}-unload`, t: armEnd };
        pending.push({ id: `${jid}-unload`, t: armEnd });
      } else if (kind === 'print') {
        emit(cell.n, e.dropEnd, { id: `${jid}-run`, action: 'machine.run', device: cell.printer.id, params: { ...run }, after: [`${jid}-drop`] });
        printerClear = { id: `${jid}-run`, t: runEnd };
      } else {
        convInLast = { id: `${jid}-drop`, t: e.dropEnd };
        pending.push({ id: `${jid}-drop`, t: e.dropEnd });
      }
      if (pending.length >= 2) flush();
    }
    flush();
  }

  // An AMR left standing at a station another AMR drives to later would block it for good: it
  // drives home at the end of its work.
  const all = cells.flatMap((c) => c.amrs.map((a) => ({ a, cell: c.n })));
  for (const { a, cell } of all) {
    if (a.at === a.home || a.at === a.shelf || !a.last) continue;
    let lastOwn = -1;
    visits.forEach((v, k) => {
      if (v.amr === a.amr.id && v.station === a.at) lastOwn = k;
    });
    if (!visits.some((v, k) => k > lastOwn && v.station === a.at && v.amr !== a.amr.id)) continue;
    emit(cell, a.free, { id: `amr-${a.index}-home`, action: 'navigate', device: a.amr.id, params: { to: a.home }, after: [a.last] });
  }

  // Plan order: by estimated start (dependencies always start earlier), then as generated.
  return out.sort((x, y) => x.t - y.t || x.seq - y.seq);
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

function toPlan(steps: StepInput[], robots: number, hours: number, opts: ShiftOptions, part?: string): Plan {
  if (steps.length > MAX_STEPS) {
    throw new RangeError(`the shift has ${steps.length} steps, over the plan limit of ${MAX_STEPS}: use generateShiftPlans, fewer hours or fewer cycles`);
  }
  const work = opts.cyclesPerAmr !== undefined ? `${opts.cyclesPerAmr} cycle${opts.cyclesPerAmr === 1 ? '' : 's'} per AMR` : `${hours} h`;
  return PlanSchema.parse({
    schema: 'phygate.plan/v1',
    name: `shift-${robots}-amrs${part ? `-${part}` : ''}`,
    goal: `Feed the cells' cncs, printers and conveyors with ${robots} AMR${robots === 1 ? '' : 's'} for ${work}${part ? ` (${part})` : ''}`,
    requester: { agent: 'bench-generator', model: 'test/bench/generate.ts' },
    steps,
  });
}

/**
 * A shift on a site from generateSite: one plan (phygate.plan/v1, at most 200 steps) in which the
 * first `robots` AMRs work for about `hours` hours of simulated time (or `opts.cyclesPerAmr`
 * cycles each). Throws if the shift needs more steps than one plan may have.
 */
export function generateShift(site: Site, robots: number, hours = 1, opts: ShiftOptions = {}): Plan {
  return toPlan(
    shiftSteps(site, robots, hours, opts).map((e) => e.step),
    robots,
    hours,
    opts,
  );
}

/**
 * The same shift as generateShift, cut into plans of whole cells that each fit the 200-step
 * limit (how an agent would submit a large fleet's shift). Links to steps of other plans — only
 * a shared charger's queue — are dropped.
 */
export function generateShiftPlans(site: Site, robots: number, hours = 1, opts: ShiftOptions = {}): Plan[] {
  const emitted = shiftSteps(site, robots, hours, opts);
  const byCell = new Map<number, Emitted[]>();
  for (const e of emitted) byCell.set(e.cell, [...(byCell.get(e.cell) ?? []), e]);
  const groups: number[][] = [];
  let size = 0;
  for (const [cell, steps] of [...byCell].sort(([a], [b]) => a - b)) {
    if (steps.length > MAX_STEPS) throw new RangeError(`cell ${cell} alone has ${steps.length} steps, over the plan limit of ${MAX_STEPS}`);
    if (groups.length === 0 || size + steps.length > MAX_STEPS) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1]!.push(cell);
    size += steps.length;
  }
  return groups.map((cells, k) => {
    const mine = emitted.filter((e) => cells.includes(e.cell));
    const ids = new Set(mine.map((e) => e.step.id));
    const steps = mine.map(({ step }) => {
      if (!step.after) return step;
      const kept = step.after.filter((d) => ids.has(d));
      const { after: _drop, ...rest } = step;
      return (kept.length > 0 ? { ...rest, after: kept } : rest) as StepInput;
    });
    return toPlan(steps, robots, hours, opts, groups.length > 1 ? `cells-${cells[0]}-${cells[cells.length - 1]}` : undefined);
  });
}

// ---- the demo's 20-step plan ------------------------------------------------------------

/**
 * A realistic 20-step plan on the demo site with amr-1..3, cnc-1, arm-1, printer-1 and
 * conveyor-1: two cnc batches (one out over the conveyor, one loaded by the arm onto an AMR), a
 * print job fed and collected, and a top-up charge. It checks with warnings only (the printer
 * is reached across the walkway's slow zone).
 */
export function demoTwentyStepPlan(): Plan {
  return PlanSchema.parse({
    schema: 'phygate.plan/v1',
    name: 'demo-morning-batch',
    goal: 'Mill two bracket batches on cnc-1, print a clip set on printer-1, ship over conveyor-1 and store the rest',
    requester: { agent: 'manager-1', model: 'bench' },
    priority: 5,
    steps: [
      { id: 'bars-1', action: 'pick', device: 'amr-1', params: { at: 'shelf-1', item: 'bar-stock', count: 4 } },
      { id: 'feed-cnc-1', action: 'drop', device: 'amr-1', params: { at: 'cnc-1' }, after: ['bars-1'] },
      { id: 'mill-1', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2', count: 4 }, after: ['feed-cnc-1'] },
      { id: 'kit-1', action: 'pick', device: 'amr-2', params: { at: 'shelf-2', item: 'print-kit' } },
      { id: 'feed-printer', action: 'drop', device: 'amr-2', params: { at: 'printer-1' }, after: ['kit-1'] },
      { id: 'print', action: 'machine.run', device: 'printer-1', params: { program: 'clip-x', count: 1 }, after: ['feed-printer'] },
      { id: 'unload-1', action: 'arm.transfer', device: 'arm-1', params: { from: 'cnc-1', to: 'conveyor-1-in' }, after: ['mill-1'] },
      { id: 'ship-1', action: 'convey', device: 'conveyor-1', params: { count: 1 }, after: ['unload-1'] },
      { id: 'bars-2', action: 'pick', device: 'amr-1', params: { at: 'shelf-1', item: 'bar-stock', count: 2 }, after: ['feed-cnc-1'] },
      { id: 'feed-cnc-2', action: 'drop', device: 'amr-1', params: { at: 'cnc-1' }, after: ['bars-2', 'unload-1'] },
      { id: 'mill-2', action: 'machine.run', device: 'cnc-1', params: { program: 'housing-a', count: 1 }, after: ['feed-cnc-2'] },
      { id: 'clear-cnc', action: 'navigate', device: 'amr-1', params: { to: 'dock-a' }, after: ['feed-cnc-2'] },
      { id: 'fetch', action: 'navigate', device: 'amr-3', params: { to: 'cnc-1' }, after: ['clear-cnc'] },
      { id: 'unload-2', action: 'arm.transfer', device: 'arm-1', params: { from: 'cnc-1', to: 'amr-3' }, after: ['mill-2', 'fetch'] },
      { id: 'store-2', action: 'drop', device: 'amr-3', params: { at: 'shelf-3' }, after: ['unload-2'] },
      { id: 'collect-1', action: 'pick', device: 'amr-2', params: { at: 'conveyor-1-out' }, after: ['ship-1', 'feed-printer'] },
      { id: 'store-1', action: 'drop', device: 'amr-2', params: { at: 'shelf-2' }, after: ['collect-1'] },
      { id: 'collect-print', action: 'pick', device: 'amr-2', params: { at: 'printer-1' }, after: ['print', 'store-1'] },
      { id: 'store-print', action: 'drop', device: 'amr-2', params: { at: 'dock-b' }, after: ['collect-print'] },
      { id: 'top-up', action: 'charge', device: 'amr-3', params: {}, after: ['store-2'] },
    ],
  });
}
