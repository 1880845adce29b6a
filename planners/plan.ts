// Plan format v1: the contract with the manager agent. This schema is the single source of
// truth: the TypeScript types are inferred from it and the served JSON Schema is generated from it.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DEVICE_KINDS } from './site.ts';

export const PLAN_SCHEMA_ID = 'phygate.plan/v1';
export const MAX_STEPS = 200;
// Input limits: what the check does grows with them (every step, every `after` link, every
// unknown name's "did you mean"), and a plan within them is checked in bounded time.
/** Step ids and role names. */
export const MAX_ID_LENGTH = 64;
/** Names of the site's stations, nodes and devices a plan refers to. */
export const MAX_REF_LENGTH = 128;
/** Ids in one step's `after`. */
export const MAX_AFTER = 50;
/** Roles a plan declares. */
export const MAX_ROLES = 50;

const id = z
  .string()
  .max(MAX_ID_LENGTH, `at most ${MAX_ID_LENGTH} characters`)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'must match [a-z0-9][a-z0-9_-]*');
const location = z.string().min(1).max(MAX_REF_LENGTH, `at most ${MAX_REF_LENGTH} characters`).describe('a station id or nav-graph node id of the site');
const deviceRef = z
  .string()
  .max(MAX_REF_LENGTH, `at most ${MAX_REF_LENGTH} characters`)
  .regex(/^\$?[a-z0-9][a-z0-9_-]*$/, 'must be a device id or $role')
  .describe('a device id of the site, or $role for a role declared in `roles`');
const count = z.number().int().min(1).max(10_000);

const common = {
  id: id.describe('unique within the plan'),
  device: deviceRef,
  after: z.array(id).max(MAX_AFTER, `at most ${MAX_AFTER} ids`).optional().describe('ids of steps that must finish first'),
  timeoutS: z.number().positive().max(86_400).optional().describe('fail the step after this many seconds'),
};

const step = <A extends string, P extends z.ZodType>(action: A, params: P, description: string) =>
  z.strictObject({ ...common, action: z.literal(action), params }).describe(description);

export const StepSchema = z.discriminatedUnion('action', [
  step('navigate', z.strictObject({ to: location }), 'amr: drive to a station or node along the nav graph'),
  step(
    'pick',
    z.strictObject({ at: location, item: z.string().min(1).max(200).optional(), count: count.optional() }),
    'amr: drive to the station if needed and load one tote',
  ),
  step('drop', z.strictObject({ at: location }), 'amr: drive to the station if needed and unload the tote'),
  step(
    'charge',
    z.strictObject({ at: location.optional().describe('a charger station; default: the nearest free one') }).default({}),
    'amr: drive to a charger and charge to the site target',
  ),
  step('wait', z.strictObject({ seconds: z.number().min(0).max(3600) }), 'any device: hold'),
  step(
    'machine.run',
    z.strictObject({ program: z.string().min(1).max(200), count: count.default(1) }),
    'cnc, printer: run a program from the device program table',
  ),
  step('convey', z.strictObject({ count: count.default(1) }).default({ count: 1 }), 'conveyor: move parts from the in-station to the out-station'),
  step(
    'arm.transfer',
    z.strictObject({ from: location, to: z.string().min(1).max(MAX_REF_LENGTH, `at most ${MAX_REF_LENGTH} characters`).describe('a station, or an AMR ($role or device id)') }),
    'arm: move a part between stations it reaches, or onto an AMR parked at one of them',
  ),
]);

export const ACTIONS = StepSchema.options.map((o) => o.shape.action.value);
export type Action = (typeof ACTIONS)[number];

export const RoleSchema = z.strictObject({
  kind: z.enum(DEVICE_KINDS),
  near: location.optional().describe('prefer the device closest to this station or node'),
});

export const PlanSchema = z
  .strictObject({
    schema: z.literal(PLAN_SCHEMA_ID),
    name: z.string().min(1).max(200).optional(),
    goal: z.string().max(2000).optional(),
    requester: z.strictObject({ agent: z.string().max(200).optional(), model: z.string().max(200).optional() }).optional(),
    priority: z.number().int().min(0).max(10).default(5),
    deadline: z.iso.datetime({ offset: true }).optional(),
    roles: z
      .record(id, RoleSchema)
      .refine((r) => Object.keys(r).length <= MAX_ROLES, `at most ${MAX_ROLES} roles`)
      .optional(),
    steps: z.array(StepSchema).min(1).max(MAX_STEPS, `at most ${MAX_STEPS} steps`),
  })
  .describe('phygate plan v1');

export type Plan = z.infer<typeof PlanSchema>;
export type PlanInput = z.input<typeof PlanSchema>;
export type Step = z.infer<typeof StepSchema>;

/** JSON Schema of the plan, as an agent writes it (defaults are optional there). */
export function planJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(PlanSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}

export interface ShapeProblem {
  path: string;
  message: string;
}

/** Zod issues → `{ path, message }` with dotted paths, unions unfolded to their most specific issue. */
export function shapeProblems(error: z.ZodError, prefix: (string | number)[] = []): ShapeProblem[] {
  const out: ShapeProblem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...path, key].join('.'), message: `unknown field '${key}'` });
      continue;
    }
    out.push({ path: path.join('.') || '(root)', message: issue.message });
  }
  return out;
}

/** Stable JSON: object keys sorted, so equal plans hash equal whatever order the agent wrote. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash an operator approves: of the parsed plan with its defaults filled in. */
export function planHash(plan: Plan): string {
  return sha256(canonicalJson(plan));
}
