// The mission use cases: check a plan, submit it as a mission, approve exactly what was checked,
// cancel, pause, resume, read its event log. The routes translate HTTP; this decides, and logs
// what it decided.
import { assumeProblems, passesOf, type Pass } from '../../planners/check.ts';
import type { Assume } from '../../planners/fleet.ts';
import { isFinal, isStepFinal, type MissionStatus } from '../../planners/mission.ts';
import { canonicalJson, sha256, type Plan } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import { checkInSim } from '../../sim/checker.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { ApiError } from '../errors.ts';
import type { EventHub } from '../events.ts';
import type { Store } from '../store/index.ts';
import { commitmentsOf } from './commitments.ts';
import {
  IdempotencyConflictError,
  InvalidTransitionError,
  MissionNotFoundError,
  POLICY_APPROVER,
  type Mission,
  type MissionEvent,
  type MissionQuery,
} from '../store/missions.ts';

/** What the mission use cases need of the executor (gateway/executor.ts); absent, nothing runs. */
export interface MissionRunner {
  /** An approved mission starts; `passes`: the node entries of its approval's check, the order the robots keep from now on. */
  start(missionId: string, passes?: readonly Pass[]): void;
  /** The robots keep to a new schedule: the committed work simulated anew from where the robots are now. */
  reschedule?(passes: readonly Pass[]): void;
  /** AMR → the nodes it holds at run time: a check starts each robot occupying them. */
  holds?(): ReadonlyMap<string, readonly string[]>;
  pause(missionId: string, actor: string): Mission;
  resume(missionId: string, actor: string): Mission;
  cancelWork(missionId: string): void;
}

/** Where the service logs: pino's shape (`app.log` fits), a mission's id in every line. */
export interface MissionLog {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface MissionServiceDeps {
  site: LoadedSite;
  store: Store;
  fleet: FleetRegistry;
  now: () => Date;
  runner?: MissionRunner;
  /** Where `mission` events go when a mission is submitted, approved or cancelled (the executor sends the rest). */
  hub?: EventHub;
  /** Approvals, cancels, pauses and resumes are logged at info; without a log, nowhere. */
  log?: MissionLog;
}

export interface Submitted {
  mission: Mission;
  /** False when an Idempotency-Key replay returned the mission created before. */
  created: boolean;
}

/** A plan with no work of its own: its check is the committed work alone, simulated from now. */
const SCHEDULE_ONLY: Plan = { schema: 'phygate.plan/v1', name: 'the committed work', priority: 5, steps: [] };

export class MissionService {
  constructor(private readonly deps: MissionServiceDeps) {}

  /** Checks a plan against the fleet as it is now and the work other missions have committed (see commitments.ts). */
  check(plan: Plan, assume?: Assume, keep?: Readonly<Record<string, string>>): CheckReport {
    const problems = assumeProblems(this.deps.site.index, assume);
    if (problems.length > 0) throw new ApiError('VALIDATION_FAILED', 'assume names things the site does not have', { problems });
    const { site } = this.deps;
    return checkInSim({
      site: site.index,
      graph: site.graph,
      worldHash: site.worldHash,
      plan,
      fleet: this.deps.fleet.snapshot(),
      ...(assume ? { assume } : {}),
      now: this.deps.now(),
      committed: commitmentsOf(this.deps.store),
      ...(keep ? { keep } : {}),
      ...(this.deps.runner?.holds ? { holds: this.deps.runner.holds() } : {}),
    });
  }

  /** `idempotencyScope`: whose the key is (the token's id); another token's same key is another key. */
  submit(plan: Plan, actor: string, idempotencyKey?: string, idempotencyScope?: string): Submitted {
    const requestHash = sha256(canonicalJson({ plan }));
    const report = this.check(plan);
    const status: MissionStatus =
      report.verdict === 'fail'
        ? 'rejected'
        : this.deps.site.index.site.policies.approval === 'when-pass' && report.verdict === 'pass'
          ? 'approved'
          : 'awaiting_approval';
    // The store decides replays inside its transaction: same key and body → the first mission.
    try {
      const submitted = this.deps.store.missions.create({
        plan,
        planHash: report.planHash,
        worldHash: report.worldHash,
        report,
        status,
        requestHash,
        actor,
        ...(status === 'approved' ? { approvedBy: POLICY_APPROVER } : {}),
        ...(idempotencyKey ? { idempotencyKey, ...(idempotencyScope ? { idempotencyScope } : {}) } : {}),
      });
      if (submitted.created) {
        this.deps.log?.info({ missionId: submitted.mission.id, actor, status, verdict: report.verdict }, `mission submitted: ${status.replaceAll('_', ' ')}`);
        this.announce(submitted.mission);
      }
      // Site policy `when-pass`: a passing plan is approved at once, and runs.
      if (submitted.created && submitted.mission.status === 'approved' && this.deps.runner) {
        this.deps.runner.start(submitted.mission.id, passesOf(report));
        return { mission: this.get(submitted.mission.id), created: true };
      }
      return submitted;
    } catch (err) {
      if (err instanceof IdempotencyConflictError) throw idempotencyConflict(idempotencyKey!, err.missionId);
      throw err;
    }
  }

  get(id: string): Mission {
    const m = this.deps.store.missions.get(id);
    if (!m) throw new ApiError('NOT_FOUND', `no mission '${id}'`);
    return m;
  }

  list(query: MissionQuery): Mission[] {
    return this.deps.store.missions.list(query);
  }

  /** The mission's event log after `afterSeq`, oldest first; NOT_FOUND for an unknown mission. */
  events(id: string, afterSeq: number, limit: number): MissionEvent[] {
    this.get(id);
    return this.deps.store.missions.events(id, afterSeq, limit);
  }

  /**
   * Approve exactly what was checked: the hash must match, and the plan is checked again against
   * the fleet and the other missions as they are now, so a plan that would fail today cannot be
   * approved on yesterday's report; that check becomes the mission's report, the one it runs by.
   */
  approve(id: string, hash: string, actor: string): Mission {
    const mission = this.get(id);
    if (mission.status !== 'awaiting_approval') {
      throw new ApiError('INVALID_TRANSITION', `mission ${id} is ${mission.status}; only a mission awaiting approval can be approved`, { status: mission.status });
    }
    if (hash !== mission.planHash) {
      throw new ApiError('PLAN_HASH_MISMATCH', `planHash ${hash} is not the hash of this mission's checked plan`, { expected: mission.planHash });
    }
    // The devices the report shows are kept while they can still take their roles.
    const before = (mission.report as CheckReport | null)?.assignments ?? {};
    const report = this.check(mission.plan, undefined, before);
    if (report.verdict === 'fail') {
      throw new ApiError('PLAN_REJECTED', 'the plan fails its check against the fleet as it is now; it cannot be approved', { report });
    }
    // The operator approves the devices the report shows: if roles are bound to others now (one
    // became busy or went offline, or the plan fails with it), the mission gets the new report
    // and must be approved again.
    const moved = Object.keys({ ...before, ...report.assignments }).filter((role) => before[role] !== report.assignments[role]).sort();
    if (moved.length > 0) {
      const change = moved.map((role) => `${role}: ${before[role] ?? 'none'} → ${report.assignments[role] ?? 'none'}`);
      this.mapped(id, () => this.deps.store.missions.recheck(id, actor, report, { assignments: report.assignments, was: before }));
      this.deps.log?.info({ missionId: id, actor, change }, 'approval refused: the check binds other devices now');
      throw new ApiError('REPORT_CHANGED', `checked again, the plan runs on other devices now (${change.join(', ')}); the mission has the new report: read it and approve again`, { report, changed: change });
    }
    // The approval's check becomes the mission's report: it runs with the devices and routes bound now.
    this.announce(this.mapped(id, () => this.deps.store.missions.approve(id, actor, report, { planHash: hash, verdict: report.verdict, worldHash: report.worldHash })));
    this.deps.log?.info({ missionId: id, actor, planHash: hash, verdict: report.verdict }, 'mission approved');
    this.deps.runner?.start(id, passesOf(report));
    return this.get(id);
  }

  cancel(id: string, actor: string, reason?: string): Mission {
    const m = this.get(id);
    if (isFinal(m.status)) return this.transition(id, 'cancelled', actor);
    if (this.deps.runner && (m.status === 'running' || m.status === 'paused')) this.deps.runner.cancelWork(id);
    // Steps that never ran are cancelled with their mission, so a cancelled mission has no step left to do.
    const { store } = this.deps;
    const why = reason ?? `cancelled by ${actor}`;
    const cancelled = store.db.transaction(() => {
      for (const s of store.missions.get(id)!.steps) if (!isStepFinal(s.status)) store.missions.transitionStep(id, s.id, 'cancelled', actor, { reason: why });
      return this.transition(id, 'cancelled', actor, reason ? { reason } : undefined);
    })();
    this.announce(cancelled);
    this.deps.log?.info({ missionId: id, actor, was: m.status, reason: cancelled.reason }, 'mission cancelled');
    return cancelled;
  }

  /** Hold dispatching and pause the AMRs of a running mission. */
  pause(id: string, actor: string): Mission {
    const m = this.mapped(id, () => this.runnerOrThrow(id).pause(id, actor));
    this.deps.log?.info({ missionId: id, actor }, 'mission paused');
    return m;
  }

  /**
   * Go on with a paused mission (after a pause, a STOP, or a restart). Its robots may stand
   * elsewhere than the schedule has them: the committed work is simulated again from where every
   * robot is now, and the robots keep to that schedule.
   */
  resume(id: string, actor: string): Mission {
    const runner = this.runnerOrThrow(id);
    if (this.get(id).status === 'paused' && runner.reschedule) {
      const passes = passesOf(this.check(SCHEDULE_ONLY));
      if (passes) runner.reschedule(passes);
    }
    const m = this.mapped(id, () => runner.resume(id, actor));
    // Resuming may end it: a step in flight across a restart has an unknown outcome.
    this.deps.log?.info({ missionId: id, actor, status: m.status, ...(m.reason ? { reason: m.reason } : {}) }, 'mission resumed');
    return m;
  }

  private runnerOrThrow(id: string): MissionRunner {
    if (!this.deps.runner) {
      const m = this.get(id);
      throw new ApiError('INVALID_TRANSITION', `mission ${id} is ${m.status}; nothing executes missions in this gateway`, { status: m.status });
    }
    return this.deps.runner;
  }

  /** A `mission` event, as the executor sends for what it changes: the tablet learns of new and decided missions at once. */
  private announce(m: Mission): Mission {
    this.deps.hub?.publish('mission', { id: m.id, status: m.status });
    return m;
  }

  private transition(id: string, to: MissionStatus, actor: string, data?: Record<string, unknown>): Mission {
    return this.mapped(id, () => this.deps.store.missions.transition(id, to, actor, data));
  }

  /** Store errors become API errors: an unknown mission is 404, a move its status forbids 409. */
  private mapped<T>(id: string, f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof MissionNotFoundError) throw new ApiError('NOT_FOUND', `no mission '${id}'`);
      if (err instanceof InvalidTransitionError) {
        throw new ApiError('INVALID_TRANSITION', `mission ${id} is ${err.from}; it cannot become ${err.to}`, { status: err.from });
      }
      throw err;
    }
  }
}

function idempotencyConflict(key: string, missionId: string): ApiError {
  return new ApiError('IDEMPOTENCY_CONFLICT', `Idempotency-Key '${key}' was already used with a different body (mission ${missionId})`, { missionId });
}
