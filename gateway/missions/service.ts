// The mission use cases: check a plan, submit it as a mission, approve exactly what was checked,
// cancel, pause, resume, read its event log. The routes translate HTTP; this decides, and logs
// what it decided.
import { assumeProblems, passesOf, type Pass } from '../../planners/check.ts';
import type { Assume } from '../../planners/fleet.ts';
import { isFinal, isStepFinal, type MissionStatus } from '../../planners/mission.ts';
import { canonicalJson, sha256, type Plan } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { inThreadChecker, type CheckJob, type Checker } from '../checks/checker.ts';
import { ApiError } from '../errors.ts';
import type { EventHub } from '../events.ts';
import type { Store } from '../store/index.ts';
import type { RehearsalRecord } from '../store/rehearsals.ts';
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
  /** Where checks run (the gateway's worker pool, gateway/checks/pool.ts); default: on the calling thread. */
  checker?: Checker;
}

export interface Submitted {
  mission: Mission;
  /** False when an Idempotency-Key replay returned the mission created before. */
  created: boolean;
}

/** A plan with no work of its own: its check is the committed work alone, simulated from now. */
const SCHEDULE_ONLY: Plan = { schema: 'phygate.plan/v1', name: 'the committed work', priority: 5, steps: [] };

/** How often a check that commits is run again because the schedule changed while it ran, before giving up. */
export const MAX_RECHECKS = 3;

/**
 * What a check that commits ran against, in one comparable string: the committed missions' work
 * (which missions, which of their steps are over). A commit is made only while it is still the
 * same. The robots' holds are not compared: they change with every node a robot reaches, so a
 * long check on a busy floor would never commit, and a robot that drove on along its committed
 * route meanwhile is taken care of when the approval's schedule is adopted (a route's passes up
 * to its grant count as made; gateway/execution/traffic.ts `adopt`).
 */
function scheduleOf(job: Pick<CheckJob, 'committed'>): string {
  return canonicalJson({ committed: (job.committed ?? []).map((c) => ({ ...c, over: [...c.over].sort() })) });
}

export class MissionService {
  private readonly checker: Checker;
  /** The end of the last commit under way: checks that commit run one after another (see committing). */
  private commits: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: MissionServiceDeps) {
    this.checker = deps.checker ?? inThreadChecker(deps.site);
  }

  /** Checks a plan against the fleet as it is now and the work other missions have committed (see commitments.ts). */
  async check(plan: Plan, assume?: Assume, keep?: Readonly<Record<string, string>>): Promise<CheckReport> {
    return this.checker.check(this.job(plan, assume, keep));
  }

  /** check()'s report as JSON text, made where the check ran (POST /v1/plans/check sends it as it is). */
  async checkJson(plan: Plan, assume?: Assume): Promise<string> {
    const job = this.job(plan, assume);
    return this.checker.checkJson ? this.checker.checkJson(job) : JSON.stringify(await this.checker.check(job));
  }

  /** The committed work and the robots' holds as they are now: what a check runs against besides the fleet. */
  private schedule(): Pick<CheckJob, 'committed' | 'holds'> {
    return { committed: commitmentsOf(this.deps.store), ...(this.deps.runner?.holds ? { holds: this.deps.runner.holds() } : {}) };
  }

  private job(plan: Plan, assume?: Assume, keep?: Readonly<Record<string, string>>): CheckJob {
    const problems = assumeProblems(this.deps.site.index, assume);
    if (problems.length > 0) throw new ApiError('VALIDATION_FAILED', 'assume names things the site does not have', { problems });
    return {
      plan,
      fleet: this.deps.fleet.snapshot(),
      ...(assume ? { assume } : {}),
      now: this.deps.now(),
      ...this.schedule(),
      ...(keep ? { keep } : {}),
    };
  }

  /**
   * Runs `f` once every commit before it is done: approvals (and submits the site approves by
   * policy, and resumes that reschedule) check against the committed work and then commit, and a
   * check now takes a while off the event loop, so two of them must not both check against the
   * schedule neither has changed yet. Nothing else waits here: STOP, cancel and pause never do.
   */
  private committing<T>(f: () => Promise<T>): Promise<T> {
    const turn = this.commits.then(f, f);
    this.commits = turn.catch(() => {});
    return turn;
  }

  /**
   * A check whose report is committed at once (inside committing): when the committed work
   * changed while it ran (a step ended, a mission was cancelled or ended), it is run again, so no
   * mission is committed on a stale schedule.
   */
  private async checkCurrent(plan: Plan, keep?: Readonly<Record<string, string>>): Promise<CheckReport> {
    for (let attempt = 1; ; attempt++) {
      const job = this.job(plan, undefined, keep);
      const ranOn = scheduleOf(job);
      const report = await this.checker.check(job);
      if (scheduleOf(this.schedule()) === ranOn) return report;
      if (attempt === MAX_RECHECKS) {
        throw new ApiError('SCHEDULE_CHANGED', `the other missions' work changed while each of ${MAX_RECHECKS} checks ran; nothing was committed: try again`, { attempts: attempt });
      }
      this.deps.log?.debug({ plan: plan.name, attempt }, 'the schedule changed during the check: checking again');
    }
  }

  /** `idempotencyScope`: whose the key is (the token's id); another token's same key is another key. */
  async submit(plan: Plan, actor: string, idempotencyKey?: string, idempotencyScope?: string): Promise<Submitted> {
    // A passing plan the site approves by policy is committed at once: it is checked as an approval is.
    if (this.autoApproves()) {
      return this.committing(async () => this.submitChecked(plan, actor, await this.checkCurrent(plan), idempotencyKey, idempotencyScope));
    }
    return this.submitChecked(plan, actor, await this.check(plan), idempotencyKey, idempotencyScope);
  }

  private submitChecked(plan: Plan, actor: string, report: CheckReport, idempotencyKey?: string, idempotencyScope?: string): Submitted {
    const requestHash = sha256(canonicalJson({ plan }));
    const status: MissionStatus =
      report.verdict === 'fail'
        ? 'rejected'
        : this.autoApproves() && report.verdict === 'pass'
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

  /**
   * Site policy `approval: when-pass` approves a passing plan at submit, unless the site asks
   * for rehearsals (`rehearsal: required`): a plan is rehearsed while it awaits approval, so it
   * waits for an operator.
   */
  private autoApproves(): boolean {
    const { policies } = this.deps.site.index.site;
    return policies.approval === 'when-pass' && policies.rehearsal !== 'required';
  }

  /** The mission's newest rehearsal, or null when it was never rehearsed (gateway/rehearsal/). */
  rehearsalOf(id: string): RehearsalRecord | null {
    return this.deps.store.rehearsals.latest(id) ?? null;
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
  approve(id: string, hash: string, actor: string): Promise<Mission> {
    return this.committing(() => this.approveNow(id, hash, actor));
  }

  private async approveNow(id: string, hash: string, actor: string): Promise<Mission> {
    const mission = this.get(id);
    if (mission.status !== 'awaiting_approval') {
      throw new ApiError('INVALID_TRANSITION', `mission ${id} is ${mission.status}; only a mission awaiting approval can be approved`, { status: mission.status });
    }
    if (hash !== mission.planHash) {
      throw new ApiError('PLAN_HASH_MISMATCH', `planHash ${hash} is not the hash of this mission's checked plan`, { expected: mission.planHash });
    }
    // Site policy `rehearsal: required`: this very plan must have run on a simulated fleet first.
    if (this.deps.site.index.site.policies.rehearsal === 'required' && !this.deps.store.rehearsals.passed(id, hash)) {
      const last = this.deps.store.rehearsals.latest(id);
      const was = !last ? 'it was never rehearsed' : last.status === 'running' ? 'its rehearsal is still running' : last.planHash !== hash ? 'its rehearsal was of another plan' : 'its rehearsal failed';
      throw new ApiError('REHEARSAL_REQUIRED', `the site's policy asks for a successful rehearsal of this plan before approval, and ${was}`, {
        hint: last?.status === 'running' ? `wait for the rehearsal to end (GET /v1/missions/${id}), then approve` : `POST /v1/missions/${id}/rehearse, then approve once the rehearsal has succeeded`,
        ...(last ? { rehearsal: { id: last.id, status: last.status } } : {}),
      });
    }
    // The devices the report shows are kept while they can still take their roles.
    const before = (mission.report as CheckReport | null)?.assignments ?? {};
    const report = await this.checkCurrent(mission.plan, before);
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
  resume(id: string, actor: string): Promise<Mission> {
    return this.committing(() => this.resumeNow(id, actor));
  }

  private async resumeNow(id: string, actor: string): Promise<Mission> {
    const runner = this.runnerOrThrow(id);
    if (this.get(id).status === 'paused' && runner.reschedule) {
      const passes = passesOf(await this.checkCurrent(SCHEDULE_ONLY));
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
