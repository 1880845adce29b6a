// The rest of the gateway around phygate's master, for the missions benchmark
// (test/bench/missions.ts): an IngestSetup (test/bench/state-ingestor.ts) that runs in the
// measured process next to connectMqtt + FleetRegistry + Vda5050Master, wired as gateway/main.ts
// wires it, without the HTTP server and the virtual fleet: the machine protocol's master, the
// device ports (VDA 5050, machine protocol), the live event hub with the fleet stream the SSE route
// sends (one subscriber formatting each event as that route does, a tablet watching), STOP, the
// executor on a real SQLite store in a temp folder, and the mission use cases.
//
// The module's URL says how many missions to run: `gateway-setup.ts?missions=100`. Each is a plan
// of one `navigate` step for its own AMR (every `AMR_STRIDE`-th of the site) to one of the demo's
// stations, submitted through MissionService as the API does it (each is checked in simulation
// against the fleet as the master has it), then approved in the store and started as the approve
// route does, without its second check: the bench's floor is the demo hall with 1,000 clones of
// amr-1 all standing at dock-a, and a hundred of them driving to ten stations cannot all pass a
// check that knows the other missions (the tenth AMR sent to shelf-1 finds nine parked there).
// What is measured is the running executor, not the checks. The setup returns once every mission
// runs with its step `running`: the vehicles took the orders (state-publisher.ts with `orders`).
// Undoing it cancels the missions (the vehicles get cancelOrder) and waits until the vehicles'
// states show no order left, so the next case starts from idle vehicles.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { EventHub, type GatewayEvent } from '../../gateway/events.ts';
import { Executor } from '../../gateway/executor.ts';
import { MissionService } from '../../gateway/missions/service.ts';
import { streamFleet } from '../../gateway/routes/events.ts';
import { StopService } from '../../gateway/stop.ts';
import { openStore } from '../../gateway/store/index.ts';
import type { Mission } from '../../gateway/store/missions.ts';
import { PlanSchema, type Plan } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import { buildNavGraph } from '../../planners/route.ts';
import { DevicePorts } from '../../robots/device-port.ts';
import { MachineMaster } from '../../robots/machine/master.ts';
import { MachinePort } from '../../robots/machine/port.ts';
import { machineSubscription } from '../../robots/machine/topics.ts';
import { hasActiveOrder } from '../../robots/vda5050/progress.ts';
import { Vda5050Port } from '../../robots/vda5050/port.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { demoSite } from './generate.ts';
import type { IngestSetup, SetupRun, SideHandles } from './state-ingestor.ts';

/** The demo's stations an AMR can reach from dock-a whose check passes (printer-1: a warning, the walkway's speed limit). */
export const STATIONS = ['shelf-1', 'shelf-2', 'shelf-3', 'dock-b', 'cnc-1', 'charger-1', 'charger-2', 'conveyor-1-in', 'conveyor-1-out', 'printer-1'];
/** Missions go to every 10th AMR: amr-0001, amr-0011, … */
export const AMR_STRIDE = 10;
const STEP = 'go';
const RUNNING_TIMEOUT_MS = 60_000;
/** Within the 5 s the bench gives a side to close. */
const CLEARED_TIMEOUT_MS = 4_000;

/** What the missions look like at one moment. */
export interface MissionsProbe {
  missions: Record<string, number>;
  steps: Record<string, number>;
  /** Missions whose AMR's last state shows the step's order, not yet done. */
  ordersOnVehicles: number;
  /** `mission` and `step` events on the hub since the previous probe. */
  events: { mission: number; step: number };
  /** Why missions failed (first few), if any did. */
  failures: string[];
  /** Bytes the stand-in tablet got on the fleet stream since the previous probe. */
  streamBytes: number;
  /** How long submitting (one check each) and approving (the store and the dispatch each) the missions took, s. */
  setupS: { submit: number; approve: number };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** How far behind the vehicles' states the gateway may be before the next mission is submitted. */
const CAUGHT_UP_MS = 250;
const CATCH_UP_TIMEOUT_MS = 30_000;
const SUBACK_TIMEOUT_MS = 5_000;
const SUBSCRIBE_ATTEMPTS = 3;
const UNSUBSCRIBE_WAIT_MS = 1_000;

/**
 * Resolves once the master handles a state less than CAUGHT_UP_MS old, or after
 * CATCH_UP_TIMEOUT_MS all the same (a machine too busy to keep up shows in the figures).
 */
function caughtUp(side: Extract<SideHandles, { kind: 'phygate' }>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off();
      resolve();
    };
    const timer = setTimeout(done, CATCH_UP_TIMEOUT_MS);
    const off = side.fleet.onChange((d) => {
      const state = side.master.lastState(d.id);
      if (state && Date.now() - Date.parse(state.timestamp) <= CAUGHT_UP_MS) done();
    });
  });
}

/** Resolves once the master has heard from every AMR of the site: a check refuses an AMR not heard from yet (DEVICE_OFFLINE). */
async function allOnline(side: Extract<SideHandles, { kind: 'phygate' }>): Promise<void> {
  const amrs = side.site.devicesOfKind('amr').map((a) => a.id);
  const deadline = Date.now() + CATCH_UP_TIMEOUT_MS;
  for (;;) {
    const silent = amrs.filter((id) => side.fleet.get(id)?.online !== true);
    if (!silent.length) return;
    if (Date.now() > deadline) throw new Error(`${silent.length} AMRs not heard from ${CATCH_UP_TIMEOUT_MS / 1000} s after the start (${silent.slice(0, 3).join(', ')}…)`);
    await sleep(50);
  }
}

/**
 * Starts the machine master once the gateway has caught up with the states. Mosquitto (2.0)
 * drops any packet to a client whose queue holds `max_queued_messages`, a SUBACK too, and a
 * gateway that subscribes while still behind the 10,000 states a second that flooded in when
 * the VDA 5050 master subscribed may never hear back: so the subscription is sent again if
 * the broker does not answer in time (subscribing twice to the same topics changes nothing).
 */
async function subscribed(side: Extract<SideHandles, { kind: 'phygate' }>, machines: MachineMaster): Promise<void> {
  await caughtUp(side);
  let answered = machines.start();
  for (let attempt = 1; ; attempt++) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), SUBACK_TIMEOUT_MS)));
    const outcome = await Promise.race([answered.then(() => 'answered' as const), late]).finally(() => clearTimeout(timer));
    if (outcome === 'answered') return;
    if (attempt === SUBSCRIBE_ATTEMPTS) throw new Error(`the broker did not answer the machine master's subscription ${SUBSCRIBE_ATTEMPTS} times in ${SUBACK_TIMEOUT_MS / 1000} s`);
    await caughtUp(side);
    const siteId = side.site.site.id;
    answered = side.client.subscribeAsync([machineSubscription(siteId, 'connection'), machineSubscription(siteId, 'state')], { qos: 1 }).then(() => undefined);
  }
}

/** A plan of one step: the AMR drives to the station. */
export function navigatePlan(amr: string, to: string, k: number): Plan {
  return PlanSchema.parse({ schema: 'phygate.plan/v1', name: `bench-${k}`, goal: `${amr} to ${to}`, steps: [{ id: STEP, action: 'navigate', device: amr, params: { to } }] });
}

/** The gateway around the side, running `count` missions. */
export const gatewayWith = (count: number): IngestSetup => async (side: SideHandles): Promise<SetupRun> => {
  if (side.kind !== 'phygate') throw new Error(`the gateway setup runs next to phygate's master, not ${side.kind}`);
  const { client, fleet, master } = side;
  const demo = demoSite();
  // The measured side's site (the demo hall with its AMRs replaced by the bench's fleet); same world, same graph.
  const site: LoadedSite = { ...demo, index: side.site, graph: buildNavGraph(side.site.site) };
  const amrs = side.site.devicesOfKind('amr').map((a) => a.id);
  if (count * AMR_STRIDE > amrs.length) throw new Error(`${count} missions need ${count * AMR_STRIDE} AMRs; the site has ${amrs.length}`);

  const undo: (() => Promise<void> | void)[] = [];
  const undoAll = async () => {
    for (const f of undo.splice(0).reverse()) await f();
  };
  try {
    const dir = mkdtempSync(join(os.tmpdir(), 'phygate-bench-gateway-'));
    undo.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = openStore(dir);
    undo.push(() => store.close());
    const machines = new MachineMaster({ client, site: side.site, siteId: side.site.site.id, fleet });
    // Its UNSUBACK may be dropped like a SUBACK (see subscribed): the connection closes after anyway.
    undo.push(() => Promise.race([machines.stop(), sleep(UNSUBSCRIBE_WAIT_MS)]));
    await subscribed(side, machines);
    await allOnline(side);
    const vdaPort = new Vda5050Port(master, fleet);
    const machinePort = new MachinePort(machines, fleet, side.site);
    undo.push(
      () => vdaPort.close(),
      () => machinePort.close(),
    );
    const ports = new DevicePorts(side.site, { vda5050: vdaPort, machine: machinePort });
    const hub = new EventHub();
    undo.push(() => hub.close());
    undo.push(streamFleet(site, fleet, hub));
    // A tablet on GET /v1/events: each event formatted as the route writes it.
    let streamBytes = 0;
    const events = { mission: 0, step: 0 };
    const failures: string[] = [];
    undo.push(
      hub.subscribe((e: GatewayEvent) => {
        streamBytes += `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`.length;
        if (e.type === 'mission' || e.type === 'step') events[e.type]++;
        const data = e.data as { status?: string; reason?: string; id?: string };
        if (e.type === 'mission' && data.status === 'failed' && failures.length < 5) failures.push(`${data.id}: ${data.reason}`);
      }),
    );
    const stops = new StopService({ store, site, fleet, ports, hub });
    undo.push(() => stops.close());
    await stops.resume();
    const executor = new Executor({ store, site, fleet, ports, hub, stops });
    undo.push(() => executor.close());
    executor.recover();
    const service = new MissionService({ site, store, fleet, now: () => new Date(), runner: executor, hub });

    // All are submitted before any is approved: once approved, a mission's work is committed and
    // the check of a later plan would run against it (see the top of this file).
    const submitted: Mission[] = [];
    const t0 = performance.now();
    for (let k = 0; k < count; k++) {
      const amr = amrs[k * AMR_STRIDE]!;
      const to = STATIONS[k % STATIONS.length]!;
      const { mission } = await service.submit(navigatePlan(amr, to, k), 'bench-agent');
      if (mission.status !== 'awaiting_approval') {
        const issues = (mission.report as CheckReport).issues.map((i) => `${i.code}: ${i.message}`).join('; ');
        throw new Error(`mission ${k} (${amr} to ${to}) is ${mission.status} after its check, not awaiting approval: ${issues}`);
      }
      submitted.push(mission);
      // A check blocks the loop for a while: the states that queued up meanwhile are handled first.
      await caughtUp(side);
    }
    const t1 = performance.now();
    const missions: Mission[] = [];
    for (const m of submitted) {
      store.missions.transition(m.id, 'approved', 'bench-operator', { planHash: m.planHash });
      executor.start(m.id);
      missions.push(store.missions.get(m.id)!);
      await caughtUp(side);
    }
    const setupS = { submit: (t1 - t0) / 1000, approve: (performance.now() - t1) / 1000 };
    const ids = missions.map((m) => m.id);
    const probe = (): MissionsProbe => {
      const now = ids.map((id) => store.missions.get(id)!);
      const tally = (xs: string[]) => {
        const t: Record<string, number> = {};
        for (const x of xs) t[x] = (t[x] ?? 0) + 1;
        return t;
      };
      const out: MissionsProbe = {
        missions: tally(now.map((m) => m.status)),
        steps: tally(now.flatMap((m) => m.steps.map((s) => s.status))),
        ordersOnVehicles: now.filter((m) => {
          const state = master.lastState(m.plan.steps[0]!.device);
          return state?.orderId.startsWith(`${m.id}.${STEP}.`) === true && hasActiveOrder(state);
        }).length,
        events: { ...events },
        failures: [...failures],
        streamBytes,
        setupS,
      };
      events.mission = events.step = streamBytes = 0;
      return out;
    };
    const allRunning = () => {
      const p = probe();
      return p.missions.running === count && p.steps.running === count && p.ordersOnVehicles === count;
    };
    const deadline = Date.now() + RUNNING_TIMEOUT_MS;
    while (count > 0 && !allRunning()) {
      if (Date.now() > deadline) throw new Error(`not every mission runs with its order on its vehicle after ${RUNNING_TIMEOUT_MS / 1000} s: ${JSON.stringify(probe())}`);
      await sleep(50);
    }
    // With or without missions, the warm-up starts with the gateway up to date.
    await caughtUp(side);
    probe();

    const finish = async () => {
      for (const id of ids) if (store.missions.get(id)?.status === 'running') service.cancel(id, 'bench-operator', 'the bench case is over');
      // The vehicles carry out cancelOrder; the next case must find them without orders.
      const cleared = () => missions.every((m) => {
        const state = master.lastState(m.plan.steps[0]!.device);
        return !state || !hasActiveOrder(state);
      });
      const until = Date.now() + CLEARED_TIMEOUT_MS;
      while (!cleared() && Date.now() < until) await sleep(50);
      if (!cleared()) console.log(`  !! gateway setup: vehicles still show orders ${CLEARED_TIMEOUT_MS / 1000} s after the missions were cancelled`);
      await undoAll();
    };
    return { probe, undo: finish };
  } catch (err) {
    await undoAll();
    throw err;
  }
};

export default gatewayWith(Number(new URL(import.meta.url).searchParams.get('missions') ?? '0'));
