// The simulator's quick tests: every `*.cases.ts` of this folder, in one test
// process (test/helpers/suite.ts says why).
import { runCases } from '../helpers/suite.ts';

await runCases(import.meta.url);
