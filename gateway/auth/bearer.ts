// Bearer-token authentication: every route but those marked public needs a token, and routes
// name the least role they need. The admin token from the environment is compared by hash.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import type { TokenStore } from '../store/tokens.ts';
import { roleAllows, type Role } from './roles.ts';

export interface Principal {
  /** The token's id in the store (`env:PHYGATE_ADMIN_TOKEN` for the environment's): what rate limits and idempotency keys are scoped to. */
  id: string;
  name: string;
  role: Role;
}

/** The id of the admin token from the environment, which has no row in the store. */
export const ENV_ADMIN_ID = 'env:PHYGATE_ADMIN_TOKEN';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Least role the route needs; `public` routes need no token. */
    role?: Role | 'public';
    /** The token may also come as `?access_token=` (RFC 6750), for EventSource, which cannot send headers. */
    queryToken?: boolean;
    /**
     * `false`: never rate-limited (STOP). `'route'`: requests without a valid token are counted
     * here, those with one by the route itself, once it knows what they ask (/mcp: a `stop` call is never limited).
     */
    rateLimit?: false | 'route';
  }
}

export interface AuthOptions {
  /** The admin token accepted from the environment. */
  adminToken?: string | undefined;
  /** The clock tokens expire by. */
  now: () => Date;
  /**
   * Counts the request against its budget once it is known whose it is (`principal` undefined:
   * no valid token, or no such route), before a missing token is refused, so refusals count
   * too; throws to refuse. Not called for public routes or those with `rateLimit: false`.
   */
  limit?: (req: FastifyRequest, reply: FastifyReply, principal: Principal | undefined) => void;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function installAuth(app: FastifyInstance, tokens: TokenStore, opts: AuthOptions): void {
  const adminDigest = opts.adminToken ? digest(opts.adminToken) : undefined;
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const need = req.routeOptions.config.role;
    if (need === 'public') return;
    if (req.routeOptions.url === undefined) {
      // No such route: answered 404 by the not-found handler, but an anonymous flood of them still counts.
      opts.limit?.(req, reply, undefined);
      return;
    }
    const fromQuery = req.routeOptions.config.queryToken ? queryToken(req.query) : undefined;
    const header = req.headers.authorization ?? (typeof fromQuery === 'string' ? `Bearer ${fromQuery}` : undefined);
    const found = authenticate(header, tokens, adminDigest, opts.now());
    const principal = 'refused' in found ? undefined : found;
    const rateLimit = req.routeOptions.config.rateLimit;
    if (rateLimit === undefined || (rateLimit === 'route' && !principal)) opts.limit?.(req, reply, principal);
    if (!principal) throw new ApiError('refused' in found ? found.refused : 'UNAUTHORIZED');
    req.principal = principal;
    const required = need ?? 'admin';
    if (!roleAllows(principal.role, required)) {
      throw new ApiError('FORBIDDEN', `this needs the '${required}' role; your token '${principal.name}' has '${principal.role}'`);
    }
  });
}

/** `access_token` from the parsed query (Fastify's parser decodes %-escapes in keys, so `access%5Ftoken` lands here too). */
function queryToken(query: unknown): unknown {
  return (query as { access_token?: unknown } | undefined)?.access_token;
}

type Found = Principal | { refused: 'UNAUTHORIZED' | 'TOKEN_EXPIRED' };

function authenticate(header: string | undefined, tokens: TokenStore, adminDigest: Buffer | undefined, now: Date): Found {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return { refused: 'UNAUTHORIZED' };
  const token = m[1]!;
  if (adminDigest && timingSafeEqual(digest(token), adminDigest)) return { id: ENV_ADMIN_ID, name: 'env:PHYGATE_ADMIN_TOKEN', role: 'admin' };
  const holder = tokens.verify(token);
  if (!holder) return { refused: 'UNAUTHORIZED' };
  if (holder.expiresAt !== null && Date.parse(holder.expiresAt) <= now.getTime()) return { refused: 'TOKEN_EXPIRED' };
  return { id: holder.id, name: holder.name, role: holder.role };
}
