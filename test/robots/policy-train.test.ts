// Training the amr.track policy (robots/policy/train.ts): seeded and reproducible, its loss falls,
// what it writes passes the contract, and the teacher it clones does arrive.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { trackObservation, type PathPose } from '../../robots/policy/amr-track.ts';
import { stepAmr, type AmrState } from '../../robots/policy/kinematics.ts';
import { checkPolicy } from '../../robots/policy/loader.ts';
import { arrived, expertAction } from '../../robots/policy/track-expert.ts';
import { QUICK_TRAINING, trainTrackPolicy } from '../../robots/policy/train.ts';

const LIMITS = { maxSpeed: 1, maxAccel: 0.5, maxDecel: 0.7, maxTurnRate: 1 };

t.test('the teacher arrives on a straight edge and on a station approach that ends with a turn', async (t) => {
  const straight: PathPose[] = [
    { x: 0, y: 0, theta: 0 },
    { x: 5, y: 0, theta: 0 },
  ];
  const approach: PathPose[] = [...straight, { x: 5, y: 0, theta: Math.PI / 2 }];
  for (const [name, path] of [['straight', straight], ['approach', approach]] as const) {
    // Started off the path and turned away from it.
    let s: AmrState = { x: 0, y: 0.2, theta: -0.3, v: 0, omega: 0 };
    let segment = 0;
    let k = 0;
    for (; k < 400 && !arrived(path, s); k++) {
      const o = trackObservation(path, s, 1, segment);
      segment = o.segment;
      const [v, omega] = expertAction(o.obs);
      s = stepAmr(s, { v, omega }, LIMITS, 0.05);
    }
    t.ok(arrived(path, s), `${name}: arrived after ${k} ticks at (${s.x.toFixed(3)}, ${s.y.toFixed(3)}, ${s.theta.toFixed(3)})`);
  }
});

const a = trainTrackPolicy({ ...QUICK_TRAINING, seed: 7 });

t.test('quick training: the same seed gives the same bytes, another seed others, and the loss falls', async (t) => {
  const b = trainTrackPolicy({ ...QUICK_TRAINING, seed: 7 });
  const c = trainTrackPolicy({ ...QUICK_TRAINING, seed: 8 });
  t.same(Buffer.from(a.bytes), Buffer.from(b.bytes), 'seed 7 twice: identical model files');
  t.notSame(Buffer.from(a.bytes), Buffer.from(c.bytes), 'seed 8: another model');
  t.equal(a.rounds.length, QUICK_TRAINING.daggerRounds + 1, 'round 0 and the DAgger rounds');
  for (const r of a.rounds) t.ok(r.lossAfter < r.lossBefore, `round ${r.round}: loss ${r.lossBefore.toFixed(5)} → ${r.lossAfter.toFixed(5)}`);
  t.ok(a.rounds[1]!.samples > a.rounds[0]!.samples, 'DAgger adds the states the network drives into');
  t.ok(a.rounds[0]!.arrived >= 0.9, `the teacher arrived in ${a.rounds[0]!.arrived * 100}% of its perturbed episodes`);

  const loaded = checkPolicy(a.bytes);
  t.equal(loaded.metadata.controls, 'amr.track');
  t.equal(loaded.metadata.name, 'amr-track-mlp');
  t.same([loaded.inputs, loaded.outputs], [8, 2]);
  t.same(loaded.metadata.observations.map((o) => o.scale), [1, 1, 0.25, 0.5, 0.25, 1, 1, 1], 'the scales the network was trained with');
});

t.test('npm run policy:train -- --quick writes the model and prints the figures', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'phygate-train-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'p.onnx');
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'robots/policy/train-main.ts', '--quick', '--seed', '7', '--out', out], { cwd: join(import.meta.dirname, '../..') });
  t.match(stdout, /round 0 \(teacher drives\): \d+ samples, [\d.]+% arrived, loss [\d.]+ → [\d.]+/);
  t.match(stdout, /round 1 \(DAgger: network drives\)/);
  t.match(stdout, /held out: the network alone arrived in [\d.]+%/);
  t.same(readFileSync(out), Buffer.from(a.bytes), 'the script writes what the trainer makes');
});
