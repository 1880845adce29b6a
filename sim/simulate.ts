// The plan run in simulated time, as a discrete-event simulation: a step starts when its
// dependencies are done and it is next in line on its device (each device works through its
// steps in plan order); AMRs drive their routes node by node with motion profiles and turns,
// waiting where another robot's footprint would meet theirs; machines, the arm and the conveyor
// take the times of the site's device tables. Cargo, parking and state of charge are tracked
// for every AMR. Nothing here reads a clock: the same input gives the same result.
import { stepTarget } from '../planners/allocate.ts';
import type { Estimate, EstimateInput, Pass, ResolvedStep } from '../planners/check.ts';
import { MinHeap } from '../planners/heap.ts';
import { makeWayTarget } from '../planners/make-way.ts';
import type { Step } from '../planners/plan.ts';
import { issue, type DeviceSummary, type Issue, type Move, type StepTiming } from '../planners/report.ts';
import { findRoute, profileAlong, type Headings, type NavGraph, type Route, type RouteResult } from '../planners/route.ts';
import type { Amr, SiteIndex } from '../planners/site.ts';
import { Traffic, TRAFFIC_CLEARANCE, type TrafficRobot } from './traffic.ts';
import { stepAside } from './step-aside.ts';

const G = 9.81;

interface Robot extends TrafficRobot {
  amr: Amr;
  node: string | undefined;
  /** Heading (radians), when known: turning to set off costs time. */
  heading: number | undefined;
  cargo: number;
  soc: number;
  socStart: number;
  distanceM: number;
  waitS: number;
  /** Time up to which idle power has been accounted. */
  energyClockS: number;
  lowReported: boolean;
  drive?: Drive;
  /** Set when the robot can never go on: it keeps standing where it is. */
  stuck: boolean;
  /** Rises whenever what another robot's wait depends on changes: the nodes it occupies, whether it drives, waits or is stuck. */
  version: number;
}

interface Drive {
  stepId: string;
  /** The nodes still to drive, starting at the node the robot is on. */
  nodes: string[];
  /** Profile of `nodes` from rest, started at `startS`. */
  profile: Route;
  startS: number;
  /** Index into `nodes` of the node the robot is on. */
  at: number;
  /** The whole route of the step, for the report. */
  route: string[];
  target: string;
  endHeading: number | undefined;
  /** `way`: a robot in the way; `target`: one parked at the target; `claim`: a committed robot goes to the target first. */
  wait?: {
    since: number;
    blocker: string;
    node: string;
    why: 'way' | 'target' | 'claim';
    /** The robot in the way at the last try, and its version then: nothing changed for this wait while that is the same. */
    current?: Robot;
    seen?: number;
  };
  /** False until it leaves its first node: a robot does not set off towards a station another robot stands on. */
  moving: boolean;
  done: (t: number) => void;
  /** A move to make way (`make-way:k`): its issues name the step it makes way for. */
  issueStep?: string;
}

type Event = { t: number; seq: number; run: () => void };

/** The events in time order: simultaneous events run in the order they were made. */
class Agenda {
  private readonly heap = new MinHeap<Event>(before);
  private seq = 0;
  now = 0;

  at(t: number, run: () => void): void {
    this.heap.push({ t, seq: this.seq++, run });
  }

  next(): Event | undefined {
    const top = this.heap.pop();
    if (top) this.now = top.t;
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

/** A charge as a percentage rounded down to 0.1: 19.96 % is 19.9 %, never the reserve of 20 % it is below. */
function percentBelow(soc: number): string {
  return (Math.floor(soc * 1000 + 1e-9) / 10).toFixed(1);
}

export function simulatePlan(input: EstimateInput): Estimate {
  const { site, graph, fleet } = input;
  const reserve = site.site.policies.batteryReserve;
  const issues: Issue[] = [];
  const agenda = new Agenda();
  const traffic = new Traffic(graph);
  const byId = new Map(input.steps.map((r) => [r.step.id, r]));
  const endOf = new Map<string, number>();
  const started = new Map<string, number>();
  const timings = new Map<string, StepTiming>();
  const used = new Set<string>();
  const passes: Pass[] = [];

  // Every AMR of the site takes part in traffic where it stands, whether the plan uses it or not.
  const robots = new Map<string, Robot>();
  for (const d of site.site.devices) {
    if (d.kind !== 'amr') continue;
    const state = fleet.get(d.id);
    const soc = state?.soc ?? 1;
    const node = state?.at ?? site.locate(d.home)?.id;
    const heading = state?.pose?.theta ?? (node ? site.station(node)?.theta : undefined);
    const r: Robot = {
      id: d.id,
      radius: Math.hypot(d.footprint.length / 2, d.footprint.width / 2),
      occupied: new Set(node ? [node, ...(input.holds?.get(d.id) ?? [])] : []),
      amr: d,
      node,
      heading,
      cargo: state?.cargo ?? 0,
      soc,
      socStart: soc,
      distanceM: 0,
      waitS: 0,
      energyClockS: 0,
      lowReported: false,
      stuck: false,
      version: 0,
    };
    robots.set(d.id, r);
    traffic.add(r);
  }

  const robotList = [...robots.values()].sort((a, b) => (a.id < b.id ? -1 : 1));

  // Right of way: other missions were approved first. Each target node of a committed AMR step is
  // claimed by that step until its robot has arrived there; no other robot sets off to park there
  // before (it would stand where the committed robot must go).
  const committed = input.committed ?? new Set<string>();
  const claims = new Map<string, { stepId: string; device: string }[]>();
  for (const step of input.order) {
    const r = byId.get(step.id);
    const node = r && committed.has(step.id) && r.device.kind === 'amr' ? site.locate(stepTarget(step) ?? '')?.id : undefined;
    if (node) claims.set(node, [...(claims.get(node) ?? []), { stepId: step.id, device: r!.device.id }]);
  }
  /** The committed robot that goes to `node` first, if another robot's step may not park there yet. */
  const claimOn = (robot: Robot, stepId: string, node: string) =>
    committed.has(stepId) ? undefined : claims.get(node)?.find((c) => c.device !== robot.id)?.device;
  /** A committed step's robot has arrived (or will never drive): its claim ends, and robots waiting for it may go. */
  const releaseClaim = (stepId: string, node: string | undefined) => {
    const list = node ? claims.get(node) : undefined;
    const k = list?.findIndex((c) => c.stepId === stepId) ?? -1;
    if (k < 0) return;
    list!.splice(k, 1);
    agenda.at(agenda.now, wakeWaiters);
  };

  // Each device works through its steps in plan order; an arm.transfer onto an AMR holds both.
  const queues = new Map<string, string[]>();
  const busy = new Set<string>();
  const involved = (r: ResolvedStep) => [r.device.id, ...(r.targetAmr ? [r.targetAmr] : [])];
  for (const step of input.order) {
    const r = byId.get(step.id);
    if (!r || !input.valid.has(step.id)) continue;
    for (const d of involved(r)) queues.set(d, [...(queues.get(d) ?? []), step.id]);
  }
  const dependents = new Map<string, string[]>();
  for (const step of input.order) for (const d of input.after.get(step.id) ?? []) dependents.set(d, [...(dependents.get(d) ?? []), step.id]);

  // ---- energy ----------------------------------------------------------------------------
  const spend = (t: Robot, untilS: number, driveJ: number, stepId: string) => {
    const idleJ = t.amr.battery.idlePowerW * Math.max(0, untilS - t.energyClockS);
    t.energyClockS = Math.max(t.energyClockS, untilS);
    t.soc -= (idleJ + driveJ / t.amr.battery.efficiency) / (t.amr.battery.capacityWh * 3600);
    // The reserve is there to reach a charger: on the way to one, a robot may use it, not run flat.
    const charging = byId.get(stepId)?.step.action === 'charge';
    if (t.soc < (charging ? 0 : reserve) && !t.lowReported && stepId) {
      t.lowReported = true;
      issues.push(
        issue('BATTERY_LOW', {
          step: stepId,
          device: t.amr.id,
          message: charging
            ? `${t.amr.id} is predicted to run flat during step '${stepId}', before it reaches the charger`
            : `${t.amr.id} is predicted at ${percentBelow(Math.max(0, t.soc))}% charge during step '${stepId}', below the site's reserve of ${Number((reserve * 100).toFixed(1))}%`,
          hint: charging ? `charge ${t.amr.id} at a charger nearer to it, or have a person bring it there` : `add a charge step for ${t.amr.id} before '${stepId}', or give the work to a fuller AMR`,
        }),
      );
    }
  };
  const movingMass = (t: Robot) => t.amr.massKg + t.cargo * t.amr.payloadKg;
  /** Mechanical energy to set off on a profile: accelerating the mass, and the wheels scrubbing round in turns. */
  const setOffJ = (t: Robot, p: Route) =>
    movingMass(t) * p.speedUpJPerKg + movingMass(t) * G * t.amr.battery.rollingFriction * (t.amr.footprint.width / 2) * p.turnRad;
  const rollJ = (t: Robot, metres: number) => movingMass(t) * G * t.amr.battery.rollingFriction * metres;

  // ---- steps -----------------------------------------------------------------------------
  const depsDone = (id: string) => (input.after.get(id) ?? []).every((d) => endOf.has(d));
  const readyAt = (id: string) => Math.max(0, ...(input.after.get(id) ?? []).map((d) => endOf.get(d) ?? 0));

  const tryStart = (id: string) => {
    if (started.has(id) || endOf.has(id) || !depsDone(id)) return;
    const r = byId.get(id);
    if (!r || !input.valid.has(id)) {
      // A step that did not resolve is skipped; its dependents wait on nothing.
      finish(id, readyAt(id));
      return;
    }
    for (const d of involved(r)) if (busy.has(d) || queues.get(d)?.[0] !== id) return;
    start(r, agenda.now);
  };

  const finish = (id: string, t: number) => {
    endOf.set(id, t);
    const r = byId.get(id);
    if (r && input.valid.has(id)) {
      const timing = timings.get(id)!;
      timing.endS = round(t);
      for (const d of involved(r)) {
        busy.delete(d);
        queues.get(d)!.shift();
        const next = queues.get(d)![0];
        if (next) agenda.at(t, () => tryStart(next));
      }
    }
    for (const dep of dependents.get(id) ?? []) agenda.at(t, () => tryStart(dep));
  };

  /** Where a charge step with no `at` sends `robot`: the nearest free charger, else one a robot may leave. */
  const chargerFor = (robot: Robot): string | undefined => {
    // A charger a committed robot goes to first is not free either (it has right of way).
    const claimed = [...claims].filter(([, list]) => list.some((c) => c.device !== robot.id)).map(([node]) => node);
    const free = nearestFreeCharger(site, graph, robot, traffic, claimed);
    if (free || site.site.policies.idle === 'stay') return free;
    // A charged robot standing on a charger with nothing left to do is moved aside (policy idle)
    // when this one comes: its charger is taken only if no charger is free.
    const target = site.site.policies.chargeTarget;
    const idle = robotList.filter((r) => r !== robot && !r.drive && r.node && r.soc >= target && (queues.get(r.id) ?? []).length === 0).map((r) => r.node!);
    return nearestFreeCharger(site, graph, robot, traffic, claimed, idle);
  };

  const start = (r: ResolvedStep, t: number) => {
    const { step, device } = r;
    started.set(step.id, t);
    for (const d of involved(r)) {
      busy.add(d);
      used.add(d);
    }
    const timing: StepTiming = { id: step.id, device: device.id, startS: round(t), endS: round(t) };
    timings.set(step.id, timing);
    const done = (end: number) => agenda.at(end, () => finish(step.id, end));

    if (device.kind === 'amr') {
      const robot = robots.get(device.id)!;
      const s = step as Extract<Step, { action: 'navigate' | 'pick' | 'drop' | 'charge' | 'wait' }>;
      switch (s.action) {
        case 'wait':
          spend(robot, t + s.params.seconds, 0, step.id);
          done(t + s.params.seconds);
          return;
        case 'navigate':
          drive(robot, s.params.to, step.id, timing, t, done);
          return;
        case 'pick':
        case 'drop': {
          const hold = s.action === 'pick' ? device.transport.loadS : device.transport.unloadS;
          drive(robot, s.params.at, step.id, timing, t, (arrived) => {
            if (s.action === 'pick') {
              if (robot.cargo >= 1) issues.push(issue('CARGO_FULL', { step: step.id, device: device.id, message: `${device.id} already carries a tote when it picks at '${s.params.at}'`, hint: `drop the tote it carries before this pick` }));
              robot.cargo = 1;
            } else {
              if (robot.cargo < 1) issues.push(issue('CARGO_EMPTY', { step: step.id, device: device.id, message: `${device.id} carries nothing to drop at '${s.params.at}'`, hint: 'pick a tote (or have the arm load it) before this drop' }));
              robot.cargo = 0;
            }
            spend(robot, arrived + hold, 0, step.id);
            done(arrived + hold);
          });
          return;
        }
        case 'charge': {
          const charger = s.params.at ?? chargerFor(robot);
          const afterDrive = (arrived: number) => {
            const target = site.site.policies.chargeTarget;
            const netW = device.battery.chargePowerW - device.battery.idlePowerW;
            spend(robot, arrived, 0, step.id);
            const chargeS = robot.soc < target && netW > 0 ? ((target - robot.soc) * device.battery.capacityWh * 3600) / netW : 0;
            robot.soc = Math.max(robot.soc, target);
            robot.energyClockS = arrived + chargeS;
            done(arrived + chargeS);
          };
          if (charger) drive(robot, charger, step.id, timing, t, afterDrive);
          else {
            // Charging where it stands would be a prediction of energy it cannot get.
            issues.push(
              issue('UNREACHABLE', {
                step: step.id,
                device: device.id,
                message: `no charger is free for ${device.id} when step '${step.id}' starts: every one is taken or out of its reach`,
                hint: `name a charger with at, or let this step wait for the robot on the charger (after)`,
              }),
            );
            done(t);
          }
          return;
        }
      }
    }

    const duration = fixedDuration(r);
    const target = r.targetAmr ? robots.get(r.targetAmr) : undefined;
    if (target) {
      const reachNodes = device.kind === 'arm' ? device.reaches.map((s) => site.locate(s)?.id) : [];
      if (!target.node || !reachNodes.includes(target.node)) {
        issues.push(
          issue('NOT_AT_STATION', {
            step: step.id,
            device: target.id,
            message: `${target.id} is at '${target.node ?? 'an unknown place'}' when ${device.id} would load it, not at a station ${device.id} reaches`,
            hint: `first send ${target.id} to one of ${device.kind === 'arm' ? device.reaches.join(', ') : ''} and list that step in this step's after`,
          }),
        );
      }
      if (target.cargo >= 1) issues.push(issue('CARGO_FULL', { step: step.id, device: target.id, message: `${target.id} already carries a tote when ${device.id} loads it`, hint: `drop its tote before this transfer` }));
      target.cargo = 1;
      spend(target, t + duration, 0, step.id);
    }
    done(t + duration);
  };

  // ---- driving ---------------------------------------------------------------------------
  /** Plan the route to `target` and drive it; `arrive` is called on arrival (also when there is no route). */
  const drive = (robot: Robot, target: string, stepId: string, timing: StepTiming, t: number, done: (t: number) => void) => {
    const targetNode = site.locate(target)?.id;
    const arrive = (at: number) => {
      releaseClaim(stepId, targetNode);
      done(at);
    };
    if (!robot.node || !targetNode) return arrive(t);
    const endHeading = site.station(target)?.theta;
    const headings = { ...(robot.heading !== undefined ? { start: robot.heading } : {}), ...(endHeading !== undefined ? { end: endHeading } : {}) };
    const r = checkedRoute(graph, input.routes?.get(stepId), robot.node, targetNode, robot.amr.limits, headings) ?? findRoute(graph, robot.node, targetNode, robot.amr.limits, headings);
    if (!r.ok) {
      if (r.reason === 'target-in-keep-out' || r.reason === 'crosses-keep-out') {
        issues.push(
          issue('KEEP_OUT', {
            step: stepId,
            device: robot.id,
            message:
              r.reason === 'target-in-keep-out'
                ? `'${target}' lies inside keep-out zone '${r.zone}'`
                : `every route from '${robot.node}' to '${target}' enters keep-out zone '${r.zone}'`,
            hint: `robots may not enter '${r.zone}': choose a target outside it, or have a person do this step`,
          }),
        );
      } else {
        issues.push(
          issue('UNREACHABLE', {
            step: stepId,
            device: robot.id,
            message: `no nav-graph path from '${robot.node}' to '${target}'`,
            hint: `'${target}' is not connected to where ${robot.id} is; choose a connected station`,
          }),
        );
      }
      return arrive(t);
    }
    for (const s of r.route.slowZones) {
      const zone = site.site.zones.find((z) => z.id === s.zone);
      issues.push(
        issue('SPEED_LIMIT', {
          step: stepId,
          device: robot.id,
          message: `the route to '${target}' crosses slow zone '${s.zone}' for ${s.lengthM.toFixed(1)} m${zone?.kind === 'slow' ? ` at ≤ ${zone.maxSpeed} m/s` : ''}; the time includes it`,
          hint: 'no change needed; expect the slower drive',
        }),
      );
    }
    timing.route = r.route.nodes;
    if (r.route.nodes.length === 1 && endHeading === undefined) return arrive(t);
    spend(robot, t, setOffJ(robot, r.route), stepId);
    robot.drive = { stepId, nodes: r.route.nodes, profile: r.route, startS: t, at: 0, route: r.route.nodes, target: targetNode, endHeading, moving: false, done };
    robot.version++;
    depart(robot);
  };

  /** The robot is at `drive.nodes[at]`: leave for the next node when the profile says, or arrive. */
  const depart = (robot: Robot) => {
    const d = robot.drive!;
    const here = d.profile.times[d.at]!;
    if (d.at === d.nodes.length - 1) {
      const end = d.startS + here.departS;
      robot.heading = d.profile.endHeading;
      robot.drive = undefined;
      robot.version++;
      releaseClaim(d.stepId, d.target);
      agenda.at(end, () => {
        spend(robot, end, 0, d.stepId);
        d.done(end);
      });
      return;
    }
    agenda.at(d.startS + here.departS, () => tryAdvance(robot));
  };

  const tryAdvance = (robot: Robot) => {
    const d = robot.drive!;
    const from = d.nodes[d.at]!;
    const to = d.nodes[d.at + 1]!;
    const now = agenda.now;
    const claimedBy = d.moving ? undefined : claimOn(robot, d.stepId, d.target);
    const parkedAtTarget = d.moving || claimedBy ? undefined : standingAt(robot, d.target);
    const blocker = claimedBy ?? parkedAtTarget ?? traffic.blocker(robot, from, to);
    if (blocker) {
      const why = claimedBy ? 'claim' : parkedAtTarget ? 'target' : 'way';
      const current = robots.get(blocker)!;
      if (!d.wait) {
        d.wait = { since: now, blocker, node: from, why, current, seen: current.version };
        robot.version++;
        waitingAdd(robot);
        if (blockedForGood(robot) && !tryDetour(robot)) makeWay(robot);
      } else {
        // The claim is over, but the committed robot (or another) is still in the way.
        if (d.wait.why === 'claim') Object.assign(d.wait, { blocker, why });
        Object.assign(d.wait, { current, seen: current.version });
      }
      return;
    }
    if (d.wait) {
      endWait(robot, now);
      return;
    }
    d.moving = true;
    traffic.enter(robot, to);
    robot.version++;
    passes.push({ t: now, device: robot.id, step: d.stepId, node: to });
    const a = graph.points.get(from)!;
    const b = graph.points.get(to)!;
    const metres = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const arrival = d.startS + d.profile.times[d.at + 1]!.arriveS;
    agenda.at(arrival, () => {
      traffic.leave(robot, from);
      robot.version++;
      robot.node = to;
      robot.heading = Math.atan2(b[1] - a[1], b[0] - a[0]);
      robot.distanceM += metres;
      spend(robot, arrival, rollJ(robot, metres), d.stepId);
      d.at += 1;
      depart(robot);
      wakeWaiters();
    });
  };

  /** The way is clear after a wait: report it, and set off again from rest along the rest of the route. */
  const endWait = (robot: Robot, now: number) => {
    const d = robot.drive!;
    const w = d.wait!;
    d.wait = undefined;
    robot.version++;
    waitingDelete(robot);
    const waitS = now - w.since;
    robot.waitS += waitS;
    issues.push(
      issue('ROBOT_CONFLICT', {
        step: d.issueStep ?? d.stepId,
        device: robot.id,
        with: w.blocker,
        at: w.node,
        atS: round(w.since),
        waitS: round(waitS),
        message: `${robot.id} waits ${waitS.toFixed(1)} s at '${w.node}' (t = ${w.since.toFixed(1)} s) for ${w.blocker} to clear the way`,
        hint: `no change needed; to avoid the wait, order the two robots' steps with after, or route ${robot.id} another way`,
      }),
    );
    restartFrom(robot, d.nodes.slice(d.at), now);
  };

  const restartFrom = (robot: Robot, nodes: string[], now: number) => {
    const d = robot.drive!;
    const profile = profileAlong(graph, nodes, robot.amr.limits, {
      ...(robot.heading !== undefined ? { start: robot.heading } : {}),
      ...(d.endHeading !== undefined ? { end: d.endHeading } : {}),
    })!;
    spend(robot, now, setOffJ(robot, profile), d.stepId);
    Object.assign(d, { nodes, profile, startS: now, at: 0 });
    depart(robot);
  };

  // Robots waiting, in the order they are given another try: robots on committed steps first
  // (right of way), then longest-waiting, then by id. The key is fixed while a robot waits, so the
  // list is kept in order as waits begin and end rather than sorted on every arrival.
  const waiting: Robot[] = [];
  const waitRank = (r: Robot) => (committed.has(r.drive!.stepId) ? 0 : 1);
  const waitsBefore = (a: Robot, b: Robot) => waitRank(a) - waitRank(b) || a.drive!.wait!.since - b.drive!.wait!.since || a.id.localeCompare(b.id);
  const waitingAdd = (robot: Robot) => {
    let lo = 0;
    let hi = waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (waitsBefore(waiting[mid]!, robot) < 0) lo = mid + 1;
      else hi = mid;
    }
    waiting.splice(lo, 0, robot);
  };
  const waitingDelete = (robot: Robot) => {
    const k = waiting.indexOf(robot);
    if (k >= 0) waiting.splice(k, 1);
  };
  const wakeWaiters = () => {
    if (waiting.length === 0) return;
    const order = waiting.slice();
    for (const r of order) {
      const w = r.drive?.wait;
      if (!w || r.stuck) continue;
      // Nothing the wait depends on changed since the last try: it would fail the same way.
      if (w.why === 'claim' || w.current?.version !== w.seen) tryAdvance(r);
      if (r.drive?.wait && !r.stuck && blockedForGood(r) && !tryDetour(r)) makeWay(r);
    }
  };

  /** Will the robots `robot` waits for never move? (A wait cycle, or a robot parked with nothing left to do.) */
  const blockedForGood = (robot: Robot): boolean => endOfWait(robot) !== undefined;

  /** The end of the chain of waits from `robot` when it never moves: `cycle`, or the robot standing still for good. */
  const endOfWait = (robot: Robot): Robot | 'cycle' | undefined => {
    // A chain of more hops than there are robots has come round to a robot already in it.
    let id = robot.drive!.wait!.blocker;
    for (let hops = 0; hops < robots.size; hops++) {
      if (id === robot.id) return 'cycle';
      const other = robots.get(id)!;
      if (other.stuck) return 'cycle';
      if (other.drive?.wait) {
        id = other.drive.wait.blocker;
        continue;
      }
      if (other.drive) return undefined;
      // Standing still: it moves again only if it still has steps to drive.
      return (queues.get(id) ?? []).some((s) => byId.get(s)!.device.id === id) ? undefined : other;
    }
    return 'cycle';
  };

  // ---- making way ------------------------------------------------------------------------
  const moves: Move[] = [];
  /** Moves are bounded, so robots cannot make way for each other for ever. */
  const maxMoves = 4 * robotList.length;
  /**
   * `robot` waits for good for a robot standing still with nothing left to do (no step of any
   * device involves it any more): under the site's `idle` policy that robot drives off to the
   * place makeWayTarget chooses, and `robot` goes on once the way is clear.
   */
  const makeWay = (robot: Robot): boolean => {
    const idle = endOfWait(robot);
    if (!idle || idle === 'cycle' || !idle.node || (queues.get(idle.id) ?? []).length > 0 || moves.length >= maxMoves) return false;
    const d = robot.drive!;
    const reach = idle.radius + robot.radius + TRAFFIC_CLEARANCE;
    const rest = d.nodes.slice(d.at).map((n) => graph.points.get(n)!);
    const avoid = new Set<string>();
    for (const [id, p] of graph.points) if (rest.some((q) => Math.hypot(p[0] - q[0], p[1] - q[1]) < reach)) avoid.add(id);
    const occupied = traffic.nodesNear(idle);
    for (const [node, list] of claims) if (list.some((c) => c.device !== idle.id)) occupied.add(node);
    const target = makeWayTarget({ site, graph, robot: idle.amr, at: idle.node, ...(idle.heading !== undefined ? { heading: idle.heading } : {}), avoid, occupied });
    if (!target) return false;
    const now = agenda.now;
    const id = `make-way:${moves.length + 1}`;
    const forStep = d.issueStep ?? d.stepId;
    const to = target.route.nodes.at(-1)!;
    moves.push({ id, device: idle.id, from: idle.node, to: target.to, route: target.route.nodes, atS: round(now), for: robot.id, step: forStep });
    issues.push(
      issue('MAKE_WAY', {
        step: forStep,
        device: idle.id,
        with: robot.id,
        at: idle.node,
        atS: round(now),
        message: `${idle.id} stands at '${idle.node}' with nothing left to do, in ${robot.id}'s way: it makes way to '${target.to}' (t = ${now.toFixed(1)} s)`,
        hint: `no change needed; the gateway moves ${idle.id}; to choose where it goes, end its work with a step that sends it there`,
      }),
    );
    timings.set(id, { id, device: idle.id, startS: round(now), endS: round(now), route: target.route.nodes });
    spend(idle, now, setOffJ(idle, target.route), '');
    const done = (t: number) => {
      timings.get(id)!.endS = round(t);
      spend(idle, t, 0, '');
    };
    idle.version++;
    idle.drive = { stepId: id, issueStep: forStep, nodes: target.route.nodes, profile: target.route, startS: now, at: 0, route: target.route.nodes, target: to, endHeading: target.route.endHeading, moving: true, done };
    depart(idle);
    return true;
  };

  /** Another robot standing (not driving through) where its footprint would meet ours at `node`. */
  const standingAt = (robot: Robot, node: string): string | undefined => {
    const p = graph.points.get(node)!;
    for (const near of traffic.robotsNear(p, robot.radius)) {
      const other = robots.get(near.id)!;
      if (other.id === robot.id || (other.drive && !other.drive.wait) || !other.node) continue;
      const q = graph.points.get(other.node)!;
      if (Math.hypot(p[0] - q[0], p[1] - q[1]) < robot.radius + other.radius + TRAFFIC_CLEARANCE) return other.id;
    }
    return undefined;
  };

  /** No wait will ever end: take a detour around the robots in the way, if there is one. */
  const tryDetour = (robot: Robot): boolean => {
    const d = robot.drive!;
    const w = d.wait!;
    if (w.why !== 'way' || standingAt(robot, d.target)) return false;
    const from = d.nodes[d.at]!;
    const detour = findRoute(graph, from, d.target, robot.amr.limits, {
      ...(robot.heading !== undefined ? { start: robot.heading } : {}),
      ...(d.endHeading !== undefined ? { end: d.endHeading } : {}),
    }, { avoid: traffic.nodesNear(robot) });
    if (!detour.ok || detour.route.nodes.length < 2 || traffic.blocker(robot, from, detour.route.nodes[1]!)) return false;
    d.wait = undefined;
    robot.version++;
    waitingDelete(robot);
    const waitS = agenda.now - w.since;
    robot.waitS += waitS;
    const longer = detour.route.timeS - (d.profile.times[d.nodes.length - 1]!.departS - d.profile.times[d.at]!.departS);
    issues.push(
      issue('ROBOT_CONFLICT', {
        step: d.issueStep ?? d.stepId,
        device: robot.id,
        with: w.blocker,
        at: from,
        atS: round(w.since),
        waitS: round(waitS),
        detour: true,
        message: `${robot.id} finds ${w.blocker} in its way at '${from}' (t = ${w.since.toFixed(1)} s)${waitS > 0.05 ? `, waits ${waitS.toFixed(1)} s` : ''} and takes a detour${longer > 0.05 ? ` that is ${longer.toFixed(1)} s longer` : ''}`,
        hint: `no change needed; to keep ${robot.id} on its shortest route, order the two robots' steps with after`,
      }),
    );
    d.route = [...d.route.slice(0, d.route.length - d.nodes.length + d.at), ...detour.route.nodes];
    timings.get(d.stepId)!.route = d.route;
    spend(robot, agenda.now, setOffJ(robot, detour.route), d.stepId);
    Object.assign(d, { nodes: detour.route.nodes, profile: detour.route, startS: agenda.now, at: 0 });
    depart(robot);
    return true;
  };

  const stuckFor = (robot: Robot, now: number) => {
    const d = robot.drive!;
    const w = d.wait!;
    robot.stuck = true;
    robot.version++;
    waitingDelete(robot);
    const other = robots.get(w.blocker)!;
    const next = d.nodes[d.at + 1]!;
    const why =
      w.why === 'claim'
        ? `${w.blocker} goes there first and never arrives`
        : other.drive?.wait
          ? `${w.blocker} is itself waiting${other.drive.wait.blocker === robot.id ? ` for ${robot.id}` : ''}, so neither can move`
          : `${w.blocker} stands at '${other.node}' and no step moves it away first`;
    const what = w.why === 'way' ? `cannot drive from '${w.node}' to '${next}'` : `cannot set off from '${w.node}' for '${d.target}'`;
    issues.push(
      issue('DEADLOCK', {
        step: d.issueStep ?? d.stepId,
        device: robot.id,
        with: w.blocker,
        at: w.node,
        ...(w.why !== 'claim' && !other.drive?.wait && other.node ? { withAt: other.node } : {}),
        atS: round(w.since),
        message: `${robot.id} ${what} (t = ${w.since.toFixed(1)} s): ${why}; step '${d.stepId}' never finishes`,
        hint:
          other.drive?.wait
            ? `order the two robots' steps with after so they do not meet head-on, or send one of them another way`
            : `add a step that moves ${w.blocker} away (navigate to a free station) before '${d.stepId}' and list it in after, or use another station than '${d.target}'`,
      }),
    );
    const timing = timings.get(d.stepId)!;
    timing.endS = round(now);
    timing.blocked = true;
  };

  // ---- run -------------------------------------------------------------------------------
  for (const step of input.order) agenda.at(0, () => tryStart(step.id));
  for (;;) {
    for (let e = agenda.next(); e; e = agenda.next()) {
      stepAside();
      e.run();
    }
    // Nothing else will happen: robots still waiting would wait forever. Each takes a detour
    // if there is one (and the simulation goes on), or is deadlocked.
    const still = [...waiting].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    if (still.length === 0) break;
    let detoured = false;
    for (const r of still) {
      stepAside();
      if (r.drive?.wait && !r.stuck && (tryDetour(r) || makeWay(r))) detoured = true;
    }
    if (detoured) continue;
    for (const r of still) stuckFor(r, agenda.now);
    break;
  }

  const makespanS = Math.max(0, ...endOf.values());
  const devices: DeviceSummary[] = [...used].sort().map((id) => {
    const t = robots.get(id);
    if (!t) return { id, distanceM: 0 };
    spend(t, makespanS, 0, '');
    return { id, distanceM: round(t.distanceM), socStart: round(t.socStart, 3), socEnd: round(Math.max(0, t.soc), 3), ...(t.waitS > 0 ? { waitS: round(t.waitS) } : {}) };
  });
  const steps = input.order.flatMap((s) => timings.get(s.id) ?? []);
  for (const m of moves) m.route = timings.get(m.id)!.route!;
  return { makespanS: round(makespanS), steps, devices, issues, passes, ...(moves.length > 0 ? { moves } : {}) };
}

function fixedDuration(r: ResolvedStep): number {
  const { step, device } = r;
  switch (step.action) {
    case 'wait': return step.params.seconds;
    case 'machine.run': return device.kind === 'cnc' || device.kind === 'printer' ? (device.programs[step.params.program] ?? 0) * step.params.count : 0;
    case 'convey': return device.kind === 'conveyor' ? device.transferS * step.params.count : 0;
    case 'arm.transfer': return device.kind === 'arm' ? device.transferS : 0;
    default: return 0;
  }
}

/**
 * A route checked before, from the node of it where the robot stands (the first time it passes
 * there): what the run drives (see routeFrom at run time). None when the robot stands off it, it
 * ends elsewhere, or the graph no longer has its edges.
 */
function checkedRoute(graph: NavGraph, checked: readonly string[] | undefined, at: string, to: string, limits: Amr['limits'], headings: Headings): RouteResult | undefined {
  const from = checked ? checked.indexOf(at) : -1;
  if (!checked || from < 0 || checked.at(-1) !== to) return undefined;
  const route = profileAlong(graph, checked.slice(from), limits, headings);
  return route ? { ok: true, route } : undefined;
}

/** The charger the robot reaches fastest among those no other robot stands on. */
/** The charger `t` reaches first that no robot stands on (but for robots on `leaving`) and no committed robot goes to (`claimed`). */
function nearestFreeCharger(site: SiteIndex, graph: NavGraph, t: Robot, traffic: Traffic, claimed: readonly string[], leaving: readonly string[] = []): string | undefined {
  let best: { id: string; time: number } | undefined;
  const taken = traffic.occupiedNodes(t.id);
  for (const node of leaving) taken.delete(node);
  for (const node of claimed) taken.add(node);
  for (const s of site.site.stations) {
    if (s.kind !== 'charger' || !t.node || taken.has(s.node)) continue;
    const r = findRoute(graph, t.node, s.node, t.amr.limits);
    if (r.ok && (!best || r.route.timeS < best.time)) best = { id: s.id, time: r.route.timeS };
  }
  return best?.id;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
