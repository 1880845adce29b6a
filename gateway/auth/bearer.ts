// Bearer-token authentication: every route but those marked public needs a token, and routes
// name the least role they need. The admin token from the environment is compared by hash.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import type { TokenStore } from '../store/tokens.ts';
import { roleAllows, type Role } from './roles.ts';

export interface Principal {
  name: string;
  role: Role;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Least role the route needs; `public` routes need no token. */
    role?: Role | 'public';
    /** The token may also come as `?access_token=` (RFC 6750), for EventSource, which cannot send headers. */
    queryToken?: boolean;
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function installAuth(app: FastifyInstance, tokens: TokenStore, adminToken: string | undefined): void {
  const adminDigest = adminToken ? digest(adminToken) : undefined;
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const need = req.routeOptions.config.role;
    if (need === 'public' || req.routeOptions.url === undefined) return;
    const fromQuery = req.routeOptions.config.queryToken ? (req.query as { access_token?: unknown }).access_token : undefined;
    const header = req.headers.authorization ?? (typeof fromQuery === 'string' ? `Bearer ${fromQuery}` : undefined);
    const principal = authenticate(header, tokens, adminDigest);
    if (!principal) throw new ApiError('UNAUTHORIZED');
    req.principal = principal;
    const required = need ?? 'admin';
    if (!roleAllows(principal.role, required)) {
      throw new ApiError('FORBIDDEN', `this needs the '${required}' role; your token '${principal.name}' has '${principal.role}'`);
    }
  });
}

function authenticate(header: string | undefined, tokens: TokenStore, adminDigest: Buffer | undefined): Principal | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const token = m[1]!;
  if (adminDigest && timingSafeEqual(digest(token), adminDigest)) return { name: 'env:PHYGATE_ADMIN_TOKEN', role: 'admin' };
  const holder = tokens.verify(token);
  return holder ? { name: holder.name, role: holder.role } : undefined;
}
