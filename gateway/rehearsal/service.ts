// The rehearsal use case: run a mission's plan on a simulated fleet before the real one
// (world.ts), record how it went, and answer whether a plan hash rehearsed with success — what
// the site's `rehearsal: required` policy makes an approval wait for (missions/service.ts).
// One rehearsal runs at a time: it is a whole fleet simulated in this process, and the process
// also answers STOP.
import type { CheckReport } from '../../planners/report.ts';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import { errorText, silentLog, type Log } from '../../robots/log.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import type { Checker } from '../checks/checker.ts';
import { ApiError } from '../errors.ts';
import type { EventHub } from '../events.ts';
import type { Store } from '../store/index.ts';
import type { RehearsalRecord, RehearsalResult } from '../store/rehearsals.ts';
import { rehearsalFleet, rehearseInWorld, type GazeboFleet, type RehearsalInput } from './world.ts';

export interface RehearsalServiceDeps {
  site: LoadedSite;
  store: Store;
  /** The real fleet: read only, for where the rehearsal fleet starts. */
  fleet: FleetRegistry;
  checker: Checker;
  now: () => Date;
  /** How many times faster than real time a rehearsal on the virtual fleet runs (PHYGATE_REHEARSAL_SPEED). */
  speed: number;
  /** Rehearse on this Gazebo fleet over ROS 2 instead (PHYGATE_REHEARSAL_FLEET=gazebo). */
  gazebo?: GazeboFleet;
  /** Where a `rehearsal` event goes when one starts and ends. */
  hub?: Pick<EventHub, 'publish'>;
  log?: Log;
  /** Runs the rehearsal; default: a rehearsal world of virtual devices (world.ts). */
  world?: (input: RehearsalInput) => Promise<RehearsalResult>;
}

export class RehearsalService {
  private current: { record: RehearsalRecord; done: Promise<void> } | undefined;
  private readonly abort = new AbortController();
  private readonly log: Log;

  constructor(private readonly deps: RehearsalServiceDeps) {
    this.log = deps.log ?? silentLog;
    // A rehearsal the gateway was running when it stopped never ended: say so, so none stays running.
    for (const r of deps.store.rehearsals.running()) {
      deps.store.rehearsals.finish(r.id, 'failed', this.blank(r, 'cancelled', 'the gateway stopped during the rehearsal'), deps.now());
    }
  }

  /**
   * Starts rehearsing the mission's plan, as it is to be approved (a mission awaiting approval);
   * answers at once with the rehearsal running. Its end is in the store (latest) and a `rehearsal` event.
   */
  start(missionId: string, actor: string): RehearsalRecord {
    const { store } = this.deps;
    const mission = store.missions.get(missionId);
    if (!mission) throw new ApiError('NOT_FOUND', `no mission '${missionId}'`);
    if (mission.status !== 'awaiting_approval') {
      throw new ApiError('INVALID_TRANSITION', `mission ${missionId} is ${mission.status}; only a mission awaiting approval is rehearsed (its plan is the one to approve)`, { status: mission.status });
    }
    if (this.current) {
      throw new ApiError('REHEARSAL_BUSY', `mission ${this.current.record.missionId} is being rehearsed; rehearse this one once that has ended`, { rehearsal: this.current.record.id, missionId: this.current.record.missionId });
    }
    const record = store.rehearsals.start(missionId, mission.planHash, actor, this.deps.now());
    this.log.info({ missionId, rehearsal: record.id, actor, planHash: mission.planHash }, 'rehearsal started');
    this.announce(record);
    const input: RehearsalInput = {
      site: this.deps.site,
      checker: this.deps.checker,
      plan: mission.plan,
      planHash: mission.planHash,
      report: mission.report as CheckReport,
      fleet: this.deps.fleet.snapshot(),
      speed: this.deps.speed,
      ...(this.deps.gazebo ? { gazebo: this.deps.gazebo } : {}),
      now: this.deps.now,
      log: this.log,
      signal: this.abort.signal,
    };
    const done = (this.deps.world ?? rehearseInWorld)(input)
      .catch((err: unknown): RehearsalResult => {
        this.log.error({ missionId, rehearsal: record.id, err: errorText(err) }, 'rehearsal: its world failed');
        return this.blank(record, 'not_started', `the rehearsal could not run: ${err instanceof Error ? err.message : String(err)}`);
      })
      .then((result) => {
        const passed = result.outcome === 'succeeded' && result.problems.every((p) => p.severity !== 'error');
        const ended = store.rehearsals.finish(record.id, passed ? 'succeeded' : 'failed', result, this.deps.now());
        this.log[passed ? 'info' : 'warn'](
          { missionId, rehearsal: record.id, outcome: result.outcome, makespanS: result.makespanS, problems: result.problems.map((p) => p.message) },
          `rehearsal ${ended.status}`,
        );
        this.announce(ended);
      })
      .catch((err: unknown) => this.log.error({ missionId, rehearsal: record.id, err: errorText(err) }, 'rehearsal: could not record its end'))
      .finally(() => {
        this.current = undefined;
      });
    this.current = { record, done };
    return record;
  }

  /** The mission's newest rehearsal. */
  latest(missionId: string): RehearsalRecord | undefined {
    return this.deps.store.rehearsals.latest(missionId);
  }

  /** Ends a rehearsal under way (its mission there is cancelled) and waits for it to be recorded. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.current?.done;
  }

  private blank(r: RehearsalRecord, outcome: RehearsalResult['outcome'], reason: string): RehearsalResult {
    const report = this.deps.store.missions.get(r.missionId)?.report as CheckReport | undefined;
    return { ...rehearsalFleet(this.deps.gazebo, this.deps.speed), outcome, reason, makespanS: null, checkMakespanS: report?.makespanS ?? 0, minSeparation: null, problems: [] };
  }

  private announce(r: RehearsalRecord): void {
    this.deps.hub?.publish('rehearsal', { id: r.id, missionId: r.missionId, status: r.status });
  }
}
