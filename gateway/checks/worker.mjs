// The check worker's entry (see pool.ts): TypeScript first, then the worker.
import { typescriptInWorker } from '../../robots/typescript-in-worker.mjs';

await typescriptInWorker();
await import('./worker.ts');
