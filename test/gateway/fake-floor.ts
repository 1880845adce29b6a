// A shop floor on fake time for the executor's own tests: the real executor, mission service and
// SQLite store, the demo site with its fleet parked at home, stand-in device ports
// (stand-in-ports.ts) and a stand-in STOP latch. Nothing happens until a test moves the clock or
// delivers a step signal, so every test is deterministic and none sleeps.
import { rmSync } from 'node:fs';
import type { Test } from 'tap';
import { Executor, type ExecutorDeps } from '../../gateway/executor.ts';
import { MissionService } from '../../gateway/missions/service.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import type { StopRecord } from '../../gateway/store/stops.ts';
import type { PlanInput } from '../../planners/plan.ts';
import { PlanSchema } from '../../planners/plan.ts';
import type { Work } from '../../robots/device-port.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { parkFleetAtHome } from '../../sim/parked-fleet.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { DEMO_SITE_DIR, FIXED_NOW, tempDir } from './harness.ts';
import { standInPorts, type StandInPort } from './stand-in-ports.ts';

export const site = loadSiteFolder(DEMO_SITE_DIR);

/** A STOP latch as the executor sees it (gateway/stop.ts is tested on its own). */
export class StandInStops {
  active: StopRecord[] = [];
  private readonly stopListeners = new Set<(s: StopRecord) => void>();
  private readonly releaseListeners = new Set<(r: StopRecord[]) => void>();
  stopFor = (device: string) => this.active.find((s) => s.scope === 'all' || s.devices.includes(device));
  onStop = (l: (s: StopRecord) => void) => (this.stopListeners.add(l), () => this.stopListeners.delete(l));
  onRelease = (l: (r: StopRecord[]) => void) => (this.releaseListeners.add(l), () => this.releaseListeners.delete(l));

  press(scope = 'all', devices: string[] = site.index.site.devices.map((d) => d.id)): StopRecord {
    const s: StopRecord = { id: `stop_${this.active.length + 1}`, scope, reason: 'test', devices, createdBy: 'tester', createdAt: '', releasedBy: null, releasedAt: null, releaseNote: null };
    this.active.push(s);
    for (const l of this.stopListeners) l(s);
    return s;
  }

  release(): void {
    const released = this.active;
    this.active = [];
    for (const l of this.releaseListeners) l(released);
  }
}

export interface Gateway {
  executor: Executor;
  service: MissionService;
  vda5050: StandInPort;
  machine: StandInPort;
  ros2: StandInPort;
}

export interface FakeFloor {
  store: Store;
  fleet: FleetRegistry;
  stops: StandInStops;
  clock: FakeClock;
  /** The gateway now running. */
  gw: Gateway;
  /** A gateway start: a new executor, service and ports on the same store; the previous one is closed (as a crash leaves it). */
  restart(opts?: Partial<ExecutorDeps>): Gateway;
  /** Submits and approves a plan; returns the mission id. */
  approve(plan: PlanInput): Promise<string>;
  status(missionId: string): string;
  stepStatus(missionId: string, step: string): string;
  /** The event types of the mission, in order. */
  events(missionId: string): { type: string; data: Record<string, unknown> }[];
  /** The one work sent for a step (throws when there is not exactly one). */
  work(port: StandInPort, step: string, missionId?: string): Work;
}

export function fakeFloor(t: Pick<Test, 'teardown'>, opts: Partial<ExecutorDeps> = {}): FakeFloor {
  const dir = tempDir();
  const store = openStore(dir);
  const fleet = new FleetRegistry(site.index);
  parkFleetAtHome(fleet, FIXED_NOW());
  const stops = new StandInStops();
  const clock = new FakeClock();
  const boot = (more: Partial<ExecutorDeps> = {}): Gateway => {
    const { vda5050, machine, ros2, ports } = standInPorts(site, () => clock.now());
    const executor = new Executor({ store, site, fleet, ports, stops, clock, resendMs: 2_000, ...opts, ...more });
    return { executor, service: new MissionService({ site, store, fleet, now: FIXED_NOW, runner: executor }), vda5050, machine, ros2 };
  };
  const floor: FakeFloor = {
    store,
    fleet,
    stops,
    clock,
    gw: boot(),
    restart(more) {
      floor.gw.executor.close();
      floor.gw = boot(more);
      return floor.gw;
    },
    async approve(plan) {
      const { mission } = await floor.gw.service.submit(PlanSchema.parse(plan), 'agent');
      if (mission.status !== 'awaiting_approval') throw new Error(`the plan did not pass its check: ${JSON.stringify(mission.report)}`);
      await floor.gw.service.approve(mission.id, mission.planHash, 'operator');
      return mission.id;
    },
    status: (id) => store.missions.get(id)!.status,
    stepStatus: (id, step) => store.missions.get(id)!.steps.find((s) => s.id === step)!.status,
    events: (id) => store.missions.events(id).map((e) => ({ type: e.type, data: (e.data ?? {}) as Record<string, unknown> })),
    work(port, step, missionId) {
      const works = port.works().filter((w) => (w.message as { step?: string }).step === step && (missionId === undefined || w.id.startsWith(`${missionId}.`)));
      if (works.length !== 1) throw new Error(`${works.length} works sent for step '${step}': ${works.map((w) => w.id).join(', ')}`);
      return works[0]!;
    },
  };
  t.teardown(() => {
    floor.gw.executor.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return floor;
}

/** One AMR driving to a station. */
export function drivePlan(amr: string, to: string, timeoutS?: number, name = `${amr}-to-${to}`): PlanInput {
  return { schema: 'phygate.plan/v1', name, steps: [{ id: 'go', action: 'navigate', device: amr, params: { to }, ...(timeoutS ? { timeoutS } : {}) }] };
}
