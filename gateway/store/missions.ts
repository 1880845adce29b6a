// Missions as stored: one row per mission, one per plan step, and an append-only event trail.
// Every change is a single transaction that also writes its event, so the trail never disagrees
// with the state.
import { statusesLeadingTo, stepStatusesLeadingTo, type MissionStatus, type StepStatus } from '../../planners/mission.ts';
import { canonicalJson, planHash, type Plan } from '../../planners/plan.ts';
import type { Database } from './database.ts';
import { newId } from './ids.ts';

export const LIST_LIMIT_DEFAULT = 50;
export const LIST_LIMIT_MAX = 500;
export const EVENTS_LIMIT_MAX = 500;

export interface MissionStep {
  id: string;
  action: string;
  /** As written in the plan: a device id or a `$role`. */
  device: string;
  status: StepStatus;
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
}

interface StepRow {
  mission_id: string;
  step_id: string;
  action: string;
  device: string;
  status: StepStatus;
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
  'id, status, name, plan, plan_hash, world_hash, report, priority, created_at, updated_at, created_by, idempotency_key';

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
    steps,
  };
  if (row.idempotency_key !== null) mission.idempotencyKey = row.idempotency_key;
  return mission;
}

function toStep(row: StepRow): MissionStep {
  return { id: row.step_id, action: row.action, device: row.device, status: row.status };
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
               @created_at, @updated_at, @created_by, @idempotency_key, @request_hash)`,
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
    this.#stepsOf = db.prepare<[string], StepRow>(
      'SELECT mission_id, step_id, action, device, status FROM mission_steps WHERE mission_id = ? ORDER BY ordinal',
    );
    // Ids and statuses go in as one JSON array each, so a single prepared statement serves any count.
    this.#stepsOfMany = db.prepare<[string], StepRow>(
      `SELECT mission_id, step_id, action, device, status FROM mission_steps
       WHERE mission_id IN (SELECT value FROM json_each(?)) ORDER BY mission_id, ordinal`,
    );
    this.#list = db.prepare<[{ statuses: string | null; before: string | null; limit: number }], MissionRow>(
      `SELECT ${MISSION_COLUMNS} FROM missions
       WHERE (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
         AND (@before IS NULL OR id < @before)
       ORDER BY id DESC LIMIT @limit`,
    );
    this.#setStatus = db.prepare<[MissionStatus, string, string, string]>(
      `UPDATE missions SET status = ?, updated_at = ?
       WHERE id = ? AND status IN (SELECT value FROM json_each(?))`,
    );
    this.#events = db.prepare<[{ missionId: string | null; afterSeq: number; limit: number }], EventRow>(
      `SELECT seq, at, mission_id, type, actor, data FROM events
       WHERE seq > @afterSeq AND (@missionId IS NULL OR mission_id = @missionId)
       ORDER BY seq LIMIT @limit`,
    );
    this.#setStepStatus = db.prepare<[StepStatus, string, string, string]>(
      `UPDATE mission_steps SET status = ?
       WHERE mission_id = ? AND step_id = ? AND status IN (SELECT value FROM json_each(?))`,
    );
    this.#stepTx = db.transaction((id: string, stepId: string, to: StepStatus, actor: string, data?: object) => {
      const { changes } = this.#setStepStatus.run(to, id, stepId, JSON.stringify(stepStatusesLeadingTo(to)));
      if (changes === 0) throw new InvalidStepTransitionError(id, stepId, to);
      this.#appendEvent(new Date().toISOString(), id, `step.${to}`, actor, { step: stepId, ...data });
    });
    this.#createTx = db.transaction((input: NewMission) => this.#insert(input));
    this.#transitionTx = db.transaction((id: string, to: MissionStatus, actor: string, data?: object) =>
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
  transition(id: string, to: MissionStatus, actor: string, data?: object): Mission {
    return this.#transitionTx.immediate(id, to, actor, data);
  }

  /**
   * Moves one step to `to` if planners/mission.ts allows it from its current status, with the
   * event `step.<to>` in the same transaction (so a step can never run twice: a second
   * `dispatched` finds it no longer pending and throws InvalidStepTransitionError).
   */
  transitionStep(id: string, stepId: string, to: StepStatus, actor: string, data?: object): void {
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
      request_hash: input.requestHash,
    });
    input.plan.steps.forEach((step, ordinal) => {
      this.#insertStep.run(id, ordinal, step.id, step.action, step.device);
    });
    this.#appendEvent(now, id, 'mission.created', input.actor, { status: input.status, planHash: input.planHash });
    return { mission: this.#load(id)!, created: true };
  }

  #move(id: string, to: MissionStatus, actor: string, data: object | undefined): Mission {
    const now = new Date().toISOString();
    const { changes } = this.#setStatus.run(to, now, id, JSON.stringify(statusesLeadingTo(to)));
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
