// The check worker's entry (see pool.ts). A worker inherits the process's Node options: a process
// started with a TypeScript loader on the command line (`node --import tsx`, the test runner) has
// it in the worker too, and the worker uses it. `phygate` registers tsx in code instead
// (cli/phygate.mjs), which a worker does not inherit: then it registers it here. A tiny module is
// tried first, since a module that failed to load stays failed for the thread.
try {
  await import('./loader-probe.ts');
} catch (err) {
  if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  const { register } = await import('tsx/esm/api');
  register();
}
await import('./worker.ts');
