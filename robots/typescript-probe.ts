// Imported by typescript-in-worker.mjs to learn whether this thread can load TypeScript yet.
export const typescript: boolean = true;
