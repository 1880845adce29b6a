// Rehearsals as stored: a mission's plan run on a simulated fleet before the real one
// (gateway/rehearsal/). A row is written when a rehearsal starts and completed when it ends; a
// rehearsal still `running` when the gateway starts again was cut off by the restart, and is
// marked failed then, so none stays running for ever.
import type { Database } from './database.ts';
import { newId } from './ids.ts';

export type RehearsalStatus = 'running' | 'succeeded' | 'failed';

/** A problem the rehearsal found: robots too close, a step that failed, a run much slower than checked. */
export interface RehearsalProblem {
  code: string;
  severity: 'error' | 'warning';
  message: string;
  robots?: string[];
  at?: { x: number; y: number };
  near?: string;
  step?: string;
}

/** The closest two robots came (sim/separation.ts Approach). */
export interface RehearsalSeparation {
  robots: [string, string];
  distanceM: number;
  gapM: number;
  at: { x: number; y: number };
  near: string;
  tS: number;
}

export interface RehearsalResult {
  /** The fleet it ran on: the virtual fleet in a world of its own, or the Gazebo fleet over ROS 2 (PHYGATE_REHEARSAL_FLEET). */
  fleet: 'virtual' | 'gazebo';
  /** How many times faster than real time it ran. */
  speed: number;
  /** How the mission ended on the rehearsal fleet (`timed_out`: cut off; `not_started`: its approval there was refused). */
  outcome: 'succeeded' | 'failed' | 'cancelled' | 'timed_out' | 'not_started';
  /** The mission's reason there, when it did not succeed. */
  reason: string | null;
  /** Simulated seconds from approval to the mission's end in which something was at work (gateway/rehearsal/floor-clock.ts). */
  makespanS: number | null;
  /** The check's makespan for the plan, to compare with. */
  checkMakespanS: number;
  /** The closest any two robots came; null with fewer than two robots. */
  minSeparation: RehearsalSeparation | null;
  problems: RehearsalProblem[];
}

export interface RehearsalRecord {
  id: string;
  missionId: string;
  planHash: string;
  status: RehearsalStatus;
  requestedBy: string;
  startedAt: string;
  endedAt: string | null;
  result: RehearsalResult | null;
}

interface Row {
  id: string;
  mission_id: string;
  plan_hash: string;
  status: RehearsalStatus;
  requested_by: string;
  started_at: string;
  ended_at: string | null;
  result: string | null;
}

const toRecord = (r: Row): RehearsalRecord => ({
  id: r.id,
  missionId: r.mission_id,
  planHash: r.plan_hash,
  status: r.status,
  requestedBy: r.requested_by,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  result: r.result === null ? null : (JSON.parse(r.result) as RehearsalResult),
});

export class RehearsalStore {
  readonly #insert;
  readonly #finish;
  readonly #latest;
  readonly #passed;
  readonly #running;
  readonly #get;

  constructor(db: Database) {
    this.#insert = db.prepare<[string, string, string, string, string]>(
      `INSERT INTO rehearsals (id, mission_id, plan_hash, status, requested_by, started_at) VALUES (?, ?, ?, 'running', ?, ?)`,
    );
    this.#finish = db.prepare<[RehearsalStatus, string, string, string]>(`UPDATE rehearsals SET status = ?, ended_at = ?, result = ? WHERE id = ? AND status = 'running'`);
    this.#latest = db.prepare<[string], Row>(`SELECT * FROM rehearsals WHERE mission_id = ? ORDER BY id DESC LIMIT 1`);
    this.#passed = db.prepare<[string, string], { id: string }>(`SELECT id FROM rehearsals WHERE mission_id = ? AND plan_hash = ? AND status = 'succeeded' LIMIT 1`);
    this.#running = db.prepare<[], Row>(`SELECT * FROM rehearsals WHERE status = 'running'`);
    this.#get = db.prepare<[string], Row>(`SELECT * FROM rehearsals WHERE id = ?`);
  }

  start(missionId: string, planHash: string, actor: string, at: Date = new Date()): RehearsalRecord {
    const id = newId('rh_');
    this.#insert.run(id, missionId, planHash, actor, at.toISOString());
    return this.get(id)!;
  }

  get(id: string): RehearsalRecord | undefined {
    const row = this.#get.get(id);
    return row ? toRecord(row) : undefined;
  }

  /** Completes a running rehearsal; one that is not running any more is left as it is. */
  finish(id: string, status: Exclude<RehearsalStatus, 'running'>, result: RehearsalResult, at: Date = new Date()): RehearsalRecord {
    this.#finish.run(status, at.toISOString(), JSON.stringify(result), id);
    return this.get(id)!;
  }

  /** The mission's newest rehearsal, whatever its plan hash. */
  latest(missionId: string): RehearsalRecord | undefined {
    const row = this.#latest.get(missionId);
    return row ? toRecord(row) : undefined;
  }

  /** Whether the mission's plan of this hash has rehearsed with success. */
  passed(missionId: string, planHash: string): boolean {
    return this.#passed.get(missionId, planHash) !== undefined;
  }

  running(): RehearsalRecord[] {
    return this.#running.all().map(toRecord);
  }
}
