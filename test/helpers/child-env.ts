// The environment of the processes tests start (`phygate serve`, `phygate fleet`, a writer that
// is killed). tap records coverage in every node process a test starts; a child's coverage counts
// for nothing here (test/coverage-map.mjs), and recording it made each child slower to start and
// to stop (the gateway's code runs instrumented, and its coverage is written out at exit).

/** `env` with tap's coverage recording turned off (tap reads this variable in every child). */
export function withoutTapCoverage(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, _TAPJS_PROCESSINFO_COVERAGE_: '0' };
}

/** Ours without any PHYGATE_* (no admin token leaks in) and without tap's coverage recording, plus `env`. */
export function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return withoutTapCoverage({ ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PHYGATE_'))), ...env });
}
