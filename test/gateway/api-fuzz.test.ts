// The REST API fuzzed from its own OpenAPI description: for every operation it describes, bodies,
// path and query parameters generated from their schemas — most of them near what the schema
// asks, some of them anything at all — sent with a valid token, a wrong one and none. No answer
// may be a server error (5xx), and the gateway answers its health check afterwards. Seeded:
// PHYGATE_PROPERTY_SEED replays a run; runs: PHYGATE_FUZZ_RUNS (default 600).
import fc from 'fast-check';
import t from 'tap';
import { appFor, canonicalPlan } from './harness.ts';

type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
};
type Operation = { method: string; path: string; params: { in: string; name: string; schema?: Schema }[]; body?: Schema };

const SEED = Number(process.env.PHYGATE_PROPERTY_SEED ?? 20261206);
const RUNS = Number(process.env.PHYGATE_FUZZ_RUNS ?? 600);

/** Anything JSON can hold: what a schema does not expect. */
const junk: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(null), fc.string({ maxLength: 300 }), fc.double(), fc.constant(''), fc.constant({}));

/** Values for `schema`: mostly of its shape, sometimes junk; `refs` resolves `#/components/schemas/…`. */
function valueOf(schema: Schema | undefined, refs: Record<string, Schema>, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 5) return junk;
  if (schema.$ref) return valueOf(refs[schema.$ref.split('/').at(-1)!], refs, depth + 1);
  const shaped = shapedOf(schema, refs, depth);
  return fc.oneof({ weight: 5, arbitrary: shaped }, { weight: 1, arbitrary: junk });
}

function shapedOf(schema: Schema, refs: Record<string, Schema>, depth: number): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives?.length) return fc.oneof(...alternatives.map((s) => valueOf(s, refs, depth + 1)));
  if (schema.allOf?.length) return valueOf(schema.allOf[0], refs, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const props = Object.entries(schema.properties ?? {});
      if (props.length === 0) return fc.dictionary(fc.string({ maxLength: 10 }), junk, { maxKeys: 3 });
      const record = Object.fromEntries(props.map(([k, s]) => [k, valueOf(s, refs, depth + 1)]));
      return fc.record(record, { requiredKeys: schema.required?.filter((k) => k in record) ?? [] });
    }
    case 'array':
      return fc.array(valueOf(schema.items, refs, depth + 1), { maxLength: 4 });
    case 'string':
      return fc.oneof(fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 200) }), fc.constantFrom('amr-1', 'cnc-1', 'dock-a', 'all', 'zone:paint-booth', 'device:amr-2'));
    case 'integer':
      return fc.integer({ min: Math.max(schema.minimum ?? -1000, -1e6), max: Math.min(schema.maximum ?? 1000, 1e6) });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    default:
      return junk;
  }
}

t.test('every operation of the OpenAPI description, fuzzed: no server error, and the gateway still answers', async (t) => {
  // Budgets high enough that the fuzz reaches the routes rather than the rate limit (tested on its own).
  const h = await appFor(t, { config: { PHYGATE_RATE_LIMIT: 1_000_000, PHYGATE_RATE_LIMIT_ANONYMOUS: 1_000_000 } });
  const doc = (await h.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { parameters?: Operation['params']; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
    components?: { schemas?: Record<string, Schema> };
  };
  const refs = doc.components?.schemas ?? {};
  const ops: Operation[] = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      // The event stream never ends: it is tested on its own (events.cases.ts).
      .filter(([method]) => !(path === '/v1/events' && method === 'get'))
      .map(([method, op]) => ({ method: method.toUpperCase(), path, params: op.parameters ?? [], ...(op.requestBody ? { body: op.requestBody.content['application/json']?.schema ?? {} } : {}) })),
  );
  t.ok(ops.length >= 20, `${ops.length} operations described`);
  // A real mission, so ids that exist are among those tried.
  const real = (await h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan: canonicalPlan() } })).json() as { id: string };
  const ids = fc.oneof(fc.constant(real.id), fc.constantFrom('amr-1', 'cnc-1', 'm_0', '..', '%00', 'x'.repeat(300)), fc.string({ maxLength: 30 }));
  const auth = fc.constantFrom<Record<string, string>>(h.auth('admin'), h.auth('viewer'), { authorization: 'Bearer wrong-token-0123456789' }, {});
  const requestFor = (op: Operation) => {
    const path = fc.tuple(...op.params.filter((p) => p.in === 'path').map(() => ids), fc.constant(0)).map((vals) => {
      let i = 0;
      return op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(String(vals[i++])));
    });
    const query = fc.record(Object.fromEntries(op.params.filter((p) => p.in === 'query').map((p) => [p.name, valueOf(p.schema, refs)])), { requiredKeys: [] });
    const body = op.body ? valueOf(op.body, refs) : fc.constant(undefined);
    return fc.record({ path, query, body, auth });
  };
  const statuses = new Map<number, number>();
  const serverErrors: string[] = [];
  // Every operation gets its share of the runs.
  for (const op of ops) {
    await fc.assert(
      fc.asyncProperty(requestFor(op), async ({ path, query, body, auth }) => {
        const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString();
        const res = await h.app.inject({
          method: op.method as 'GET',
          url: `${path}${q ? `?${q}` : ''}`,
          headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
        });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode >= 500) serverErrors.push(`${op.method} ${path}?${q} ${JSON.stringify(body)?.slice(0, 200)} → ${res.statusCode} ${res.payload.slice(0, 200)}`);
        return res.statusCode < 500;
      }),
      { seed: SEED, numRuns: Math.ceil(RUNS / ops.length) },
    );
  }
  t.same(serverErrors, [], 'no 5xx');
  t.comment(`answers: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(', ')}`);
  t.ok([...statuses.keys()].some((s) => s >= 200 && s < 300), 'some requests were taken');
  t.ok([...statuses.keys()].some((s) => s >= 400 && s < 500), 'some were refused, each with a 4xx');
  const health = await h.app.inject({ method: 'GET', url: '/healthz' });
  t.equal(health.statusCode, 200, 'the gateway answers afterwards');
});
