// The dependency rule of docs/architecture.md's table of layers: planners/ is pure (nothing
// of ours outside planners/, no I/O), robots/ imports only planners/, sim/
// imports planners/ and robots/, and only gateway/ ties everything together.
// Checked by reading every import of every source file.
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every module specifier a TypeScript/JavaScript source imports, re-exports or loads dynamically. */
export function importsOf(source: string): string[] {
  // Comments could mention imports; drop them first (strings that contain
  // comment markers are rare enough in this code base not to matter).
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const found: string[] = [];
  const patterns = [
    /\bimport\s+(?:type\s+)?[\w*{}\s,$]*?\s*from\s*['"]([^'"]+)['"]/g,
    /\bexport\s+(?:type\s+)?[\w*{}\s,$]*?\s*from\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) found.push(m[1]!);
  return [...new Set(found)].sort();
}

function sourcesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourcesUnder(p));
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

/** The top-level folder of the project a relative specifier from `file` lands in, or null for packages. */
function targetLayer(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const target = relative(ROOT, resolve(dirname(file), spec));
  return target.split(sep)[0]!;
}

const NODE_IO = /^(node:)?(fs|fs\/promises|net|http|https|http2|dgram|child_process|worker_threads|cluster|tls|dns|os|process|readline)$/;

interface Rule {
  layer: string;
  forbiddenLayers: string[];
  forbidNodeIo: boolean;
  allowedPackages?: RegExp;
}

const RULES: Rule[] = [
  {
    layer: 'planners',
    forbiddenLayers: ['gateway', 'robots', 'sim', 'launch', 'test'],
    forbidNodeIo: true,
    // Pure libraries only: schemas, YAML text parsing, hashing.
    allowedPackages: /^(zod|yaml|node:crypto)$/,
  },
  // The table of layers: robots/ may import planners/; sim/ may import planners/ and robots/.
  { layer: 'robots', forbiddenLayers: ['gateway', 'sim', 'launch', 'test'], forbidNodeIo: false },
  { layer: 'sim', forbiddenLayers: ['gateway', 'launch', 'test'], forbidNodeIo: false },
];

export function violations(rule: Rule, files: { path: string; source: string }[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    for (const spec of importsOf(f.source)) {
      const where = `${relative(ROOT, f.path)} imports '${spec}'`;
      const layer = targetLayer(f.path, spec);
      if (layer !== null) {
        if (rule.forbiddenLayers.includes(layer)) out.push(`${where} (${rule.layer}/ must not depend on ${layer}/)`);
        continue;
      }
      if (rule.forbidNodeIo && NODE_IO.test(spec)) out.push(`${where} (${rule.layer}/ does no I/O)`);
      else if (rule.allowedPackages && !rule.allowedPackages.test(spec)) {
        out.push(`${where} (${rule.layer}/ may use only ${rule.allowedPackages.source})`);
      }
    }
  }
  return out;
}

t.test('the import scanner finds every form of import', async (t) => {
  const src = [
    "import { z } from 'zod';",
    "import type { Site } from '../planners/site.ts';",
    "import * as fs from 'node:fs';",
    "import def, { a, b as c } from './x.ts';",
    "export { y } from '../gateway/app.ts';",
    "export * from '../sim/world/sdf.ts';",
    "import './side-effect.ts';",
    "const r = await import('../robots/fleet-registry.ts');",
    "// import { no } from '../gateway/commented.ts';",
    '/* import { no } from "../gateway/block.ts"; */',
    "import {\n  multi,\n  line,\n} from 'yaml';",
  ].join('\n');
  t.same(importsOf(src), [
    '../gateway/app.ts',
    '../planners/site.ts',
    '../robots/fleet-registry.ts',
    '../sim/world/sdf.ts',
    './side-effect.ts',
    './x.ts',
    'node:fs',
    'yaml',
    'zod',
  ]);
});

t.test('the rule catches a planner that reaches into the gateway or does I/O', async (t) => {
  const planners = RULES[0]!;
  const bad = {
    path: join(ROOT, 'planners', 'bad.ts'),
    source: "import { x } from '../gateway/app.ts';\nimport { readFileSync } from 'node:fs';\nimport { ok } from './site.ts';\nimport mqtt from 'mqtt';",
  };
  const v = violations(planners, [bad]);
  t.equal(v.length, 3, v.join('\n'));
  t.match(v[0]!, /gateway/);
  t.match(v.join('\n'), /node:fs.*does no I\/O/);
  t.match(v.join('\n'), /'mqtt'.*may use only/);
  t.same(violations(planners, [{ path: join(ROOT, 'planners', 'good.ts'), source: "import { z } from 'zod';\nimport { a } from './plan.ts';" }]), []);
});

for (const rule of RULES) {
  t.test(`${rule.layer}/ keeps to the dependency rule`, async (t) => {
    const files = sourcesUnder(join(ROOT, rule.layer)).map((p) => ({ path: p, source: readFileSync(p, 'utf8') }));
    t.ok(files.length > 0, `${rule.layer}/ has sources`);
    t.same(violations(rule, files), []);
  });
}

/** What the tablet may take types from: the API's shapes and the roles, which it must not copy. Types only: the bundle drops them. */
const TABLET_TYPES_FROM = new Set(['../api/schemas.ts', '../auth/roles.ts']);
const TYPE_ONLY = /\b(?:import|export)\s+type\s+[\w*{}\s,$]*?\s*from\s*['"]([^'"]+)['"]\s*;?/g;

t.test("gateway/tablet/ is browser code: it imports only its own files (and the API's types), no package, nothing of Node", async (t) => {
  const dir = join(ROOT, 'gateway', 'tablet');
  const files = readdirSync(dir).filter((n) => n.endsWith('.ts')).map((n) => join(dir, n));
  t.ok(files.length > 5, 'the tablet has sources');
  const outside = files.flatMap((f) => {
    // Type-only imports of the API's shapes are allowed; everything else must be the tablet's own.
    const code = readFileSync(f, 'utf8').replace(TYPE_ONLY, (statement, spec: string) => (TABLET_TYPES_FROM.has(spec) ? '' : statement));
    return importsOf(code).filter((spec) => !/^\.\/[\w-]+\.ts$/.test(spec)).map((spec) => `${relative(ROOT, f)} imports '${spec}'`);
  });
  t.same(outside, []);
  t.ok(files.some((f) => /from '\.\.\/api\/schemas\.ts'/.test(readFileSync(f, 'utf8'))), "the tablet takes the API's types from the gateway, not copies");
  const valueImport = "import { roleAllows } from '../auth/roles.ts';".replace(TYPE_ONLY, '');
  t.same(importsOf(valueImport), ['../auth/roles.ts'], 'a value import from the gateway is still outside');
});
