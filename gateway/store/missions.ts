// Missions as stored: one row per mission, one per plan step, and an append-only event trail.
// Every change is a single transaction that also writes its event, so the trail never disagrees
// with the state.
import { isFinal, isStepFinal, statusesLeadingTo, stepStatusesLeadingTo, type MissionStatus, type StepStatus } from '../../planners/mission.ts';
import { canonicalJson, planHash, type Plan } from '../../planners/plan.ts';
import type { Database } from './database.ts';
import { newId } from './ids.ts';

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

export interface MissionStep {
  id: string;
  action: string;
  /** As written in the plan: a device id or a `$role`. */
  device: string;
  status: StepStatus;
  /** The device it was (last) dispatched to. */
  dispatchedTo: string | null;
  /** When it was first dispatched. */
  startedAt: string | null;
  /** When it succeeded, failed or was cancelled. */
  endedAt: string | null;
  /** Why it failed, was cancelled or is blocked. */
  reason: string | null;
}

export interface Mission {
  id: string;
  status: MissionStatus;
  name: string | null;
  plan: Plan;
  planHash: string;
  worldHash: string;
  report: unknown;
  priority: number;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
  approvedBy: string | null;
  approvedAt: string | null;
  /** Why it failed, was cancelled or is paused (`<status> by <actor>` when no reason was given). */
  reason: string | null;
  /** The step the reason is about, when there is one. */
  reasonStep: string | null;
  /** When it reached its final status. */
  endedAt: string | null;
  idempotencyKey?: string;
  steps: MissionStep[];
}

export interface NewMission {
  plan: Plan;
  planHash: string;
  worldHash: string;
  report: unknown;
  status: MissionStatus;
  idempotencyKey?: string;
  /** Hash of the whole request, to tell a retry from a different request reusing a key. */
  requestHash: string;
  actor: string;
  /** Who approved a mission stored as `approved` (default: POLICY_APPROVER). */
  approvedBy?: string;
}

export interface MissionQuery {
  status?: MissionStatus[];
  limit?: number;
  /** A mission id: return only missions created before it (the next page). */
  before?: string;
}

export interface MissionEvent {
  seq: number;
  at: string;
  missionId: string | null;
  type: string;
  actor: string;
  data: unknown;
}

export class IdempotencyConflictError extends Error {
  override readonly name = 'IdempotencyConflictError';
  constructor(
    readonly idempotencyKey: string,
    readonly missionId: string,
  ) {
    super(`idempotency key '${idempotencyKey}' was already used for a different request (mission ${missionId})`);
  }
}

export class MissionNotFoundError extends Error {
  override readonly name = 'MissionNotFoundError';
  constructor(readonly missionId: string) {
    super(`no mission ${missionId}`);
  }
}

export class InvalidStepTransitionError extends Error {
  override readonly name = 'InvalidStepTransitionError';
  constructor(
    readonly missionId: string,
    readonly stepId: string,
    readonly to: StepStatus,
  ) {
    super(`step '${stepId}' of mission ${missionId} cannot become ${to}`);
  }
}

export class InvalidTransitionError extends Error {
  override readonly name = 'InvalidTransitionError';
  constructor(
    readonly missionId: string,
    readonly from: MissionStatus,
    readonly to: MissionStatus,
  ) {
    super(`mission ${missionId} is ${from}; it cannot become ${to}`);
  }
}

interface MissionRow {
  id: string;
  status: MissionStatus;
  name: string | null;
  plan: string;
  plan_hash: string;
  world_hash: string;
  report: string;
  priority: number;
  created_at: string;
  updated_at: string;
  created_by: string;
  idempotency_key: string | null;
  approved_by: string | null;
  approved_at: string | null;
  reason: string | null;
  reason_step: string | null;
  ended_at: string | null;
}

interface StepRow {
  mission_id: string;
  step_id: string;
  action: string;
  device: string;
  status: StepStatus;
  dispatched_to: string | null;
  started_at: string | null;
  ended_at: string | null;
  reason: string | null;
}

interface EventRow {
  seq: number;
  at: string;
  mission_id: string | null;
  type: string;
  actor: string;
  data: string | null;
}

const MISSION_COLUMNS =
  'id, status, name, plan, plan_hash, world_hash, report, priority, created_at, updated_at, created_by, idempotency_key, approved_by, approved_at, reason, reason_step, ended_at';
const STEP_COLUMNS = 'mission_id, step_id, action, device, status, dispatched_to, started_at, ended_at, reason';

/**
 * What the executor passes with a step transition: `device` on `dispatched` (and `amr`, the AMR an
 * arm loads), `reason` on failed, cancelled and blocked. All of it goes into the event.
 */
export interface StepTransitionData {
  device?: string;
  amr?: string;
  reason?: string;
  [more: string]: unknown;
}

/** What comes with a mission transition: `reason` (and `step`) on failed, paused and cancelled. */
export interface MissionTransitionData {
  reason?: string;
  step?: string;
  [more: string]: unknown;
}

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

function toMission(row: MissionRow, steps: MissionStep[]): Mission {
  const mission: Mission = {
    id: row.id,
    status: row.status,
    name: row.name,
    plan: JSON.parse(row.plan) as Plan,
    planHash: row.plan_hash,
    worldHash: row.world_hash,
    report: JSON.parse(row.report) as unknown,
    priority: row.priority,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    createdBy: row.created_by,
    approvedBy: row.approved_by,
    approvedAt: row.approved_at,
    reason: row.reason,
    reasonStep: row.reason_step,
    endedAt: row.ended_at,
    steps,
  };
  if (row.idempotency_key !== null) mission.idempotencyKey = row.idempotency_key;
  return mission;
}

function toStep(row: StepRow): MissionStep {
  return {
    id: row.step_id,
    action: row.action,
    device: row.device,
    status: row.status,
    dispatchedTo: row.dispatched_to,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    reason: row.reason,
  };
}

export class MissionStore {
  readonly #insertMission;
  readonly #insertStep;
  readonly #insertEvent;
  readonly #byId;
  readonly #byIdempotencyKey;
  readonly #stepsOf;
  readonly #setStepStatus;
  readonly #stepTx;
  readonly #stepsOfMany;
  readonly #list;
  readonly #setStatus;
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
    this.#insertEvent = db.prepare<[string, string | null, string, string, string | null]>(
      'INSERT INTO events (at, mission_id, type, actor, data) VALUES (?, ?, ?, ?, ?)',
    );
    this.#byId = db.prepare<[string], MissionRow>(`SELECT ${MISSION_COLUMNS} FROM missions WHERE id = ?`);
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

  /**
   * Moves a mission to `to` if planners/mission.ts allows it from its current status, and records
   * the event `mission.<to>`. The status check is part of the UPDATE, so concurrent requests
   * cannot both succeed.
   */
  transition(id: string, to: MissionStatus, actor: string, data?: MissionTransitionData): Mission {
    return this.#transitionTx.immediate(id, to, actor, data);
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
    if (input.idempotencyKey !== undefined) {
      const prior = this.#byIdempotencyKey.get(input.idempotencyKey);
      if (prior) {
        if (prior.request_hash !== input.requestHash) {
          throw new IdempotencyConflictError(input.idempotencyKey, prior.id);
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
      idempotency_key: input.idempotencyKey ?? null,
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
    this.#appendEvent(now, id, 'mission.created', input.actor, { status: input.status, planHash: input.planHash });
    return { mission: this.#load(id)!, created: true };
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
