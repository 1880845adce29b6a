// The inference worker's entry (runtime.ts): TypeScript first, then the worker.
import { typescriptInWorker } from '../typescript-in-worker.mjs';

await typescriptInWorker();
await import('./inference-worker.ts');
