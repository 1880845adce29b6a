// The inference worker (runtime.ts): one onnxruntime session per model, and at each tick one
// batched run per model over every robot it drives; with shields, each shielded robot's command
// decided from its actions (Shield.decide). Both happen here so that neither holds the event loop
// STOP is handled on.
import { parentPort, workerData } from 'node:worker_threads';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { INPUT_NAME, OUTPUT_NAME } from './contract.ts';
import { createSession } from './loader.ts';
import type { BatchShield, InferenceStart, ToInference, ToRuntime, WorkerShields } from './runtime.ts';
import type { Shield, ShieldDecision, Walls } from './shield.ts';

const start = workerData as InferenceStart;
const port = parentPort!;
const send = (m: ToRuntime, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

interface Loaded {
  session: InferenceSession;
  Tensor: typeof Tensor;
  model: InferenceStart['models'][number];
}

const sessions = new Map<string, Loaded>();
let shields = new Map<string, Shield>();
try {
  const ort = await import('onnxruntime-node');
  for (const model of start.models) {
    const session = await createSession(model.policy);
    // A first run sets up onnxruntime's buffers and kernels: done here, not in the first tick,
    // whose budget it would use up (every robot's action missed, a zero command and an alert).
    await session.run({ [INPUT_NAME]: new ort.Tensor('float32', new Float32Array(model.n), [1, model.n]) });
    sessions.set(model.id, { session, Tensor: ort.Tensor, model });
  }
  if (start.shields) shields = await startShields(start.shields);
  send({ type: 'ready' });
} catch (err) {
  send({ type: 'failed', message: (err as Error).stack ?? String(err) });
}

port.on('message', (m: ToInference) => {
  void run(m).catch((err: Error) => send({ type: 'failed', id: m.id, message: err.stack ?? String(err) }));
});

/** One shield per profile, on the walls the caller's module builds (loaded only when asked for). */
async function startShields(config: WorkerShields): Promise<Map<string, Shield>> {
  const { Shield } = await import('./shield.ts');
  let walls: Walls | undefined;
  if (config.walls) {
    const mod = (await import(config.walls.module)) as { createWalls?: (data: unknown) => Promise<Walls> };
    if (typeof mod.createWalls !== 'function') throw new Error(`${config.walls.module} exports no createWalls(data)`);
    walls = await mod.createWalls(config.walls.data);
  }
  const site = { ...config.site, ...(walls ? { walls } : {}) };
  const made = new Map(config.profiles.map((p) => [p.id, new Shield({ limits: p.limits, footprint: p.footprint, site, tickS: p.tickS })]));
  // A first look-ahead compiles the motion model and the collision queries: done here, not in
  // the first tick, whose budget it would use up (every robot's action missed, a zero command).
  for (const shield of made.values()) for (let k = 0; k < 20; k++) shield.decide({ state: { x: 0, y: 0, theta: 0, v: 0.5, omega: 0 }, action: [1, 0.1] });
  return made;
}

/** The shield's decision for each row that names a profile; null for the others. */
function decide(shield: BatchShield, actions: Float32Array, width: number): (ShieldDecision | null)[] {
  return shield.profiles.map((profile, row) => {
    if (!profile) return null;
    const s = shields.get(profile);
    if (!s) throw new Error(`no shield profile '${profile}' in this runtime`);
    const st = shield.states;
    const state = { x: st[row * 5]!, y: st[row * 5 + 1]!, theta: st[row * 5 + 2]!, v: st[row * 5 + 3]!, omega: st[row * 5 + 4]! };
    return s.decide({ state, action: actions.subarray(row * width, (row + 1) * width) });
  });
}

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
      return { model: batch.model, actions, ...(batch.shield ? { decisions: decide(batch.shield, actions, width) } : {}) };
    }),
  );
  send(
    { type: 'actions', id: m.id, batches: answers },
    answers.map((a) => a.actions.buffer as ArrayBuffer),
  );
}
