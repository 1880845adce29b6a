// A small multi-layer perceptron, the shape of policy phygate trains and tests with: layers of
// y = act(x·W + b). Evaluated here in plain JavaScript (the reference the runtime is compared
// with, and the trainer's forward pass) and written as an ONNX model (model-writer.ts).

export type Activation = 'tanh' | 'relu' | 'none';

export interface DenseLayer {
  /** Row-major [inputs][outputs]: weights[i * outputs + o]. */
  weights: Float32Array;
  bias: Float32Array;
  inputs: number;
  outputs: number;
  activation: Activation;
}

export interface Mlp {
  layers: DenseLayer[];
}

/** An MLP of these layer widths ([n, hidden…, m]) with weights drawn from `random` (uniform in ±1/√inputs). */
export function randomMlp(widths: readonly number[], random: () => number, activation: Activation = 'tanh', last: Activation = 'tanh'): Mlp {
  if (widths.length < 2) throw new Error('an MLP needs at least an input and an output width');
  const layers: DenseLayer[] = [];
  for (let k = 0; k + 1 < widths.length; k++) {
    const inputs = widths[k]!;
    const outputs = widths[k + 1]!;
    const bound = 1 / Math.sqrt(inputs);
    const weights = Float32Array.from({ length: inputs * outputs }, () => (random() * 2 - 1) * bound);
    const bias = Float32Array.from({ length: outputs }, () => (random() * 2 - 1) * bound);
    layers.push({ weights, bias, inputs, outputs, activation: k + 2 === widths.length ? last : activation });
  }
  return { layers };
}

/**
 * One row through the network, in float32 at every step as onnxruntime computes it (each
 * product's sum is rounded to float32 only at the end there, so results agree to float32
 * tolerance, not bit for bit).
 */
export function evaluateMlp(mlp: Mlp, input: ArrayLike<number>): Float32Array {
  let x = Float32Array.from(input);
  for (const layer of mlp.layers) {
    if (x.length !== layer.inputs) throw new Error(`layer expects ${layer.inputs} inputs, got ${x.length}`);
    const y = new Float32Array(layer.outputs);
    for (let o = 0; o < layer.outputs; o++) {
      let sum = layer.bias[o]!;
      for (let i = 0; i < layer.inputs; i++) sum += x[i]! * layer.weights[i * layer.outputs + o]!;
      y[o] = layer.activation === 'tanh' ? Math.tanh(sum) : layer.activation === 'relu' ? Math.max(0, sum) : sum;
    }
    x = y;
  }
  return x;
}
