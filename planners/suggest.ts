// "Did you mean" for hints: the known names closest to what the agent wrote.
//
// A hint is built for every unknown name in a plan, and a plan may hold thousands of them (200
// steps, each with `after` ids), so the work is bounded per hint and per check: names longer than
// any id are not compared, a known name whose length alone puts it out of reach is skipped, at most
// MAX_COMPARED names are compared for one hint, the edit distance is computed only within the
// distance that could still count (stopping as soon as a row exceeds it), and one check computes at
// most CELLS_PER_CHECK cells of it in all; after that, hints only list what exists. Hints list at
// most MAX_LISTED names, and one check lists at most LISTED_PER_CHECK, so the report stays in
// proportion to the plan. The budgets count work, not time: the same plan gets the same hints.

/** Names longer than this are not compared: no id is this long, so nothing is near. */
export const MAX_COMPARED_LENGTH = 128;
/** At most this many known names are compared for one hint. */
export const MAX_COMPARED = 500;
/** At most this many known names are listed in one hint. */
export const MAX_LISTED = 30;
/** Edit-distance cells one check may compute for its hints (a few milliseconds). */
export const CELLS_PER_CHECK = 2_000_000;
/** Known names one check's hints may list in all. */
export const LISTED_PER_CHECK = 3_000;

/** Builds the hints of one check, within its budgets. */
export type Hints = (name: string, known: readonly string[], what: string) => string;

/** A hint builder with a fresh budget: one per check. */
export function hints(cells = CELLS_PER_CHECK, listed = LISTED_PER_CHECK): Hints {
  const budget = { cells, listed };
  // The same list (the plan's step ids) comes again for every unknown `after` id: sorted once.
  let last: { known: readonly string[]; sorted: string[] } | undefined;
  return (name, known, what) => {
    const near = closest(name, known, 3, budget);
    if (last?.known !== known) last = { known, sorted: [...known].sort() };
    const sorted = last.sorted;
    const shown = Math.min(sorted.length, MAX_LISTED, budget.listed);
    budget.listed -= shown;
    const list =
      shown === sorted.length
        ? sorted.join(', ')
        : shown === 0
          ? `${sorted.length} (listed in the hints above)`
          : `${sorted.slice(0, shown).join(', ')}, … (${sorted.length} in all)`;
    return near.length > 0 ? `did you mean ${near.map((n) => `'${n}'`).join(' or ')}? known ${what}: ${list}` : `known ${what}: ${list}`;
  };
}

/** A hint naming the likeliest intended names first, then (some of) the rest of what exists. */
export function hintFor(name: string, known: readonly string[], what: string): string {
  return hints()(name, known, what);
}

/** The farthest a known name may be from `name` and still be suggested. */
function reach(a: string, b: string): number {
  return Math.max(1, Math.floor(Math.max(a.length, b.length) / 3));
}

/** The known names nearest `name`, best first; `budget.cells` is spent on the comparisons. */
export function closest(name: string, known: readonly string[], max = 3, budget = { cells: CELLS_PER_CHECK }): string[] {
  if (name.length > MAX_COMPARED_LENGTH) return [];
  const near: { k: string; d: number }[] = [];
  let compared = 0;
  for (const k of known) {
    const limit = Math.min(reach(name, k), name.length - 1);
    // The edit distance is at least the difference in length.
    if (limit < 0 || Math.abs(name.length - k.length) > limit || k.length > MAX_COMPARED_LENGTH) continue;
    const cost = name.length * (2 * limit + 1);
    if (compared++ >= MAX_COMPARED || cost > budget.cells) break;
    budget.cells -= cost;
    const d = editDistanceWithin(name, k, limit);
    if (d <= limit) near.push({ k, d });
  }
  return near
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, max)
    .map(({ k }) => k);
}

/**
 * Levenshtein distance of `a` and `b` if it is at most `limit`, else `limit + 1`. Only the cells
 * within `limit` of the diagonal can lead to a distance within it, so each row computes those
 * alone, and a row whose every cell is over the limit ends the search.
 */
export function editDistanceWithin(a: string, b: string, limit: number): number {
  const over = limit + 1;
  if (Math.abs(a.length - b.length) > limit) return over;
  let prev = new Array<number>(b.length + 1).fill(over);
  let row = new Array<number>(b.length + 1).fill(over);
  for (let j = 0; j <= Math.min(b.length, limit); j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const from = Math.max(1, i - limit);
    const to = Math.min(b.length, i + limit);
    // Cells outside the band count as over the limit.
    row[from - 1] = from === 1 && i <= limit ? i : over;
    if (to < b.length) row[to + 1] = over;
    let best = row[from - 1]!;
    for (let j = from; j <= to; j++) {
      const d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1), over);
      row[j] = d;
      if (d < best) best = d;
    }
    if (best > limit) return over;
    [prev, row] = [row, prev];
  }
  return Math.min(prev[b.length]!, over);
}
