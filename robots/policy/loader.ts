// Loads a policy model and checks it against the contract (contract.ts, POLICY.md) before
// anything runs it: opset, the input and output tensors, and the description. A model that does
// not fit is refused with a PolicyContractError naming what does not fit and what was expected,
// so a user who brings a model trained elsewhere learns it at once, not at the first tick.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pkg from 'onnx-proto';
import type { InferenceSession } from 'onnxruntime-node';
import {
  INPUT_NAME,
  LAYOUTS,
  MAX_OPSET,
  METADATA_KEY,
  MIN_OPSET,
  OUTPUT_NAME,
  PolicyContractError,
  PolicyMetadataSchema,
  SIDECAR_SUFFIX,
  type PolicyMetadata,
} from './contract.ts';

const { onnx } = pkg;

export interface LoadedPolicy {
  metadata: PolicyMetadata;
  /** Where the description came from. */
  described: 'metadata' | 'sidecar';
  /** The model file's bytes, as given to onnxruntime. */
  bytes: Uint8Array;
  /** Hex SHA-256 of the bytes: what a certificate and the tablet name the model by. */
  sha256: string;
  opset: number;
  /** Observations (n) and actions (m) per robot. */
  inputs: number;
  outputs: number;
}

const TYPE_NAMES = new Map<number, string>(Object.entries(onnx.TensorProto.DataType).map(([k, v]) => [v as number, k.toLowerCase()]));

type Model = InstanceType<typeof onnx.ModelProto>;
type ValueInfo = pkg.onnx.IValueInfoProto;

/** Reads `file`, and `file.json` beside it when the model carries no description. */
export async function loadPolicyFile(file: string): Promise<LoadedPolicy> {
  const bytes = new Uint8Array(await readFile(file));
  let sidecar: string | undefined;
  try {
    sidecar = await readFile(file + SIDECAR_SUFFIX, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return checkPolicy(bytes, { sidecar, sidecarName: file + SIDECAR_SUFFIX });
}

export interface CheckOptions {
  /** The sidecar's text, used when the model has no `phygate.policy` entry. */
  sidecar?: string;
  /** How messages name the sidecar. */
  sidecarName?: string;
}

/** Checks a model's bytes against the contract; throws PolicyContractError on the first thing that does not fit. */
export function checkPolicy(bytes: Uint8Array, opts: CheckOptions = {}): LoadedPolicy {
  let model: Model;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new PolicyContractError('model', `not an ONNX model (protobuf decoding failed: ${(err as Error).message})`);
  }
  if (!model.graph) throw new PolicyContractError('model', 'not an ONNX model (no graph)');
  const opset = checkOpset(model);
  const graph = model.graph;
  // Some exporters list the weights among the inputs too; only the inputs that are not weights count.
  const weights = new Set((graph.initializer ?? []).map((t) => t.name));
  const input = single('input', (graph.input ?? []).filter((v) => !weights.has(v.name ?? '')), INPUT_NAME);
  const output = single('output', graph.output ?? [], OUTPUT_NAME);
  const n = checkTensor('input', input);
  const m = checkTensor('output', output);
  const { metadata, described } = description(model, opts);
  checkLayout(metadata, n, m);
  return { metadata, described, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), opset, inputs: n, outputs: m };
}

function checkOpset(model: Model): number {
  const main = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!main) throw new PolicyContractError('opset', `the model imports no default-domain opset; expected one from ${MIN_OPSET} to ${MAX_OPSET}`);
  const version = Number(main.version);
  if (!(version >= MIN_OPSET && version <= MAX_OPSET)) throw new PolicyContractError('opset', `opset ${version} is not supported; expected ${MIN_OPSET} to ${MAX_OPSET}`);
  return version;
}

function single(kind: 'input' | 'output', values: ValueInfo[], expected: string): ValueInfo {
  const names = values.map((v) => v.name ?? '');
  if (values.length !== 1 || names[0] !== expected) {
    const found = names.length === 0 ? 'none' : names.map((x) => `'${x}'`).join(', ');
    throw new PolicyContractError(kind, `expected one ${kind} named '${expected}', found ${found}`);
  }
  return values[0]!;
}

/** The fixed second dimension of a float32 [batch, k] tensor. */
function checkTensor(kind: 'input' | 'output', value: ValueInfo): number {
  const where = `${kind} ${value.name}`;
  const tensor = value.type?.tensorType;
  if (!tensor) throw new PolicyContractError(where, 'expected a tensor');
  const elem = tensor.elemType ?? 0;
  if (elem !== onnx.TensorProto.DataType.FLOAT) throw new PolicyContractError(`${where} type`, `expected float (float32), found ${TYPE_NAMES.get(elem) ?? `element type ${elem}`}`);
  const dims = tensor.shape?.dim ?? [];
  const shown = `[${dims.map((d) => (d.dimParam ? d.dimParam : d.dimValue != null && Number(d.dimValue) > 0 ? String(Number(d.dimValue)) : '?')).join(', ')}]`;
  if (dims.length !== 2) throw new PolicyContractError(`${where} shape`, `expected rank 2 [batch, ${kind === 'input' ? 'n' : 'm'}], found ${shown}`);
  const [batch, width] = dims as [(typeof dims)[0], (typeof dims)[0]];
  if (batch.dimValue != null && Number(batch.dimValue) > 0) {
    throw new PolicyContractError(`${where} shape`, `expected a dynamic batch dimension (a name, like 'batch'), found ${shown}: every robot on the model is one row of one batch`);
  }
  const k = width.dimValue == null ? 0 : Number(width.dimValue);
  if (!(k > 0)) throw new PolicyContractError(`${where} shape`, `expected a fixed size for dimension 1, found ${shown}`);
  return k;
}

function description(model: Model, opts: CheckOptions): { metadata: PolicyMetadata; described: 'metadata' | 'sidecar' } {
  const entry = (model.metadataProps ?? []).find((p) => p.key === METADATA_KEY);
  const sidecarName = opts.sidecarName ?? 'the sidecar';
  let text: string;
  let described: 'metadata' | 'sidecar';
  if (entry) {
    text = entry.value ?? '';
    described = 'metadata';
  } else if (opts.sidecar !== undefined) {
    text = opts.sidecar;
    described = 'sidecar';
  } else {
    throw new PolicyContractError('metadata', `the model has no '${METADATA_KEY}' entry in metadata_props and there is no sidecar (${sidecarName}); expected its description (POLICY.md) in one of them`);
  }
  const where = described === 'metadata' ? 'metadata' : 'sidecar';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PolicyContractError(where, `not JSON (${(err as Error).message})`);
  }
  const parsed = PolicyMetadataSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : `${s}.${String(p)}`), where);
    throw new PolicyContractError(path, issue.message);
  }
  return { metadata: parsed.data, described };
}

/** The description's observations and actions must be the control's, in its order and units, and as many as the tensors hold. */
function checkLayout(metadata: PolicyMetadata, n: number, m: number): void {
  const layout = LAYOUTS[metadata.controls];
  const lists = [
    ['observations', metadata.observations, layout.observations, n, 'input obs'],
    ['actions', metadata.actions, layout.actions, m, 'output actions'],
  ] as const;
  for (const [key, given, expected, width, tensor] of lists) {
    const names = expected.map((e) => e.name).join(', ');
    if (given.length !== expected.length) {
      throw new PolicyContractError(`metadata.${key}`, `${metadata.controls} has ${expected.length} ${key} (${names}), the description lists ${given.length}`);
    }
    expected.forEach((e, i) => {
      const g = given[i]!;
      if (g.name !== e.name) throw new PolicyContractError(`metadata.${key}[${i}].name`, `expected '${e.name}' (${metadata.controls}: ${names}), found '${g.name}'`);
      if (g.unit !== e.unit) throw new PolicyContractError(`metadata.${key}[${i}].unit`, `expected '${e.unit}' for ${e.name}, found '${g.unit}'`);
    });
    if (width !== expected.length) throw new PolicyContractError(`${tensor} shape`, `dimension 1 is ${width}, but ${metadata.controls} has ${expected.length} ${key}`);
  }
}

/** An onnxruntime session for a checked model; onnxruntime-node is loaded only here, as it is big. */
export async function createSession(policy: LoadedPolicy): Promise<InferenceSession> {
  const ort = await import('onnxruntime-node');
  // One thread per session: the batch of a tick is small, and the cores are shared with STOP.
  return ort.InferenceSession.create(policy.bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
}
