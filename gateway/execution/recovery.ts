// A restarted gateway takes over what the one before it left (docs/architecture.md, "The outbox
// and crash recovery"). Every work still open in the outbox is followed again: its port asks the device
// what became of it — a work the device runs or ran is followed, not sent again; one it never got
// is sent again unchanged unless it expired. Steps a STOP interrupted are known again from their
// settled entries, so resume works as before the restart; `wait` steps wait what they had left.
// Missions that were running go on. A step in flight with nothing in the outbox (a database from
// before the outbox) has an unknown outcome: its mission is paused, and resuming it ends it.
import { stepsToRun } from '../../planners/make-way.ts';
import { isStepInFlight as inFlight } from '../../planners/mission.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { DevicePorts, Work } from '../../robots/device-port.ts';
import type { Log } from '../../robots/log.ts';
import type { Store } from '../store/index.ts';
import type { Mission } from '../store/missions.ts';
import type { OutboxEntry } from '../store/outbox.ts';
import type { Flight } from './flight.ts';
import type { FlightBook } from './flight-book.ts';

/** What recovery needs of the executor. */
export interface RecoveryHost {
  store: Store;
  ports: Pick<DevicePorts, 'for'>;
  book: FlightBook;
  log: Log;
  now(): number;
  /** A flight for one step of the mission, not started. */
  flight(m: Mission, stepId: string, device: string, onto: string | undefined): Flight;
  /** The device of a step as the check assigned it. */
  deviceOf(m: Mission, stepId: string): string;
  /** Takes over a work sent before the restart. */
  adopt(m: Mission, f: Flight, work: Work): void;
  /** A `wait` step goes on with what it had left. */
  holdOn(f: Flight, elapsedMs: number): void;
  /** The mission cannot go on by itself: paused, with the reason. */
  pauseUnknown(m: Mission, reason: string): void;
  start(missionId: string): void;
  pump(missionId: string): void;
}

const LIVE = ['running', 'paused'] as const;

export function recoverMissions(host: RecoveryHost): void {
  const { store } = host;
  for (const entry of store.outbox.open()) {
    const m = store.missions.get(entry.missionId);
    const step = m?.steps.find((s) => s.id === entry.stepId);
    if (m && (m.status === 'running' || m.status === 'paused') && step && inFlight(step.status)) {
      const work = toWork(entry);
      const f = host.flight(m, entry.stepId, entry.device, host.ports.for(entry.device).describe(work).onto);
      host.adopt(m, f, work);
    } else store.outbox.settle(entry.id, 'abandoned', new Date(host.now()));
  }
  for (const m of store.missions.all([...LIVE])) {
    let unknown: string | undefined;
    for (const s of m.steps) {
      if (!inFlight(s.status) || host.book.get(m.id, s.id)) continue;
      const last = store.outbox.ofStep(m.id, s.id).at(-1);
      const def = stepsToRun(m.plan, m.report as CheckReport | null).find((x) => x.id === s.id);
      if (s.status === 'blocked' && last?.outcome === 'stopped') {
        const previous = toWork(last);
        const f = host.flight(m, s.id, last.device, host.ports.for(last.device).describe(previous).onto);
        f.previous = previous;
        f.midJob = true;
        f.to('interrupted');
        host.book.add(f);
      } else if (def?.action === 'wait' && s.status !== 'blocked') {
        const since = store.missions.events(m.id).filter((e) => e.type === 'step.dispatched' && (e.data as { step?: string } | null)?.step === s.id).at(-1);
        host.holdOn(host.flight(m, s.id, host.deviceOf(m, s.id), undefined), since ? host.now() - Date.parse(since.at) : 0);
      } else unknown ??= s.id;
    }
    if (unknown && m.status === 'running') {
      host.pauseUnknown(m, `the gateway restarted while step '${unknown}' was in flight and has no record of its work; resume it to go on`);
    }
  }
  for (const m of store.missions.all(['approved'])) host.start(m.id);
  for (const m of store.missions.all(['running'])) host.pump(m.id);
  host.log.debug({}, 'executor recovered');
}

function toWork(e: OutboxEntry): Work {
  return { id: e.id, device: e.device, channel: e.channel, message: e.message, expiresAt: e.expiresAt };
}
