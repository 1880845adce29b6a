// A policy the virtual-fleet tests make for themselves, no training: an amr.track model whose
// weights make it a known path-tracking controller. One ReLU layer computes
//   v = min(0.5·distanceToGoal + 0.1, speedLimit) − |headingError|        (clamped to [0, 1])
//   ω = 2·headingError − 1.5·crossTrack                                     (clamped to [−1, 1])
// (min(a, b) = a − relu(a − b) and |x| = relu(x) + relu(−x)): it slows to the node ahead so it
// stops on it within the demo AMR's braking, turns on the spot while it faces away from the path,
// and steers back onto the line (checked offline: from any heading within 0.1 m of an edge's
// start it reaches the end within 0.1 m). The shield keeps it to the zones' speed limits.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AMR_TRACK, type PolicyMetadata } from '../../robots/policy/contract.ts';
import type { Mlp } from '../../robots/policy/mlp.ts';
import { writeMlpModel } from '../../robots/policy/model-writer.ts';
import { trackMetadata } from '../robots/policy-models.ts';

const OBS = Object.fromEntries(AMR_TRACK.observations.map((o, i) => [o.name, i])) as Record<string, number>;

export function trackerMetadata(over: Partial<PolicyMetadata> = {}): PolicyMetadata {
  return trackMetadata({
    name: 'test-tracker',
    version: '1.0.0',
    actions: [
      { name: 'v', unit: 'm/s', scale: 1, min: 0, max: 1 },
      { name: 'omega', unit: 'rad/s', scale: 1, min: -1, max: 1 },
    ],
    ...over,
  });
}

export function trackerMlp(): Mlp {
  const hidden = 6;
  const w0 = new Float32Array(8 * hidden);
  const b0 = new Float32Array(hidden);
  const set = (obs: string, unit: number, value: number) => (w0[OBS[obs]! * hidden + unit] = value);
  set('distanceToGoal', 0, 0.5); // h0 = 0.5·d + 0.1
  b0[0] = 0.1;
  set('distanceToGoal', 1, 0.5); // h1 = relu(0.5·d + 0.1 − speedLimit)
  set('speedLimit', 1, -1);
  b0[1] = 0.1;
  set('headingError', 2, 1); // h2 = relu(he), h3 = relu(−he)
  set('headingError', 3, -1);
  set('crossTrack', 4, 1); // h4 = relu(ct), h5 = relu(−ct)
  set('crossTrack', 5, -1);
  // Outputs [v, ω]: weights[i * 2 + o].
  const w1 = Float32Array.from([1, 0, -1, 0, -1, 2, -1, -2, 0, -1.5, 0, 1.5]);
  return {
    layers: [
      { weights: w0, bias: b0, inputs: 8, outputs: hidden, activation: 'relu' },
      { weights: w1, bias: new Float32Array(2), inputs: hidden, outputs: 2, activation: 'none' },
    ],
  };
}

/** Writes the tracker as `name` in `dir` and returns the file's path. */
export function writeTracker(dir: string, name = 'tracker.onnx', over: Partial<PolicyMetadata> = {}): string {
  const file = join(dir, name);
  writeFileSync(file, writeMlpModel(trackerMlp(), { metadata: trackerMetadata(over) }));
  return file;
}
