// Commitments: the work other missions (approved, running or paused) will still do. A check runs a
// new plan together with that work in one simulation, so the plan's robots meet the committed
// robots where they will be, a device busy with another mission starts the plan's steps only when
// it is free, and a plan that would keep a committed mission from finishing fails, naming it.
// See docs/architecture.md, "Commitments".
import type { Estimate, ResolvedStep } from './check.ts';
import { analyseDependencies } from './dependencies.ts';
import type { Plan, Step } from './plan.ts';
import { issue, type Issue } from './report.ts';
import type { SiteIndex } from './site.ts';

/** One mission's work still to do, as its check bound it. */
export interface Commitment {
  missionId: string;
  plan: Plan;
  /** Role → device, from the mission's report. */
  assignments: Readonly<Record<string, string>>;
  /** Steps that are over (succeeded, failed or cancelled): they no longer happen. */
  over: ReadonlySet<string>;
  /** Step id → the route its check planned (the report's `steps[].route`): what the run drives. */
  routes?: Readonly<Record<string, readonly string[]>>;
}

/** The committed steps, ready to be simulated before the new plan's. */
export interface CommittedWork {
  steps: ResolvedStep[];
  order: Step[];
  after: Map<string, string[]>;
  /** Simulated step id → the mission and step it stands for. */
  origin: Map<string, { missionId: string; stepId: string }>;
  /** Device → the first mission with work for it still to do. */
  busy: Map<string, string>;
  /** Simulated step id → the route its mission's check planned, driven from where the robot stands on it. */
  routes: Map<string, readonly string[]>;
}

/** A committed step's id in the simulation: never a plan's own step id (those cannot hold '/'). */
export const committedStepId = (missionId: string, stepId: string): string => `${missionId}/${stepId}`;

/**
 * The steps of `commitments` not over yet, in the order given (the first mission's steps go first
 * on a device they share), each bound to its device. A step whose device the site no longer has is
 * left out, and so are dependencies on steps that are over or left out.
 */
export function committedWork(site: SiteIndex, commitments: readonly Commitment[]): CommittedWork {
  const work: CommittedWork = { steps: [], order: [], after: new Map(), origin: new Map(), busy: new Map(), routes: new Map() };
  for (const c of commitments) {
    const bind = (ref: string) => (ref.startsWith('$') ? c.assignments[ref.slice(1)] : ref);
    const included = new Set<string>();
    for (const step of analyseDependencies(c.plan.steps).order) {
      if (c.over.has(step.id)) continue;
      const device = site.device(bind(step.device) ?? '');
      if (!device) continue;
      let targetAmr: string | undefined;
      if (step.action === 'arm.transfer') {
        const to = site.device(bind(step.params.to) ?? '');
        if (to?.kind === 'amr') targetAmr = to.id;
      }
      const id = committedStepId(c.missionId, step.id);
      const after = (step.after ?? []).filter((a) => included.has(a)).map((a) => committedStepId(c.missionId, a));
      const copy = { ...step, id, device: device.id, after } as Step;
      included.add(step.id);
      work.steps.push({ step: copy, device, ...(targetAmr ? { targetAmr } : {}) });
      work.order.push(copy);
      work.after.set(id, after);
      work.origin.set(id, { missionId: c.missionId, stepId: step.id });
      const route = c.routes?.[step.id];
      if (route) work.routes.set(id, route);
      for (const d of [device.id, targetAmr]) if (d && !work.busy.has(d)) work.busy.set(d, c.missionId);
    }
  }
  return work;
}

/**
 * The new plan's part of an estimate made with committed work: its own steps, devices and issues,
 * its makespan (until its last step ends, waits for busy devices included), issues of committed
 * steps that the plan's robots cause (turned into the plan's, naming the mission), and a
 * DEVICE_BUSY warning for each device the plan shares with a committed mission.
 */
export function ownPart(estimate: Estimate, work: CommittedWork, own: readonly ResolvedStep[]): Estimate {
  if (work.origin.size === 0) return estimate;
  const firstStepOf = new Map<string, string>();
  for (const r of own) for (const d of [r.device.id, r.targetAmr]) if (d && !firstStepOf.has(d)) firstStepOf.set(d, r.step.id);
  const steps = estimate.steps.filter((s) => !work.origin.has(s.id));
  const issues: Issue[] = [];
  for (const i of estimate.issues) {
    const origin = i.step ? work.origin.get(i.step) : undefined;
    if (!origin) {
      // The other robot: the one `device` waits for, or the one that makes way for `device`.
      const robot = i.code === 'MAKE_WAY' ? i.device : i.with;
      const other = robot ? work.busy.get(robot) : undefined;
      issues.push(other ? { ...i, mission: other, message: `${i.message} (${robot} works for mission ${other})` } : i);
      continue;
    }
    // The plan's robot, done with its work, makes way for a committed robot: the plan's to know.
    if (i.code === 'MAKE_WAY' && i.device && firstStepOf.has(i.device)) {
      issues.push({ ...i, step: firstStepOf.get(i.device)!, mission: origin.missionId, message: `${i.message} (${i.with} works for mission ${origin.missionId})` });
      continue;
    }
    // A committed step's issue is the plan's only when the plan's robot causes it.
    const ours = i.with ? firstStepOf.get(i.with) : undefined;
    if (!ours || !i.with || !i.device || (i.code !== 'ROBOT_CONFLICT' && i.code !== 'DEADLOCK')) continue;
    const where = `at '${i.at}' (t = ${i.atS} s)`;
    // Turned round: the plan's robot is the one the issue is about, the committed one the other.
    const turned = { step: ours, device: i.with, with: i.device, mission: origin.missionId, ...(i.at ? { at: i.at } : {}), ...(i.atS !== undefined ? { atS: i.atS } : {}) };
    issues.push(
      i.code === 'DEADLOCK'
        ? issue('DEADLOCK', {
            ...turned,
            message: `${i.with} would keep ${i.device} of mission ${origin.missionId} from finishing its step '${origin.stepId}': ${i.device} gets stuck ${where}`,
            hint: `send ${i.with} somewhere else, give this plan's work to another robot, or submit the plan again once mission ${origin.missionId} has ended`,
          })
        : issue('ROBOT_CONFLICT', {
            ...turned,
            ...(i.waitS !== undefined ? { waitS: i.waitS } : {}),
            message: `${i.device} of mission ${origin.missionId} waits ${i.waitS ?? 0} s ${where} for ${i.with} of this plan to clear the way`,
            hint: `no change needed; to stay out of mission ${origin.missionId}'s way, route ${i.with} another way or start this plan later`,
          }),
    );
  }
  for (const [device, stepId] of firstStepOf) {
    const mission = work.busy.get(device);
    if (!mission) continue;
    const timing = steps.find((s) => s.id === stepId);
    issues.push(
      issue('DEVICE_BUSY', {
        step: stepId,
        device,
        mission,
        message: `${device} has work for mission ${mission} first; step '${stepId}' starts when it is free${timing ? `, at about ${timing.startS} s` : ''}`,
        hint: `no change needed; to start sooner, give the step to a free device (a role picks one), or wait until mission ${mission} has ended`,
      }),
    );
  }
  const devices = new Set(firstStepOf.keys());
  const moves = estimate.moves?.filter((m) => devices.has(m.device) || devices.has(m.for));
  return {
    makespanS: Math.max(0, ...steps.map((s) => s.endS)),
    steps,
    devices: estimate.devices.filter((d) => devices.has(d.id)),
    issues,
    ...(estimate.passes ? { passes: estimate.passes } : {}),
    ...(moves?.length ? { moves } : {}),
  };
}
