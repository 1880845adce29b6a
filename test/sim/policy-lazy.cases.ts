// A site without policies never loads the policy runtime: the modules the gateway and the virtual
// fleet load at start reach the runtime, its worker, onnxruntime and the pilot only through a
// dynamic import() taken when some AMR has `policy:` (sim/virtual-fleet.ts). Checked by following
// every static, non-type import from the entry points, as Node would load them.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The specifiers a module loads when it is loaded: static imports and re-exports, not `import type`, not `import()`. */
function staticImports(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: string[] = [];
  for (const m of code.matchAll(/(?:^|[\n;])\s*(import|export)\s+(type\s+)?([\w*{}\s,$]*?)\s*from\s*['"]([^'"]+)['"]/g)) {
    if (m[2]) continue;
    // `import { type A, type B } from`: only types, erased.
    const names = m[3]!.replace(/[{}]/g, '').split(',').map((n) => n.trim()).filter(Boolean);
    if (m[3]!.includes('{') && !/^[\w$]+\s*,/.test(m[3]!.trim()) && names.length > 0 && names.every((n) => n.startsWith('type '))) continue;
    out.push(m[4]!);
  }
  for (const m of code.matchAll(/(?:^|[\n;])\s*import\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  return out;
}

/** Every module (repository files by path, packages by name) loaded when `entry` is. */
function closure(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [resolve(ROOT, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    const key = relative(ROOT, file);
    if (seen.has(key)) continue;
    seen.add(key);
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) {
        seen.add(spec);
        continue;
      }
      const target = resolve(dirname(file), spec);
      if (existsSync(target)) todo.push(target);
    }
  }
  return seen;
}

const HEAVY = ['onnxruntime-node', 'robots/policy/runtime.ts', 'robots/policy/inference-worker.ts', 'robots/policy/drive.ts', 'sim/policy-pilot.ts'];

for (const entry of ['gateway/main.ts', 'sim/virtual-fleet.ts']) {
  t.test(`${entry} loads none of the policy runtime until an AMR has a policy`, async (t) => {
    const loaded = closure(entry);
    t.ok(loaded.has('sim/virtual-amr-adapter.ts'), `the walk reaches the virtual AMR (${loaded.size} modules)`);
    for (const heavy of HEAVY) t.notOk(loaded.has(heavy), `${heavy} is not loaded at start`);
  });
}

t.test('the walk sees a static import when there is one', async (t) => {
  t.ok(closure('robots/policy/runtime.ts').has('robots/policy/loader.ts') === false, 'a type-only import is not followed');
  t.ok(closure('sim/policy-pilot.ts').has('robots/policy/contract.ts'), 'a static import is followed');
});
