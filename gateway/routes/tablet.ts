// The shop-floor tablet: `/` and its assets under `/tablet/`. Public, because the page holds no
// data: everything it shows comes from the API with the token the operator signs in with. The
// Content-Security-Policy allows only this origin (no inline script or style, no CDN); pictures
// may also be `blob:` URLs, which is how the page shows a mission's plan.svg fetched with the token.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import type { Asset, TabletAssets } from '../tablet-assets.ts';

export const TABLET_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The page is always checked again (it names the current assets); the assets are named by their hash and never change. */
const CACHE_PAGE = 'no-cache';
const CACHE_ASSET = 'public, max-age=31536000, immutable';

export const tabletRoutes: FastifyPluginAsync<{ assets: TabletAssets }> = async (app, { assets }) => {
  const index = assets.files.get('index.html');
  // No tablet was built: say so where someone looks for it, and why.
  const missing = () => new ApiError('UNAVAILABLE', assets.problem ?? "the tablet's assets are missing; run `npm run build`");
  const route = { config: { role: 'public' as const }, schema: { hide: true } };

  app.get('/', route, async (req, reply) => {
    if (!index) throw missing();
    return send(req, reply, index, CACHE_PAGE);
  });
  app.get<{ Params: { file: string } }>('/tablet/:file', route, async (req, reply) => {
    if (!index) throw missing();
    const asset = req.params.file === 'index.html' ? undefined : assets.files.get(req.params.file);
    if (!asset) throw new ApiError('NOT_FOUND', `no tablet asset '${req.params.file}'`);
    return send(req, reply, asset, CACHE_ASSET);
  });
};

function send(req: FastifyRequest, reply: FastifyReply, asset: Asset, cache: string): FastifyReply {
  reply
    .header('content-security-policy', TABLET_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', cache)
    .header('etag', asset.etag)
    .header('vary', 'accept-encoding');
  if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  reply.type(asset.type);
  if (acceptsGzip(req.headers['accept-encoding'])) return reply.header('content-encoding', 'gzip').send(asset.gzip);
  return reply.send(asset.body);
}

/** `Accept-Encoding` names gzip without refusing it (`gzip;q=0`). */
export function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((part) => {
    const [coding = '', ...params] = part.split(';').map((x) => x.trim());
    return (coding === 'gzip' || coding === '*') && !params.some((p) => /^q=0(\.0*)?$/.test(p));
  });
}
