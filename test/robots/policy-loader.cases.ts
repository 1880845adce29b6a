// Loading a policy model: a model made here with its description loads with what it says, from
// metadata_props or a sidecar file; each kind of model that does not fit the contract (POLICY.md)
// is refused with the message that says what does not fit and what was expected.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import t from 'tap';
import { PolicyContractError } from '../../robots/policy/contract.ts';
import { checkPolicy, loadPolicyFile, type CheckOptions } from '../../robots/policy/loader.ts';
import { randomMlp } from '../../robots/policy/mlp.ts';
import { writeMlpModel, type ModelWriteOptions } from '../../robots/policy/model-writer.ts';
import { trackMetadata, trackMlp } from './policy-models.ts';
import { seededRandom } from '../../robots/policy/track-expert.ts';

const mlp = trackMlp(1);

function refusal(bytes: Uint8Array, opts?: CheckOptions): string {
  try {
    checkPolicy(bytes, opts);
  } catch (err) {
    if (err instanceof PolicyContractError) return err.message;
    throw err;
  }
  throw new Error('the model was accepted');
}

const refused = (opts: ModelWriteOptions, model = mlp) => refusal(writeMlpModel(model, { metadata: trackMetadata(), ...opts }));

t.test('a model with its description in metadata_props loads with what it says', async (t) => {
  const bytes = writeMlpModel(mlp, { metadata: trackMetadata({ name: 'tracker', version: '1.2.0' }), extraProps: { exporter: 'test' } });
  const p = checkPolicy(bytes);
  t.equal(p.described, 'metadata');
  t.equal(p.metadata.name, 'tracker');
  t.equal(p.metadata.version, '1.2.0');
  t.equal(p.inputs, 8);
  t.equal(p.outputs, 2);
  t.equal(p.opset, 17);
  t.equal(p.sha256, createHash('sha256').update(bytes).digest('hex'));
});

t.test('a model without metadata loads with its sidecar file, and is refused without one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'phygate-policy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'model.onnx');
  writeFileSync(file, writeMlpModel(mlp, { metadata: null }));
  await t.rejects(loadPolicyFile(file), {
    message: `metadata: the model has no 'phygate.policy' entry in metadata_props and there is no sidecar (${file}.json); expected its description (POLICY.md) in one of them`,
  });
  writeFileSync(`${file}.json`, JSON.stringify(trackMetadata({ name: 'from-sidecar' })));
  const p = await loadPolicyFile(file);
  t.equal(p.described, 'sidecar');
  t.equal(p.metadata.name, 'from-sidecar');
  writeFileSync(`${file}.json`, JSON.stringify({ ...trackMetadata(), rateHz: 0 }));
  await t.rejects(loadPolicyFile(file), { message: 'sidecar.rateHz: Too small: expected number to be >0' });
});

t.test('each kind of wrong model is refused with its message', async (t) => {
  const cases: [string, string][] = [
    [refused({ metadata: null }), "metadata: the model has no 'phygate.policy' entry in metadata_props and there is no sidecar (the sidecar); expected its description (POLICY.md) in one of them"],
    [refused({ metadata: { ...trackMetadata(), controls: 'arm.reach' as 'amr.track' } }), 'metadata.controls: Invalid input: expected "amr.track"'],
    [refused({ metadata: { ...trackMetadata(), schemaVersion: 2 as 1 } }), 'metadata.schemaVersion: Invalid input: expected 1'],
    [
      refused({ metadata: trackMetadata({ actions: [{ name: 'v', unit: 'm/s', scale: 1, min: 1, max: -1 }, { name: 'omega', unit: 'rad/s', scale: 1, min: -1, max: 1 }] }) }),
      'metadata.actions[0].min: min must not be above max',
    ],
    [refused({ metadata: trackMetadata({ actions: trackMetadata().actions.slice(0, 1) }) }), 'metadata.actions: amr.track has 2 actions (v, omega), the description lists 1'],
    [
      refused({ metadata: trackMetadata({ observations: trackMetadata().observations.map((o, i) => (i === 1 ? { ...o, name: 'yawError' } : o)) }) }),
      "metadata.observations[1].name: expected 'headingError' (amr.track: crossTrack, headingError, targetX, targetY, distanceToGoal, v, omega, speedLimit), found 'yawError'",
    ],
    [
      refused({ metadata: trackMetadata({ actions: trackMetadata().actions.map((a, i) => (i === 1 ? { ...a, unit: 'deg/s' } : a)) }) }),
      "metadata.actions[1].unit: expected 'rad/s' for omega, found 'deg/s'",
    ],
    [refused({ inputName: 'observation' }), "input: expected one input named 'obs', found 'observation'"],
    [refused({ outputName: 'action' }), "output: expected one output named 'actions', found 'action'"],
    [refused({ inputType: 'double' }), 'input obs type: expected float (float32), found double'],
    [refused({ inputType: 'float16' }), 'input obs type: expected float (float32), found float16'],
    [refused({ outputType: 'int64' }), 'output actions type: expected float (float32), found int64'],
    [refused({ inputShape: [1, 8] }), "input obs shape: expected a dynamic batch dimension (a name, like 'batch'), found [1, 8]: every robot on the model is one row of one batch"],
    [refused({ inputShape: ['batch', 8, 1] }), 'input obs shape: expected rank 2 [batch, n], found [batch, 8, 1]'],
    [refused({ inputShape: [8] }), 'input obs shape: expected rank 2 [batch, n], found [8]'],
    [refused({ inputShape: ['batch', 'n'] }), 'input obs shape: expected a fixed size for dimension 1, found [batch, n]'],
    [refused({ outputShape: ['batch', 'm', 2] }), 'output actions shape: expected rank 2 [batch, m], found [batch, m, 2]'],
    // A network with 6 inputs declares [batch, 6]: the description's 8 observations do not fit it.
    [refused({}, randomMlp([6, 4, 2], seededRandom(2))), 'input obs shape: dimension 1 is 6, but amr.track has 8 observations'],
    [refused({}, randomMlp([8, 4, 3], seededRandom(3))), 'output actions shape: dimension 1 is 3, but amr.track has 2 actions'],
    [refused({ opset: 9 }), 'opset: opset 9 is not supported; expected 13 to 22'],
    [refused({ opset: 40 }), 'opset: opset 40 is not supported; expected 13 to 22'],
  ];
  for (const [got, want] of cases) t.equal(got, want);
  // JSON.parse's own words differ between Node versions: only ours are pinned.
  t.match(refused({ metadata: '{"schemaVersion": 1,' }), /^metadata: not JSON \(.+\)$/);
  t.match(refusal(Uint8Array.of(0xff, 0xff, 0xff, 0xff)), /^model: not an ONNX model \(protobuf decoding failed: /);
  t.equal(refusal(new Uint8Array(0)), 'model: not an ONNX model (no graph)');
});

t.test('the refusal carries its code and the path of what does not fit', async (t) => {
  try {
    checkPolicy(writeMlpModel(mlp, { metadata: trackMetadata(), inputType: 'double' }));
    t.fail('accepted');
  } catch (err) {
    t.ok(err instanceof PolicyContractError);
    t.equal((err as PolicyContractError).code, 'POLICY_CONTRACT');
    t.equal((err as PolicyContractError).path, 'input obs type');
  }
});
