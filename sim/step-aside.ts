// Where a long check makes way for STOP. The simulation calls stepAside() between its events; a
// check worker (gateway/checks/worker.ts) sets the hook so that its check waits there while a
// STOP is being handled. Everywhere else the hook does nothing.
let hook: () => void = () => {};

/** Sets what stepAside() does (a check worker's wait), or back to nothing. */
export function onStepAside(f?: () => void): void {
  hook = f ?? (() => {});
}

/** Called by the simulation between events: a check may be held here, never changed. */
export function stepAside(): void {
  hook();
}
