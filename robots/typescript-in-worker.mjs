// Makes a worker thread able to load this project's TypeScript. Workers are started without
// their process's module loaders (worker-options.ts), and tsx registered in code (`phygate`,
// cli/phygate.mjs) is not inherited either: tsx is registered here. A tiny module is tried
// first, since a module that failed to load stays failed for the thread, and a worker started
// with a TypeScript loader after all needs nothing more. Used by the plan checks' workers and
// the policies' inference worker.
export async function typescriptInWorker() {
  try {
    await import('./typescript-probe.ts');
  } catch (err) {
    if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    const { register } = await import('tsx/esm/api');
    register();
  }
}
