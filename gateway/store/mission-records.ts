// What the mission store reads and writes: a mission and its steps as the rest of the gateway
// sees them, what comes with a transition, the store's errors, and how rows become records.
import type { MissionStatus, StepStatus } from '../../planners/mission.ts';
import type { Plan } from '../../planners/plan.ts';

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
  /** Whose the key is (a token's id): keys are looked up within their scope. */
  idempotencyScope?: string;
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

export interface MissionRow {
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

export interface StepRow {
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

export interface EventRow {
  seq: number;
  at: string;
  mission_id: string | null;
  type: string;
  actor: string;
  data: string | null;
}

export const MISSION_COLUMNS =
  'id, status, name, plan, plan_hash, world_hash, report, priority, created_at, updated_at, created_by, idempotency_key, approved_by, approved_at, reason, reason_step, ended_at';
export const STEP_COLUMNS = 'mission_id, step_id, action, device, status, dispatched_to, started_at, ended_at, reason';

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

export function toMission(row: MissionRow, steps: MissionStep[]): Mission {
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
  if (row.idempotency_key !== null) mission.idempotencyKey = unscopedKey(row.idempotency_key);
  return mission;
}

export function toStep(row: StepRow): MissionStep {
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

/**
 * The stored form of an idempotency key: `<scope>\n<key>`, so the column's UNIQUE holds per
 * scope. A header value cannot hold a line feed, so scope and key cannot run into each other;
 * keys stored before scopes existed have none and are read as they are.
 */
export function scopedKey(key: string, scope: string | undefined): string {
  return scope === undefined ? key : `${scope}\n${key}`;
}

export function unscopedKey(stored: string): string {
  return stored.slice(stored.indexOf('\n') + 1);
}
