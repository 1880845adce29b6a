// The fleet as the gateway knows it: one state per device of the site, updated by adapters.
// Devices start offline and unseen; only what a device reports (or the virtual fleet) changes that.
import type { DeviceState, FleetState } from '../planners/fleet.ts';
import type { SiteIndex } from '../planners/site.ts';
import { errorText, silentLog, type Log } from './log.ts';

export type DeviceListener = (state: DeviceState) => void;

export class FleetRegistry {
  private readonly states = new Map<string, DeviceState>();
  private readonly listeners = new Set<DeviceListener>();
  /** Devices the gateway does not use, and why: whatever they report, they stay offline. */
  private readonly withheld = new Map<string, string>();

  constructor(
    readonly site: SiteIndex,
    private readonly log: Log = silentLog,
  ) {
    for (const d of site.site.devices) this.states.set(d.id, { id: d.id, online: false, state: 'never connected' });
  }

  get(id: string): DeviceState | undefined {
    return this.states.get(id);
  }

  list(): DeviceState[] {
    return [...this.states.values()];
  }

  /** The state the plan check starts from. */
  snapshot(): FleetState {
    return new Map(this.states);
  }

  update(id: string, patch: Partial<Omit<DeviceState, 'id'>>): DeviceState {
    const current = this.states.get(id);
    if (!current) throw new Error(`unknown device '${id}'`);
    return this.set({ ...current, ...patch });
  }

  /**
   * Replaces a device's state with `next`, a new object the adapter built whole (states handed out
   * are never changed). For an adapter that reports many times a second: merging a patch, as
   * `update` does, costs several times more than an object literal.
   */
  set(next: DeviceState): DeviceState {
    if (!this.states.has(next.id)) throw new Error(`unknown device '${next.id}'`);
    const why = this.withheld.get(next.id);
    if (why !== undefined) next = { ...next, online: false, unavailable: why };
    this.states.set(next.id, next);
    // One listener's bug must not keep the others from hearing the update.
    for (const l of this.listeners) {
      try {
        l(next);
      } catch (err) {
        this.log.error({ device: next.id, err: errorText(err) }, 'a fleet listener threw');
      }
    }
    return next;
  }

  /**
   * Takes a device out of use for good (this process): it reads as offline, with `unavailable`
   * saying why, whatever it reports, so no check passes with it and no work goes to it.
   */
  withhold(id: string, why: string): void {
    if (!this.states.has(id)) throw new Error(`unknown device '${id}'`);
    this.withheld.set(id, why);
    this.update(id, {});
  }

  onChange(listener: DeviceListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
