// A rehearsal world: a mission's plan run on a simulated fleet of its own before the real fleet
// runs it. It is a small gateway of its own, built from the same parts as the real one, so the
// plan goes down the same path it will take on the floor — the approval's re-check, the executor
// and its traffic control, the VDA 5050 and machine-protocol masters and ports, the outbox —
// and reaches virtual devices over MQTT, the same protocols as real hardware. What it shares with
// the real gateway is only read: the site, the check workers, and where the real robots stand.
// It has its own store (a temporary folder), its own embedded broker on a loopback port the
// operating system picks, its own fleet registry and virtual fleet: nothing it sends can reach a
// real device, and nothing it writes is in the real store.
//
// With a Gazebo fleet configured (PHYGATE_REHEARSAL_FLEET=gazebo), the devices that have a `ros2`
// block in the companion site `phygate launch gazebo` writes are the simulated robots in Gazebo,
// driven over ROS 2 exactly as the floor's would be (Nav2, the arm's trajectory controller), by an
// adapter of the rehearsal's own in the simulation's ROS domain: a context of its own, so no goal
// of the rehearsal can reach a robot of the floor's domain. The other devices (the machines) are
// virtual twins on the private broker, at real time, as Gazebo runs.
//
// While the mission runs, the AMRs' positions are sampled (sim/separation.ts): the
// check keeps robots apart on the nav graph by where it believes they stand; a rehearsal sees
// where they are, so it catches what the check cannot (a robot stopped between two nodes, a run
// that drifts from the schedule).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isFinal } from '../../planners/mission.ts';
import { canonicalJson, sha256, type Plan } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import { indexSite, type Device } from '../../planners/site.ts';
import type { FleetState } from '../../planners/fleet.ts';
import { DevicePorts } from '../../robots/device-port.ts';
import { DropCounter } from '../../robots/drops.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { silentLog, type Log } from '../../robots/log.ts';
import { MachineMaster } from '../../robots/machine/master.ts';
import { MachinePort } from '../../robots/machine/port.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { Vda5050Master } from '../../robots/vda5050/master.ts';
import { Vda5050Port } from '../../robots/vda5050/port.ts';
import { Ros2Adapter } from '../../robots/ros2/adapter.ts';
import type { RclBinding } from '../../robots/ros2/binding.ts';
import { Ros2Port } from '../../robots/ros2/port.ts';
import { SeparationWatch, type Position } from '../../sim/separation.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { startVirtualFleet, type VirtualFleet } from '../../sim/virtual-fleet.ts';
import { GATEWAY_CLIENT_ID_PREFIX, startEmbeddedBroker } from '../broker.ts';
import type { Checker } from '../checks/checker.ts';
import { ApiError } from '../errors.ts';
import { Executor } from '../executor.ts';
import { MissionService } from '../missions/service.ts';
import { openStore } from '../store/index.ts';
import type { RehearsalProblem, RehearsalResult } from '../store/rehearsals.ts';
import { FloorClock } from './floor-clock.ts';

/** Who approves the mission in the rehearsal world (its own store; never the real one). */
const REHEARSAL_ACTOR = 'rehearsal';
/** Real ms between two looks at the virtual AMRs' positions and the mission. */
const SAMPLE_MS = 20;
/** Real ms the virtual fleet has to come online in the rehearsal world. */
const ONLINE_WITHIN_MS = 15_000;
/** A rehearsal is cut off after the check's makespan × this + LIMIT_MARGIN_S (simulated). */
export const LIMIT_FACTOR = 3;
export const LIMIT_MARGIN_S = 120;
/** A run this much slower than the check's makespan is a warning: the check's timing does not hold. */
export const SLOWER_FACTOR = 1.5;

/** A rehearsal fleet in Gazebo, over ROS 2 (PHYGATE_REHEARSAL_FLEET=gazebo). */
export interface GazeboFleet {
  /** The companion site folder `phygate launch gazebo --out DIR` writes (DIR/site): its devices' `ros2` blocks. */
  site: LoadedSite;
  /** The ROS domain the Gazebo simulation runs in (ROS_DOMAIN_ID of its launch). */
  domainId: number;
  /** Default: rclnodejs, imported when a rehearsal starts (tests pass the stand-in). */
  loadBinding?: () => Promise<RclBinding>;
}

/** What a rehearsal runs on, and how fast: the Gazebo fleet at real time, as Gazebo runs; else the virtual fleet at `speed`. */
export function rehearsalFleet(gazebo: GazeboFleet | undefined, speed: number): Pick<RehearsalResult, 'fleet' | 'speed'> {
  return gazebo ? { fleet: 'gazebo', speed: 1 } : { fleet: 'virtual', speed };
}

/**
 * Why the companion site does not fit the real one (empty when it does): the same devices, the
 * same nav graph, and at least one device with a `ros2` block.
 */
export function gazeboSiteProblems(real: LoadedSite, companion: LoadedSite): string[] {
  const problems: string[] = [];
  const ids = (s: LoadedSite) => s.index.site.devices.map((d) => d.id).sort().join(', ');
  if (ids(real) !== ids(companion)) problems.push(`its devices (${ids(companion)}) are not the site's (${ids(real)})`);
  const nodes = (s: LoadedSite) => [...s.index.site.nodes].map((n) => `${n.id}@${n.x},${n.y}`).sort().join(' ');
  const edges = (s: LoadedSite) => [...s.index.site.edges].map((e) => `${e.from}-${e.to}`).sort().join(' ');
  if (nodes(real) !== nodes(companion) || edges(real) !== edges(companion)) problems.push("its nav graph is not the site's (regenerate it: phygate launch gazebo --site DIR --out DIR)");
  if (!companion.index.site.devices.some((d) => 'ros2' in d && d.ros2)) problems.push('none of its devices has a ros2 block');
  return problems;
}

export interface RehearsalInput {
  /** The real site; its devices are rehearsed by virtual twins, those driven over ROS 2 too. */
  site: LoadedSite;
  /** Where the approval's re-check runs (the gateway's check workers). */
  checker: Checker;
  plan: Plan;
  planHash: string;
  /** The mission's report: the devices it binds are kept, as the real approval keeps them. */
  report: CheckReport;
  /** Where the real fleet stands now: the virtual one starts there. */
  fleet: FleetState;
  /** Simulated seconds per real second (the virtual fleet's; a Gazebo fleet runs at real time). */
  speed: number;
  /** Rehearse on this Gazebo fleet over ROS 2 instead of the virtual fleet. */
  gazebo?: GazeboFleet;
  now: () => Date;
  log?: Log;
  /** Ends the rehearsal early (the gateway is closing): its mission is cancelled. */
  signal?: AbortSignal;
}

/** What the rehearsal world's parts log: tagged as the rehearsal's, its routine lines at debug (they are not the floor's). */
function rehearsalLog(log: Log): Log {
  const tag = (obj: object) => ({ rehearsal: true, ...obj });
  return {
    debug: (obj, msg) => log.debug(tag(obj), `rehearsal: ${msg}`),
    info: (obj, msg) => log.debug(tag(obj), `rehearsal: ${msg}`),
    warn: (obj, msg) => log.warn(tag(obj), `rehearsal: ${msg}`),
    error: (obj, msg) => log.error(tag(obj), `rehearsal: ${msg}`),
  };
}

/**
 * The site as the rehearsal world has it: every device is played by a virtual twin (a device the
 * real site drives over ROS 2 is rehearsed as the VDA 5050 vehicle or machine-protocol arm of the
 * same id), except those the Gazebo companion site gives a `ros2` block: those are the robots in
 * Gazebo. The world's own approval needs no rehearsal.
 */
export function rehearsalSite(site: LoadedSite, companion?: LoadedSite): LoadedSite {
  const devices = site.index.site.devices.map((d) => {
    const twin = companion?.index.device(d.id);
    const ros2 = twin && 'ros2' in twin ? twin.ros2 : undefined;
    const { ros2: _, ...plain } = d as Device & { ros2?: unknown };
    return (ros2 ? { ...plain, ros2 } : plain) as Device;
  });
  const policies = { ...site.index.site.policies, rehearsal: 'optional' as const };
  return { ...site, index: indexSite({ ...site.index.site, devices, policies }) };
}

/** The virtual AMR's start: on the real one's node, where it stands when that is off the node, as charged and loaded. */
function startOf(site: LoadedSite, fleet: FleetState) {
  return (id: string) => {
    const s = fleet.get(id);
    if (!s) return undefined;
    const node = s.at ? site.index.node(s.at) : undefined;
    const off = s.pose && node ? Math.hypot(s.pose.x - node.x, s.pose.y - node.y) > 0.05 : false;
    return {
      ...(node ? { node: node.id } : {}),
      ...(off && s.pose ? { pose: s.pose } : {}),
      ...(s.soc !== undefined ? { soc: s.soc } : {}),
      loaded: (s.cargo ?? 0) > 0,
    };
  };
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs the plan in a rehearsal world and says how it went; the world is gone when this returns. */
export async function rehearseInWorld(input: RehearsalInput): Promise<RehearsalResult> {
  const log = rehearsalLog(input.log ?? silentLog);
  const stopped = 'the gateway stopped during the rehearsal';
  const gazebo = input.gazebo;
  const site = rehearsalSite(input.site, gazebo?.site);
  const ranOn = rehearsalFleet(gazebo, input.speed);
  const speed = ranOn.speed;
  const checkMakespanS = input.report.makespanS;
  const result = (r: Partial<RehearsalResult> & Pick<RehearsalResult, 'outcome'>): RehearsalResult => ({
    ...ranOn,
    reason: null,
    makespanS: null,
    checkMakespanS,
    minSeparation: null,
    problems: [],
    ...r,
  });
  const dir = mkdtempSync(join(tmpdir(), 'phygate-rehearsal-'));
  const closing: (() => unknown)[] = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    const store = openStore(dir);
    closing.push(() => store.close());
    // Loopback, a port of the system's choosing, no logins: only this process reaches it.
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, auth: 'off' });
    closing.push(() => broker.close());
    const client = await connectMqtt({ url: broker.url, clientId: `${GATEWAY_CLIENT_ID_PREFIX}-rehearsal-${randomBytes(4).toString('hex')}` });
    closing.push(() => closeMqtt(client, true));
    const fleet = new FleetRegistry(site.index, log);
    // What the gateway withholds (a policy without a passing certificate) stays out of the rehearsal too.
    const withheld = new Map<string, string>();
    for (const d of site.index.site.devices) {
      const why = input.fleet.get(d.id)?.unavailable;
      if (why !== undefined) withheld.set(d.id, why);
    }
    for (const [id, why] of withheld) fleet.withhold(id, why);
    const drops = new DropCounter({ log });
    const vda5050 = new Vda5050Master({ client, site: site.index, fleet, graph: site.graph, log, drops });
    await vda5050.start();
    closing.push(() => vda5050.stop());
    const machines = new MachineMaster({ client, site: site.index, siteId: site.index.site.id, fleet, log, drops });
    await machines.start();
    closing.push(() => machines.stop());
    // The Gazebo fleet's robots: over ROS 2, in the simulation's domain, by an adapter of the rehearsal's own.
    let ros2: Ros2Adapter | undefined;
    if (gazebo) {
      const adapter = new Ros2Adapter({ site: site.index, fleet, log, domainId: gazebo.domainId, simClock: true, nodeName: `phygate_rehearsal_${randomBytes(3).toString('hex')}`, ...(gazebo.loadBinding ? { loadBinding: gazebo.loadBinding } : {}) });
      closing.push(() => adapter.close());
      await adapter.start();
      ros2 = adapter;
    }
    const onRos = new Set(ros2?.deviceIds() ?? []);
    const vdaPort = new Vda5050Port(vda5050, fleet, log);
    const machinePort = new MachinePort(machines, fleet, site.index, log);
    closing.push(() => vdaPort.close(), () => machinePort.close());
    const ports = new DevicePorts(site.index, { vda5050: vdaPort, machine: machinePort, ...(ros2 ? { ros2: new Ros2Port(ros2, site.index, log) } : {}) });
    // Virtual twins for the rest (devices with a ros2 block are never started as twins).
    const virtual: VirtualFleet = await startVirtualFleet({ brokerUrl: broker.url, site, speed, start: startOf(site, input.fleet), withheld: new Set(withheld.keys()), log: (line) => log.warn({}, line) });
    closing.push(() => virtual.close());
    for (const started = Date.now(); !site.index.site.devices.every((d) => fleet.get(d.id)?.online || withheld.has(d.id)); ) {
      if (input.signal?.aborted) return result({ outcome: 'cancelled', reason: stopped });
      if (Date.now() - started > ONLINE_WITHIN_MS) {
        const missing = site.index.site.devices.filter((d) => !fleet.get(d.id)?.online && !withheld.has(d.id)).map((d) => d.id);
        const reason = `the rehearsal fleet did not come online (${missing.join(', ')})`;
        return result({ outcome: 'not_started', reason, problems: [{ code: 'NOT_STARTED', severity: 'error', message: reason }] });
      }
      await wait(SAMPLE_MS);
    }
    const executor = new Executor({ store, site, fleet, ports, log, timeScale: speed });
    closing.push(() => executor.close());
    const missions = new MissionService({ site, store, fleet, now: input.now, runner: executor, checker: input.checker });
    const { mission } = store.missions.create({
      plan: input.plan,
      planHash: input.planHash,
      worldHash: input.report.worldHash,
      report: input.report,
      status: 'awaiting_approval',
      requestHash: sha256(canonicalJson({ plan: input.plan })),
      actor: REHEARSAL_ACTOR,
    });

    const watch = new SeparationWatch(site.index);
    const t0 = Date.now();
    const simS = () => ((Date.now() - t0) / 1000) * speed;
    // The makespan on the floor's clock: simulated time in which something was at work, not the
    // messages between (floor-clock.ts). On a Gazebo fleet that is the simulation's own time
    // (`/clock`) once it is heard: a simulation slower than real time does not read slower than checked.
    const simClock = ros2?.simTimeS() !== undefined ? ros2 : undefined;
    const floorNow = () => (simClock ? simClock.simTimeS()! * 1000 : performance.now());
    const floor = new FloorClock(simClock ? 1 : speed, floorNow());
    const waits = new Set(input.plan.steps.filter((s) => s.action === 'wait').map((s) => s.id));
    const atWork = () =>
      [...virtual.amrs.values()].some((a) => a.atWork()) ||
      [...virtual.machines.values()].some((m) => m.atWork()) ||
      (ros2 !== undefined && ros2.activeGoals().length > 0) ||
      (waits.size > 0 && (store.missions.get(mission.id)?.steps ?? []).some((s) => waits.has(s.id) && s.status === 'running'));
    const sample = () => {
      const positions = new Map<string, Position>();
      for (const [id, amr] of virtual.amrs) positions.set(id, amr.position());
      // Gazebo's robots where their odometry or map pose puts them.
      for (const id of onRos) {
        const pose = site.index.device(id)?.kind === 'amr' ? fleet.get(id)?.pose : undefined;
        if (pose) positions.set(id, pose);
      }
      watch.sample(simS(), positions);
      floor.sample(floorNow(), atWork());
    };
    sample();
    const sampler = setInterval(sample, SAMPLE_MS);
    closing.push(() => clearInterval(sampler));
    try {
      await missions.approve(mission.id, input.planHash, REHEARSAL_ACTOR);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      const reason = `its approval was refused on the rehearsal fleet: ${err.message}`;
      return result({ outcome: 'not_started', reason, problems: [{ code: 'NOT_STARTED', severity: 'error', message: reason }] });
    }
    const limitS = checkMakespanS * LIMIT_FACTOR + LIMIT_MARGIN_S;
    let timedOut = false;
    while (!isFinal(store.missions.statusOf(mission.id)!)) {
      if (input.signal?.aborted) {
        missions.cancel(mission.id, REHEARSAL_ACTOR, stopped);
        break;
      }
      if (simS() > limitS) {
        timedOut = true;
        missions.cancel(mission.id, REHEARSAL_ACTOR, `the rehearsal ran past ${Math.round(limitS)} s (${LIMIT_FACTOR} × the check's makespan + ${LIMIT_MARGIN_S} s)`);
        break;
      }
      await wait(SAMPLE_MS);
    }
    clearInterval(sampler);
    sample();
    const ended = store.missions.get(mission.id)!;
    const makespanS = ended.approvedAt && ended.endedAt ? floor.seconds : null;
    const { closest, overlaps } = watch.result();
    const problems: RehearsalProblem[] = overlaps.map((o) => ({
      code: 'ROBOTS_TOO_CLOSE',
      severity: 'error',
      message: `${o.robots[0]} and ${o.robots[1]} came within ${o.distanceM} m of each other at (${o.at.x}, ${o.at.y}), near ${o.near}, ${o.tS} s in: their footprints overlap by ${-o.gapM} m`,
      robots: o.robots,
      at: o.at,
      near: o.near,
    }));
    if (ended.status === 'failed') {
      problems.push({ code: 'STEP_FAILED', severity: 'error', message: ended.reason ?? 'the mission failed', ...(ended.reasonStep ? { step: ended.reasonStep } : {}) });
    }
    if (timedOut) problems.push({ code: 'REHEARSAL_TIMEOUT', severity: 'error', message: ended.reason ?? 'the rehearsal ran too long' });
    if (ended.status === 'succeeded' && makespanS !== null && makespanS > checkMakespanS * SLOWER_FACTOR) {
      problems.push({ code: 'SLOWER_THAN_CHECKED', severity: 'warning', message: `the mission took ${makespanS} s, more than ${SLOWER_FACTOR} × the check's ${checkMakespanS} s` });
    }
    return result({
      outcome: timedOut ? 'timed_out' : ended.status === 'succeeded' ? 'succeeded' : ended.status === 'failed' ? 'failed' : 'cancelled',
      reason: ended.status === 'succeeded' ? null : ended.reason,
      makespanS,
      minSeparation: closest ?? null,
      problems,
    });
  } finally {
    for (const close of closing.reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ err }, 'rehearsal: could not close a part of its world');
      }
    }
  }
}
