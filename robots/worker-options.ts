// How this project's worker threads are started: the plan checks' (gateway/checks/pool.ts) and
// the policies' inference worker (robots/policy/runtime.ts).

const LOADER = /^--(?:import|loader|experimental-loader|require)$|^-r$/;
const LOADER_WITH_VALUE = /^--(?:import|loader|experimental-loader|require)=/;

/**
 * The Node options a worker thread is started with: the process's own, without its module
 * loaders (`--import`, `--loader`, `--experimental-loader`, `--require`, with their values). A
 * worker registers the TypeScript loader it needs itself (typescript-in-worker.mjs), as it does
 * under `phygate`, which registers tsx in code. Inheriting the process's loaders would load each
 * of them again in every worker: under the test runner that is a TypeScript compiler, a mock
 * loader and a coverage recorder, a second of CPU for each worker started.
 */
export function workerExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (LOADER.test(arg)) i++;
    else if (!LOADER_WITH_VALUE.test(arg)) kept.push(arg);
  }
  return kept;
}
