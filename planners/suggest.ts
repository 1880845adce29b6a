// "Did you mean" for hints: the known names closest to what the agent wrote.
export function closest(name: string, known: readonly string[], max = 3): string[] {
  return known
    .map((k) => ({ k, d: editDistance(name, k) }))
    .filter(({ k, d }) => d < name.length && d <= Math.max(1, Math.floor(Math.max(name.length, k.length) / 3)))
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .slice(0, max)
    .map(({ k }) => k);
}

/** A hint naming the likeliest intended names first, then the rest of what exists. */
export function hintFor(name: string, known: readonly string[], what: string): string {
  const near = closest(name, known);
  const list = [...known].sort().join(', ');
  return near.length > 0 ? `did you mean ${near.map((n) => `'${n}'`).join(' or ')}? known ${what}: ${list}` : `known ${what}: ${list}`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
