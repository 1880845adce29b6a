// Site policy `charging: auto`: an AMR that is idle and below the battery reserve is sent to a
// charger by the gateway, as a mission of its own — a one-step `charge` plan checked against the
// floor like any other (so it drives the route its check planned, keeps to the schedule, and
// nothing moves without a passing check). A plan that passes is approved in the policy's name; one
// with warnings waits for an operator; one that fails is not tried again for a while.
import { committedWork } from '../../planners/commitments.ts';
import type { Plan } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { ApiError } from '../errors.ts';
import type { Mission } from '../store/missions.ts';
import type { Store } from '../store/index.ts';
import { commitmentsOf } from './commitments.ts';
import type { MissionLog, MissionService } from './service.ts';

/** Who submits and approves the charge missions (the mission's `createdBy` and `approvedBy`). */
export const AUTO_CHARGE_ACTOR = 'policy:charging-auto';
/** A robot whose charge mission did not run (check failed, or approval refused) is tried again after this long. */
export const AUTO_CHARGE_RETRY_MS = 5 * 60_000;
/** How often the floor is looked over for robots to charge. */
export const AUTO_CHARGE_SWEEP_MS = 10_000;

export interface AutoChargeDeps {
  site: LoadedSite;
  store: Store;
  fleet: FleetRegistry;
  missions: Pick<MissionService, 'submit' | 'approve'>;
  /** Is the device under a STOP? Nothing is sent to charge while it is. */
  stopped: (deviceId: string) => boolean;
  now: () => Date;
  log?: MissionLog;
}

/** What one look over the floor did, per robot it acted on. */
export interface ChargeDecision {
  device: string;
  missionId: string;
  /** `approved`: on its way; `awaiting_approval`: warnings, an operator decides; `rejected`: its check failed. */
  outcome: 'approved' | 'awaiting_approval' | 'rejected';
}

export class AutoCharge {
  /** Device → when its last charge mission that did not run was submitted (ms). */
  private readonly tried = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** A look under way: checks run off the event loop, and the next tick must not start another meanwhile. */
  private sweeping = false;

  constructor(private readonly deps: AutoChargeDeps) {}

  /** Look over the floor every `everyMs` until close(). */
  start(everyMs = AUTO_CHARGE_SWEEP_MS): void {
    this.timer ??= setInterval(() => {
      if (this.sweeping) return;
      this.sweeping = true;
      // A look that throws (the store closing under it) is logged; the next one tries again.
      this.sweep()
        .catch((err: unknown) => this.deps.log?.error({ err: (err as Error).message }, 'auto-charge: the look over the floor failed'))
        .finally(() => (this.sweeping = false));
    }, everyMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The robots that need a charger now (see `needsCharge`), by id. */
  candidates(): string[] {
    const { site, fleet } = this.deps;
    const reserve = site.index.site.policies.batteryReserve;
    const chargers = new Set(site.index.site.stations.filter((s) => s.kind === 'charger').map((s) => s.node));
    const busy = this.busyDevices();
    const now = this.deps.now().getTime();
    return site.index.site.devices
      .filter((d) => d.kind === 'amr')
      .map((d) => d.id)
      .filter((id) => {
        const state = fleet.get(id);
        if (!state?.online || state.soc === undefined || state.soc >= reserve) return false;
        if (state.at !== undefined && chargers.has(state.at)) return false;
        if (busy.has(id) || this.deps.stopped(id)) return false;
        const last = this.tried.get(id);
        return last === undefined || now - last >= AUTO_CHARGE_RETRY_MS;
      })
      .sort();
  }

  /** Send every robot that needs it to a charger; what was done, per robot. */
  async sweep(): Promise<ChargeDecision[]> {
    const out: ChargeDecision[] = [];
    for (const device of this.candidates()) out.push(await this.send(device));
    return out;
  }

  private async send(device: string): Promise<ChargeDecision> {
    const soc = this.deps.fleet.get(device)?.soc ?? 0;
    const reserve = this.deps.site.index.site.policies.batteryReserve;
    const plan: Plan = {
      schema: 'phygate.plan/v1',
      name: `charge ${device}`,
      goal: `${device} is idle at ${(soc * 100).toFixed(0)} % charge, below the reserve of ${(reserve * 100).toFixed(0)} %: charge it (site policy charging: auto)`,
      requester: { agent: 'phygate', model: AUTO_CHARGE_ACTOR },
      priority: 5,
      steps: [{ id: 'charge', action: 'charge', device, params: {} }],
    };
    const { mission } = await this.deps.missions.submit(plan, AUTO_CHARGE_ACTOR);
    const report = mission.report as CheckReport;
    const log = { missionId: mission.id, device, soc, verdict: report.verdict };
    if (mission.status === 'rejected') {
      this.tried.set(device, this.deps.now().getTime());
      const errors = report.issues.filter((i) => i.severity === 'error').map((i) => `${i.code}: ${i.message}`);
      this.deps.log?.warn({ ...log, errors }, `auto-charge: ${device} cannot be sent to a charger; tried again in ${AUTO_CHARGE_RETRY_MS / 60_000} min`);
      return { device, missionId: mission.id, outcome: 'rejected' };
    }
    if (mission.status === 'awaiting_approval' && report.verdict === 'pass') return this.approve(device, mission, log);
    if (mission.status === 'awaiting_approval') {
      this.deps.log?.info(log, `auto-charge: ${device}'s charge mission has warnings and waits for an operator`);
      return { device, missionId: mission.id, outcome: 'awaiting_approval' };
    }
    this.deps.log?.info(log, `auto-charge: ${device} is sent to a charger`);
    return { device, missionId: mission.id, outcome: 'approved' };
  }

  private async approve(device: string, mission: Mission, log: object): Promise<ChargeDecision> {
    try {
      await this.deps.missions.approve(mission.id, mission.planHash, AUTO_CHARGE_ACTOR);
      this.deps.log?.info(log, `auto-charge: ${device} is sent to a charger`);
      return { device, missionId: mission.id, outcome: 'approved' };
    } catch (err) {
      // The floor changed between the check and the approval (REPORT_CHANGED, PLAN_REJECTED): the
      // mission waits for an operator like any other; the robot is tried again later.
      if (!(err instanceof ApiError)) throw err;
      this.tried.set(device, this.deps.now().getTime());
      this.deps.log?.warn({ ...log, code: err.code }, `auto-charge: ${device}'s charge mission was not approved (${err.message})`);
      return { device, missionId: mission.id, outcome: 'awaiting_approval' };
    }
  }

  /**
   * Devices a committed mission still has work for (its steps and the moves its check planned),
   * and robots whose charge mission waits for an operator.
   */
  private busyDevices(): Set<string> {
    const { site, store } = this.deps;
    const busy = new Set(committedWork(site.index, commitmentsOf(store)).busy.keys());
    for (const m of store.missions.all(['awaiting_approval'])) {
      if (m.plan.requester?.model === AUTO_CHARGE_ACTOR) for (const s of m.plan.steps) busy.add(s.device);
    }
    return busy;
  }
}
