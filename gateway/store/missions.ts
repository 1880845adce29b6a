// Missions as stored: one row per mission, one per plan step, and an append-only event trail.
// Every change is a single transaction that also writes its event, so the trail never disagrees
// with the state.
import { isFinal, isStepFinal, statusesLeadingTo, stepStatusesLeadingTo, type MissionStatus, type StepStatus } from '../../planners/mission.ts';
import { canonicalJson, planHash } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { Database } from './database.ts';
import { MISSION_COLUMNS, STEP_COLUMNS, toMission, toStep, IdempotencyConflictError, InvalidStepTransitionError, scopedKey, InvalidTransitionError, MissionNotFoundError, type EventRow, type Mission, type MissionEvent, type MissionQuery, type MissionRow, type MissionStep, type MissionTransitionData, type NewMission, type StepRow, type StepTransitionData } from './mission-records.ts';
import { newId } from './ids.ts';

export * from './mission-records.ts';

export const LIST_LIMIT_DEFAULT = 50;
export const LIST_LIMIT_MAX = 500;
export const EVENTS_LIMIT_MAX = 500;
export const EVENTS_PAGE = 100;

/** Who approved a mission the site's policy (`approval: when-pass`) approved when it was stored. */
export const POLICY_APPROVER = 'policy:when-pass';

/** Mission statuses that have a reason: why it failed, was cancelled or is paused. */
const WITH_REASON: readonly MissionStatus[] = ['failed', 'cancelled', 'paused'];
/** Step statuses that have a reason. */
const STEP_WITH_REASON: readonly StepStatus[] = ['failed', 'cancelled', 'blocked'];

interface MissionMove {
  id: string;
  to: MissionStatus;
  /** JSON array of the statuses it may come from. */
  from: string;
  at: string;
  approvedBy: string | null;
  approvedAt: string | null;
  reason: string | null;
  reasonStep: string | null;
  endedAt: string | null;
}

interface StepMove {
  id: string;
  stepId: string;
  to: StepStatus;
  from: string;
  device: string | null;
  startedAt: string | null;
  endedAt: string | null;
  reason: string | null;
}

/** A string as given; anything else (absent, or not text) as null. */
function text(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function pageSize(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return Math.min(limit, max);
}

export class MissionStore {
  readonly #insertMission;
  readonly #insertStep;
  readonly #insertEvent;
  readonly #countSteps;
  readonly #byId;
  readonly #statusOf;
  readonly #byIdempotencyKey;
  readonly #stepsOf;
  readonly #setStepStatus;
  readonly #stepTx;
  readonly #stepsOfMany;
  readonly #list;
  readonly #setStatus;
  readonly #setReport;
  readonly #approveTx;
  readonly #recheckTx;
  readonly #events;
  readonly #createTx;
  readonly #transitionTx;

  constructor(db: Database) {
    this.#insertMission = db.prepare<[MissionRow & { request_hash: string }]>(
      `INSERT INTO missions (${MISSION_COLUMNS}, request_hash)
       VALUES (@id, @status, @name, @plan, @plan_hash, @world_hash, @report, @priority,
               @created_at, @updated_at, @created_by, @idempotency_key,
               @approved_by, @approved_at, @reason, @reason_step, @ended_at, @request_hash)`,
    );
    this.#insertStep = db.prepare<[string, number, string, string, string]>(
      'INSERT INTO mission_steps (mission_id, ordinal, step_id, action, device) VALUES (?, ?, ?, ?, ?)',
    );
    this.#countSteps = db.prepare<[string], number>('SELECT count(*) FROM mission_steps WHERE mission_id = ?').pluck();
    this.#insertEvent = db.prepare<[string, string | null, string, string, string | null]>(
      'INSERT INTO events (at, mission_id, type, actor, data) VALUES (?, ?, ?, ?, ?)',
    );
    this.#byId = db.prepare<[string], MissionRow>(`SELECT ${MISSION_COLUMNS} FROM missions WHERE id = ?`);
    this.#statusOf = db.prepare<[string], MissionStatus>('SELECT status FROM missions WHERE id = ?').pluck();
    this.#byIdempotencyKey = db.prepare<[string], { id: string; request_hash: string }>(
      'SELECT id, request_hash FROM missions WHERE idempotency_key = ?',
    );
    this.#stepsOf = db.prepare<[string], StepRow>(`SELECT ${STEP_COLUMNS} FROM mission_steps WHERE mission_id = ? ORDER BY ordinal`);
    // Ids and statuses go in as one JSON array each, so a single prepared statement serves any count.
    this.#stepsOfMany = db.prepare<[string], StepRow>(
      `SELECT ${STEP_COLUMNS} FROM mission_steps
       WHERE mission_id IN (SELECT value FROM json_each(?)) ORDER BY mission_id, ordinal`,
    );
    this.#list = db.prepare<[{ statuses: string | null; before: string | null; limit: number }], MissionRow>(
      `SELECT ${MISSION_COLUMNS} FROM missions
       WHERE (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
         AND (@before IS NULL OR id < @before)
       ORDER BY id DESC LIMIT @limit`,
    );
    // approved_* are kept once set; reason, reason_step and ended_at describe the current status.
    this.#setStatus = db.prepare<[MissionMove]>(
      `UPDATE missions SET status = @to, updated_at = @at,
         approved_by = COALESCE(@approvedBy, approved_by), approved_at = COALESCE(@approvedAt, approved_at),
         reason = @reason, reason_step = @reasonStep, ended_at = @endedAt
       WHERE id = @id AND status IN (SELECT value FROM json_each(@from))`,
    );
    this.#events = db.prepare<[{ missionId: string | null; afterSeq: number; limit: number }], EventRow>(
      `SELECT seq, at, mission_id, type, actor, data FROM events
       WHERE seq > @afterSeq AND (@missionId IS NULL OR mission_id = @missionId)
       ORDER BY seq LIMIT @limit`,
    );
    // dispatched_to is the latest dispatch's device, started_at the first dispatch; the reason
    // describes the current status, so a step that leaves `blocked` loses it.
    this.#setStepStatus = db.prepare<[StepMove]>(
      `UPDATE mission_steps SET status = @to,
         dispatched_to = COALESCE(@device, dispatched_to), started_at = COALESCE(started_at, @startedAt),
         ended_at = @endedAt, reason = @reason
       WHERE mission_id = @id AND step_id = @stepId AND status IN (SELECT value FROM json_each(@from))`,
    );
    this.#stepTx = db.transaction((id: string, stepId: string, to: StepStatus, actor: string, data?: StepTransitionData) => {
      const at = new Date().toISOString();
      const dispatched = to === 'dispatched';
      const { changes } = this.#setStepStatus.run({
        id,
        stepId,
        to,
        from: JSON.stringify(stepStatusesLeadingTo(to)),
        device: dispatched ? text(data?.device) : null,
        startedAt: dispatched ? at : null,
        endedAt: isStepFinal(to) ? at : null,
        reason: STEP_WITH_REASON.includes(to) ? text(data?.reason) : null,
      });
      if (changes === 0) throw new InvalidStepTransitionError(id, stepId, to);
      this.#appendEvent(at, id, `step.${to}`, actor, { step: stepId, ...data });
    });
    this.#createTx = db.transaction((input: NewMission) => this.#insert(input));
    this.#transitionTx = db.transaction((id: string, to: MissionStatus, actor: string, data?: MissionTransitionData) =>
      this.#move(id, to, actor, data),
    );
    this.#setReport = db.prepare<[{ id: string; report: string }]>('UPDATE missions SET report = @report WHERE id = @id');
    this.#approveTx = db.transaction((id: string, actor: string, report: unknown, data?: MissionTransitionData) => {
      this.#move(id, 'approved', actor, data);
      this.#setReport.run({ id, report: JSON.stringify(report) });
      this.#addMoves(id, report);
      return this.#load(id)!;
    });
    this.#recheckTx = db.transaction((id: string, actor: string, report: unknown, data: object) => {
      this.#setReport.run({ id, report: JSON.stringify(report) });
      this.#appendEvent(new Date().toISOString(), id, 'mission.rechecked', actor, data);
      return this.#load(id)!;
    });
  }

  /**
   * Stores a new mission, or with a known idempotency key returns the mission that key made
   * (`created: false`) if the request is the same, and throws IdempotencyConflictError if not.
   */
  create(input: NewMission): { mission: Mission; created: boolean } {
    if (input.planHash !== planHash(input.plan)) throw new Error('planHash does not match the plan');
    // IMMEDIATE takes the write lock first, so two processes cannot both miss the key and insert.
    return this.#createTx.immediate(input);
  }

  /** A mission's status alone (no plan, report or steps read), or undefined for an unknown id. */
  statusOf(id: string): MissionStatus | undefined {
    return this.#statusOf.get(id);
  }

  get(id: string): Mission | undefined {
    return this.#load(id);
  }

  /** Newest first. */
  list(query: MissionQuery = {}): Mission[] {
    const rows = this.#list.all({
      statuses: query.status ? JSON.stringify(query.status) : null,
      before: query.before ?? null,
      limit: pageSize(query.limit, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX),
    });
    if (rows.length === 0) return [];
    const steps = new Map<string, MissionStep[]>(rows.map((r) => [r.id, []]));
    for (const s of this.#stepsOfMany.all(JSON.stringify(rows.map((r) => r.id)))) {
      steps.get(s.mission_id)!.push(toStep(s));
    }
    return rows.map((r) => toMission(r, steps.get(r.id)!));
  }

  /** Every mission in one of `status`, newest first, however many there are (list's pages, one after another). */
  all(status: MissionStatus[]): Mission[] {
    const out: Mission[] = [];
    for (let page = this.list({ status, limit: LIST_LIMIT_MAX }); page.length > 0; ) {
      out.push(...page);
      page = page.length < LIST_LIMIT_MAX ? [] : this.list({ status, limit: LIST_LIMIT_MAX, before: page.at(-1)!.id });
    }
    return out;
  }

  /**
   * Moves a mission to `to` if planners/mission.ts allows it from its current status, and records
   * the event `mission.<to>`. The status check is part of the UPDATE, so concurrent requests
   * cannot both succeed.
   */
  transition(id: string, to: MissionStatus, actor: string, data?: MissionTransitionData): Mission {
    return this.#transitionTx.immediate(id, to, actor, data);
  }

  /**
   * Approves the mission (a transition to `approved`) and keeps `report`, the check its approval
   * made, as its report, in one transaction: the devices and routes that run are the ones the
   * operator approved, not those of the older check at submit.
   */
  approve(id: string, actor: string, report: unknown, data?: MissionTransitionData): Mission {
    return this.#approveTx.immediate(id, actor, report, data);
  }

  /** Replaces the mission's report with a newer check of the same plan, with the event `mission.rechecked` (`data` says what changed). */
  recheck(id: string, actor: string, report: unknown, data: object): Mission {
    if (!this.#byId.get(id)) throw new MissionNotFoundError(id);
    return this.#recheckTx.immediate(id, actor, report, data);
  }

  /**
   * Moves one step to `to` if planners/mission.ts allows it from its current status, with the
   * event `step.<to>` in the same transaction (so a step can never run twice: a second
   * `dispatched` finds it no longer pending and throws InvalidStepTransitionError). Its device
   * (on `dispatched`), reason (on failed, cancelled and blocked) and times are written with it.
   */
  transitionStep(id: string, stepId: string, to: StepStatus, actor: string, data?: StepTransitionData): void {
    this.#stepTx.immediate(id, stepId, to, actor, data);
  }

  /** Events in the order they happened, after `afterSeq`; of one mission or of all. */
  events(missionId?: string, afterSeq = 0, limit = EVENTS_LIMIT_MAX): MissionEvent[] {
    return this.#events
      .all({ missionId: missionId ?? null, afterSeq, limit: pageSize(limit, EVENTS_LIMIT_MAX, EVENTS_LIMIT_MAX) })
      .map((r) => ({
        seq: r.seq,
        at: r.at,
        missionId: r.mission_id,
        type: r.type,
        actor: r.actor,
        data: r.data === null ? null : (JSON.parse(r.data) as unknown),
      }));
  }

  #insert(input: NewMission): { mission: Mission; created: boolean } {
    const storedKey = input.idempotencyKey === undefined ? undefined : scopedKey(input.idempotencyKey, input.idempotencyScope);
    if (storedKey !== undefined) {
      const prior = this.#byIdempotencyKey.get(storedKey);
      if (prior) {
        if (prior.request_hash !== input.requestHash) {
          throw new IdempotencyConflictError(input.idempotencyKey!, prior.id);
        }
        return { mission: this.#load(prior.id)!, created: false };
      }
    }
    const id = newId('m_');
    const now = new Date().toISOString();
    const approved = input.status === 'approved';
    this.#insertMission.run({
      id,
      status: input.status,
      name: input.plan.name ?? null,
      plan: canonicalJson(input.plan),
      plan_hash: input.planHash,
      world_hash: input.worldHash,
      report: JSON.stringify(input.report ?? null),
      priority: input.plan.priority,
      created_at: now,
      updated_at: now,
      created_by: input.actor,
      idempotency_key: storedKey ?? null,
      approved_by: approved ? (input.approvedBy ?? POLICY_APPROVER) : null,
      approved_at: approved ? now : null,
      reason: null,
      reason_step: null,
      ended_at: isFinal(input.status) ? now : null,
      request_hash: input.requestHash,
    });
    input.plan.steps.forEach((step, ordinal) => {
      this.#insertStep.run(id, ordinal, step.id, step.action, step.device);
    });
    if (approved) this.#addMoves(id, input.report);
    this.#appendEvent(now, id, 'mission.created', input.actor, { status: input.status, planHash: input.planHash });
    return { mission: this.#load(id)!, created: true };
  }

  /** The robots an approved mission's check moves out of the way (its report's `moves`) become steps after the plan's. */
  #addMoves(id: string, report: unknown): void {
    const moves = (report as Pick<CheckReport, 'moves'> | null | undefined)?.moves ?? [];
    const ordinal = this.#countSteps.get(id)!;
    moves.forEach((m, k) => this.#insertStep.run(id, ordinal + k, m.id, 'navigate', m.device));
  }

  #move(id: string, to: MissionStatus, actor: string, data: MissionTransitionData | undefined): Mission {
    const now = new Date().toISOString();
    const reasoned = WITH_REASON.includes(to);
    const { changes } = this.#setStatus.run({
      id,
      to,
      from: JSON.stringify(statusesLeadingTo(to)),
      at: now,
      approvedBy: to === 'approved' ? actor : null,
      approvedAt: to === 'approved' ? now : null,
      reason: reasoned ? (text(data?.reason) ?? `${to} by ${actor}`) : null,
      reasonStep: reasoned ? text(data?.step) : null,
      endedAt: isFinal(to) ? now : null,
    });
    if (changes === 0) {
      const current = this.#byId.get(id);
      if (!current) throw new MissionNotFoundError(id);
      throw new InvalidTransitionError(id, current.status, to);
    }
    this.#appendEvent(now, id, `mission.${to}`, actor, data);
    return this.#load(id)!;
  }

  #appendEvent(at: string, missionId: string | null, type: string, actor: string, data: object | undefined): void {
    this.#insertEvent.run(at, missionId, type, actor, data === undefined ? null : JSON.stringify(data));
  }

  #load(id: string): Mission | undefined {
    const row = this.#byId.get(id);
    return row && toMission(row, this.#stepsOf.all(id).map(toStep));
  }
}
