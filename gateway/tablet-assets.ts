// The tablet's static assets: the browser code in gateway/tablet bundled by esbuild into
// gateway/tablet/dist (`npm run build`, also run by `npm install`), read from there when the
// gateway starts. When dist/ is missing or was built from other sources, the gateway bundles the
// tablet itself at start, so a fresh checkout just works and an edited tablet is never served stale.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const TABLET_SRC_DIR = fileURLToPath(new URL('./tablet/', import.meta.url));
export const TABLET_DIST_DIR = join(TABLET_SRC_DIR, 'dist');
const MANIFEST = 'manifest.json';
/** How the bundle is made is part of what it is made from. */
const THIS_FILE = fileURLToPath(import.meta.url);

export const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml; charset=utf-8',
};

export interface Asset {
  body: Buffer;
  /** The same bytes gzipped, for clients that accept it. */
  gzip: Buffer;
  type: string;
  etag: string;
}

export interface TabletAssets {
  /** File name (as served under /tablet/, and `index.html` for `/`) → asset. */
  files: Map<string, Asset>;
  /**
   * Where they came from: `dist` (built before), `built` (bundled at start), `stale` (dist/ from
   * other sources, as a build failed), `missing` (none and none could be built: `problem` says why).
   */
  origin: 'dist' | 'built' | 'stale' | 'missing';
  problem?: string;
}

export class TabletAssetsError extends Error {
  override name = 'TabletAssetsError';
}

/** Hash of every source file of the tablet (not dist/) and of this bundler: dist/ records it. */
export function tabletSourceHash(srcDir: string = TABLET_SRC_DIR): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (name !== 'dist' && name !== 'node_modules') walk(p);
        continue;
      }
      h.update(`${relative(srcDir, p)}\0`).update(readFileSync(p)).update('\0');
    }
  };
  walk(srcDir);
  h.update(readFileSync(THIS_FILE));
  return h.digest('hex');
}

const shortHash = (b: Buffer | string) => createHash('sha256').update(b).digest('hex').slice(0, 12);

/**
 * Bundles the tablet: `main.ts` and everything it imports into one minified script, `style.css`,
 * the icon, and `index.html` pointing at them by content-hashed names (so they can be cached for
 * good). Returns file name → bytes; nothing is written.
 */
export async function bundleTablet(srcDir: string = TABLET_SRC_DIR): Promise<Map<string, Buffer>> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: { app: join(srcDir, 'main.ts'), style: join(srcDir, 'style.css') },
    bundle: true,
    minify: true,
    format: 'esm',
    // Tablets a few years old: syntax newer than ES2020 is lowered.
    target: 'es2020',
    tsconfig: join(srcDir, 'tsconfig.json'),
    legalComments: 'none',
    charset: 'utf8',
    write: false,
    outdir: join(srcDir, 'dist'),
    logLevel: 'silent',
  });
  const out = new Map<string, Buffer>();
  const renamed = new Map<string, string>();
  const add = (placeholder: string, base: string, ext: string, body: Buffer) => {
    const name = `${base}-${shortHash(body)}${ext}`;
    out.set(name, body);
    renamed.set(placeholder, `/tablet/${name}`);
  };
  for (const f of result.outputFiles) {
    const ext = extname(f.path);
    const base = f.path.slice(f.path.lastIndexOf('/') + 1, -ext.length);
    add(`/tablet/${base}${ext}`, base, ext, Buffer.from(f.contents));
  }
  add('/tablet/icon.svg', 'icon', '.svg', readFileSync(join(srcDir, 'icon.svg')));
  let html = readFileSync(join(srcDir, 'index.html'), 'utf8');
  for (const [placeholder, name] of renamed) {
    if (!html.includes(`"${placeholder}"`)) throw new TabletAssetsError(`index.html does not refer to ${placeholder}`);
    html = html.replaceAll(`"${placeholder}"`, `"${name}"`);
  }
  out.set('index.html', Buffer.from(html));
  return out;
}

/**
 * Writes the bundle to `distDir` with a manifest naming the source hash. Written to a folder
 * beside it and renamed, so a gateway starting meanwhile never reads half a build.
 */
export function writeTabletDist(files: Map<string, Buffer>, sourceHash: string, distDir: string = TABLET_DIST_DIR): void {
  const tmp = `${distDir}.tmp-${process.pid}-${Date.now()}`;
  try {
    mkdirSync(tmp, { recursive: true });
    for (const [name, body] of files) writeFileSync(join(tmp, name), body);
    writeFileSync(join(tmp, MANIFEST), `${JSON.stringify({ sourceHash, files: [...files.keys()].sort() }, null, 2)}\n`);
    rmSync(distDir, { recursive: true, force: true });
    renameSync(tmp, distDir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The bundle in dist/ and the source hash it was built from, or undefined if it cannot be read whole. */
export function readTabletDist(distDir: string = TABLET_DIST_DIR): { sourceHash: string; files: Map<string, Buffer> } | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(distDir, MANIFEST), 'utf8')) as { sourceHash?: unknown; files?: unknown };
    if (typeof manifest.sourceHash !== 'string' || !Array.isArray(manifest.files) || !manifest.files.includes('index.html')) return undefined;
    const files = new Map<string, Buffer>();
    for (const name of manifest.files as string[]) files.set(name, readFileSync(join(distDir, name)));
    return { sourceHash: manifest.sourceHash, files };
  } catch {
    return undefined;
  }
}

export interface LoadOptions {
  srcDir?: string;
  distDir?: string;
  bundle?: (srcDir: string) => Promise<Map<string, Buffer>>;
  log?: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

/**
 * The assets to serve: dist/ when it was built from the sources as they are; otherwise a bundle
 * made now (and written to dist/ when the folder is writable). When that fails too, a dist/ from
 * other sources is served with a warning; with no dist/ at all there is no tablet (`missing`, an
 * error logged), while the API, STOP included, still runs.
 */
export async function loadTabletAssets(opts: LoadOptions = {}): Promise<TabletAssets> {
  const srcDir = opts.srcDir ?? TABLET_SRC_DIR;
  const distDir = opts.distDir ?? TABLET_DIST_DIR;
  const log = opts.log ?? (() => {});
  const dist = readTabletDist(distDir);
  const hasSources = existsSync(join(srcDir, 'main.ts'));
  // An install with dist/ but without the sources serves what it has.
  if (dist && !hasSources) return { files: toAssets(dist.files), origin: 'dist' };
  const sourceHash = hasSources ? tabletSourceHash(srcDir) : undefined;
  if (dist && dist.sourceHash === sourceHash) return { files: toAssets(dist.files), origin: 'dist' };
  let built: Map<string, Buffer>;
  try {
    if (!sourceHash) throw new Error(`no tablet sources in ${srcDir}`);
    built = await (opts.bundle ?? bundleTablet)(srcDir);
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    if (dist) {
      log('warn', `the tablet's assets in ${distDir} were built from other sources and rebuilding failed (${why}); serving them anyway: run \`npm run build\``);
      return { files: toAssets(dist.files), origin: 'stale' };
    }
    const problem = `the tablet's assets (${distDir}) are missing and could not be built: ${why}; run \`npm run build\``;
    log('error', problem);
    return { files: new Map(), origin: 'missing', problem };
  }
  try {
    writeTabletDist(built, sourceHash, distDir);
    log('info', `built the tablet's assets into ${distDir} (${dist ? 'they were built from other sources' : 'there were none'})`);
  } catch (err) {
    log('warn', `built the tablet's assets in memory; could not write ${distDir}: ${(err as Error).message}`);
  }
  return { files: toAssets(built), origin: 'built' };
}

function toAssets(files: Map<string, Buffer>): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const [name, body] of files) {
    const type = CONTENT_TYPES[extname(name)];
    if (!type) continue;
    out.set(name, { body, gzip: gzipSync(body, { level: 9 }), type, etag: `"${shortHash(body)}"` });
  }
  return out;
}

let loaded: Promise<TabletAssets> | undefined;

/**
 * loadTabletAssets() for the gateway's own folders, once per process: every app of a process
 * serves the same bundle. Missing assets are not remembered: the next start tries again.
 */
export async function tabletAssets(log?: LoadOptions['log']): Promise<TabletAssets> {
  loaded ??= loadTabletAssets(log ? { log } : {});
  const assets = await loaded;
  if (assets.origin === 'missing') loaded = undefined;
  return assets;
}
