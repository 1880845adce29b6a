// A first schedule of the plan: each step starts when its dependencies are done and its device
// is free; AMRs drive the fastest route (motion profiles, turns) and track cargo and charge.
// The simulator (sim/) refines this with motion profiles and robot-robot conflicts.
import type { ResolvedStep } from './check.ts';
import type { DeviceState } from './fleet.ts';
import type { Step } from './plan.ts';
import { issue, type DeviceSummary, type Issue, type StepTiming } from './report.ts';
import { findRoute, type NavGraph, type Route } from './route.ts';
import type { Amr, SiteIndex } from './site.ts';

const G = 9.81;

export interface EstimateInput {
  site: SiteIndex;
  graph: NavGraph;
  fleet: ReadonlyMap<string, DeviceState>;
  steps: readonly ResolvedStep[];
  order: readonly Step[];
  after: ReadonlyMap<string, readonly string[]>;
  /** Steps that resolved; the others are skipped but their dependents still wait on nothing. */
  valid: ReadonlySet<string>;
}

export interface Estimate {
  makespanS: number;
  steps: StepTiming[];
  devices: DeviceSummary[];
  issues: Issue[];
}

interface AmrTrack {
  amr: Amr;
  node: string | undefined;
  /** Heading (radians), when known: turning to set off costs time. */
  heading: number | undefined;
  cargo: number;
  soc: number;
  socStart: number;
  distanceM: number;
  /** Time up to which idle power has been accounted. */
  energyClockS: number;
  lowReported: boolean;
}

export function estimateSchedule(input: EstimateInput): Estimate {
  const { site, graph, fleet } = input;
  const reserve = site.site.policies.batteryReserve;
  const issues: Issue[] = [];
  const byId = new Map(input.steps.map((r) => [r.step.id, r]));
  const endOf = new Map<string, number>();
  const freeAt = new Map<string, number>();
  const amrs = new Map<string, AmrTrack>();
  const timings: StepTiming[] = [];
  const used = new Set<string>();

  const track = (amr: Amr): AmrTrack => {
    let t = amrs.get(amr.id);
    if (!t) {
      const state = fleet.get(amr.id);
      const soc = state?.soc ?? 1;
      const node = state?.at ?? site.locate(amr.home)?.id;
      const heading = state?.pose?.theta ?? (node ? site.station(node)?.theta : undefined);
      t = { amr, node, heading, cargo: state?.cargo ?? 0, soc, socStart: soc, distanceM: 0, energyClockS: 0, lowReported: false };
      amrs.set(amr.id, t);
    }
    return t;
  };

  const spend = (t: AmrTrack, untilS: number, driveJ: number, stepId: string) => {
    const idleJ = t.amr.battery.idlePowerW * Math.max(0, untilS - t.energyClockS);
    t.energyClockS = Math.max(t.energyClockS, untilS);
    t.soc -= (idleJ + driveJ) / (t.amr.battery.capacityWh * 3600);
    if (t.soc < reserve && !t.lowReported) {
      t.lowReported = true;
      issues.push(
        issue('BATTERY_LOW', {
          step: stepId,
          device: t.amr.id,
          message: `${t.amr.id} is predicted at ${(Math.max(0, t.soc) * 100).toFixed(0)}% charge after step '${stepId}', below the site's reserve of ${(reserve * 100).toFixed(0)}%`,
          hint: `add a charge step for ${t.amr.id} before '${stepId}', or give the work to a fuller AMR`,
        }),
      );
    }
  };

  /** Drive an AMR to `target`; returns the route, or undefined after reporting why not. */
  const drive = (t: AmrTrack, target: string, stepId: string): Route | undefined => {
    const targetNode = site.locate(target)?.id;
    if (!t.node || !targetNode) return undefined;
    const endHeading = site.station(target)?.theta;
    const r = findRoute(graph, t.node, targetNode, t.amr.limits, {
      ...(t.heading !== undefined ? { start: t.heading } : {}),
      ...(endHeading !== undefined ? { end: endHeading } : {}),
    });
    if (!r.ok) {
      if (r.reason === 'target-in-keep-out' || r.reason === 'crosses-keep-out') {
        issues.push(
          issue('KEEP_OUT', {
            step: stepId,
            device: t.amr.id,
            message:
              r.reason === 'target-in-keep-out'
                ? `'${target}' lies inside keep-out zone '${r.zone}'`
                : `every route from '${t.node}' to '${target}' enters keep-out zone '${r.zone}'`,
            hint: `robots may not enter '${r.zone}': choose a target outside it, or have a person do this step`,
          }),
        );
      } else {
        issues.push(
          issue('UNREACHABLE', {
            step: stepId,
            device: t.amr.id,
            message: `no nav-graph path from '${t.node}' to '${target}'`,
            hint: `'${target}' is not connected to where ${t.amr.id} is; choose a connected station`,
          }),
        );
      }
      return undefined;
    }
    for (const s of r.route.slowZones) {
      const zone = site.site.zones.find((z) => z.id === s.zone);
      issues.push(
        issue('SPEED_LIMIT', {
          step: stepId,
          device: t.amr.id,
          message: `the route to '${target}' crosses slow zone '${s.zone}' for ${s.lengthM.toFixed(1)} m${zone?.kind === 'slow' ? ` at ≤ ${zone.maxSpeed} m/s` : ''}; the time includes it`,
          hint: 'no change needed; expect the slower drive',
        }),
      );
    }
    t.node = targetNode;
    if (r.route.nodes.length > 1 || endHeading !== undefined) t.heading = r.route.endHeading;
    t.distanceM += r.route.distanceM;
    return r.route;
  };

  const driveEnergy = (t: AmrTrack, route: Route | undefined) =>
    route ? ((t.amr.massKg + t.cargo * t.amr.payloadKg) * G * t.amr.battery.rollingFriction * route.distanceM) / t.amr.battery.efficiency : 0;

  for (const step of input.order) {
    const ready = Math.max(0, ...(input.after.get(step.id) ?? []).map((d) => endOf.get(d) ?? 0));
    const r = byId.get(step.id);
    if (!r || !input.valid.has(step.id)) {
      endOf.set(step.id, ready);
      continue;
    }
    const device = r.device;
    used.add(device.id);
    const amrTarget = r.targetAmr ? site.device(r.targetAmr) : undefined;
    if (amrTarget) used.add(amrTarget.id);
    const start = Math.max(ready, freeAt.get(device.id) ?? 0, amrTarget ? (freeAt.get(amrTarget.id) ?? 0) : 0);
    let duration = 0;
    let route: Route | undefined;

    if (device.kind === 'amr') {
      const t = track(device);
      const s = step as Extract<Step, { action: 'navigate' | 'pick' | 'drop' | 'charge' | 'wait' }>;
      switch (s.action) {
        case 'navigate':
          route = drive(t, s.params.to, step.id);
          duration = route?.timeS ?? 0;
          spend(t, start + duration, driveEnergy(t, route), step.id);
          break;
        case 'pick':
        case 'drop': {
          route = drive(t, s.params.at, step.id);
          duration = (route?.timeS ?? 0) + (s.action === 'pick' ? device.transport.loadS : device.transport.unloadS);
          spend(t, start + duration, driveEnergy(t, route), step.id);
          if (s.action === 'pick') {
            if (t.cargo >= 1) issues.push(issue('CARGO_FULL', { step: step.id, device: device.id, message: `${device.id} already carries a tote when it picks at '${s.params.at}'`, hint: `drop the tote it carries before this pick` }));
            t.cargo = 1;
          } else {
            if (t.cargo < 1) issues.push(issue('CARGO_EMPTY', { step: step.id, device: device.id, message: `${device.id} carries nothing to drop at '${s.params.at}'`, hint: 'pick a tote (or have the arm load it) before this drop' }));
            t.cargo = 0;
          }
          break;
        }
        case 'charge': {
          const charger = s.params.at ?? nearestCharger(site, graph, t);
          route = charger ? drive(t, charger, step.id) : undefined;
          const driveS = route?.timeS ?? 0;
          spend(t, start + driveS, driveEnergy(t, route), step.id);
          const target = site.site.policies.chargeTarget;
          const netW = device.battery.chargePowerW - device.battery.idlePowerW;
          const chargeS = t.soc < target && netW > 0 ? ((target - t.soc) * device.battery.capacityWh * 3600) / netW : 0;
          duration = driveS + chargeS;
          t.soc = Math.max(t.soc, target);
          t.energyClockS = start + duration;
          break;
        }
        case 'wait':
          duration = s.params.seconds;
          spend(t, start + duration, 0, step.id);
          break;
      }
    } else {
      duration = fixedDuration(r);
      if (amrTarget?.kind === 'amr') {
        const t = track(amrTarget);
        const reachNodes = device.kind === 'arm' ? device.reaches.map((s) => site.locate(s)?.id) : [];
        if (!t.node || !reachNodes.includes(t.node)) {
          issues.push(
            issue('NOT_AT_STATION', {
              step: step.id,
              device: amrTarget.id,
              message: `${amrTarget.id} is at '${t.node ?? 'an unknown place'}' when ${device.id} would load it, not at a station ${device.id} reaches`,
              hint: `first send ${amrTarget.id} to one of ${device.kind === 'arm' ? device.reaches.join(', ') : ''} and list that step in this step's after`,
            }),
          );
        }
        if (t.cargo >= 1) issues.push(issue('CARGO_FULL', { step: step.id, device: amrTarget.id, message: `${amrTarget.id} already carries a tote when ${device.id} loads it`, hint: `drop its tote before this transfer` }));
        t.cargo = 1;
        spend(t, start + duration, 0, step.id);
        freeAt.set(amrTarget.id, start + duration);
      }
    }
    const end = start + duration;
    endOf.set(step.id, end);
    freeAt.set(device.id, end);
    timings.push({ id: step.id, device: device.id, startS: round(start), endS: round(end), ...(route ? { route: route.nodes } : {}) });
  }

  const makespanS = Math.max(0, ...endOf.values());
  const devices: DeviceSummary[] = [...used].sort().map((id) => {
    const t = amrs.get(id);
    if (!t) return { id, distanceM: 0 };
    spend(t, makespanS, 0, '');
    return { id, distanceM: round(t.distanceM), socStart: round(t.socStart, 3), socEnd: round(Math.max(0, t.soc), 3) };
  });
  return { makespanS: round(makespanS), steps: timings, devices, issues };
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

function nearestCharger(site: SiteIndex, graph: NavGraph, t: AmrTrack): string | undefined {
  let best: { id: string; time: number } | undefined;
  for (const s of site.site.stations) {
    if (s.kind !== 'charger' || !t.node) continue;
    const r = findRoute(graph, t.node, s.node, t.amr.limits);
    if (r.ok && (!best || r.route.timeS < best.time)) best = { id: s.id, time: r.route.timeS };
  }
  return best?.id;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
