// The device-port contract (robots/device-port.ts) as one suite of expectations that every port
// runs against its real devices: test/robots/port-contract.test.ts gives it a rig per port (the
// port, its device, and how to see what the device does), and the suite checks the same things of
// each. What the executor relies on is stated here once; a port that falls short fails here.
import type { Test } from 'tap';
import type { DeviceState } from '../../planners/fleet.ts';
import { StepRefusedError, type DevicePort, type PauseEffect, type StepSignal, type Work, type WorkChannel, type WorkRequest, type WorkSummary } from '../../robots/device-port.ts';
import { until } from '../helpers/wait.ts';

/** One port on its real device (or the ROS 2 stand-in), fresh for each expectation. */
export interface PortRig {
  /** The port under test; `restart` replaces it. */
  port: DevicePort;
  via: string;
  channel: WorkChannel;
  /** The device the works are for. */
  device: string;
  /** What `pause` answers on this protocol. */
  pauseEffect: PauseEffect;
  /** Whether `release` tells the device something (VDA 5050: stopPause). */
  releases: boolean;
  /** Whether `follow` can find out what became of a work (ROS 2 cannot: it reports `unknown`). */
  follows: boolean;
  /** A work the device can do from where it stands; another attempt or mission makes another work. */
  request(attempt: number, missionId?: string): WorkRequest;
  /** What `describe` reads back from the work of `request`. */
  summary: WorkSummary;
  /** Steps the device cannot do, and what the refusal must say. */
  refusals: { request: WorkRequest; says: RegExp }[];
  /** How many work messages (orders, commands, goals) have reached the device; a resend counts again. */
  delivered(): number;
  /** How many times the device began the work. */
  runs(work: Work): number;
  /** The device works on it now (drives, runs the job, the goal is active). */
  working(work: Work): boolean;
  /** The device ended the work unfinished and is not working on it (order cancelled, job stopped, goal cancelled). */
  dropped(work: Work): boolean;
  /** The device holds the work: stands still and keeps it (`pauseEffect` held). */
  holding(work: Work): boolean;
  /** The device is free and stands still, with nothing to do (after a STOP and its release). */
  idle(): boolean;
  /** Resolves once the device has answered every message that reached it so far. */
  answered(): Promise<void>;
  /** Plays the device's side where it does not finish by itself (the ROS 2 stand-in's Nav2): progress, then success. */
  finish?(work: Work): void;
  /** The device's state in the fleet registry that feeds the port. */
  state(): DeviceState | undefined;
  /** The gateway restarts: the port and what feeds it are closed, and a fresh port on the same broker (or binding) is returned. */
  restart(): Promise<DevicePort>;
  /** The port's feed has heard the device report its state (after a restart, it may not have yet). */
  reported(): boolean;
}

export type RigFactory = (t: Test) => Promise<PortRig>;

const ENDS = new Set<StepSignal['type']>(['done', 'failed', 'aborted', 'unknown']);

/** Every signal a port emits, from now on. */
function listen(t: Test, port: DevicePort) {
  const signals: StepSignal[] = [];
  const off = port.onSignal((s) => signals.push(s));
  t.teardown(off);
  const of = (work: Work) => signals.filter((s) => s.workId === work.id);
  return {
    signals,
    of,
    types: (work: Work) => of(work).map((s) => s.type),
    heard: (work: Work, ...types: StepSignal['type'][]) => of(work).find((s) => types.includes(s.type)),
  };
}

/** The work as the outbox gives it back: its JSON. */
const stored = (work: Work): Work => JSON.parse(JSON.stringify(work)) as Work;

const stopAnswered = (answer: unknown) => answer === 'sent' || answer === 'unconfirmed';

export function portContract(t: Test, rigFor: RigFactory): void {
  t.test('prepare builds the work and sends nothing; describe reads it back; a step the device cannot do is refused, saying why', async (t) => {
    const r = await rigFor(t);
    const heard = listen(t, r.port);
    const request = r.request(0);
    const before = Date.now();
    const work = r.port.prepare(request);
    const after = Date.now();
    t.equal(work.device, r.device, 'for the device asked');
    t.equal(work.channel, r.channel);
    t.equal(r.port.via, r.via);
    t.type(work.id, 'string');
    t.ok(work.id.length > 0, `an id (${work.id})`);
    const expires = Date.parse(work.expiresAt);
    t.ok(expires >= before + request.ttlMs && expires <= after + request.ttlMs, `expires ttlMs after it was prepared (${work.expiresAt})`);
    t.same(r.port.describe(work), r.summary, 'describe reads back what the request asked');
    t.same(r.port.describe(stored(work)), r.summary, 'also from the stored message');

    const next = r.port.prepare(r.request(1));
    const other = r.port.prepare(r.request(0, 'm-contract-other'));
    t.not(next.id, work.id, 'another attempt of the step is another work');
    t.not(other.id, work.id, "another mission's step is another work");

    for (const { request: refused, says } of r.refusals) {
      let error: unknown;
      try {
        r.port.prepare(refused);
      } catch (err) {
        error = err;
      }
      t.ok(error instanceof StepRefusedError, `${refused.step.action} on ${refused.device}: refused with a StepRefusedError`);
      t.match((error as Error | undefined)?.message, says, `saying why: ${(error as Error | undefined)?.message}`);
    }

    // A listener taken off hears nothing more.
    const removed: StepSignal[] = [];
    r.port.onSignal((s) => removed.push(s))();

    // What reaches the device goes in order: once the work that was sent is there, one prepared before would be too.
    await r.port.send(next);
    await until('the device to work on the work that was sent', () => r.working(next));
    t.equal(r.delivered(), 1, 'only the work that was sent reached the device');
    t.same(heard.of(work), [], 'nothing is heard of the works only prepared');
    t.same(heard.of(other), []);
    t.ok(heard.of(next).length > 0, 'the work that was sent is heard of');
    t.same(removed, [], 'the listener taken off heard nothing');
  });

  t.test('send: the device does the work once, however often it is sent; accepted or running first, then done', async (t) => {
    const r = await rigFor(t);
    // Registered first: a listener that throws must not keep the next one from hearing (the wait for `done` below).
    let threw = 0;
    r.port.onSignal(() => {
      threw++;
      throw new Error('a step listener that throws');
    });
    const heard = listen(t, r.port);
    const work = r.port.prepare(r.request(0));
    await r.port.send(work);
    await r.port.send(work); // a delivery retry before any answer
    await until('the device to work on it', () => r.working(work));
    await r.port.send(work); // a retry after it took the work
    r.finish?.(work);
    await until('done', () => heard.heard(work, 'done'));
    await r.port.send(work); // a late retry, after the device finished
    await r.answered();

    const types = heard.types(work);
    t.ok(types[0] === 'accepted' || types[0] === 'running', `accepted or running first (${types.join(', ')})`);
    t.equal(threw, heard.signals.length, 'the listener before this one threw at each signal');
    t.equal(types.filter((s) => s === 'done').length, 1, 'done once');
    t.equal(types.at(-1), 'done', 'nothing after done');
    t.same(types.filter((s) => s === 'failed' || s === 'aborted' || s === 'unknown' || s === 'missing'), [], 'nothing failed, aborted or went missing');
    t.same(heard.of(work).map((s) => s.device), types.map(() => r.device), 'each signal names the device');
    t.equal(r.runs(work), 1, 'the device did the work once');
  });

  t.test('abort while the device works: it stops and the end is heard; abort again is harmless and confirmed again', async (t) => {
    const r = await rigFor(t);
    const heard = listen(t, r.port);
    const work = r.port.prepare(r.request(0));
    await r.port.send(work);
    await until('the device to work on it', () => r.working(work));
    r.port.abort(work, 'the contract test aborts it');
    await until('the device to drop the work', () => r.dropped(work));
    const end = await until('an end of the work to be heard', () => heard.heard(work, 'aborted', 'failed'));
    t.match(end, { device: r.device, reason: /\S/ }, `it says why: ${'reason' in end ? end.reason : ''}`);
    const count = heard.of(work).length;
    t.doesNotThrow(() => r.port.abort(work, 'the contract test aborts it again'), 'abort again');
    await until('the end to be confirmed again', () => heard.of(work).slice(count).some((s) => ENDS.has(s.type)));
    await r.answered();
    t.ok(r.dropped(work), 'the device still has the work dropped');
    t.equal(r.runs(work), 1, 'and did not take it up again');
    t.notOk(heard.heard(work, 'done'), 'it never finished');
  });

  t.test('abort of a work the device never got is confirmed, at the latest when asked a second time', async (t) => {
    const r = await rigFor(t);
    const heard = listen(t, r.port);
    const work = r.port.prepare(r.request(0));
    r.port.abort(work, 'cancelled before it was sent');
    // The executor asks again a few seconds later: by then the device has answered the first.
    await r.answered();
    if (!heard.heard(work, 'aborted')) r.port.abort(work, 'cancelled before it was sent');
    const end = await until('aborted', () => heard.heard(work, 'aborted'));
    t.match(end, { device: r.device, reason: /\S/ }, `it says why: ${'reason' in end ? end.reason : ''}`);
    await r.answered();
    t.equal(r.delivered(), 0, 'the work never reached the device');
    t.equal(r.runs(work), 0);
  });

  t.test('pause: the device holds the work, finishes it anyway, or drops it, as its protocol says', async (t) => {
    const r = await rigFor(t);
    const heard = listen(t, r.port);
    const work = r.port.prepare(r.request(0));
    await r.port.send(work);
    await until('the device to work on it', () => r.working(work));
    const effect = r.port.pause(work);
    t.equal(effect, r.pauseEffect);
    if (effect === 'held') {
      await until('the device to hold the work', () => r.holding(work));
      t.notOk(heard.heard(work, 'done', 'failed', 'aborted'), 'the work is not over');
      r.port.resume(work);
      r.finish?.(work);
      await until('done after resume', () => heard.heard(work, 'done'));
    } else if (effect === 'continues') {
      r.finish?.(work);
      await until('done while paused', () => heard.heard(work, 'done'));
      t.doesNotThrow(() => r.port.resume(work), 'resume changes nothing');
    } else {
      await until('the device to drop the work', () => r.dropped(work));
      t.notOk(heard.heard(work, 'done'), 'it did not finish');
    }
    t.equal(r.runs(work), 1, 'the device began the work once');
    t.notOk(heard.heard(work, 'failed'), 'nothing failed');
  });

  t.test('stop: the device stops whatever it does; moving() tells the two apart; release is what the protocol needs', async (t) => {
    const r = await rigFor(t);
    const heard = listen(t, r.port);
    const work = r.port.prepare(r.request(0));
    await r.port.send(work);
    await until('the device to work on it', () => r.working(work));
    await until('the port to call the working device moving', () => r.port.moving(r.state()!));
    const answer = await r.port.stop(r.device);
    t.ok(stopAnswered(answer), `stop answered ${answer}`);
    await until('the device to stop', () => r.dropped(work));
    await until('the port to call the stopped device not moving', () => !r.port.moving(r.state()!));
    t.notOk(heard.heard(work, 'done'), 'the work did not finish');

    const released = r.port.release(r.device);
    if (!r.releases) {
      t.equal(released, undefined, 'nothing to release');
      return;
    }
    t.ok(stopAnswered(await released), 'release answered');
    await until('the device to be released, with nothing to do', () => r.idle());
    await r.answered();
    t.ok(r.dropped(work), 'the work stays dropped');
    t.equal(r.runs(work), 1, 'and was not taken up again');
    t.notOk(heard.heard(work, 'done'), 'it never finished');
  });

  /** A restarted gateway takes the work over from its outbox; `reported`: once the new port has heard the device. */
  const takeOver = async (t: Test, r: PortRig, work: Work, reported: boolean) => {
    const port = await r.restart();
    if (reported) await until('the restarted gateway to hear the device', () => r.reported());
    const heard = listen(t, port);
    const taken = stored(work);
    t.same(port.describe(taken), r.summary, 'the new port reads the stored work');
    port.follow(taken);
    return { port, heard, taken };
  };

  /** What a port that cannot follow a work answers: it cannot tell. */
  const cannotTell = async (t: Test, r: PortRig, heard: ReturnType<typeof listen>, work: Work) => {
    const answer = await until('an answer', () => heard.heard(work, 'unknown', 'accepted', 'missing', 'running', 'done'));
    t.match(answer, { type: 'unknown', device: r.device, reason: /\S/ }, `it cannot tell: ${'reason' in answer ? answer.reason : ''}`);
  };

  /** After `accepted`, only progress and one done, last. */
  const tellsProgressThenDone = (t: Test, r: PortRig, heard: ReturnType<typeof listen>, work: Work) => {
    const types = heard.types(work);
    t.equal(types[0], 'accepted', `first: the device has it (${types.join(', ')})`);
    t.same(types.filter((s) => s !== 'accepted' && s !== 'running' && s !== 'done'), [], 'then its progress');
    t.equal(types.filter((s) => s === 'done').length, 1, 'done once');
    t.equal(types.at(-1), 'done', 'nothing after done');
    t.equal(r.runs(work), 1, 'the device did it once');
  };

  t.test('follow after a restart: the device works on the work', async (t) => {
    const r = await rigFor(t);
    const work = r.port.prepare(r.request(0));
    await r.port.send(work);
    await until('the device to work on it', () => r.working(work));
    const { heard } = await takeOver(t, r, work, false);
    if (!r.follows) return cannotTell(t, r, heard, work);
    await until('an answer', () => heard.heard(work, 'accepted', 'missing', 'unknown', 'running', 'done'));
    r.finish?.(work);
    await until('done', () => heard.heard(work, 'done'));
    tellsProgressThenDone(t, r, heard, work);
  });

  t.test('follow after a restart: the device finished the work meanwhile', async (t) => {
    const r = await rigFor(t);
    const before = listen(t, r.port);
    const work = r.port.prepare(r.request(0));
    await r.port.send(work);
    await until('the device to work on it', () => r.working(work));
    r.finish?.(work);
    await until('done', () => before.heard(work, 'done'));
    const { heard } = await takeOver(t, r, work, true);
    if (!r.follows) return cannotTell(t, r, heard, work);
    await until('done', () => heard.heard(work, 'done', 'missing', 'unknown', 'failed', 'aborted'));
    tellsProgressThenDone(t, r, heard, work);
  });

  t.test('follow after a restart: a work the device never got is missing, and may be sent again', async (t) => {
    const r = await rigFor(t);
    const work = r.port.prepare(r.request(0));
    const { port, heard, taken } = await takeOver(t, r, work, false);
    if (!r.follows) return cannotTell(t, r, heard, work);
    const answer = await until('an answer', () => heard.heard(work, 'missing', 'unknown', 'accepted', 'running', 'done'));
    t.match(answer, { type: 'missing', device: r.device }, 'missing');
    await port.send(taken);
    await until('the device to work on it', () => r.working(taken));
    r.finish?.(taken);
    await until('done', () => heard.heard(work, 'done'));
    t.equal(r.runs(work), 1, 'the device did it once');
    t.same(heard.types(work).filter((s) => s === 'failed' || s === 'aborted'), []);
  });
}
