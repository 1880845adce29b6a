// The tablet's page and assets as the gateway serves them (no token, strict CSP, cacheable by
// content hash), and how they come to exist: dist/ when it matches the sources, else bundled at
// start, else a clear answer naming `npm run build`.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { acceptsGzip, TABLET_CSP } from '../../gateway/routes/tablet.ts';
import {
  bundleTablet,
  loadTabletAssets,
  readTabletDist,
  TABLET_SRC_DIR,
  TabletAssetsError,
  tabletAssets,
  tabletSourceHash,
  writeTabletDist,
} from '../../gateway/tablet-assets.ts';
import { appFor, tempDirFor } from '../gateway/harness.ts';

/** The asset paths index.html refers to. */
function assetPaths(html: string): string[] {
  return [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
}

t.test('GET / is the tablet page: public, no-cache, with a strict Content-Security-Policy', async (t) => {
  const h = await appFor(t);
  const res = await h.app.inject({ method: 'GET', url: '/' });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'text/html; charset=utf-8');
  t.equal(res.headers['cache-control'], 'no-cache', 'always checked again: it names the current assets');
  t.equal(res.headers['content-security-policy'], TABLET_CSP);
  t.match(TABLET_CSP, /default-src 'self'/);
  t.match(TABLET_CSP, /script-src 'self'(;|$)/, 'no inline script, no eval, no other origin');
  t.notMatch(TABLET_CSP, /unsafe-inline|unsafe-eval|https?:|\*/);
  t.equal(res.headers['x-content-type-options'], 'nosniff');
  t.ok(res.headers.etag, 'an ETag');
  const html = res.body;
  t.notMatch(html, /<script(?![^>]*\bsrc=)/, 'every script is a file');
  t.notMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
  t.notMatch(html, /style=/i, 'no inline styles');
  const paths = assetPaths(html);
  t.ok(paths.length >= 3, 'script, style sheet and icon');
  for (const p of paths) t.match(p, /^\/tablet\/[a-z]+-[0-9a-f]{12}\.(js|css|svg)$/, `${p}: served here, named by its content`);

  const again = await h.app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': res.headers.etag as string } });
  t.equal(again.statusCode, 304, 'unchanged: 304');
  t.equal(again.body, '');
  const head = await h.app.inject({ method: 'HEAD', url: '/' });
  t.equal(head.statusCode, 200);
  t.equal(head.body, '');
});

t.test('the assets: right types, cached for good, gzipped when asked, no token needed', async (t) => {
  const h = await appFor(t);
  const html = (await h.app.inject({ method: 'GET', url: '/' })).body;
  const types: Record<string, RegExp> = { js: /^text\/javascript; charset=utf-8$/, css: /^text\/css; charset=utf-8$/, svg: /^image\/svg\+xml/ };
  for (const path of assetPaths(html)) {
    const plain = await h.app.inject({ method: 'GET', url: path, headers: { authorization: 'Bearer not-a-token' } });
    t.equal(plain.statusCode, 200, `${path}: a bad token does not matter`);
    t.match(plain.headers['content-type'], types[path.split('.').pop()!]!, `${path}: content type`);
    t.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    t.equal(plain.headers['content-security-policy'], TABLET_CSP);
    t.equal(plain.headers['content-encoding'], undefined, 'not gzipped unless asked');
    const gz = await h.app.inject({ method: 'GET', url: path, headers: { 'accept-encoding': 'gzip, deflate, br' } });
    t.equal(gz.headers['content-encoding'], 'gzip');
    t.equal(gz.headers.vary, 'accept-encoding');
    t.same(gunzipSync(gz.rawPayload), plain.rawPayload, `${path}: the same bytes`);
    const cached = await h.app.inject({ method: 'GET', url: path, headers: { 'if-none-match': plain.headers.etag as string } });
    t.equal(cached.statusCode, 304);
  }
  const script = await h.app.inject({ method: 'GET', url: assetPaths(html).find((p) => p.endsWith('.js'))! });
  t.notMatch(script.body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, 'the script fetches nothing from another origin');
});

t.test('anything else under /tablet/ is 404, including the page itself and paths that climb out', async (t) => {
  const h = await appFor(t);
  for (const url of ['/tablet/nope.js', '/tablet/index.html', '/tablet/manifest.json', '/tablet/..%2Fpackage.json', '/tablet/%2e%2e%2fmain.ts', '/tablet/']) {
    const res = await h.app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 404, url);
    t.equal(res.json().code, 'NOT_FOUND', `${url}: the API's error shape`);
  }
});

t.test('the tablet routes are not part of the API description', async (t) => {
  const h = await appFor(t);
  const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
  // The API is /v1/, /healthz and the agents' MCP endpoint; nothing of the tablet.
  t.same(Object.keys(doc.paths).filter((p) => !p.startsWith('/v1/') && p !== '/healthz' && p !== '/mcp'), []);
  t.notOk(Object.keys(doc.paths).some((p) => p === '/' || p.startsWith('/tablet')), 'no tablet route');
});

t.test('Accept-Encoding: gzip unless it is refused with q=0', async (t) => {
  t.ok(acceptsGzip('gzip'));
  t.ok(acceptsGzip('br, gzip;q=0.5'));
  t.ok(acceptsGzip('*'));
  t.notOk(acceptsGzip('gzip;q=0'));
  t.notOk(acceptsGzip('gzip; q=0.0, br'));
  t.notOk(acceptsGzip('deflate, br'));
  t.notOk(acceptsGzip(undefined));
});

/** A copy of the tablet's sources in a temp folder, and a dist folder beside it. */
function sourcesCopy(t: Test): { src: string; dist: string } {
  const root = tempDirFor(t);
  const src = join(root, 'tablet');
  cpSync(TABLET_SRC_DIR, src, { recursive: true, filter: (from) => !from.includes(`${join(TABLET_SRC_DIR, 'dist')}`) });
  return { src, dist: join(src, 'dist') };
}

interface Logged {
  level: string;
  msg: string;
}

function logger(): { log: (level: 'info' | 'warn' | 'error', msg: string) => void; lines: Logged[] } {
  const lines: Logged[] = [];
  return { lines, log: (level, msg) => lines.push({ level, msg }) };
}

t.test('no dist/: the gateway bundles the tablet at start and writes dist/ for next time', async (t) => {
  const { src, dist } = sourcesCopy(t);
  t.notOk(existsSync(dist));
  const { log, lines } = logger();
  const built = await loadTabletAssets({ srcDir: src, distDir: dist, log });
  t.equal(built.origin, 'built');
  t.ok(built.files.get('index.html'), 'a page');
  t.match(lines, [{ level: 'info', msg: /built the tablet's assets into .*there were none/ }]);
  const written = readTabletDist(dist)!;
  t.equal(written.sourceHash, tabletSourceHash(src), 'dist/ records what it was built from');
  t.same([...written.files.keys()].sort(), [...built.files.keys()].sort());
  t.notOk(readdirSync(join(dist, '..')).some((n) => n.startsWith('dist.tmp-')), 'no temp folder left');

  let bundled = 0;
  const again = await loadTabletAssets({ srcDir: src, distDir: dist, bundle: async () => (bundled++, new Map()) });
  t.equal(again.origin, 'dist', 'the next start reads dist/');
  t.equal(bundled, 0, 'without bundling');
  t.same(again.files.get('index.html')!.body, built.files.get('index.html')!.body);
});

t.test('dist/ from other sources is rebuilt: an edited tablet is never served stale', async (t) => {
  const { src, dist } = sourcesCopy(t);
  await loadTabletAssets({ srcDir: src, distDir: dist });
  const before = readTabletDist(dist)!;
  writeFileSync(join(src, 'style.css'), `${readFileSync(join(src, 'style.css'), 'utf8')}\n.edited { color: #123456; }\n`);
  t.not(tabletSourceHash(src), before.sourceHash, 'the source hash follows the sources');
  const { log, lines } = logger();
  const after = await loadTabletAssets({ srcDir: src, distDir: dist, log });
  t.equal(after.origin, 'built');
  t.match(lines, [{ level: 'info', msg: /built from other sources/ }]);
  const css = [...after.files].find(([name]) => name.endsWith('.css'))![1];
  t.match(css.body.toString(), /\.edited\{color:#123456\}/);
  t.equal(readTabletDist(dist)!.sourceHash, tabletSourceHash(src));
});

t.test('when rebuilding fails, an older dist/ is served with a warning naming npm run build', async (t) => {
  const { src, dist } = sourcesCopy(t);
  await loadTabletAssets({ srcDir: src, distDir: dist });
  writeFileSync(join(src, 'main.ts'), 'this is not TypeScript (');
  const { log, lines } = logger();
  const served = await loadTabletAssets({ srcDir: src, distDir: dist, log });
  t.equal(served.origin, 'stale');
  t.ok(served.files.get('index.html'));
  t.match(lines, [{ level: 'warn', msg: /rebuilding failed .*npm run build/ }]);
});

t.test('no dist/ and no way to build one: no tablet, an error naming npm run build, and the API still runs', async (t) => {
  const { src, dist } = sourcesCopy(t);
  const { log, lines } = logger();
  const none = await loadTabletAssets({ srcDir: src, distDir: dist, log, bundle: async () => Promise.reject(new Error('esbuild is not installed')) });
  t.equal(none.origin, 'missing');
  t.equal(none.files.size, 0);
  t.match(none.problem, /missing and could not be built: esbuild is not installed; run `npm run build`/);
  t.match(lines, [{ level: 'error', msg: /npm run build/ }]);

  const h = await appFor(t, { tablet: none });
  for (const url of ['/', '/tablet/app-000000000000.js']) {
    const res = await h.app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 503, url);
    t.match(res.json(), { code: 'UNAVAILABLE', message: /npm run build/ });
  }
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/stop', headers: h.auth('viewer') })).statusCode, 200, 'the API answers');
});

t.test('a dist/ that cannot be written: the bundle is served from memory', async (t) => {
  const { src } = sourcesCopy(t);
  const blocker = join(tempDirFor(t), 'a-file');
  writeFileSync(blocker, 'not a folder');
  const { log, lines } = logger();
  const built = await loadTabletAssets({ srcDir: src, distDir: join(blocker, 'dist'), log });
  t.equal(built.origin, 'built');
  t.ok(built.files.get('index.html'));
  t.match(lines, [{ level: 'warn', msg: /in memory; could not write/ }]);
});

t.test('an install with dist/ but without the sources serves dist/ as it is', async (t) => {
  const { src, dist } = sourcesCopy(t);
  await loadTabletAssets({ srcDir: src, distDir: dist });
  const loaded = await loadTabletAssets({ srcDir: join(tempDirFor(t), 'no-sources'), distDir: dist });
  t.equal(loaded.origin, 'dist');
  const none = await loadTabletAssets({ srcDir: join(tempDirFor(t), 'no-sources'), distDir: join(tempDirFor(t), 'no-dist') });
  t.equal(none.origin, 'missing');
  t.match(none.problem, /no tablet sources/);
});

t.test('a dist/ without a readable manifest counts as missing', async (t) => {
  const { src, dist } = sourcesCopy(t);
  mkdirSync(dist, { recursive: true });
  writeFileSync(join(dist, 'manifest.json'), '{"sourceHash": 1}');
  t.equal(readTabletDist(dist), undefined, 'a manifest of the wrong shape');
  writeFileSync(join(dist, 'manifest.json'), JSON.stringify({ sourceHash: 'x', files: ['index.html'] }));
  t.equal(readTabletDist(dist), undefined, 'a manifest naming a file that is not there');
  t.equal((await loadTabletAssets({ srcDir: src, distDir: dist })).origin, 'built');
});

t.test('the bundle: index.html names each asset by its content hash; a page that does not refer to one is an error', async (t) => {
  const { src, dist } = sourcesCopy(t);
  const files = await bundleTablet(src);
  const html = files.get('index.html')!.toString();
  for (const p of assetPaths(html)) t.ok(files.has(p.slice('/tablet/'.length)), `${p} is in the bundle`);
  writeTabletDist(files, 'some-hash', dist);
  t.equal(readTabletDist(dist)!.sourceHash, 'some-hash');

  const page = readFileSync(join(src, 'index.html'), 'utf8');
  writeFileSync(join(src, 'index.html'), page.replace('"/tablet/icon.svg"', '"/elsewhere/icon.svg"'));
  await t.rejects(bundleTablet(src), new TabletAssetsError('index.html does not refer to /tablet/icon.svg'));
});

t.test('every app of a process serves the same bundle, loaded once', async (t) => {
  const a = await tabletAssets();
  const b = await tabletAssets();
  t.equal(a, b);
  t.not(a.origin, 'missing', 'the gateway has a tablet');
});

t.test('the whole tablet stays small: at most 24 KB gzipped (README: about 20 KB)', async (t) => {
  const files = await bundleTablet();
  const gzipped = [...files.values()].reduce((sum, body) => sum + gzipSync(body, { level: 9 }).length, 0);
  t.comment(`the tablet is ${gzipped} B gzipped`);
  t.ok(gzipped <= 24 * 1024, `${gzipped} B gzipped`);
});
