// The machine protocol's messages (PROTOCOL.md next to this file): commands from the gateway,
// state and connection messages from the device. These schemas are the single source of truth;
// the types are inferred from them and the test parses every example of PROTOCOL.md with them.
import { z } from 'zod';
import { shapeProblems, type ShapeProblem } from '../../planners/plan.ts';

/** Station and device ids, as in site.yaml. */
const id = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must match [a-z0-9][a-z0-9_-]*');
const timestamp = z.iso.datetime({ offset: true });
const count = z.number().int().min(1).max(10_000);
const program = z.string().min(1).max(200);
const reason = z.string().min(1).max(500);

export const CommandIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 of A-Z a-z 0-9 _ -');

/** How many acknowledgements a state message carries at most (the newest, oldest first). */
export const MAX_ACKS = 10;

// ---- command: gateway → device ------------------------------------------------------------

const envelope = {
  commandId: CommandIdSchema,
  issuedAt: timestamp,
  expiresAt: timestamp,
};

export const RunCommandSchema = z.strictObject({ ...envelope, action: z.literal('run'), program, count });
export const ConveyCommandSchema = z.strictObject({ ...envelope, action: z.literal('convey'), count });
export const TransferCommandSchema = z.strictObject({
  ...envelope,
  action: z.literal('transfer'),
  from: id.describe('a station the arm reaches'),
  to: id.describe('a station the arm reaches, or the id of an AMR parked in reach'),
});
export const StopCommandSchema = z.strictObject({ ...envelope, action: z.literal('stop') });
export const ResetCommandSchema = z.strictObject({ ...envelope, action: z.literal('reset') });

export const MachineCommandSchema = z.discriminatedUnion('action', [
  RunCommandSchema,
  ConveyCommandSchema,
  TransferCommandSchema,
  StopCommandSchema,
  ResetCommandSchema,
]);

export type MachineCommand = z.infer<typeof MachineCommandSchema>;
export type MachineAction = MachineCommand['action'];
export const MACHINE_ACTIONS = MachineCommandSchema.options.map((o) => o.shape.action.value);

type Envelope = keyof typeof envelope;
/** A command as a caller asks for it: the gateway adds commandId, issuedAt and expiresAt. */
export type MachineCommandRequest = DistributiveOmit<MachineCommand, Envelope>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

// ---- state: device → gateway --------------------------------------------------------------

const jobTimes = { startedAt: timestamp, endedAt: timestamp.optional() };
export const JobSchema = z.discriminatedUnion('action', [
  z.strictObject({ commandId: CommandIdSchema, action: z.literal('run'), program, count, ...jobTimes }),
  z.strictObject({ commandId: CommandIdSchema, action: z.literal('convey'), count, ...jobTimes }),
  z.strictObject({ commandId: CommandIdSchema, action: z.literal('transfer'), from: id, to: id, ...jobTimes }),
]);
export type Job = z.infer<typeof JobSchema>;

export const ACK_RESULTS = ['accepted', 'rejected', 'expired', 'duplicate'] as const;
export const AckSchema = z.strictObject({
  commandId: CommandIdSchema,
  result: z.enum(ACK_RESULTS),
  reason: reason.optional(),
  /** The seq of the first state message that carried this acknowledgement. */
  seq: z.number().int().min(1),
});
export type Ack = z.infer<typeof AckSchema>;
export type AckResult = Ack['result'];

export const MachineErrorSchema = z.strictObject({
  code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'must be an UPPER_SNAKE code'),
  message: z.string().min(1).max(500),
});
export type MachineError = z.infer<typeof MachineErrorSchema>;

const stateCommon = {
  seq: z.number().int().min(1),
  timestamp,
  errors: z.array(MachineErrorSchema).max(20),
  acks: z.array(AckSchema).max(MAX_ACKS),
};
const progress = z.number().min(0).max(1);
const parts = z.number().int().min(0);

export const MachineStateSchema = z.discriminatedUnion('state', [
  z.strictObject({ ...stateCommon, state: z.literal('idle') }),
  z.strictObject({ ...stateCommon, state: z.literal('running'), job: JobSchema, progress, partsProduced: parts }),
  z.strictObject({ ...stateCommon, state: z.literal('done'), job: JobSchema, progress: z.literal(1), partsProduced: parts }),
  z.strictObject({ ...stateCommon, state: z.literal('stopped'), job: JobSchema, progress, partsProduced: parts }),
  z.strictObject({
    ...stateCommon,
    state: z.literal('fault'),
    errors: stateCommon.errors.min(1, 'a fault names at least one error'),
    job: JobSchema.optional(),
    progress: progress.optional(),
    partsProduced: parts.optional(),
  }),
]);
export type MachineState = z.infer<typeof MachineStateSchema>;
export type MachineStateName = MachineState['state'];
export const MACHINE_STATES = MachineStateSchema.options.map((o) => o.shape.state.value);
/** States in which a job has ended; `job` then names the job that ended so. */
export const JOB_END_STATES = ['done', 'stopped', 'fault'] as const satisfies readonly MachineStateName[];

// ---- connection: device (or the broker, as its last will) → gateway -------------------------

export const CONNECTION_STATES = ['ONLINE', 'OFFLINE', 'CONNECTIONBROKEN'] as const;
export const ConnectionSchema = z.strictObject({
  timestamp,
  connectionState: z.enum(CONNECTION_STATES),
});
export type Connection = z.infer<typeof ConnectionSchema>;

// ---- decoding -----------------------------------------------------------------------------

export type Decoded<T> = { ok: true; value: T } | { ok: false; problems: ShapeProblem[]; raw?: unknown };

/** A payload off the wire → a validated message, or the problems with their paths. Never throws. */
export function decodeMessage<T>(schema: z.ZodType<T>, payload: Buffer | string): Decoded<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString());
  } catch (err) {
    return { ok: false, problems: [{ path: '(root)', message: `not JSON: ${(err as Error).message}` }] };
  }
  const parsed = schema.safeParse(raw);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, problems: shapeProblems(parsed.error), raw };
}

export function describeProblems(problems: ShapeProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('; ');
}
