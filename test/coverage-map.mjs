// Which source files each test file counts toward coverage. Tests that run the gateway in a
// child process count for nothing: tap would merge the child's tsx-compiled coverage with the
// in-process one as if the code were the same, and report lines as missed that tests do run.
const CHILD_PROCESS_TESTS = new Set(['test/gateway/restart.test.ts', 'test/gateway/start-refused.test.ts', 'test/gateway/cli-process.test.ts', 'test/gateway/fleet-process.test.ts', 'test/gateway/execute-process.test.ts', 'test/gateway/kill-mid-mission.test.ts', 'test/store/crash.test.ts', 'test/gateway/fault-kill.test.ts', 'test/gateway/mcp-stdio.test.ts', 'test/readme-curl.test.ts', 'test/robots/policy-train.test.ts', 'test/gateway/mcp-conformance.test.ts']);

export default function coverageMap(testFile) {
  return CHILD_PROCESS_TESTS.has(testFile.replaceAll('\\', '/')) ? null : [];
}
