// The policy runtime: onnxruntime in a worker thread, one batch per model per tick. What it
// answers for each robot is what a plain JavaScript evaluation of the same MLP gives (to float32
// tolerance), for one robot and for many on one model, with the description's scales and limits
// applied; a tick asked while one is running is missed, not queued.
import t, { type Test } from 'tap';
import { checkPolicy } from '../../robots/policy/loader.ts';
import { evaluateMlp, type Mlp } from '../../robots/policy/mlp.ts';
import { writeMlpModel } from '../../robots/policy/model-writer.ts';
import { PolicyRuntime, type RobotObservation } from '../../robots/policy/runtime.ts';
import type { PolicyMetadata } from '../../robots/policy/contract.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { trackMetadata, trackMlp } from './policy-models.ts';
import { seededRandom } from '../../robots/policy/track-expert.ts';

/** What the runtime should answer: the JS forward pass of the scaled observation, scaled and clamped. */
function expected(mlp: Mlp, md: PolicyMetadata, obs: readonly number[]): number[] {
  const out = evaluateMlp(
    mlp,
    obs.map((x, i) => x * md.observations[i]!.scale),
  );
  return Array.from(out, (y, k) => Math.min(md.actions[k]!.max, Math.max(md.actions[k]!.min, y * md.actions[k]!.scale)));
}

function observations(count: number, seed: number): number[][] {
  const r = seededRandom(seed);
  return Array.from({ length: count }, () => Array.from({ length: 8 }, () => (r() * 2 - 1) * 3));
}

const TOLERANCE = 1e-5;

function near(t: Test, got: Float32Array | undefined, want: number[], what: string): void {
  t.ok(got, `${what} has actions`);
  const worst = Math.max(...want.map((w, k) => Math.abs((got?.[k] ?? NaN) - w)));
  t.ok(worst <= TOLERANCE, `${what}: off by ${worst} at most`);
}

// Scales that matter (a sign flip, a gain) and limits one action reaches.
const md = trackMetadata({
  observations: trackMetadata().observations.map((o, i) => ({ ...o, scale: i % 2 === 0 ? 0.5 : -2 })),
  actions: [
    { name: 'v', unit: 'm/s', scale: 1.5, min: -0.3, max: 1.2 },
    { name: 'omega', unit: 'rad/s', scale: 2, min: -1, max: 1 },
  ],
});

t.test('one robot and fifty on one model get what the JS evaluation gives', async (t) => {
  const mlp = trackMlp(11, 32);
  const rt = await PolicyRuntime.start(new Map([['tracker', checkPolicy(writeMlpModel(mlp, { metadata: md }))]]), { budgetMs: 60_000 });
  t.teardown(() => rt.close());

  const [one] = observations(1, 5);
  const single = await rt.tick(new Map([['amr-1', { model: 'tracker', obs: one! }]]));
  t.equal(single.missed, undefined);
  near(t, single.actions.get('amr-1'), expected(mlp, md, one!), 'amr-1 alone');

  const many = observations(50, 6);
  const answer = await rt.tick(new Map(many.map((obs, i) => [`amr-${i}`, { model: 'tracker', obs }])));
  t.equal(answer.actions.size, 50);
  let clamped = 0;
  many.forEach((obs, i) => {
    const want = expected(mlp, md, obs);
    if (want[0] === 1.2 || want[0] === -0.3 || Math.abs(want[1]!) === 1) clamped++;
    near(t, answer.actions.get(`amr-${i}`), want, `amr-${i} of 50`);
  });
  t.ok(clamped > 0, `the description's limits were reached by ${clamped} robots`);
  t.same(rt.ticks, { answered: 2, budget: 0, busy: 0 });
});

t.test('robots on two models in one tick each get their own model', async (t) => {
  const a = trackMlp(21);
  const b = trackMlp(22, 8);
  const rt = await PolicyRuntime.start(
    new Map([
      ['a', checkPolicy(writeMlpModel(a, { metadata: md }))],
      ['b', checkPolicy(writeMlpModel(b, { metadata: md }))],
    ]),
    { budgetMs: 60_000 },
  );
  t.teardown(() => rt.close());
  const obs = observations(6, 7);
  const robots = new Map<string, RobotObservation>(obs.map((o, i) => [`r${i}`, { model: i % 3 === 0 ? 'a' : 'b', obs: o }]));
  const answer = await rt.tick(robots);
  obs.forEach((o, i) => near(t, answer.actions.get(`r${i}`), expected(i % 3 === 0 ? a : b, md, o), `r${i} on ${i % 3 === 0 ? 'a' : 'b'}`));
  // The two models differ on these inputs, so a mix-up would show.
  t.not(expected(a, md, obs[0]!)[1], expected(b, md, obs[0]!)[1]);
});

t.test('a tick asked while one runs is missed; a robot asking for an unknown model or the wrong width is a caller error', async (t) => {
  const rt = await PolicyRuntime.start(new Map([['m', checkPolicy(writeMlpModel(trackMlp(31), { metadata: trackMetadata() }))]]), { budgetMs: 60_000 });
  t.teardown(() => rt.close());
  const [obs] = observations(1, 8);
  const first = rt.tick(new Map([['r', { model: 'm', obs: obs! }]]));
  const second = await rt.tick(new Map([['r', { model: 'm', obs: obs! }]]));
  t.same(second, { actions: new Map(), missed: 'busy' });
  t.equal((await first).actions.size, 1);
  t.same(rt.ticks, { answered: 1, budget: 0, busy: 1 });
  t.throws(() => rt.tick(new Map([['r', { model: 'other', obs: obs! }]])), { message: "robot r: no model 'other' in this runtime" });
  t.throws(() => rt.tick(new Map([['r', { model: 'm', obs: [1, 2] }]])), { message: "robot r: model 'm' takes 8 observations, got 2" });
  t.same(await rt.tick(new Map()), { actions: new Map() });
});

t.test('a tick the worker does not answer within its budget is missed, and its late answer is dropped', async (t) => {
  // The budget runs on fake time: moved past it before the worker's answer can be read, the
  // tick is missed whatever the machine's speed.
  const clock = new FakeClock();
  const mlp = trackMlp(51);
  const rt = await PolicyRuntime.start(new Map([['m', checkPolicy(writeMlpModel(mlp, { metadata: trackMetadata() }))]]), { budgetMs: 50, timers: clock });
  t.teardown(() => rt.close());
  t.equal(rt.budgetMs, 50);
  const [a, b] = observations(2, 9);
  const late = rt.tick(new Map([['r', { model: 'm', obs: a! }]]));
  clock.advance(50);
  t.same(await late, { actions: new Map(), missed: 'budget' });
  // The next tick gets its own answer, not the late one of the tick before.
  const next = rt.tick(new Map([['r', { model: 'm', obs: b! }]]));
  const answer = await next;
  t.equal(answer.missed, undefined);
  near(t, answer.actions.get('r'), expected(mlp, trackMetadata(), b!), 'the tick after');
  t.same(rt.ticks, { answered: 1, budget: 1, busy: 0 });
  t.equal(clock.timers, 0, 'the answered tick cancelled its budget timer');
});

t.test('the default budget is half the period of the fastest model', async (t) => {
  const rt = await PolicyRuntime.start(
    new Map([
      ['slow', checkPolicy(writeMlpModel(trackMlp(61), { metadata: trackMetadata({ rateHz: 10 }) }))],
      ['fast', checkPolicy(writeMlpModel(trackMlp(62), { metadata: trackMetadata({ rateHz: 50 }) }))],
    ]),
  );
  t.teardown(() => rt.close());
  t.equal(rt.budgetMs, 10);
});

t.test('a closed runtime refuses every tick with the reason', async (t) => {
  const rt = await PolicyRuntime.start(new Map([['m', checkPolicy(writeMlpModel(trackMlp(71), { metadata: trackMetadata() }))]]));
  await rt.close();
  await t.rejects(rt.tick(new Map([['r', { model: 'm', obs: observations(1, 1)[0]! }]])), { message: 'the policy runtime failed: closed' });
});

t.test('a model onnxruntime cannot run fails the start with its reason', async (t) => {
  // The contract's checks pass (names, types, shapes, description), but the graph is not valid:
  // a Gemm whose weights do not match the input width.
  const broken: Mlp = trackMlp(41);
  broken.layers[0] = { ...broken.layers[0]!, inputs: 5, weights: broken.layers[0]!.weights.slice(0, 5 * broken.layers[0]!.outputs) };
  const bytes = writeMlpModel(broken, { metadata: trackMetadata(), inputShape: ['batch', 8] });
  await t.rejects(PolicyRuntime.start(new Map([['bad', checkPolicy(bytes)]])), { message: /^the policy runtime could not start: / });
});
