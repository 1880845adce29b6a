// Writes an MLP (mlp.ts) as an ONNX model with its policy description: Gemm per layer, then Tanh
// or Relu. Tests make their own models with it — valid ones, and each kind of wrong one through
// the options — and the trainer will write what it learnt with it.
import pkg from 'onnx-proto';
import { INPUT_NAME, METADATA_KEY, OUTPUT_NAME, type PolicyMetadata } from './contract.ts';
import type { Mlp } from './mlp.ts';

const { onnx } = pkg;

/** The IR version of ONNX 1.10, the protobuf onnx-proto is built from. */
const IR_VERSION = 8;
export const DEFAULT_OPSET = 17;

export type ElementType = 'float' | 'double' | 'float16' | 'int64';
const ELEMENT: Record<ElementType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  double: onnx.TensorProto.DataType.DOUBLE,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
};

/** A dimension: a number is fixed, a string is named (dynamic). */
export type Dim = number | string;

export interface ModelWriteOptions {
  /** The description stored under `phygate.policy`: an object (written as JSON), raw text, or none. */
  metadata?: PolicyMetadata | string | null;
  inputName?: string;
  outputName?: string;
  inputType?: ElementType;
  outputType?: ElementType;
  /** Shapes as declared; by default [batch, n] and [batch, m] with a dynamic batch. */
  inputShape?: Dim[];
  outputShape?: Dim[];
  opset?: number;
  /** Other metadata_props entries (exporters add their own). */
  extraProps?: Record<string, string>;
}

function valueInfo(name: string, type: ElementType, shape: Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: ELEMENT[type],
        shape: onnx.TensorShapeProto.create({
          dim: shape.map((d) => onnx.TensorShapeProto.Dimension.create(typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        }),
      }),
    }),
  });
}

function tensor(name: string, dims: number[], values: Float32Array) {
  return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: Array.from(values) });
}

/** The model file's bytes. */
export function writeMlpModel(mlp: Mlp, opts: ModelWriteOptions = {}): Uint8Array {
  const inputName = opts.inputName ?? INPUT_NAME;
  const outputName = opts.outputName ?? OUTPUT_NAME;
  const n = mlp.layers[0]!.inputs;
  const m = mlp.layers[mlp.layers.length - 1]!.outputs;
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const initializer: InstanceType<typeof onnx.TensorProto>[] = [];
  let x = inputName;
  mlp.layers.forEach((layer, k) => {
    const last = k === mlp.layers.length - 1;
    const w = `layer${k}.weight`;
    const b = `layer${k}.bias`;
    initializer.push(tensor(w, [layer.inputs, layer.outputs], layer.weights), tensor(b, [layer.outputs], layer.bias));
    const linear = last && layer.activation === 'none' ? outputName : `layer${k}.linear`;
    nodes.push(onnx.NodeProto.create({ opType: 'Gemm', name: `layer${k}.gemm`, input: [x, w, b], output: [linear] }));
    x = linear;
    if (layer.activation !== 'none') {
      const out = last ? outputName : `layer${k}.out`;
      nodes.push(onnx.NodeProto.create({ opType: layer.activation === 'tanh' ? 'Tanh' : 'Relu', name: `layer${k}.${layer.activation}`, input: [x], output: [out] }));
      x = out;
    }
  });
  const props = Object.entries(opts.extraProps ?? {}).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value }));
  if (opts.metadata !== undefined && opts.metadata !== null) {
    props.push(onnx.StringStringEntryProto.create({ key: METADATA_KEY, value: typeof opts.metadata === 'string' ? opts.metadata : JSON.stringify(opts.metadata) }));
  }
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'phygate',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: opts.opset ?? DEFAULT_OPSET })],
    metadataProps: props,
    graph: onnx.GraphProto.create({
      name: 'policy',
      node: nodes,
      initializer,
      input: [valueInfo(inputName, opts.inputType ?? 'float', opts.inputShape ?? ['batch', n])],
      output: [valueInfo(outputName, opts.outputType ?? 'float', opts.outputShape ?? ['batch', m])],
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}
