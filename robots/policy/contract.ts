// The policy contract (POLICY.md): what an ONNX model must be for phygate to let it drive a
// robot. One schema for the description a model carries (or a sidecar file gives), and the
// fixed parts every model shares: tensor names, element type, the opsets onnxruntime runs here.
import { z } from 'zod';

/** The key in the model's `metadata_props` whose value is the policy's description (JSON). */
export const METADATA_KEY = 'phygate.policy';
/** Suffix of the sidecar file read when a model carries no description: `model.onnx.json`. */
export const SIDECAR_SUFFIX = '.json';
export const INPUT_NAME = 'obs';
export const OUTPUT_NAME = 'actions';
/** Default-domain opsets accepted: the operators of an MLP mean the same across them, and onnxruntime 1.30 runs all of them. */
export const MIN_OPSET = 13;
export const MAX_OPSET = 22;
export const SCHEMA_VERSION = 1;

const name = z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'a name: letters, digits and _');
const finite = z.number().finite();

export const ObservationSpecSchema = z.strictObject({
  name,
  unit: z.string().min(1),
  /** The network reads value × scale. */
  scale: finite.refine((s) => s !== 0, 'scale must not be 0'),
});

export const ActionSpecSchema = z
  .strictObject({
    name,
    unit: z.string().min(1),
    /** The action is the network's output × scale, then clamped to [min, max]. */
    scale: finite.refine((s) => s !== 0, 'scale must not be 0'),
    min: finite,
    max: finite,
  })
  .refine((a) => a.min <= a.max, { message: 'min must not be above max', path: ['min'] });

export const PolicyMetadataSchema = z.strictObject({
  schemaVersion: z.literal(SCHEMA_VERSION),
  name: z.string().min(1),
  version: z.string().min(1),
  controls: z.literal('amr.track'),
  observations: z.array(ObservationSpecSchema).min(1),
  actions: z.array(ActionSpecSchema).min(1),
  /** Ticks per second the policy was trained for; the runtime calls it at this rate. */
  rateHz: z.number().finite().positive().max(1000),
});

export type ObservationSpec = z.infer<typeof ObservationSpecSchema>;
export type ActionSpec = z.infer<typeof ActionSpecSchema>;
export type PolicyMetadata = z.infer<typeof PolicyMetadataSchema>;
export type Controls = PolicyMetadata['controls'];

/** What each kind of control expects, in order: the names and units of its observations and actions. */
export interface ControlLayout {
  observations: readonly { name: string; unit: string }[];
  actions: readonly { name: string; unit: string }[];
}

/**
 * `amr.track`: follow a path of poses. The observation is in the robot's own frame (x ahead,
 * y to the left), so a policy learnt on one path drives any other; POLICY.md defines each value.
 */
export const AMR_TRACK: ControlLayout = {
  observations: [
    { name: 'crossTrack', unit: 'm' },
    { name: 'headingError', unit: 'rad' },
    { name: 'targetX', unit: 'm' },
    { name: 'targetY', unit: 'm' },
    { name: 'distanceToGoal', unit: 'm' },
    { name: 'v', unit: 'm/s' },
    { name: 'omega', unit: 'rad/s' },
    { name: 'speedLimit', unit: 'm/s' },
  ],
  actions: [
    { name: 'v', unit: 'm/s' },
    { name: 'omega', unit: 'rad/s' },
  ],
};

export const LAYOUTS: Record<Controls, ControlLayout> = { 'amr.track': AMR_TRACK };

/** A model that does not fit the contract: `path` says where (`metadata.actions[1].unit`, `input obs shape`). */
export class PolicyContractError extends Error {
  readonly code = 'POLICY_CONTRACT';
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'PolicyContractError';
  }
}
