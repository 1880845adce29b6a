// The gateway's quick tests: every `*.cases.ts` of this folder, in one test process
// (test/helpers/suite.ts says why). They share the harness's check workers, started once.
import t from 'tap';
import { runCases } from '../helpers/suite.ts';

// Twenty-odd files' tests one after the other: on a loaded machine more than tap's 120 s per file.
t.setTimeout(360_000);
await runCases(import.meta.url);
