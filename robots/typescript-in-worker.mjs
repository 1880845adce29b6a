// Makes a worker thread able to load this project's TypeScript. A worker inherits the process's
// Node options: under `node --import tsx` or the test runner it loads TypeScript already; where
// tsx was registered in code (`phygate`, cli/phygate.mjs), which a worker does not inherit, it is
// registered here. A tiny module is tried first, since a module that failed to load stays failed
// for the thread. Used by the plan checks' workers and the policies' inference worker.
export async function typescriptInWorker() {
  try {
    await import('./typescript-probe.ts');
  } catch (err) {
    if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    const { register } = await import('tsx/esm/api');
    register();
  }
}
