// Property-based test of mission execution (fast-check): random sequences of API calls (approve,
// pause, resume, cancel, STOP, release), gateway restarts (a new executor taking over from the
// outbox) and device events (order progress, acknowledgements, job ends, devices going offline
// and back) against the real executor, mission service and SQLite
// store. The devices are stand-ins (recording objects with the masters' interface), so every
// event can be delivered in any order. Whatever happens: no illegal status is reached, a final
// status never changes, nothing is sent to a device under a STOP or for a mission that is not
// running, and no step is ever sent twice except once more after each STOP that interrupted it.
import { rmSync } from 'node:fs';
import fc from 'fast-check';
import t from 'tap';
import { Executor } from '../../gateway/executor.ts';
import { MissionService } from '../../gateway/missions/service.ts';
import { openStore } from '../../gateway/store/index.ts';
import type { StopRecord } from '../../gateway/store/stops.ts';
import { isFinal, isStepFinal, type MissionStatus, type StepStatus } from '../../planners/mission.ts';
import { PlanSchema } from '../../planners/plan.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { parkFleetAtHome } from '../../sim/parked-fleet.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { canonicalPlan, DEMO_SITE_DIR, tempDir } from './harness.ts';
import { StandInMasters } from './stand-in-masters.ts';

const site = loadSiteFolder(DEMO_SITE_DIR);
const plan = PlanSchema.parse(canonicalPlan());
const DEVICES = ['amr-1', 'amr-2', 'amr-3', 'arm-1', 'cnc-1'];

interface Send {
  kind: 'order' | 'command';
  device: string;
  ref: string;
  step: string;
  /** A terminal event was delivered for it. */
  ended: boolean;
}

/** What the executor sent, as the property checks see it. */
function recordSends(devices: StandInMasters, missionStatus: () => MissionStatus | undefined, stopFor: (device: string) => StopRecord | undefined) {
  const sends: Send[] = [];
  const violations: string[] = [];
  devices.onPublish = ({ kind, device, ref }) => {
    if (missionStatus() !== 'running') violations.push(`${kind} ${ref} sent while the mission is ${missionStatus()}`);
    if (stopFor(device)) violations.push(`${kind} ${ref} sent to ${device} under a STOP`);
    // A command published again (delivery retry) is the same command: counted once.
    const step = kind === 'order' ? ref.split('.')[1]! : plan.steps[Number(/-s(\d+)-/.exec(ref)![1])]!.id;
    if (!sends.some((x) => x.ref === ref)) sends.push({ kind, device, ref, step, ended: false });
  };
  return { sends, violations };
}

class StandInStops {
  active: StopRecord[] = [];
  listeners = new Set<(s: StopRecord) => void>();
  stopFor = (device: string) => this.active.find((s) => s.scope === 'all' || s.devices.includes(device));
  onStop = (l: (s: StopRecord) => void) => (this.listeners.add(l), () => this.listeners.delete(l));
  press(scope: string, devices: string[]) {
    const s = { id: `stop_${this.active.length}`, scope, reason: 'property test', devices, createdBy: 'test', createdAt: '', releasedBy: null, releasedAt: null, releaseNote: null };
    this.active.push(s);
    for (const l of this.listeners) l(s);
  }
}

type Command =
  | { op: 'approve' | 'pause' | 'resume' | 'cancel' | 'release' | 'restart' }
  | { op: 'stop'; device: number | null }
  | { op: 'order'; pick: number; outcome: 'finished' | 'failed' | 'cancelled' | 'progress' }
  | { op: 'ack'; pick: number; result: 'accepted' | 'rejected' | 'expired' | 'duplicate' }
  | { op: 'job'; pick: number; outcome: 'done' | 'stopped' | 'fault' }
  | { op: 'online'; device: number; online: boolean };

const command: fc.Arbitrary<Command> = fc.oneof(
  fc.constantFrom<Command>({ op: 'approve' }, { op: 'pause' }, { op: 'resume' }, { op: 'cancel' }, { op: 'release' }, { op: 'restart' }),
  fc.record({ op: fc.constant('stop' as const), device: fc.option(fc.nat(DEVICES.length - 1), { nil: null }) }),
  fc.record({ op: fc.constant('order' as const), pick: fc.nat(5), outcome: fc.constantFrom('finished' as const, 'failed' as const, 'cancelled' as const, 'progress' as const) }),
  fc.record({ op: fc.constant('ack' as const), pick: fc.nat(5), result: fc.constantFrom('accepted' as const, 'rejected' as const, 'expired' as const, 'duplicate' as const) }),
  fc.record({ op: fc.constant('job' as const), pick: fc.nat(5), outcome: fc.constantFrom('done' as const, 'stopped' as const, 'fault' as const) }),
  fc.record({ op: fc.constant('online' as const), device: fc.nat(DEVICES.length - 1), online: fc.boolean() }),
);

const settle = () => new Promise((r) => setImmediate(r));

async function run(commands: Command[]): Promise<string[]> {
  const dir = tempDir();
  const store = openStore(dir);
  const fleet = new FleetRegistry(site.index);
  parkFleetAtHome(fleet, new Date());
  const stops = new StandInStops();
  let missionId = '';
  const devices = new StandInMasters();
  const { sends, violations } = recordSends(devices, () => store.missions.get(missionId)?.status, stops.stopFor);
  // A gateway start: a new executor (and service) on the same store, taking over from the outbox.
  const boot = () => {
    const executor = new Executor({ store, site, fleet, vda5050: devices.vda5050, machines: devices.machineMaster, stops });
    return { executor, service: new MissionService({ site, store, fleet, now: () => new Date('2026-11-24T08:00:00Z'), runner: executor }) };
  };
  let { executor, service } = boot();
  const problems: string[] = [];
  try {
    const { mission } = service.submit(plan, 'agent');
    missionId = mission.id;
    let before = store.missions.get(missionId)!;
    for (const c of commands) {
      const live = sends.filter((s) => !s.ended);
      try {
        switch (c.op) {
          case 'approve':
            service.approve(missionId, before.planHash, 'op');
            break;
          case 'pause':
          case 'resume':
          case 'cancel':
            service[c.op](missionId, 'op');
            break;
          case 'stop':
            stops.press(c.device === null ? 'all' : `device:${DEVICES[c.device]}`, c.device === null ? DEVICES : [DEVICES[c.device]!]);
            break;
          case 'restart':
            executor.close();
            ({ executor, service } = boot());
            executor.recover();
            break;
          case 'release':
            stops.active = [];
            break;
          case 'order': {
            const s = live.filter((x) => x.kind === 'order')[c.pick];
            if (!s) break;
            if (c.outcome !== 'progress') s.ended = true;
            for (const l of devices.progress)
              l({ deviceId: s.device, orderId: s.ref, finished: c.outcome === 'finished', cancelled: c.outcome === 'cancelled', ...(c.outcome === 'failed' ? { failed: 'test failure' } : {}) } as never);
            break;
          }
          case 'ack': {
            const s = live.filter((x) => x.kind === 'command')[c.pick];
            if (!s) break;
            if (c.result === 'rejected' || c.result === 'expired') s.ended = true;
            for (const l of devices.acks) l({ deviceId: s.device, commandId: s.ref, result: c.result } as never);
            break;
          }
          case 'job': {
            const s = live.filter((x) => x.kind === 'command')[c.pick];
            if (!s) break;
            s.ended = true;
            for (const l of devices.jobs) l({ deviceId: s.device, commandId: s.ref, outcome: c.outcome, errors: [] } as never);
            break;
          }
          case 'online':
            fleet.update(DEVICES[c.device]!, { online: c.online });
            break;
        }
      } catch (err) {
        // API refusals are fine (a 4xx); anything else is a bug.
        if (!(err instanceof Error && err.name === 'ApiError')) throw err;
      }
      await settle();
      const after = store.missions.get(missionId)!;
      if (isFinal(before.status) && after.status !== before.status) problems.push(`mission left final status ${before.status} for ${after.status}`);
      after.steps.forEach((s, i) => {
        const was = before.steps[i]!.status as StepStatus;
        if (isStepFinal(was) && s.status !== was) problems.push(`step ${s.id} left final status ${was} for ${s.status}`);
      });
      if (isFinal(after.status) && after.steps.some((s) => !isStepFinal(s.status))) {
        problems.push(`mission ${after.status} with steps ${after.steps.map((s) => `${s.id}:${s.status}`).join(',')}`);
      }
      before = after;
    }
    const events = store.missions.events(missionId);
    for (const step of plan.steps) {
      const sent = sends.filter((s) => s.step === step.id).length;
      const stopped = events.filter((e) => e.type === 'step.blocked' && (e.data as { step?: string; reason?: string }).step === step.id && /^STOP/.test((e.data as { reason?: string }).reason ?? '')).length;
      if (sent > 1 + stopped) problems.push(`step ${step.id} sent ${sent} times with ${stopped} STOP interruption(s)`);
    }
    return [...problems, ...violations];
  } finally {
    executor.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('no sequence of API calls and device events reaches an illegal state or runs a step twice', async (t) => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
      runs++;
      const problems = await run([{ op: 'approve' }, ...commands]);
      if (problems.length > 0) throw new Error(problems.join('\n'));
      return true;
    }),
    { numRuns: 150, seed: 20261126 },
  );
  t.equal(runs >= 150, true, `${runs} random sequences`);
  // The generator must reach the interesting places, or the property says little.
  const reach = await run([
    { op: 'approve' },
    { op: 'order', pick: 0, outcome: 'finished' },
    { op: 'ack', pick: 0, result: 'accepted' },
    { op: 'job', pick: 0, outcome: 'done' },
    { op: 'ack', pick: 0, result: 'accepted' },
    { op: 'job', pick: 0, outcome: 'done' },
    { op: 'order', pick: 0, outcome: 'finished' },
  ]);
  t.same(reach, [], 'a scripted happy path has no problems');
});

t.test('STOP, release, resume: interrupted steps are sent once more, within the limit', async (t) => {
  const problems = await run([
    { op: 'approve' },
    { op: 'stop', device: null },
    { op: 'release' },
    { op: 'resume' },
  ]);
  t.same(problems, [], 'a STOP and a resume re-send interrupted steps within the limit');
});

t.test('the checker finds what it looks for: a STOP then cancel once left blocked steps in a cancelled mission', async (t) => {
  // The counterexample fast-check found (fixed in Executor.cancelWork); kept as a regression test.
  t.same(await run([{ op: 'approve' }, { op: 'stop', device: null }, { op: 'cancel' }]), []);
});
