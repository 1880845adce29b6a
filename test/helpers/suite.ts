// Runs every `*.cases.ts` module of a folder in one test process, in the order of their names.
//
// tap starts a node process per test file, and each costs about 2.5 s of CPU before its first
// test (tap's plugins and the TypeScript loader), plus whatever it imports: for the gateway's
// modules about as much again. On a machine of two cores that is most of what dozens of small,
// quick test files cost. Such files are named `*.cases.ts` and run from one `*.test.ts` of their
// folder, which calls `runCases(import.meta.url)`. A cases module is written like any test file
// (`import t from 'tap'`, `t.test(...)`): its tests are subtests of the suite's root, run one
// after the other, and a failure names the test and the line as in a file of its own.
//
// Only tests that leave nothing behind belong there: no process-wide state they do not restore,
// no hooks on the root, no `t.setTimeout` of their own (the file's limit is the suite's).
import { readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';

/** The `*.cases.ts` modules beside the suite at `suiteUrl`, sorted by name. */
function casesBeside(suiteUrl: string): string[] {
  const dir = dirname(fileURLToPath(suiteUrl));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cases.ts'))
    .sort()
    .map((f) => `${dir}/${f}`);
}

/**
 * Imports every cases module beside the suite, one after the other; their tests run in that order.
 * The imports happen in the suite's first test: tap ends the root once no test is queued, and
 * between two modules' tests, while the next module loads, none would be.
 */
export async function runCases(suiteUrl: string): Promise<void> {
  const files = casesBeside(suiteUrl);
  if (files.length === 0) throw new Error(`no *.cases.ts beside ${fileURLToPath(suiteUrl)}`);
  await t.test(`the suite loads ${files.length} cases modules`, async (t) => {
    for (const file of files) await import(pathToFileURL(file).href);
    t.pass(files.map((f) => basename(f)).join(', '));
  });
}
