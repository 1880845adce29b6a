// Traffic at run time, persisted (gateway/execution/traffic.ts decides; this file only keeps):
// which device holds which node (never two devices one node: the node is the table's key), the
// route each AMR drives and how far it is reached and granted, and the checked schedule's order of
// node entries. A restarted gateway takes all three over as they were.
import type { Database } from './database.ts';

export interface TrafficPath {
  device: string;
  missionId: string;
  stepId: string;
  /** The work (order) that drives it, once prepared. */
  workId?: string;
  nodes: string[];
  /** Index of the node the AMR last reached. */
  reached: number;
  /** Index of the last node it may drive to (the end of its base). */
  granted: number;
  /** The last order update sent for the work (0: the order itself). */
  updateId: number;
}

/** One node entry of the checked schedule, in order (`seq`). */
export interface ScheduledPass {
  seq: number;
  node: string;
  device: string;
  missionId: string;
  stepId: string;
}

interface PathRow {
  device: string;
  mission_id: string;
  step_id: string;
  work_id: string | null;
  nodes: string;
  reached: number;
  granted: number;
  update_id: number;
}

export class TrafficStore {
  readonly #holds;
  readonly #dropHolds;
  readonly #hold;
  readonly #paths;
  readonly #putPath;
  readonly #dropPath;
  readonly #schedule;
  readonly #clearSchedule;
  readonly #addPass;
  readonly #dropPass;
  readonly #setHolds;
  readonly #replaceSchedule;

  constructor(db: Database) {
    this.#holds = db.prepare<[], { node: string; device: string }>('SELECT node, device FROM traffic_holds ORDER BY device, rowid');
    this.#dropHolds = db.prepare<[string]>('DELETE FROM traffic_holds WHERE device = ?');
    this.#hold = db.prepare<[string, string, string]>('INSERT INTO traffic_holds (node, device, since) VALUES (?, ?, ?)');
    this.#paths = db.prepare<[], PathRow>('SELECT device, mission_id, step_id, work_id, nodes, reached, granted, update_id FROM traffic_paths ORDER BY device');
    this.#putPath = db.prepare<[PathRow]>(
      `INSERT INTO traffic_paths (device, mission_id, step_id, work_id, nodes, reached, granted, update_id)
       VALUES (@device, @mission_id, @step_id, @work_id, @nodes, @reached, @granted, @update_id)
       ON CONFLICT (device) DO UPDATE SET mission_id = excluded.mission_id, step_id = excluded.step_id, work_id = excluded.work_id,
         nodes = excluded.nodes, reached = excluded.reached, granted = excluded.granted, update_id = excluded.update_id`,
    );
    this.#dropPath = db.prepare<[string]>('DELETE FROM traffic_paths WHERE device = ?');
    this.#schedule = db.prepare<[], { seq: number; node: string; device: string; mission_id: string; step_id: string }>(
      'SELECT seq, node, device, mission_id, step_id FROM traffic_schedule ORDER BY seq',
    );
    this.#clearSchedule = db.prepare('DELETE FROM traffic_schedule');
    this.#addPass = db.prepare<[number, string, string, string, string]>('INSERT INTO traffic_schedule (seq, node, device, mission_id, step_id) VALUES (?, ?, ?, ?, ?)');
    this.#dropPass = db.prepare<[number]>('DELETE FROM traffic_schedule WHERE seq = ?');
    this.#setHolds = db.transaction((device: string, nodes: readonly string[], since: string) => {
      this.#dropHolds.run(device);
      for (const n of nodes) this.#hold.run(n, device, since);
    });
    this.#replaceSchedule = db.transaction((passes: readonly ScheduledPass[]) => {
      this.#clearSchedule.run();
      for (const p of passes) this.#addPass.run(p.seq, p.node, p.device, p.missionId, p.stepId);
    });
  }

  /** Node → the device holding it. */
  holds(): Map<string, string> {
    return new Map(this.#holds.all().map((r) => [r.node, r.device]));
  }

  /** The device holds exactly `nodes` from now. Throws (and changes nothing) if another device holds one of them. */
  setHolds(device: string, nodes: readonly string[], at: Date): void {
    this.#setHolds.immediate(device, nodes, at.toISOString());
  }

  paths(): TrafficPath[] {
    return this.#paths.all().map((r) => ({
      device: r.device,
      missionId: r.mission_id,
      stepId: r.step_id,
      ...(r.work_id === null ? {} : { workId: r.work_id }),
      nodes: JSON.parse(r.nodes) as string[],
      reached: r.reached,
      granted: r.granted,
      updateId: r.update_id,
    }));
  }

  putPath(p: TrafficPath): void {
    this.#putPath.run({
      device: p.device,
      mission_id: p.missionId,
      step_id: p.stepId,
      work_id: p.workId ?? null,
      nodes: JSON.stringify(p.nodes),
      reached: p.reached,
      granted: p.granted,
      update_id: p.updateId,
    });
  }

  dropPath(device: string): void {
    this.#dropPath.run(device);
  }

  schedule(): ScheduledPass[] {
    return this.#schedule.all().map((r) => ({ seq: r.seq, node: r.node, device: r.device, missionId: r.mission_id, stepId: r.step_id }));
  }

  replaceSchedule(passes: readonly ScheduledPass[]): void {
    this.#replaceSchedule.immediate(passes);
  }

  dropPasses(seqs: readonly number[]): void {
    for (const s of seqs) this.#dropPass.run(s);
  }
}
