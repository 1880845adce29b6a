// "Did you mean": the same suggestions as a plain edit distance would give, at a cost bounded per
// hint and per check, so a plan full of unknown names cannot make its check slow or its report huge.
import fc from 'fast-check';
import t from 'tap';
import { closest, editDistanceWithin, hintFor, hints, MAX_LISTED } from '../../planners/suggest.ts';

/** The textbook Levenshtein distance, the whole table. */
function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** What closest() gave before it was bounded: every known name compared in full. */
function closestUnbounded(name: string, known: readonly string[], max = 3): string[] {
  return known
    .map((k) => ({ k, d: levenshtein(name, k) }))
    .filter(({ k, d }) => d < name.length && d <= Math.max(1, Math.floor(Math.max(name.length, k.length) / 3)))
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, max)
    .map(({ k }) => k);
}

const word = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '-', '1'), maxLength: 14 });

t.test('the banded distance is the edit distance while within the limit, and over it otherwise', async (t) => {
  fc.assert(
    fc.property(word, word, fc.nat(8), (a, b, limit) => {
      const d = levenshtein(a, b);
      const got = editDistanceWithin(a, b, limit);
      return d <= limit ? got === d : got === limit + 1;
    }),
    { numRuns: 2000 },
  );
  t.equal(editDistanceWithin('kitten', 'sitting', 3), 3);
  t.equal(editDistanceWithin('kitten', 'sitting', 2), 3, 'over the limit: limit + 1');
});

t.test('closest suggests what the full comparison suggests', async (t) => {
  fc.assert(
    fc.property(word, fc.array(word, { maxLength: 12 }), (name, known) => JSON.stringify(closest(name, known)) === JSON.stringify(closestUnbounded(name, known))),
    { numRuns: 1000 },
  );
  t.same(closest('dock-z', ['dock-a', 'dock-b', 'shelf-1']), ['dock-a', 'dock-b']);
});

t.test('a name longer than any id is compared with nothing', async (t) => {
  const long = 'a'.repeat(600);
  t.same(closest(long, [`${long}b`]), [], 'no suggestion, however close');
  t.same(closest('a'.repeat(20), ['a'.repeat(21)]), ['a'.repeat(21)], 'an id-sized name still gets one');
});

t.test('one check spends a bounded budget on suggestions; once spent, hints only list', async (t) => {
  const known = Array.from({ length: 200 }, (_, i) => `step-${String(i).padStart(3, '0')}-${'x'.repeat(50)}`);
  const hint = hints(200_000, 100);
  const given = Array.from({ length: 100 }, (_, i) => hint(`step-${String(i).padStart(3, '0')}-${'x'.repeat(49)}y`, known, 'steps'));
  t.match(given[0], /^did you mean 'step-000-x+'/, 'the first hints suggest');
  t.notMatch(given.at(-1), /did you mean/, 'the last ones, after the budget, do not');
  t.match(given[0], new RegExp(`… \\(200 in all\\)$`), `at most ${MAX_LISTED} names listed`);
  t.equal(given[0]!.split('known steps: ')[1]!.match(/step-/g)!.length, MAX_LISTED, `${MAX_LISTED} of them`);
  t.match(given.at(-1), /known steps: 200 \(listed in the hints above\)$/, 'once 100 names are listed, no more');
  t.match(hintFor('dock-z', ['dock-b', 'dock-a'], 'stations'), "did you mean 'dock-a' or 'dock-b'? known stations: dock-a, dock-b", 'a short list in full, sorted');
});
