// How close the robots came to one another during a run, from their positions sampled over time.
// A rehearsal (gateway/rehearsal/world.ts) samples its virtual AMRs; between two samples each
// robot is taken to move in a straight line at even speed, so the closest approach between
// samples is found, not only the one at a sample. Two robots are too close when the discs their
// footprints sweep turning in place overlap: the check (sim/traffic.ts) keeps those discs apart
// with a clearance to spare, so a run that lets them meet did what the check did not foresee.
import type { SiteIndex } from '../planners/site.ts';

export interface Position {
  x: number;
  y: number;
}

/** The closest two robots came, where and when. */
export interface Approach {
  robots: [string, string];
  /** Centre to centre, metres. */
  distanceM: number;
  /** distanceM less both footprint discs' radii: below 0 the discs overlap. */
  gapM: number;
  /** Halfway between the two robots at that moment. */
  at: Position;
  /** The site's node nearest to `at`. */
  near: string;
  /** Simulated seconds since the run started. */
  tS: number;
}

interface Sample {
  tS: number;
  positions: ReadonlyMap<string, Position>;
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

export class SeparationWatch {
  private readonly radius = new Map<string, number>();
  private last: Sample | undefined;
  private closest: Approach | undefined;
  /** Per pair of robots (`a|b`), the closest approach while their discs overlapped. */
  private readonly overlaps = new Map<string, Approach>();

  constructor(private readonly site: SiteIndex) {
    for (const d of site.site.devices) if (d.kind === 'amr') this.radius.set(d.id, Math.hypot(d.footprint.length / 2, d.footprint.width / 2));
  }

  /** The robots' positions at `tS` (simulated seconds); robots missing from a sample are left out of its interval. */
  sample(tS: number, positions: ReadonlyMap<string, Position>): void {
    const prev = this.last ?? { tS, positions };
    const ids = [...positions.keys()].filter((id) => prev.positions.has(id) && this.radius.has(id)).sort();
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) this.pair(ids[i]!, ids[j]!, prev, { tS, positions });
    }
    this.last = { tS, positions: new Map(positions) };
  }

  private pair(a: string, b: string, from: Sample, to: Sample): void {
    const a0 = from.positions.get(a)!;
    const b0 = from.positions.get(b)!;
    const a1 = to.positions.get(a)!;
    const b1 = to.positions.get(b)!;
    // The offset between the two robots moves linearly from d0 to d1: its shortest length is at s.
    const d0 = { x: a0.x - b0.x, y: a0.y - b0.y };
    const dd = { x: a1.x - b1.x - d0.x, y: a1.y - b1.y - d0.y };
    const len2 = dd.x * dd.x + dd.y * dd.y;
    const s = len2 > 0 ? Math.min(1, Math.max(0, -(d0.x * dd.x + d0.y * dd.y) / len2)) : 1;
    const distanceM = Math.hypot(d0.x + s * dd.x, d0.y + s * dd.y);
    const gapM = distanceM - this.radius.get(a)! - this.radius.get(b)!;
    const closer = !this.closest || gapM < this.closest.gapM;
    const key = `${a}|${b}`;
    const overlapping = gapM < 0 && (this.overlaps.get(key)?.gapM ?? 0) > gapM;
    if (!closer && !overlapping) return;
    const lerp = (p: Position, q: Position) => ({ x: p.x + s * (q.x - p.x), y: p.y + s * (q.y - p.y) });
    const pa = lerp(a0, a1);
    const pb = lerp(b0, b1);
    const at = { x: round((pa.x + pb.x) / 2), y: round((pa.y + pb.y) / 2) };
    const approach: Approach = { robots: [a, b], distanceM: round(distanceM), gapM: round(gapM), at, near: this.nearestNode(at), tS: round(from.tS + s * (to.tS - from.tS), 1) };
    if (closer) this.closest = approach;
    if (overlapping) this.overlaps.set(key, approach);
  }

  private nearestNode(p: Position): string {
    let best = '';
    let bestD = Infinity;
    for (const n of this.site.site.nodes) {
      const d = Math.hypot(n.x - p.x, n.y - p.y);
      if (d < bestD) [best, bestD] = [n.id, d];
    }
    return best;
  }

  /** The closest approach of any two robots (undefined with fewer than two), and every pair whose discs overlapped. */
  result(): { closest: Approach | undefined; overlaps: Approach[] } {
    return { closest: this.closest, overlaps: [...this.overlaps.values()].sort((p, q) => p.tS - q.tS) };
  }
}
