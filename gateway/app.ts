// The Fastify app factory. It never listens: tests use `inject()`, `main` calls `listen()`.
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import type { DropCounter } from '../robots/drops.ts';
import type { FleetRegistry } from '../robots/fleet-registry.ts';
import type { LoadedSite } from '../sim/site-folder.ts';
import { AnonymousAuditBatch, BATCH_WINDOW_MS } from './audit-batch.ts';
import { installAuth } from './auth/bearer.ts';
import type { Checker } from './checks/checker.ts';
import { CheckPool } from './checks/pool.ts';
import { readConfig, type Config } from './config.ts';
import { ApiError, type ErrorCode } from './errors.ts';
import { AutoCharge } from './missions/auto-charge.ts';
import { MissionService, type MissionRunner } from './missions/service.ts';
import { RehearsalService } from './rehearsal/service.ts';
import type { GazeboFleet } from './rehearsal/world.ts';
import { EventHub } from './events.ts';
import type { TrafficDeviceView } from './execution/traffic.ts';
import { createLogger, redactUrl, type Logger } from './log.ts';
import { requestBudgets } from './rate-limit.ts';
import { UseCases } from './use-cases.ts';

export { redactUrl } from './log.ts';
import { auditRoutes } from './routes/audit.ts';
import { eventRoutes, streamFleet } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { missionRoutes } from './routes/missions.ts';
import { planRoutes } from './routes/plans.ts';
import { robotRoutes } from './routes/robots.ts';
import { siteRoutes } from './routes/site.ts';
import { stopRoutes } from './routes/stop.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { tabletRoutes } from './routes/tablet.ts';
import { trafficRoutes } from './routes/traffic.ts';
import { whoamiRoutes } from './routes/whoami.ts';
import { mcpRoutes } from './mcp/http.ts';
import { StopService } from './stop.ts';
import type { Store } from './store/index.ts';
import { tabletAssets, type TabletAssets } from './tablet-assets.ts';

export interface AppDeps {
  /**
   * How many times faster than real time the floor runs: the virtual fleet's PHYGATE_FLEET_SPEED
   * (1 with real hardware). GET /v1/site says it, so a screen can give both times.
   */
  timeScale?: number;
  /** The limits added later default as in gateway/config.ts. */
  config: Pick<Config, 'PHYGATE_ADMIN_TOKEN' | 'PHYGATE_RATE_LIMIT' | 'PHYGATE_BODY_LIMIT' | 'PHYGATE_REQUEST_TIMEOUT_MS' | 'PHYGATE_LOG_LEVEL'> &
    Partial<Pick<Config, 'PHYGATE_RATE_LIMIT_ANONYMOUS' | 'PHYGATE_EVENT_STREAMS_PER_TOKEN' | 'PHYGATE_EVENT_STREAMS' | 'PHYGATE_CHECK_WORKERS' | 'PHYGATE_CHECK_BUDGET_MS' | 'PHYGATE_CHECK_NICE' | 'PHYGATE_REHEARSAL_SPEED'>>;
  /** Serve HTTPS with this certificate and key (PEM), as main.ts reads them from PHYGATE_TLS_CERT/KEY; plain HTTP without. */
  https?: { cert: Buffer; key: Buffer };
  site: LoadedSite;
  store: Store;
  fleet: FleetRegistry;
  /** The clock, injectable so tests can fix deadlines. */
  now?: () => Date;
  /** The live event stream; one is made if not given. */
  hub?: EventHub;
  /** STOP, wired to the device masters (gateway/main.ts); without one, a STOP is stored and latched but reaches no device. */
  stops?: StopService;
  /** Runs approved missions; without one, missions are stored and approved but nothing moves. */
  runner?: MissionRunner;
  /** Messages the device masters dropped (robots/drops.ts): `dropped` in /v1/robots and /v1/metrics; none counted without it. */
  drops?: Pick<DropCounter, 'of' | 'list'>;
  /** Rehearse on this Gazebo fleet over ROS 2 (PHYGATE_REHEARSAL_FLEET=gazebo); default: the virtual fleet. */
  rehearsalFleet?: GazeboFleet;
  /** Traffic at run time (the executor's); without it there is no /v1/traffic. */
  traffic?: { view(): TrafficDeviceView[] };
  /** The gateway's logger (gateway/log.ts); one is made if not given. */
  log?: Logger;
  /** Where the request log goes when no logger is given (default stdout); tests read it. */
  logStream?: NodeJS.WritableStream;
  /** Where plan checks run; by default a pool of worker threads (gateway/checks/pool.ts), closed with the app. */
  checker?: Checker;
  /** What the tablet serves; by default gateway/tablet/dist, bundled at start if missing or out of date. */
  tablet?: TabletAssets;
}

export type App = FastifyInstance;

const { PHYGATE_RATE_LIMIT_ANONYMOUS, PHYGATE_EVENT_STREAMS_PER_TOKEN, PHYGATE_EVENT_STREAMS } = readConfig({});
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const LIMIT_DEFAULTS = { PHYGATE_RATE_LIMIT_ANONYMOUS, PHYGATE_EVENT_STREAMS_PER_TOKEN, PHYGATE_EVENT_STREAMS };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads any body or none: its OpenAPI request body is not marked required. */
    bodyOptional?: boolean;
  }
}

/**
 * Fastify's access lines ("incoming request", "request completed") at debug: at info the log
 * says what happened to missions and the floor, not every poll of a tablet. A request that
 * errored stays at error.
 */
class AccessLinesAtDebug extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const config = { ...LIMIT_DEFAULTS, ...deps.config };
  const now = deps.now ?? (() => new Date());
  const app = Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    // Typed as Fastify's base logger so the app keeps its plain FastifyInstance type.
    loggerInstance: (deps.log ?? createLogger(config.PHYGATE_LOG_LEVEL, deps.logStream)) as FastifyBaseLogger,
    logController: new AccessLinesAtDebug(),
    bodyLimit: config.PHYGATE_BODY_LIMIT,
    // A request must have arrived within this (else 408); a slow client is answered, not left hanging.
    requestTimeout: config.PHYGATE_REQUEST_TIMEOUT_MS,
    // No idle timeout on a socket whose request has arrived: a check waiting its turn behind others
    // sends nothing for a while, and closing its socket then would lose the answer without a word.
    // Idle keep-alive sockets are closed by keepAliveTimeout, silent ones by headersTimeout.
    connectionTimeout: 0,
    return503OnClosing: true,
    // Router-level failures (a malformed %-escape, an over-long path parameter) bypass the error
    // handler; answer them in the same {code, message} shape.
    frameworkErrors: (err, req, reply) => {
      const e = toApiError(err, req as FastifyRequest);
      void (reply as FastifyReply).code(e.status).send(e.body());
    },
  }).withTypeProvider<ZodTypeProvider>();
  // JSON only: Fastify's built-in text/plain parser would hand a string to the schema (400, not 415).
  app.removeContentTypeParser('text/plain');
  // Fastify's own JSON parser (prototype poisoning refused), with the place of a syntax error.
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parseJson(req, body as string, (err, value) => {
      if (err && (err as FastifyError).code === 'FST_ERR_CTP_INVALID_JSON_BODY') return done(invalidJson(body as string), undefined);
      done(err, value);
    });
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = toApiError(err, req);
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    if (e.code === 'UNAUTHORIZED' || e.code === 'TOKEN_EXPIRED') reply.header('www-authenticate', 'Bearer realm="phygate"');
    return reply.code(e.status).send(e.body());
  });
  // A path that exists with other methods is 405 with Allow, not 404.
  const routes: { method: string; path: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    const path = new RegExp(`^${route.url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}/?$`);
    for (const method of [route.method].flat()) routes.push({ method, path });
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    const allowed = [...new Set(routes.filter((r) => r.path.test(path)).map((r) => r.method))].sort();
    if (allowed.length > 0) {
      const e = new ApiError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; it takes ${allowed.join(', ')}`, { allowed });
      return reply.code(405).header('allow', allowed.join(', ')).send(e.body());
    }
    const e = new ApiError('NOT_FOUND', `no route ${req.method} ${path}`);
    return reply.code(404).send(e.body());
  });

  // @fastify/swagger marks every described request body required (Fastify's validation needs one);
  // the routes that read any body or none are collected as they are added and unmarked here.
  const optionalBodies = new Set<string>();
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'phygate',
        version: '1',
        description: [
          'Check plans in simulation, approve what was checked, run missions on the shop floor, stop everything.',
          'Every operation lists each status it answers, with the schema of its body; every error body is `{code, message, details?}`, and each error status lists its codes.',
          'Any path answers besides: 404 `NOT_FOUND` for a path that does not exist, 405 `METHOD_NOT_ALLOWED` (with `Allow`) for a method it does not take, and 503 `UNAVAILABLE` while the gateway shuts down.',
        ].join(' '),
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (doc) => {
      if (!('openapiObject' in doc)) return doc.swaggerObject;
      for (const key of optionalBodies) {
        const [method, route] = key.split(' ') as [string, string];
        const url = route.replace(/:(\w+)/g, '{$1}');
        const body = (doc.openapiObject.paths?.[url] as Record<string, { requestBody?: { required?: boolean } }> | undefined)?.[method]?.requestBody;
        if (body) body.required = false;
      }
      return doc.openapiObject;
    },
  });
  // The API description is documentation, not data: readable without a token.
  app.addHook('onRoute', (route) => {
    if (route.url === '/docs' || route.url.startsWith('/docs/')) route.config = { ...route.config, role: 'public' };
    if (route.config?.bodyOptional) for (const m of [route.method].flat()) optionalBodies.add(`${m.toLowerCase()} ${route.url}`);
    // A use case's route is named by its operation, as its audit rows are.
    if (route.config?.operation && route.schema && !route.schema.operationId) route.schema = { ...route.schema, operationId: route.config.operation };
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiHooks: {}, staticCSP: true });
  app.get('/openapi.json', { config: { role: 'public' }, schema: { hide: true } }, async () => app.swagger());

  // Budgets per token, so one busy agent cannot starve the operator, and per address for
  // requests without a valid token; counted once auth knows whose a request is.
  const limit = requestBudgets({ perToken: config.PHYGATE_RATE_LIMIT, anonymous: config.PHYGATE_RATE_LIMIT_ANONYMOUS, now: () => now().getTime() });
  installAuth(app, deps.store.tokens, { adminToken: config.PHYGATE_ADMIN_TOKEN, now, limit });
  installAuditLog(app, deps.store, now);
  const hub = deps.hub ?? new EventHub();
  // Checks run off the event loop, so nothing a plan holds can delay STOP (docs/architecture.md, "Checks off the event loop").
  let checker = deps.checker;
  if (!checker) {
    const defaults = readConfig({});
    const pool = new CheckPool({
      site: deps.site,
      size: config.PHYGATE_CHECK_WORKERS ?? defaults.PHYGATE_CHECK_WORKERS,
      budgetMs: config.PHYGATE_CHECK_BUDGET_MS ?? defaults.PHYGATE_CHECK_BUDGET_MS,
      nice: config.PHYGATE_CHECK_NICE ?? defaults.PHYGATE_CHECK_NICE,
      log: app.log,
    });
    app.addHook('onClose', async () => pool.close());
    checker = pool;
  }
  // A STOP press, once its token is known, holds the running checks until its answer is out.
  // After auth, so requests without a valid token cannot hold them.
  const checks = checker;
  if (checks.stepAside) {
    app.addHook('onRequest', async (req, reply) => {
      if (req.method !== 'POST' || req.routeOptions.url !== '/v1/stop' || !req.principal) return;
      reply.raw.once('close', checks.stepAside!());
    });
  }
  const missions = new MissionService({
    checker,
    site: deps.site,
    store: deps.store,
    fleet: deps.fleet,
    hub,
    log: app.log,
    now: deps.now ?? (() => new Date()),
    ...(deps.runner ? { runner: deps.runner } : {}),
  });
  // Rehearsals run the plan on a simulated fleet of their own; they read the real fleet, never command it.
  const rehearsals = new RehearsalService({
    site: deps.site,
    store: deps.store,
    fleet: deps.fleet,
    checker,
    now: deps.now ?? (() => new Date()),
    speed: config.PHYGATE_REHEARSAL_SPEED ?? readConfig({}).PHYGATE_REHEARSAL_SPEED,
    ...(deps.rehearsalFleet ? { gazebo: deps.rehearsalFleet } : {}),
    hub,
    log: app.log,
  });
  app.addHook('onClose', async () => rehearsals.close());
  await app.register(healthRoutes, { site: deps.site });
  await app.register(whoamiRoutes);
  await app.register(siteRoutes, { site: deps.site, timeScale: deps.timeScale ?? 1 });
  await app.register(robotRoutes, { site: deps.site, fleet: deps.fleet, ...(deps.drops ? { drops: deps.drops } : {}) });
  await app.register(metricsRoutes, { site: deps.site, ...(deps.drops ? { drops: deps.drops } : {}) });
  if (deps.traffic) await app.register(trafficRoutes, { traffic: deps.traffic });
  await app.register(planRoutes, { missions });
  await app.register(missionRoutes, { missions, rehearsals, site: deps.site });
  const unstream = streamFleet(deps.site, deps.fleet, hub);
  app.addHook('onClose', async () => {
    unstream();
    hub.close();
  });
  await app.register(eventRoutes, {
    site: deps.site,
    fleet: deps.fleet,
    hub,
    streams: { perToken: config.PHYGATE_EVENT_STREAMS_PER_TOKEN, total: config.PHYGATE_EVENT_STREAMS },
  });
  let stops = deps.stops;
  if (!stops) {
    const own = new StopService({ store: deps.store, site: deps.site, fleet: deps.fleet, hub, log: app.log });
    app.addHook('onClose', async () => own.close());
    stops = own;
  }
  await app.register(stopRoutes, { stops });
  // The same use cases for LLM agents over MCP, with the same roles and audit rows.
  await app.register(mcpRoutes, {
    useCases: new UseCases({ audit: deps.store.audit, now, log: app.log }),
    missions,
    rehearsals,
    stops,
    site: deps.site,
    timeScale: deps.timeScale ?? 1,
    fleet: deps.fleet,
    ...(deps.drops ? { drops: deps.drops } : {}),
    limit,
    ...(checks.stepAside ? { stepAside: () => checks.stepAside!() } : {}),
    version: PACKAGE_VERSION,
  });
  // Site policy `charging: auto`: idle robots below the reserve are sent to a charger, as missions.
  if (deps.runner && deps.site.index.site.policies.charging === 'auto') {
    const latch = stops;
    const charge = new AutoCharge({ site: deps.site, store: deps.store, fleet: deps.fleet, missions, stopped: (id) => latch.stopFor(id) !== undefined, now: deps.now ?? (() => new Date()), log: app.log });
    charge.start();
    app.addHook('onClose', async () => charge.close());
  }
  await app.register(auditRoutes, { audit: deps.store.audit });
  await app.register(tokenRoutes, { tokens: deps.store.tokens, now });
  await app.register(tabletRoutes, { assets: deps.tablet ?? (await tabletAssets((level, msg) => app.log[level](msg))) });
  return app;
}

/** Methods that only read: not audited. */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * One audit row for every state-changing request, accepted or refused, written once the answer
 * is sent; refused requests without a valid token are gathered into rows with a count
 * (gateway/audit-batch.ts). A row that cannot be written is logged; the request's answer is
 * already out.
 */
function installAuditLog(app: App, store: Store, now: () => Date): void {
  const codes = new WeakMap<FastifyRequest, string>();
  const anonymous = new AnonymousAuditBatch((entry) => store.audit.append(entry), now);
  const writing = (what: () => void) => () => {
    try {
      what();
    } catch (err) {
      app.log.error({ err }, 'could not write the audit rows of refused anonymous requests');
    }
  };
  const flush = writing(() => anonymous.flush());
  const flushBefore = writing(() => anonymous.flushBefore());
  const timer = setInterval(flush, BATCH_WINDOW_MS).unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    flush();
  });
  // An MCP request with a valid token leaves its rows where its tools run (gateway/use-cases.ts):
  // one per use case, with the operation; a refused one is audited here as any request is.
  const audited = (req: FastifyRequest) =>
    !READ_METHODS.has(req.method) && req.url.split('?')[0] !== '/healthz' && !(req.principal && req.routeOptions.url === '/mcp');
  // The error code is in the body, which onResponse no longer sees. Every error body is
  // ApiError.body(), serialized with `code` first, so the code is read without parsing the body
  // (a PLAN_REJECTED body carries the whole report).
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && audited(req)) {
      const code = /^\{"code":"([A-Z_]+)"/.exec(payload)?.[1];
      if (code) codes.set(req, code);
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    if (!audited(req)) return;
    const entry = {
      at: now(),
      actor: req.principal?.name ?? 'anonymous',
      role: req.principal?.role ?? null,
      method: req.method,
      path: req.url.split('?')[0]!.slice(0, 2048),
      status: reply.statusCode,
      code: reply.statusCode >= 400 ? (codes.get(req) ?? null) : null,
      requestId: String(req.id),
      ...(req.routeOptions.config?.operation ? { operation: req.routeOptions.config.operation } : {}),
    };
    try {
      if (!req.principal && reply.statusCode >= 400) {
        anonymous.add({ ...entry, address: req.ip }, req.routeOptions.url);
        return;
      }
      // Gathered rows first: the log stays in the order things happened. If they cannot be
      // written, this row still is.
      if (anonymous.pending > 0) flushBefore();
      store.audit.append(entry);
    } catch (err) {
      req.log.error({ err, method: req.method, url: redactUrl(req.url), status: reply.statusCode }, 'could not write the audit row');
    }
  });
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
};

/** INVALID_JSON with where the JSON breaks: the parser's words, and the line and column. */
export function invalidJson(text: string): ApiError {
  try {
    JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const at = /position (\d+)/.exec(message);
    if (!at) return new ApiError('INVALID_JSON', `the body is not valid JSON: ${message}`);
    const position = Number(at[1]);
    const before = text.slice(0, position).split('\n');
    const line = before.length;
    const column = before.at(-1)!.length + 1;
    const why = message.replace(/ in JSON at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)$/, '');
    return new ApiError('INVALID_JSON', `the body is not valid JSON at line ${line}, column ${column} (character ${position}): ${why}`, { position, line, column });
  }
  // Valid JSON that Fastify's parser refuses: a key that would reach an object's prototype.
  return new ApiError('INVALID_JSON', text.trim() === '' ? 'the body is empty: send a JSON object' : "the body's JSON has a '__proto__' key, which is refused");
}

/** Every failure leaves as an ApiError: bad input is always a precise 4xx, never a 5xx. */
function toApiError(err: FastifyError, req?: FastifyRequest): ApiError {
  if (err instanceof ApiError) return err;
  if (err.statusCode === 415 || err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    const type = req?.headers['content-type'];
    return new ApiError('UNSUPPORTED_MEDIA_TYPE', `${type ? `Content-Type '${type}' is not taken here` : 'a body without a Content-Type is not taken here'}: send the body as JSON with Content-Type: application/json`, type ? { contentType: type } : undefined);
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = err.validationContext === 'body' ? '' : `${err.validationContext === 'querystring' ? 'query' : err.validationContext}.`;
    const problems = err.validation.flatMap((v) => {
      const path = v.instancePath.split('/').filter(Boolean).join('.');
      const keys = (v.params as { keys?: unknown }).keys;
      if (v.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
        return keys.map((k) => ({ path: `${where}${path ? `${path}.` : ''}${String(k)}`, message: `unknown field '${String(k)}'` }));
      }
      return [{ path: `${where}${path}` || '(root)', message: v.message }];
    });
    // A plan posted as it is, where a request wraps it: say so, not only "unknown field 'steps'".
    const bare = err.validationContext === 'body' && problems.some((p) => p.path === 'plan') && problems.some((p) => p.path === 'steps' || p.path === 'schema');
    return new ApiError('VALIDATION_FAILED', bare ? 'the body is a bare plan: send it wrapped as {"plan": <the plan>}' : undefined, { problems });
  }
  const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
  if (mapped) return new ApiError(mapped, err.message);
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) return new ApiError('INVALID_JSON', err.message);
  if (err.statusCode === 408) return new ApiError('REQUEST_TIMEOUT');
  if (err.statusCode === 413) return new ApiError('BODY_TOO_LARGE', err.message);
  if (err.statusCode === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE', err.message);
  if (err.statusCode === 429) return new ApiError('RATE_LIMITED', err.message);
  if (err.statusCode === 404) return new ApiError('NOT_FOUND', err.message);
  if (err.statusCode === 405) return new ApiError('METHOD_NOT_ALLOWED', err.message);
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return new ApiError('VALIDATION_FAILED', err.message);
  return new ApiError('INTERNAL');
}
