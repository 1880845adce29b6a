// `npm run policy:train [-- --seed N] [--quick] [--out FILE]`: trains the amr.track policy
// (train.ts) and writes it, with its description, where the demo's policy lives.
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FULL_TRAINING, QUICK_TRAINING, trainTrackPolicy } from './train.ts';

export const DEFAULT_MODEL_FILE = 'launch/policies/amr-track.onnx';

const { values } = parseArgs({
  options: { seed: { type: 'string', default: '1' }, quick: { type: 'boolean', default: false }, out: { type: 'string', default: DEFAULT_MODEL_FILE } },
});
const seed = Number(values.seed);
if (!Number.isInteger(seed) || seed < 0) {
  process.stderr.write(`--seed must be a whole number, not '${values.seed}'\n`);
  process.exit(2);
}
const out = resolve(process.env.INIT_CWD || process.cwd(), values.out!);
const settings = values.quick ? QUICK_TRAINING : FULL_TRAINING;
const started = performance.now();
const log = (line: string) => process.stdout.write(`${line}\n`);
log(`training amr.track (seed ${seed}${values.quick ? ', quick' : ''}): ${settings.episodes} episodes per round, ${settings.daggerRounds} DAgger rounds, ${settings.steps} Adam steps per round`);
const result = trainTrackPolicy({ ...settings, seed, log });
writeFileSync(out, result.bytes);
log(`held out: the network alone arrived in ${(result.heldOutArrived * 100).toFixed(1)}% of fresh perturbed episodes`);
log(`wrote ${out} (${result.bytes.length} bytes, sha256 ${createHash('sha256').update(result.bytes).digest('hex')}) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
