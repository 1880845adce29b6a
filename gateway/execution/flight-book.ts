// Where the executor finds its flights: by mission and step, by the work on a device (a step
// signal names the work), and by the devices they reserve; and which missions wait for a device,
// so a device coming free or online wakes those missions and no other.
import type { Work } from '../../robots/device-port.ts';
import type { Flight } from './flight.ts';

export class FlightBook {
  private readonly byMission = new Map<string, Map<string, Flight>>();
  private readonly works = new Map<string, Flight>();
  private readonly holders = new Map<string, Flight>();
  private readonly waiting = new Map<string, Set<string>>();

  /** Files the flight and reserves its devices. */
  add(f: Flight): void {
    let steps = this.byMission.get(f.missionId);
    if (!steps) this.byMission.set(f.missionId, (steps = new Map()));
    steps.set(f.stepId, f);
    for (const d of f.devices) this.holders.set(d, f);
  }

  /** The work the flight has on its device now (none: it has none). */
  bind(f: Flight, work: Work | undefined): void {
    if (f.work && this.works.get(f.work.id) === f) this.works.delete(f.work.id);
    f.work = work;
    if (work) this.works.set(work.id, f);
  }

  get(missionId: string, stepId: string): Flight | undefined {
    return this.byMission.get(missionId)?.get(stepId);
  }

  byWork(workId: string): Flight | undefined {
    return this.works.get(workId);
  }

  /** The flight that reserves the device. */
  holder(device: string): Flight | undefined {
    return this.holders.get(device);
  }

  ofMission(missionId: string): Flight[] {
    return [...(this.byMission.get(missionId)?.values() ?? [])];
  }

  all(): Flight[] {
    return [...this.byMission.values()].flatMap((steps) => [...steps.values()]);
  }

  /** Forgets the flight and frees its devices; returns the missions that waited for them. */
  remove(f: Flight): string[] {
    const steps = this.byMission.get(f.missionId);
    if (steps?.get(f.stepId) === f) steps.delete(f.stepId);
    if (steps?.size === 0) this.byMission.delete(f.missionId);
    if (f.work && this.works.get(f.work.id) === f) this.works.delete(f.work.id);
    const woken = new Set<string>();
    for (const d of f.devices) {
      if (this.holders.get(d) !== f) continue;
      this.holders.delete(d);
      for (const id of this.wake(d)) woken.add(id);
    }
    return [...woken];
  }

  /** The mission has a step ready but for this device. */
  waitFor(device: string, missionId: string): void {
    let missions = this.waiting.get(device);
    if (!missions) this.waiting.set(device, (missions = new Set()));
    missions.add(missionId);
  }

  /** The missions that waited for the device (no longer waiting). */
  wake(device: string): string[] {
    const missions = this.waiting.get(device);
    this.waiting.delete(device);
    return missions ? [...missions] : [];
  }

  wakeAll(): string[] {
    const all = new Set([...this.waiting.values()].flatMap((s) => [...s]));
    this.waiting.clear();
    return [...all];
  }
}
