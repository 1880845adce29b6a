// A control tick over the real runtime: robots under STOP or with a stale observation get a zero
// command and are not in the batch the model is asked for; the others get the shield's filter of
// the model's action; a STOP pressed while the model runs wins over its answer, and so does one
// that comes in while the drive has yielded the event loop between robots' filters.
import t from 'tap';
import { PolicyDrive, type DrivenRobot, type Inference } from '../../robots/policy/drive.ts';
import { checkPolicy } from '../../robots/policy/loader.ts';
import { evaluateMlp } from '../../robots/policy/mlp.ts';
import { writeMlpModel } from '../../robots/policy/model-writer.ts';
import { PolicyRuntime, type RobotObservation } from '../../robots/policy/runtime.ts';
import { Shield } from '../../robots/policy/shield.ts';
import { trackMetadata, trackMlp } from './policy-models.ts';

const LIMITS = { maxSpeed: 1.2, maxAccel: 0.8, maxDecel: 1.0, maxTurnRate: 1.0 };
const mlp = trackMlp(27);
const runtime = await PolicyRuntime.start(new Map([['m', checkPolicy(writeMlpModel(mlp, { metadata: trackMetadata() }))]]), { budgetMs: 60_000 });
t.teardown(() => runtime.close());

/** The real runtime, with the batches it was asked for written down. */
function recorded(onAsk?: () => void): Inference & { asked: string[][] } {
  const asked: string[][] = [];
  return {
    asked,
    tick(obs: ReadonlyMap<string, RobotObservation>) {
      asked.push([...obs.keys()]);
      onAsk?.();
      return runtime.tick(obs);
    },
  };
}

const shield = () => new Shield({ limits: LIMITS, footprint: { length: 0.8, width: 0.6 }, site: { keepOuts: [], slowZones: [] }, tickS: 0.05 });
// A robot cruising in open floor, so its action reaches the robot as the model gave it, within its limits.
const obs = [0.1, -0.05, 1, 0.1, 5, 0.5, 0, 1.2];
const robot = (id: string, observedAt: number): DrivenRobot => ({ id, model: 'm', state: { x: 0, y: 0, theta: 0, v: 0.5, omega: 0 }, obs, observedAt, shield: shield() });

t.test('stopped and stale robots get zero and are not asked for; the others get the shielded action', async (t) => {
  const now = 10_000;
  const stopped = new Set(['r1']);
  const inference = recorded();
  const drive = new PolicyDrive({ inference, stopped: (r) => stopped.has(r), now: () => now });
  const robots = [robot('r1', now), robot('r2', now - 101), robot('r3', now - 50)];
  const commands = await drive.tick(robots);
  t.same(inference.asked, [['r3']]);
  t.same(commands.get('r1'), { v: 0, omega: 0, reasons: ['stop'] });
  t.same(commands.get('r2'), { v: 0, omega: 0, reasons: ['stale'] });
  const want = evaluateMlp(mlp, obs);
  const got = commands.get('r3')!;
  t.same(got.reasons, [], `the action [${Array.from(want)}] is within every limit`);
  t.ok(Math.abs(got.v - want[0]!) < 1e-5 && Math.abs(got.omega - want[1]!) < 1e-5, 'r3 drives as the model says');
  t.equal(robots[0]!.shield.interventions('r1').stop, 1);
});

t.test('a STOP pressed while the model runs wins over its answer', async (t) => {
  const stopped = new Set<string>();
  const inference = recorded(() => stopped.add('r3'));
  const drive = new PolicyDrive({ inference, stopped: (r) => stopped.has(r), now: () => 0 });
  const commands = await drive.tick([robot('r3', 0), robot('r4', 0)]);
  t.same(inference.asked, [['r3', 'r4']]);
  t.same(commands.get('r3'), { v: 0, omega: 0, reasons: ['stop'] });
  t.not(commands.get('r4')!.v, 0);
});

t.test('the filters give the event loop back between robots, and a STOP that comes in meanwhile wins for the rest', async (t) => {
  const stopped = new Set<string>();
  // The STOP is handled on the event loop as soon as the drive lets it: right after the answer.
  const inference: Inference = { tick: (obs) => runtime.tick(obs).then((a) => (setImmediate(() => stopped.add('r4')), a)) };
  const sliced = new PolicyDrive({ inference, stopped: (r) => stopped.has(r), now: () => 0, sliceMs: 0 });
  const commands = await sliced.tick([robot('r3', 0), robot('r4', 0)]);
  t.not(commands.get('r3')!.v, 0, 'r3 was filtered before the STOP came in');
  t.same(commands.get('r4'), { v: 0, omega: 0, reasons: ['stop'] }, 'r4, after the drive yielded, is stopped');
  // Within its slice the drive filters every robot in one go: the STOP comes after the tick.
  stopped.clear();
  const whole = await new PolicyDrive({ inference, stopped: (r) => stopped.has(r), now: () => 0 }).tick([robot('r3', 0), robot('r4', 0)]);
  t.not(whole.get('r4')!.v, 0, 'with the default slice, two robots are filtered without yielding');
});

t.test('with every robot stopped the model is not asked at all', async (t) => {
  const inference = recorded();
  const drive = new PolicyDrive({ inference, stopped: () => true, now: () => 0 });
  const commands = await drive.tick([robot('a', 0), robot('b', 0)]);
  t.same(inference.asked, []);
  t.same([...commands.values()].map((c) => c.reasons), [['stop'], ['stop']]);
});
