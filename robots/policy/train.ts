// Trains the amr.track policy from scratch: behaviour cloning from the tracking controller of
// track-expert.ts, with DAgger rounds. Round 0 records the teacher driving perturbed episodes; each
// later round lets the network drive (so it visits the states its own mistakes lead to) and records
// what the teacher would have done there; the network is fitted on everything recorded so far.
// Plain JavaScript, float64 arithmetic, Adam; one seed fixes every random draw, so the same seed
// gives the same model, byte for byte, on the same Node.
import { AMR_TRACK, type PolicyMetadata } from './contract.ts';
import { trackObservation, type PathPose } from './amr-track.ts';
import { stepAmr, ZERO_COMMAND, type AmrLimits, type AmrState, type MotionCommand } from './kinematics.ts';
import type { Mlp } from './mlp.ts';
import { writeMlpModel } from './model-writer.ts';
import { arrived, expertAction, noisy, seededRandom, slowerLimits, startState, type Perturbation } from './track-expert.ts';

/** The network reads value × scale: distances are brought near 1 where the teacher's profile acts. */
export const OBSERVATION_SCALES = [1, 1, 0.25, 0.5, 0.25, 1, 1, 1] as const;
export const ACTION_SPECS = [
  { name: 'v', unit: 'm/s', scale: 2, min: -0.3, max: 1.5 },
  { name: 'omega', unit: 'rad/s', scale: 1.2, min: -1.2, max: 1.2 },
] as const;
export const RATE_HZ = 20;

export function trackPolicyMetadata(version: string): PolicyMetadata {
  return {
    schemaVersion: 1,
    name: 'amr-track-mlp',
    version,
    controls: 'amr.track',
    observations: AMR_TRACK.observations.map((o, i) => ({ ...o, scale: OBSERVATION_SCALES[i]! })),
    actions: ACTION_SPECS.map((a) => ({ ...a })),
    rateHz: RATE_HZ,
  };
}

export interface TrainOptions {
  seed: number;
  /** Hidden layer widths. Default [32, 32]. */
  hidden?: number[];
  /** Episodes the teacher drives in round 0, and the network in each DAgger round. */
  episodes: number;
  daggerRounds: number;
  /** Adam steps after each round. */
  steps: number;
  batch?: number;
  learningRate?: number;
  version?: string;
  /** Called with a line of progress. */
  log?: (line: string) => void;
}

export const FULL_TRAINING: Omit<TrainOptions, 'seed'> = { episodes: 500, daggerRounds: 4, steps: 4000 };
export const QUICK_TRAINING: Omit<TrainOptions, 'seed'> = { episodes: 20, daggerRounds: 1, steps: 200 };

export interface RoundFigures {
  round: number;
  /** Samples recorded so far. */
  samples: number;
  /** Mean squared error on the scaled actions, before and after this round's fitting. */
  lossBefore: number;
  lossAfter: number;
  /** Of this round's episodes (driven by the teacher in round 0), the share that arrived. */
  arrived: number;
}

export interface TrainResult {
  mlp: Mlp;
  bytes: Uint8Array;
  metadata: PolicyMetadata;
  rounds: RoundFigures[];
  /** The trained network alone, on fresh perturbed episodes it never saw: the share that arrived. */
  heldOutArrived: number;
}

/** The demo AMR's limits: the robots the policy is taught on are these, or slower. */
const TAUGHT_LIMITS: AmrLimits = { maxSpeed: 1.0, maxAccel: 0.5, maxDecel: 0.7, maxTurnRate: 1.0 };
const TICK_S = 1 / RATE_HZ;

/** A random episode: a straight edge, or one ending with a turn in place (a station approach), and its perturbation. */
export interface TrainEpisode {
  path: PathPose[];
  perturbation: Perturbation;
  /** The speed limit the robot is told. */
  speedLimit: number;
}

export function randomEpisode(random: () => number): TrainEpisode {
  const x0 = 0;
  const y0 = 0;
  const heading = (random() * 2 - 1) * Math.PI;
  const length = 0.5 + random() * 11.5;
  const x1 = x0 + Math.cos(heading) * length;
  const y1 = y0 + Math.sin(heading) * length;
  const path: PathPose[] = [
    { x: x0, y: y0, theta: heading },
    { x: x1, y: y1, theta: heading },
  ];
  if (random() < 0.35) path.push({ x: x1, y: y1, theta: heading + (random() * 2 - 1) * Math.PI });
  const bigTurn = random() < 0.15;
  const perturbation: Perturbation = {
    startAlong: (random() * 2 - 1) * 0.15,
    startLeft: (random() * 2 - 1) * 0.25,
    startTurn: bigTurn ? (random() * 2 - 1) * Math.PI : (random() * 2 - 1) * 0.35,
    noise: random() < 0.5 ? 0.01 : 0,
    latency: random() < 0.35,
    slower: random() < 0.35 ? 0.7 + random() * 0.3 : 1,
  };
  const limits = [0.3, 0.5, 0.5, 0.8, 1.0, 1.0, 1.0, 1.2];
  return { path, perturbation, speedLimit: limits[Math.floor(random() * limits.length)]! };
}

/** Ticks an episode may take: a generous multiple of what the profile needs, plus turning. */
function tickBudget(e: TrainEpisode): number {
  const length = Math.hypot(e.path[1]!.x - e.path[0]!.x, e.path[1]!.y - e.path[0]!.y);
  return Math.ceil((2 * length / Math.min(e.speedLimit, TAUGHT_LIMITS.maxSpeed * e.perturbation.slower) + 15) / TICK_S);
}

/** Drives one episode with `drive` choosing the command; records (observation seen, teacher's action) when `record` is given. */
function rollOut(e: TrainEpisode, drive: (obs: Float64Array) => [number, number], random: () => number, record?: (obs: Float64Array, target: [number, number]) => void): boolean {
  const limits = slowerLimits(TAUGHT_LIMITS, e.perturbation.slower);
  let s: AmrState = startState(e.path, e.perturbation);
  let segment = 0;
  let pending: MotionCommand = ZERO_COMMAND;
  let standing = 0;
  const budget = tickBudget(e);
  for (let k = 0; k < budget; k++) {
    const track = trackObservation(e.path, s, e.speedLimit, segment);
    segment = track.segment;
    const seen = noisy(track.obs, e.perturbation.noise, random);
    // The teacher is asked about the true state: the label is what should be done here.
    record?.(seen, expertAction(track.obs));
    const [v, omega] = drive(seen);
    const command = { v, omega };
    s = stepAmr(s, e.perturbation.latency ? pending : command, limits, TICK_S);
    pending = command;
    // A few ticks standing at the goal are recorded too: the policy must learn to stay there.
    if (arrived(e.path, s) && ++standing > 10) return true;
  }
  return arrived(e.path, s);
}

/** Trains the policy. Deterministic in `opts.seed`. */
export function trainTrackPolicy(opts: TrainOptions): TrainResult {
  const random = seededRandom(opts.seed);
  const log = opts.log ?? (() => {});
  const widths = [8, ...(opts.hidden ?? [32, 32]), 2];
  const net = new Network(widths, random);
  const adam = new Adam(net, opts.learningRate ?? 3e-3);
  const inputs: number[] = [];
  const targets: number[] = [];
  const record = (obs: Float64Array, target: [number, number]) => {
    for (let i = 0; i < 8; i++) inputs.push(obs[i]! * OBSERVATION_SCALES[i]!);
    targets.push(target[0] / ACTION_SPECS[0].scale, target[1] / ACTION_SPECS[1].scale);
  };
  const policy = (obs: Float64Array): [number, number] => {
    const out = net.forward(obs.map((x, i) => x * OBSERVATION_SCALES[i]!));
    return [clampAction(out[0]! * ACTION_SPECS[0].scale, 0), clampAction(out[1]! * ACTION_SPECS[1].scale, 1)];
  };
  const rounds: RoundFigures[] = [];
  for (let round = 0; round <= opts.daggerRounds; round++) {
    let ok = 0;
    for (let i = 0; i < opts.episodes; i++) {
      const e = randomEpisode(random);
      // Round 0 is the teacher's; later rounds are the network's own driving.
      if (rollOut(e, round === 0 ? expertAction : policy, random, record)) ok++;
    }
    const x = Float64Array.from(inputs);
    const y = Float64Array.from(targets);
    const lossBefore = net.loss(x, y);
    fit(net, adam, x, y, opts.steps, opts.batch ?? 128, random);
    const figures: RoundFigures = { round, samples: y.length / 2, lossBefore, lossAfter: net.loss(x, y), arrived: ok / opts.episodes };
    rounds.push(figures);
    log(`round ${round} (${round === 0 ? 'teacher drives' : 'DAgger: network drives'}): ${figures.samples} samples, ${(figures.arrived * 100).toFixed(1)}% arrived, loss ${figures.lossBefore.toFixed(5)} → ${figures.lossAfter.toFixed(5)}`);
  }
  let heldOut = 0;
  const heldOutEpisodes = Math.max(10, Math.round(opts.episodes / 2));
  for (let i = 0; i < heldOutEpisodes; i++) if (rollOut(randomEpisode(random), policy, random)) heldOut++;
  const mlp = net.toMlp();
  const metadata = trackPolicyMetadata(opts.version ?? '1.0.0');
  return { mlp, bytes: writeMlpModel(mlp, { metadata }), metadata, rounds, heldOutArrived: heldOut / heldOutEpisodes };
}

function clampAction(x: number, i: 0 | 1): number {
  return Math.min(ACTION_SPECS[i].max, Math.max(ACTION_SPECS[i].min, x));
}

/** Adam steps on random minibatches of the recorded samples. */
function fit(net: Network, adam: Adam, x: Float64Array, y: Float64Array, steps: number, batch: number, random: () => number): void {
  const n = y.length / 2;
  const inW = net.widths[0]!;
  for (let step = 0; step < steps; step++) {
    net.zeroGrad();
    for (let b = 0; b < batch; b++) {
      const j = Math.floor(random() * n);
      net.accumulate(x.subarray(j * inW, (j + 1) * inW), y.subarray(j * 2, j * 2 + 2), 1 / batch);
    }
    adam.step();
  }
}

/** An MLP of tanh layers in float64 with its gradients, for training. */
class Network {
  readonly weights: Float64Array[] = [];
  readonly biases: Float64Array[] = [];
  readonly gw: Float64Array[] = [];
  readonly gb: Float64Array[] = [];
  private readonly acts: Float64Array[];
  private readonly deltas: Float64Array[];

  constructor(
    readonly widths: number[],
    random: () => number,
  ) {
    for (let k = 0; k + 1 < widths.length; k++) {
      const [i, o] = [widths[k]!, widths[k + 1]!];
      // Xavier-style: tanh layers start neither saturated nor flat.
      const bound = Math.sqrt(6 / (i + o));
      this.weights.push(Float64Array.from({ length: i * o }, () => (random() * 2 - 1) * bound));
      this.biases.push(new Float64Array(o));
      this.gw.push(new Float64Array(i * o));
      this.gb.push(new Float64Array(o));
    }
    this.acts = widths.map((w) => new Float64Array(w));
    this.deltas = widths.map((w) => new Float64Array(w));
  }

  forward(input: ArrayLike<number>): Float64Array {
    this.acts[0]!.set(input);
    for (let k = 0; k < this.weights.length; k++) {
      const [ni, no] = [this.widths[k]!, this.widths[k + 1]!];
      const x = this.acts[k]!;
      const y = this.acts[k + 1]!;
      const w = this.weights[k]!;
      const b = this.biases[k]!;
      for (let o = 0; o < no; o++) {
        let sum = b[o]!;
        for (let i = 0; i < ni; i++) sum += x[i]! * w[i * no + o]!;
        y[o] = Math.tanh(sum);
      }
    }
    return this.acts[this.acts.length - 1]!;
  }

  /** Adds weight × the gradient of ½‖f(x) − y‖² to the gradients. */
  accumulate(x: ArrayLike<number>, target: ArrayLike<number>, weight: number): void {
    const out = this.forward(x);
    const L = this.weights.length;
    const dOut = this.deltas[L]!;
    for (let o = 0; o < out.length; o++) dOut[o] = (out[o]! - target[o]!) * (1 - out[o]! * out[o]!) * weight;
    for (let k = L - 1; k >= 0; k--) {
      const [ni, no] = [this.widths[k]!, this.widths[k + 1]!];
      const a = this.acts[k]!;
      const d = this.deltas[k + 1]!;
      const w = this.weights[k]!;
      const gw = this.gw[k]!;
      const gb = this.gb[k]!;
      const dPrev = this.deltas[k]!;
      for (let o = 0; o < no; o++) gb[o]! += d[o]!;
      for (let i = 0; i < ni; i++) {
        let back = 0;
        const ai = a[i]!;
        for (let o = 0; o < no; o++) {
          gw[i * no + o]! += ai * d[o]!;
          back += w[i * no + o]! * d[o]!;
        }
        dPrev[i] = k > 0 ? back * (1 - ai * ai) : 0;
      }
    }
  }

  zeroGrad(): void {
    for (const g of [...this.gw, ...this.gb]) g.fill(0);
  }

  /** Mean over samples of the squared error, averaged over the outputs. */
  loss(x: Float64Array, y: Float64Array): number {
    const inW = this.widths[0]!;
    const outW = this.widths[this.widths.length - 1]!;
    const n = y.length / outW;
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const out = this.forward(x.subarray(j * inW, (j + 1) * inW));
      for (let o = 0; o < outW; o++) sum += (out[o]! - y[j * outW + o]!) ** 2;
    }
    return n === 0 ? 0 : sum / (n * outW);
  }

  toMlp(): Mlp {
    return {
      layers: this.weights.map((w, k) => ({
        weights: Float32Array.from(w),
        bias: Float32Array.from(this.biases[k]!),
        inputs: this.widths[k]!,
        outputs: this.widths[k + 1]!,
        activation: 'tanh' as const,
      })),
    };
  }
}

class Adam {
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private t = 0;

  constructor(
    private readonly net: Network,
    private readonly lr: number,
  ) {
    const params = [...net.weights, ...net.biases];
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
  }

  step(): void {
    this.t++;
    const params = [...this.net.weights, ...this.net.biases];
    const grads = [...this.net.gw, ...this.net.gb];
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    params.forEach((p, k) => {
      const g = grads[k]!;
      const m = this.m[k]!;
      const v = this.v[k]!;
      for (let i = 0; i < p.length; i++) {
        m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
        v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
        p[i]! -= (this.lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
      }
    });
  }
}
