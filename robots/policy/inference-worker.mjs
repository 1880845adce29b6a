// The inference worker's entry (runtime.ts). A worker inherits the process's Node options: under
// `node --import tsx` or the test runner it loads TypeScript already; where tsx was registered in
// code (`phygate`), which a worker does not inherit, it registers it here. A tiny module is tried
// first, since a module that failed to load stays failed for the thread.
try {
  await import('./loader-probe.ts');
} catch (err) {
  if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  const { register } = await import('tsx/esm/api');
  register();
}
await import('./inference-worker.ts');
