// The plan check: everything that can be said about a plan before anything moves.
// Given a site, the fleet's state and a plan, it returns the report of plan-format.md.
import { allocateRoles } from './allocate.ts';
import { committedWork, ownPart, type Commitment } from './commitments.ts';
import { analyseDependencies } from './dependencies.ts';
import { applyAssume, onWrongMap, type Assume, type DeviceState, type FleetState } from './fleet.ts';
import { planHash, type Plan, type ShapeProblem, type Step } from './plan.ts';
import { partIssues } from './parts.ts';
import { issue, verdictOf, type CheckReport, type DeviceSummary, type Issue, type IssueCode, type Move, type StepTiming } from './report.ts';
import type { NavGraph } from './route.ts';
import type { Device, DeviceKind, SiteIndex } from './site.ts';
import { hints, type Hints } from './suggest.ts';

export const ACTIONS_BY_KIND: Record<DeviceKind, readonly Step['action'][]> = {
  amr: ['navigate', 'pick', 'drop', 'charge', 'wait'],
  arm: ['arm.transfer', 'wait'],
  cnc: ['machine.run', 'wait'],
  printer: ['machine.run', 'wait'],
  conveyor: ['convey', 'wait'],
};

export interface CheckInput {
  site: SiteIndex;
  graph: NavGraph;
  worldHash: string;
  plan: Plan;
  fleet: FleetState;
  assume?: Assume;
  /** Wall-clock start of the plan, for the deadline. */
  now: Date;
  /** Runs the resolved steps in simulated time (sim/ provides it: planners/ stays pure). */
  simulate: Simulate;
  /** Work other missions (approved, running, paused) will still do, oldest mission first: the plan runs after and around it. */
  committed?: readonly Commitment[];
  /** Role → device of an earlier check, kept as the first choice while that device can take the role (a re-check at approval). */
  keep?: Readonly<Record<string, string>>;
  /**
   * AMR → the nodes it holds at run time (where it stands, and what it is granted ahead on its
   * route: it drives there whatever else happens): it occupies them from the start, and leaves
   * each as it drives on.
   */
  holds?: ReadonlyMap<string, readonly string[]>;
}

/** What the simulator is given: the steps that resolved, in dependency order. */
export interface EstimateInput {
  site: SiteIndex;
  graph: NavGraph;
  fleet: ReadonlyMap<string, DeviceState>;
  /** AMR → the nodes it occupies at the start (CheckInput.holds); default: the node it stands on. */
  holds?: ReadonlyMap<string, readonly string[]>;
  steps: readonly ResolvedStep[];
  order: readonly Step[];
  after: ReadonlyMap<string, readonly string[]>;
  /** Steps that resolved; the others are skipped but their dependents still wait on nothing. */
  valid: ReadonlySet<string>;
  /**
   * AMR steps whose route was checked before (committed missions' steps): each drives its route
   * from the node of it where the robot stands, as the run will, instead of a route found anew.
   */
  routes?: ReadonlyMap<string, readonly string[]>;
  /** Steps of other missions, approved first: their robots have right of way (see docs/architecture.md, "Commitments"). */
  committed?: ReadonlySet<string>;
}

/** What the simulator answers: timings, per-device figures and the dynamic issues. */
export interface Estimate {
  makespanS: number;
  steps: StepTiming[];
  devices: DeviceSummary[];
  issues: Issue[];
  /** Every node entry of every robot in simulated time, in the order they happen: the schedule the run follows. */
  passes?: Pass[];
  /** Idle robots moved out of another robot's way (MAKE_WAY). */
  moves?: Move[];
}

/** A robot starts driving into a node (`step` is `missionId/stepId` for committed work, `make-way:k` for a move). */
export interface Pass {
  t: number;
  device: string;
  step: string;
  node: string;
}

export type Simulate = (input: EstimateInput) => Estimate;

/** A step whose device and parameters resolved: the estimator may run it. */
export interface ResolvedStep {
  step: Step;
  device: Device;
  /** For arm.transfer onto an AMR: the AMR's id. */
  targetAmr?: string;
}

/** `assume` is part of the request, not the plan: problems in it are request errors (HTTP 400). */
export function assumeProblems(index: SiteIndex, assume: Assume | undefined): ShapeProblem[] {
  const problems: ShapeProblem[] = [];
  for (const [id, a] of Object.entries(assume ?? {})) {
    if (!index.device(id)) problems.push({ path: `assume.${id}`, message: `no device '${id}' on this site` });
    if (a.at !== undefined && !index.locate(a.at)) problems.push({ path: `assume.${id}.at`, message: `no station or node '${a.at}' on this site` });
  }
  return problems;
}

/** Errors in the plan itself, which no other device could avoid: with one of them, no other assignment is tried. */
const PLAN_ERRORS: ReadonlySet<IssueCode> = new Set<IssueCode>(['UNKNOWN_DEVICE', 'UNKNOWN_ROLE', 'ROLE_UNASSIGNABLE', 'UNSUPPORTED_ACTION', 'UNKNOWN_LOCATION', 'UNKNOWN_PROGRAM', 'DUPLICATE_STEP', 'UNKNOWN_DEPENDENCY', 'DEPENDENCY_CYCLE']);

/** Another assignment replaces a first choice that passes only if it finishes at least this much (a fraction) earlier. */
export const CLEARLY_EARLIER = 0.05;

/** At most this many role assignments are checked for one plan (the first choice included). */
export const MAX_ASSIGNMENTS_TRIED = 8;

/** The order in which the robots of a report's check (its plan's and the committed ones) enter nodes. */
const schedules = new WeakMap<CheckReport, readonly Pass[]>();

/** The node entries the simulation behind `report` made, in order; undefined for a report not made here. */
export function passesOf(report: CheckReport): readonly Pass[] | undefined {
  return schedules.get(report);
}

/** A check under way: its input and the hints it builds, all within one budget (planners/suggest.ts). */
interface Checking extends CheckInput {
  hintFor: Hints;
}

export function checkPlan(checkInput: CheckInput): CheckReport {
  const input: Checking = { ...checkInput, hintFor: hints() };
  const { site, plan, graph } = input;
  const fleet = applyAssume(input.fleet, input.assume, (i) => site.locate(i)?.id);
  const deps = analyseDependencies(plan.steps, input.hintFor);
  const work = committedWork(site, input.committed ?? []);
  const allocation = allocateRoles(site, graph, plan, deps.order, fleet, work.busy, input.keep);
  const first = evaluate(input, fleet, deps, work, allocation.assignments, [...deps.issues, ...allocation.issues]);
  if (first.issues.some((i) => i.severity === 'error' && PLAN_ERRORS.has(i.code))) return first;
  // A first choice that passes is kept at a re-check (the operator approves the devices the
  // report shows); otherwise its roles may go to devices that finish earlier, except a role whose
  // `near` says which device the agent prefers.
  const candidates =
    first.verdict === 'fail' ? allocation.candidates : Object.fromEntries(Object.entries(allocation.candidates).map(([role, c]) => [role, plan.roles?.[role]?.near ? c.slice(0, 1) : c]));
  if (first.verdict !== 'fail' && (input.keep || !Object.values(candidates).some((c) => c.length > 1))) return first;
  // Try the other devices for the roles (bounded) and take the assignment that passes and
  // finishes first (the first choice on a tie), saying what was tried.
  const tried = [first];
  for (const assignments of alternatives(allocation.assignments, candidates, MAX_ASSIGNMENTS_TRIED - 1)) {
    tried.push(evaluate(input, fleet, deps, work, assignments, [...deps.issues, ...allocation.issues]));
  }
  if (tried.length === 1) return first;
  // Sorting is stable: on a tie the first choice, then the nearer alternatives, come first. A
  // first choice that passes stays unless another finishes clearly earlier.
  const passing = tried.filter((r) => r.verdict !== 'fail').sort((a, b) => a.makespanS - b.makespanS);
  const best = passing[0];
  const chosen = first.verdict !== 'fail' && (!best || best.makespanS > first.makespanS * (1 - CLEARLY_EARLIER)) ? first : (best ?? first);
  return withPasses({ ...chosen, tried: tried.map((r) => ({ assignments: r.assignments, verdict: r.verdict, makespanS: r.makespanS, issues: r.issues.filter((i) => i.severity === 'error').map((i) => i.code) })) }, schedules.get(chosen));
}

/**
 * Attaches the node entries of a check to its report, for passesOf. A report that crossed a
 * thread boundary (gateway/checks/) is a copy the WeakMap does not know: its passes are carried
 * next to it and attached here again.
 */
export function withPasses(report: CheckReport, passes: readonly Pass[] | undefined): CheckReport {
  if (passes) schedules.set(report, passes);
  return report;
}

/**
 * Assignments other than `first`, nearest first: one role moved to its next candidate, then
 * further ones; never two roles on one device.
 */
function alternatives(first: Record<string, string>, candidates: Record<string, string[]>, limit: number): Record<string, string>[] {
  const roles = Object.keys(candidates).sort();
  const out: Record<string, string>[] = [];
  const seen = new Set([JSON.stringify(first)]);
  for (let depth = 1; out.length < limit && roles.some((r) => depth < candidates[r]!.length); depth++) {
    for (const role of roles) {
      const device = candidates[role]![depth];
      if (!device || out.length >= limit) continue;
      const next = { ...first, [role]: device };
      // The device this role takes is given up by the role that had it, which takes the freed one.
      const clash = roles.find((r) => r !== role && next[r] === device);
      if (clash) next[clash] = first[role]!;
      const key = JSON.stringify(next);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(next);
      }
    }
  }
  return out;
}

/** The report for one binding of the roles. */
function evaluate(
  input: Checking,
  fleet: ReadonlyMap<string, DeviceState>,
  deps: ReturnType<typeof analyseDependencies>,
  work: ReturnType<typeof committedWork>,
  assignments: Record<string, string>,
  before: Issue[],
): CheckReport {
  const { site, plan, graph } = input;
  const issues: Issue[] = [...before];
  const resolved: ResolvedStep[] = [];
  const firstUse = new Map<string, string>();
  for (const step of deps.order) {
    const r = resolveStep(step, input, assignments, issues);
    if (!r) continue;
    resolved.push(r);
    for (const d of [r.device.id, r.targetAmr]) if (d && !firstUse.has(d)) firstUse.set(d, step.id);
  }
  // Steps in a dependency cycle, or behind one, never run, but what else is wrong with them is
  // reported all the same: an agent fixes every problem in one round, not one per check.
  const ordered = new Set(deps.order.map((s) => s.id));
  for (const step of plan.steps) if (!ordered.has(step.id)) resolveStep(step, input, assignments, issues);
  for (const [deviceId, stepId] of firstUse) {
    if (fleet.get(deviceId)?.online !== true) {
      const assumed = input.assume?.[deviceId]?.online === false;
      const unavailable = fleet.get(deviceId)?.unavailable;
      issues.push(
        issue('DEVICE_OFFLINE', {
          step: stepId,
          device: deviceId,
          message: assumed ? `'${deviceId}' is assumed offline` : unavailable ? `'${deviceId}' is not available: ${unavailable}` : `'${deviceId}' is offline now`,
          hint: unavailable
            ? 'give its steps to another device (a role picks an available one); the gateway uses it again once what its message says is fixed and the gateway restarted'
            : 'bring it online and check again, or give its steps to another device (a role picks an online one)',
        }),
      );
    }
  }

  issues.push(...vehicleIssues(site, fleet, resolved, firstUse));

  // The committed work goes first: on a device both use, the other mission's steps come first.
  const valid = new Set([...work.origin.keys(), ...resolved.map((r) => r.step.id)]);
  const estimate = ownPart(
    input.simulate({ site, graph, fleet, ...(input.holds ? { holds: input.holds } : {}), steps: [...work.steps, ...resolved], order: [...work.order, ...deps.order], after: new Map([...work.after, ...deps.after]), valid, routes: work.routes, committed: new Set(work.origin.keys()) }),
    work,
    resolved,
  );
  issues.push(...estimate.issues);
  issues.push(...partIssues(resolved, estimate.steps));
  if (plan.deadline) {
    const finish = input.now.getTime() + estimate.makespanS * 1000;
    const deadline = Date.parse(plan.deadline);
    if (finish > deadline) {
      const last = [...estimate.steps].sort((a, b) => b.endS - a.endS)[0];
      issues.push(
        issue('DEADLINE_MISSED', {
          ...(last ? { step: last.id } : {}),
          message: `predicted finish ${new Date(finish).toISOString()} is ${Math.round((finish - deadline) / 1000)} s after the deadline ${plan.deadline}`,
          hint: 'move the deadline, drop or shorten steps, or let independent steps run in parallel (fewer after links)',
        }),
      );
    }
  }

  return withPasses(
    {
      verdict: verdictOf(issues),
      planHash: planHash(plan),
      worldHash: input.worldHash,
      assignments,
      makespanS: estimate.makespanS,
      steps: estimate.steps,
      devices: estimate.devices,
      issues,
      ...(estimate.moves?.length ? { moves: estimate.moves } : {}),
      ...notRun(plan, estimate.steps, issues),
    },
    estimate.passes,
  );
}

/** The plan's steps the check did not run, and why: an error of their own, or a wait on a step that never finishes. */
function notRun(plan: Plan, ran: readonly { id: string }[], issues: readonly Issue[]): Pick<CheckReport, 'notRun'> {
  const started = new Set(ran.map((s) => s.id));
  const broken = new Set(issues.filter((i) => i.severity === 'error' && i.step).map((i) => i.step));
  const left = plan.steps.filter((s) => !started.has(s.id)).map((s) => ({ id: s.id, why: broken.has(s.id) ? ('not scheduled' as const) : ('never starts' as const) }));
  return left.length > 0 ? { notRun: left } : {};
}

/** The node action of an order each AMR step ends with, if any (robots/vda5050/order.ts sends them). */
const NODE_ACTION: Partial<Record<Step['action'], string>> = { pick: 'pick', drop: 'drop', charge: 'startCharging' };
/** Instant actions every vehicle with work must take: STOP (startPause + cancelOrder) and resuming after a pause. */
const STOP_ACTIONS = ['startPause', 'stopPause', 'cancelOrder'] as const;

/**
 * What the vehicles themselves say against the plan: one reporting another map than the site's
 * (DEVICE_WRONG_MAP), and, from the factsheet it published (none yet: nothing is said), an action a
 * step needs that it does not list (DEVICE_UNSUPPORTED_ACTION) or site figures above its own
 * (DEVICE_LIMITS).
 */
function vehicleIssues(site: SiteIndex, fleet: ReadonlyMap<string, DeviceState>, resolved: readonly ResolvedStep[], firstUse: ReadonlyMap<string, string>): Issue[] {
  const issues: Issue[] = [];
  const mapId = site.site.mapId;
  const amrs = site.devicesOfKind('amr');
  for (const [deviceId, stepId] of firstUse) {
    const state = fleet.get(deviceId);
    if (state?.online === true && onWrongMap(state, mapId)) {
      issues.push(
        issue('DEVICE_WRONG_MAP', {
          step: stepId,
          device: deviceId,
          message: `'${deviceId}' reports map '${state.mapId}', not the site's '${mapId}'`,
          hint: `the vehicle reports map '${state.mapId}'; set its map to '${mapId}' (localise it on the site's map) and check again, or give its steps to another vehicle (a role picks one on '${mapId}')`,
        }),
      );
    }
  }
  const lacking = (deviceId: string, action: string, scope: 'NODE' | 'INSTANT') => {
    const actions = fleet.get(deviceId)?.factsheet?.actions;
    return actions !== undefined && !(scope === 'NODE' ? actions.node : actions.instant).includes(action);
  };
  const able = (action: string, scope: 'NODE' | 'INSTANT') => amrs.filter((d) => !lacking(d.id, action, scope)).map((d) => d.id);
  for (const r of resolved) {
    // An arm loading a tote onto an AMR asks the AMR to carry it, as a pick would.
    const loaded = r.targetAmr ? fleet.get(r.targetAmr)?.factsheet?.problems.filter((p) => p.kind === 'payload') : undefined;
    if (loaded?.length) {
      issues.push(
        issue('DEVICE_LIMITS', {
          step: r.step.id,
          device: r.targetAmr!,
          message: `site.yaml assumes more of '${r.targetAmr}' than its factsheet states: ${loaded.map((p) => p.message).join('; ')}`,
          hint: `set the device's payloadKg in site.yaml to at most what the factsheet states (GET /v1/robots/${r.targetAmr} shows it), or load another vehicle`,
        }),
      );
    }
    if (r.device.kind !== 'amr') continue;
    const sheet = fleet.get(r.device.id)?.factsheet;
    if (!sheet) continue;
    const needed: [string, 'NODE' | 'INSTANT'][] = [];
    const nodeAction = NODE_ACTION[r.step.action];
    if (nodeAction) needed.push([nodeAction, 'NODE']);
    if (firstUse.get(r.device.id) === r.step.id) for (const a of STOP_ACTIONS) needed.push([a, 'INSTANT']);
    for (const [action, scope] of needed) {
      if (!lacking(r.device.id, action, scope)) continue;
      const others = able(action, scope).filter((id) => id !== r.device.id);
      const why = scope === 'NODE' ? `step '${r.step.id}' (${r.step.action}) ends its order with '${action}'` : `STOP and pause/resume send '${action}' as an instant action`;
      issues.push(
        issue('DEVICE_UNSUPPORTED_ACTION', {
          step: r.step.id,
          device: r.device.id,
          message: `the factsheet of '${r.device.id}' does not list '${action}' (scope ${scope}); ${why}`,
          hint: `${others.length > 0 ? `give the step to a vehicle that lists it (${others.join(', ')})` : 'no vehicle of the site lists it'}, or have the vehicle's integrator enable '${action}' and publish its factsheet again`,
        }),
      );
    }
    const limits = sheet.problems.filter((p) => p.kind !== 'action' && (p.kind !== 'payload' || r.step.action === 'pick') && (p.kind === 'payload' || firstUse.get(r.device.id) === r.step.id));
    if (limits.length > 0) {
      issues.push(
        issue('DEVICE_LIMITS', {
          step: r.step.id,
          device: r.device.id,
          message: `site.yaml assumes more of '${r.device.id}' than its factsheet states: ${limits.map((p) => p.message).join('; ')}`,
          hint: `set the device's ${[...new Set(limits.map((p) => LIMIT_FIELD[p.kind]))].join(', ')} in site.yaml to at most what the factsheet states (GET /v1/robots/${r.device.id} shows it), or give the step to another vehicle`,
        }),
      );
    }
  }
  return issues;
}

/** The site.yaml field that states what a factsheet's figure bounds. */
const LIMIT_FIELD: Record<string, string> = { speed: 'limits.maxSpeed', acceleration: 'limits.maxAccel', deceleration: 'limits.maxDecel', payload: 'payloadKg', footprint: 'footprint' };

function resolveStep(step: Step, input: Checking, assignments: Record<string, string>, issues: Issue[]): ResolvedStep | undefined {
  const { site, plan } = input;
  const problemsBefore = issues.length;
  let device: Device | undefined;
  let kind: DeviceKind | undefined;
  if (step.device.startsWith('$')) {
    const role = step.device.slice(1);
    const spec = plan.roles?.[role];
    if (!spec) {
      issues.push(
        issue('UNKNOWN_ROLE', {
          step: step.id,
          message: `step '${step.id}' uses role '${role}', which the plan does not declare`,
          hint: `declare it in roles, e.g. "roles": { "${role}": { "kind": "amr" } }${plan.roles ? `; declared roles: ${Object.keys(plan.roles).join(', ')}` : ''}`,
        }),
      );
    } else {
      kind = spec.kind;
      const bound = assignments[role];
      device = bound ? site.device(bound) : undefined;
    }
  } else {
    device = site.device(step.device);
    kind = device?.kind;
    if (!device) {
      issues.push(
        issue('UNKNOWN_DEVICE', {
          step: step.id,
          device: step.device,
          message: `device '${step.device}' does not exist on this site`,
          hint: input.hintFor(step.device, site.site.devices.map((d) => d.id), 'devices'),
        }),
      );
    }
  }
  if (kind && !ACTIONS_BY_KIND[kind].includes(step.action)) {
    const able = site.site.devices.filter((d) => ACTIONS_BY_KIND[d.kind].includes(step.action)).map((d) => d.id);
    issues.push(
      issue('UNSUPPORTED_ACTION', {
        step: step.id,
        ...(device ? { device: device.id } : {}),
        message: `${device ? `'${device.id}' is ${article(kind)}` : `role '${step.device.slice(1)}' is ${article(kind)}`} and cannot do '${step.action}'`,
        hint: able.length > 0 ? `devices that can: ${able.join(', ')}` : `this site has no device that can do '${step.action}'`,
      }),
    );
    return undefined;
  }

  const targetAmr = checkParams(step, device, input, issues, assignments);
  if (!device || issues.length > problemsBefore) return undefined;
  return { step, device, ...(targetAmr ? { targetAmr } : {}) };
}

/** Station, program and reach checks; returns the AMR an arm.transfer loads, if any. */
function checkParams(step: Step, device: Device | undefined, input: Checking, issues: Issue[], assignments: Record<string, string>): string | undefined {
  const { site } = input;
  const stations = site.site.stations.map((s) => s.id);
  const unknown = (field: string, value: string, what = 'stations') =>
    issues.push(
      issue('UNKNOWN_LOCATION', {
        step: step.id,
        message: `${field} '${value}' is not a ${what === 'stations' ? 'station' : 'station or node'} of this site`,
        hint: input.hintFor(value, what === 'stations' ? stations : [...stations, ...site.site.nodes.map((n) => n.id).filter((n) => !site.station(n))], what),
      }),
    );
  switch (step.action) {
    case 'navigate':
      if (!site.locate(step.params.to)) unknown('to', step.params.to, 'stations and nodes');
      return undefined;
    case 'pick':
    case 'drop':
      if (!site.station(step.params.at)) unknown('at', step.params.at);
      return undefined;
    case 'charge': {
      const at = step.params.at;
      if (at === undefined) return undefined;
      const station = site.station(at);
      if (!station) unknown('at', at);
      else if (station.kind !== 'charger') {
        const chargers = site.site.stations.filter((s) => s.kind === 'charger').map((s) => s.id);
        issues.push(
          issue('UNKNOWN_LOCATION', {
            step: step.id,
            message: `'${at}' is a ${station.kind}, not a charger`,
            hint: `chargers: ${chargers.join(', ')}; or leave 'at' out to use the nearest free one`,
          }),
        );
      }
      return undefined;
    }
    case 'machine.run':
      if (device && (device.kind === 'cnc' || device.kind === 'printer') && !(step.params.program in device.programs)) {
        issues.push(
          issue('UNKNOWN_PROGRAM', {
            step: step.id,
            device: device.id,
            message: `'${device.id}' has no program '${step.params.program}'`,
            hint: input.hintFor(step.params.program, Object.keys(device.programs), `programs of ${device.id}`),
          }),
        );
      }
      return undefined;
    case 'arm.transfer':
      return checkTransfer(step, device, input, issues, unknown, assignments);
    default:
      return undefined;
  }
}

function checkTransfer(
  step: Extract<Step, { action: 'arm.transfer' }>,
  device: Device | undefined,
  input: Checking,
  issues: Issue[],
  unknown: (field: string, value: string) => void,
  assignments: Record<string, string>,
): string | undefined {
  const { site, plan } = input;
  const reaches = device?.kind === 'arm' ? device.reaches : undefined;
  const outOfReach = (field: string, station: string) =>
    issues.push(
      issue('OUT_OF_REACH', {
        step: step.id,
        ...(device ? { device: device.id } : {}),
        message: `${field} '${station}' is out of reach of ${device?.id}`,
        hint: `${device?.id} reaches: ${reaches?.join(', ')}`,
      }),
    );
  if (!site.station(step.params.from)) unknown('from', step.params.from);
  else if (reaches && !reaches.includes(step.params.from)) outOfReach('from', step.params.from);

  const to = step.params.to;
  if (site.station(to)) {
    if (reaches && !reaches.includes(to)) outOfReach('to', to);
    return undefined;
  }
  if (to.startsWith('$')) {
    const role = to.slice(1);
    const spec = plan.roles?.[role];
    if (!spec) {
      issues.push(
        issue('UNKNOWN_ROLE', { step: step.id, message: `'to' names role '${role}', which the plan does not declare`, hint: `declare it in roles with kind amr` }),
      );
      return undefined;
    }
    if (spec.kind !== 'amr') {
      issues.push(
        issue('UNSUPPORTED_ACTION', { step: step.id, message: `arm.transfer can load an AMR, not ${article(spec.kind)} (role '${role}')`, hint: `give role '${role}' kind amr, or transfer to a station` }),
      );
      return undefined;
    }
    // An unbound role already has its ROLE_UNASSIGNABLE issue; the transfer then loads nothing.
    return assignments[role];
  }
  const target = site.device(to);
  if (target?.kind === 'amr') return target.id;
  unknown('to', to);
  return undefined;
}

function article(kind: string): string {
  return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}
