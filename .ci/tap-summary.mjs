// Reads tap's TAP output and prints "N passed, N failed": assertions, not the subtests that wrap them.
// A failed run with no failing assertion (type errors, coverage below its threshold) still counts one failure.
import { readFileSync } from 'node:fs';

const [file, status] = process.argv.slice(2);
const lines = readFileSync(file, 'utf8').split('\n');
const open = [];
let passed = 0;
let failed = 0;
for (const line of lines) {
  const subtest = /^(\s*)# Subtest: /.exec(line);
  if (subtest) {
    open.push(subtest[1].length);
    continue;
  }
  const result = /^(\s*)(not ok|ok) \d+/.exec(line);
  if (!result) continue;
  const indent = result[1].length;
  if (open.length > 0 && open[open.length - 1] === indent) {
    open.pop();
    continue;
  }
  if (/# SKIP|# TODO/.test(line)) continue;
  if (result[2] === 'ok') passed++;
  else failed++;
}
if (Number(status) !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
