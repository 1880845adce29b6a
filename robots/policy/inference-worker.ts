// The inference worker (runtime.ts): one onnxruntime session per model, and at each tick one
// batched run per model over every robot it drives. Inference happens here so that it never holds
// the event loop STOP is handled on.
import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { INPUT_NAME, OUTPUT_NAME } from './contract.ts';
import { createSession } from './loader.ts';
import type { InferenceStart, ToInference, ToRuntime } from './runtime.ts';

const start = workerData as InferenceStart;
const port = parentPort!;
const send = (m: ToRuntime, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

interface Loaded {
  session: InferenceSession;
  Tensor: typeof Tensor;
  model: InferenceStart['models'][number];
}

const sessions = new Map<string, Loaded>();
try {
  const ort = await import('onnxruntime-node');
  for (const model of start.models) sessions.set(model.id, { session: await createSession(model.policy), Tensor: ort.Tensor, model });
  send({ type: 'ready' });
} catch (err) {
  send({ type: 'failed', message: (err as Error).stack ?? String(err) });
}

port.on('message', (m: ToInference) => {
  void run(m).catch((err: Error) => send({ type: 'failed', id: m.id, message: err.stack ?? String(err) }));
});

async function run(m: ToInference): Promise<void> {
  const answers = await Promise.all(
    m.batches.map(async (batch) => {
      const loaded = sessions.get(batch.model);
      if (!loaded) throw new Error(`no model '${batch.model}' in this runtime`);
      const { n, m: width, obsScale, actionScale, actionMin, actionMax } = loaded.model;
      const input = new Float32Array(batch.obs.length);
      for (let i = 0; i < input.length; i++) input[i] = batch.obs[i]! * obsScale[i % n]!;
      const out = await loaded.session.run({ [INPUT_NAME]: new loaded.Tensor('float32', input, [batch.rows, n]) });
      const raw = out[OUTPUT_NAME]!.data as Float32Array;
      const actions = new Float32Array(batch.rows * width);
      for (let i = 0; i < actions.length; i++) {
        const k = i % width;
        // NaN stays NaN through the clamp: the shield, not this, decides what a non-finite action becomes.
        actions[i] = Math.min(actionMax[k]!, Math.max(actionMin[k]!, raw[i]! * actionScale[k]!));
      }
      return { model: batch.model, actions };
    }),
  );
  send(
    { type: 'actions', id: m.id, batches: answers },
    answers.map((a) => a.actions.buffer as ArrayBuffer),
  );
}
