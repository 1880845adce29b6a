// The command outbox: each work a step sends (a VDA 5050 order, a machine command, a ROS 2 goal), stored with the exact
// message and its expiry before it is published (in the transaction that marks the step
// dispatched), and settled with the step's outcome. What is still open after a crash is what a
// restarted gateway must reconcile with the devices: nothing is sent twice by accident, nothing
// past its expiry is sent at all.
import type { WorkChannel } from '../../robots/device-port.ts';
import type { Database } from './database.ts';

/** The channel of a device port's work (robots/device-port.ts). */
export type OutboxChannel = WorkChannel;
/** How an entry ended: its step's outcome, interrupted by a STOP, expired unsent, or left behind by a mission that ended. */
export type OutboxOutcome = 'succeeded' | 'failed' | 'cancelled' | 'stopped' | 'expired' | 'abandoned';

export interface OutboxEntry {
  /** The VDA 5050 orderId or the machine commandId. */
  id: string;
  missionId: string;
  stepId: string;
  device: string;
  channel: OutboxChannel;
  /** The message exactly as it is published. */
  message: Record<string, unknown>;
  createdAt: string;
  /** After this instant it is never sent (again). */
  expiresAt: string;
  /** When the broker first confirmed it; null while it never got out. */
  publishedAt: string | null;
  /** How many times it was handed to the broker. */
  sends: number;
  settledAt: string | null;
  outcome: OutboxOutcome | null;
}

export type NewOutboxEntry = Pick<OutboxEntry, 'id' | 'missionId' | 'stepId' | 'device' | 'channel' | 'message' | 'expiresAt'> & { at: Date };

interface OutboxRow {
  id: string;
  mission_id: string;
  step_id: string;
  device: string;
  channel: OutboxChannel;
  message: string;
  created_at: string;
  expires_at: string;
  published_at: string | null;
  sends: number;
  settled_at: string | null;
  outcome: OutboxOutcome | null;
}

const COLUMNS = 'id, mission_id, step_id, device, channel, message, created_at, expires_at, published_at, sends, settled_at, outcome';

function toEntry(r: OutboxRow): OutboxEntry {
  return {
    id: r.id,
    missionId: r.mission_id,
    stepId: r.step_id,
    device: r.device,
    channel: r.channel,
    message: JSON.parse(r.message) as Record<string, unknown>,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    publishedAt: r.published_at,
    sends: r.sends,
    settledAt: r.settled_at,
    outcome: r.outcome,
  };
}

export class OutboxStore {
  readonly #insert;
  readonly #published;
  readonly #settle;
  readonly #get;
  readonly #open;
  readonly #ofStep;
  readonly #countOfStep;
  readonly #revise;

  constructor(db: Database) {
    this.#insert = db.prepare<[Pick<OutboxRow, 'id' | 'mission_id' | 'step_id' | 'device' | 'channel' | 'message' | 'created_at' | 'expires_at'>]>(
      `INSERT INTO outbox (id, mission_id, step_id, device, channel, message, created_at, expires_at)
       VALUES (@id, @mission_id, @step_id, @device, @channel, @message, @created_at, @expires_at)`,
    );
    this.#published = db.prepare<[string, string]>('UPDATE outbox SET published_at = coalesce(published_at, ?), sends = sends + 1 WHERE id = ?');
    this.#settle = db.prepare<[string, OutboxOutcome, string]>('UPDATE outbox SET settled_at = ?, outcome = ? WHERE id = ? AND settled_at IS NULL');
    this.#get = db.prepare<[string], OutboxRow>(`SELECT ${COLUMNS} FROM outbox WHERE id = ?`);
    this.#open = db.prepare<[], OutboxRow>(`SELECT ${COLUMNS} FROM outbox WHERE settled_at IS NULL ORDER BY created_at, id`);
    this.#ofStep = db.prepare<[string, string], OutboxRow>(`SELECT ${COLUMNS} FROM outbox WHERE mission_id = ? AND step_id = ? ORDER BY created_at, rowid`);
    this.#countOfStep = db.prepare<[string, string], number>('SELECT count(*) FROM outbox WHERE mission_id = ? AND step_id = ?').pluck();
    this.#revise = db.prepare<[string, string]>('UPDATE outbox SET message = ? WHERE id = ? AND settled_at IS NULL');
  }

  /** The work's latest message (a VDA 5050 order update): what is sent again, and taken over after a restart. */
  revise(id: string, message: Record<string, unknown>): boolean {
    return this.#revise.run(JSON.stringify(message), id).changes === 1;
  }

  /** Call inside the transaction that dispatches the step. */
  add(e: NewOutboxEntry): void {
    this.#insert.run({
      id: e.id,
      mission_id: e.missionId,
      step_id: e.stepId,
      device: e.device,
      channel: e.channel,
      message: JSON.stringify(e.message),
      created_at: e.at.toISOString(),
      expires_at: e.expiresAt,
    });
  }

  /** The broker confirmed one more send. */
  published(id: string, at: Date): void {
    this.#published.run(at.toISOString(), id);
  }

  /** Ends an open entry; an entry already settled keeps its first outcome. Returns whether it was open. */
  settle(id: string, outcome: OutboxOutcome, at: Date): boolean {
    return this.#settle.run(at.toISOString(), outcome, id).changes === 1;
  }

  get(id: string): OutboxEntry | undefined {
    const r = this.#get.get(id);
    return r ? toEntry(r) : undefined;
  }

  /** Entries not yet settled, oldest first. */
  open(): OutboxEntry[] {
    return this.#open.all().map(toEntry);
  }

  /** How many entries the step has. */
  countOfStep(missionId: string, stepId: string): number {
    return this.#countOfStep.get(missionId, stepId)!;
  }

  /** Every entry of one step, oldest first (a step a STOP interrupted has more than one). */
  ofStep(missionId: string, stepId: string): OutboxEntry[] {
    return this.#ofStep.all(missionId, stepId).map(toEntry);
  }
}
