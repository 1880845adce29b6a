// The docs are part of the contract: every code a client can receive is explained.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ERRORS } from '../gateway/errors.ts';
import { ISSUE_CODES } from '../planners/report.ts';

const read = (p: string) => readFileSync(fileURLToPath(new URL(`../${p}`, import.meta.url)), 'utf8');

/** Rows of a markdown table whose first cell is a `code`: code → the rest of the row's cells. */
function tableRows(markdown: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`([A-Z_]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (m) rows.set(m[1]!, m[2]!.split('|').map((c) => c.trim()));
  }
  return rows;
}

t.test('every API error code is in the README with its HTTP status', async (t) => {
  const rows = tableRows(read('README.md'));
  for (const [code, { status }] of Object.entries(ERRORS)) {
    t.same(rows.get(code)?.[0], String(status), `${code} documented as HTTP ${status}`);
  }
});

t.test('every issue code is in planners/plan-format.md with its severity', async (t) => {
  const rows = tableRows(read('planners/plan-format.md'));
  for (const [code, { severity }] of Object.entries(ISSUE_CODES)) {
    t.same(rows.get(code)?.[0], severity, `${code} documented as ${severity}`);
  }
});

t.test('the table parser finds rows and rejects prose', async (t) => {
  const rows = tableRows('| `A_B` | 400 | x |\n`C_D` 401 in a sentence\n| code | HTTP |');
  t.same([...rows.keys()], ['A_B']);
  t.same(rows.get('A_B'), ['400', 'x']);
});

t.test('every document the code cites is in the repository, and every section it names is in it', async (t) => {
  const { readdirSync, existsSync } = await import('node:fs');
  const root = fileURLToPath(new URL('../', import.meta.url));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(`${root}${dir}`, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
      const p = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mjs)$/.test(e.name)) files.push(p);
    }
  };
  for (const dir of ['planners', 'robots', 'sim', 'gateway', 'launch', 'test']) walk(dir);
  let citations = 0;
  for (const file of files) {
    const comments = read(file)
      .split('\n')
      .filter((l) => /^\s*(\/\/|\*|\/\*)/.test(l))
      .join(' ')
      .replace(/\s*(\/\/|\*)\s*/g, ' ');
    for (const m of comments.matchAll(/([\w./-]+\.md)(?:, "([^"]+)")?/g)) {
      const doc = m[1]!;
      const here = `${file.slice(0, file.lastIndexOf('/') + 1)}${doc}`;
      const path = existsSync(`${root}${doc}`) ? doc : existsSync(`${root}${here}`) ? here : undefined;
      citations++;
      if (!path) {
        t.fail(`${file} cites ${doc}, which is not in the repository`);
        continue;
      }
      if (m[2]) t.ok(read(path).split('\n').some((l) => l.replace(/^#+\s*/, '') === m[2] && l.startsWith('#')), `${file}: ${doc} has a section "${m[2]}"`);
    }
  }
  t.ok(citations > 5, `${citations} citations checked in ${files.length} files`);
});
