#!/usr/bin/env node
// npm run build (and npm install, through `prepare`): bundles the tablet into gateway/tablet/dist.
// The bundling itself is in gateway/tablet-assets.ts, which the gateway also uses when dist/ is
// missing or out of date at start.
import { register } from 'tsx/esm/api';

register();
const { bundleTablet, tabletSourceHash, writeTabletDist, TABLET_DIST_DIR } = await import('../tablet-assets.ts');
const { gzipSync } = await import('node:zlib');

const started = Date.now();
const files = await bundleTablet();
writeTabletDist(files, tabletSourceHash());
let raw = 0;
let gzipped = 0;
for (const [name, body] of files) {
  const gz = gzipSync(body, { level: 9 }).length;
  raw += body.length;
  gzipped += gz;
  console.log(`  ${name.padEnd(28)} ${String(body.length).padStart(7)} B  ${String(gz).padStart(6)} B gzipped`);
}
console.log(`tablet built into ${TABLET_DIST_DIR} in ${Date.now() - started} ms: ${raw} B, ${gzipped} B gzipped`);
