// The check report: what an agent reads to decide what to change, and what an operator approves.
export const ISSUE_CODES = {
  UNKNOWN_DEVICE: { severity: 'error', when: '`device` names no device of the site' },
  UNKNOWN_ROLE: { severity: 'error', when: '`$role` is not declared in `roles`' },
  ROLE_UNASSIGNABLE: { severity: 'error', when: 'no device of that kind can be bound' },
  UNSUPPORTED_ACTION: { severity: 'error', when: "the device's kind cannot do the action" },
  UNKNOWN_LOCATION: { severity: 'error', when: 'a station or node id that the site does not have' },
  UNKNOWN_PROGRAM: { severity: 'error', when: "`program` is not in the machine's program table" },
  DUPLICATE_STEP: { severity: 'error', when: 'two steps share an id' },
  UNKNOWN_DEPENDENCY: { severity: 'error', when: '`after` names a missing step' },
  DEPENDENCY_CYCLE: { severity: 'error', when: '`after` links form a cycle' },
  UNREACHABLE: { severity: 'error', when: 'no nav-graph path to the target' },
  KEEP_OUT: { severity: 'error', when: 'a target or route enters a keep-out zone' },
  CARGO_FULL: { severity: 'error', when: 'pick (or a transfer onto an AMR) while it is loaded' },
  CARGO_EMPTY: { severity: 'error', when: 'drop while empty' },
  OUT_OF_REACH: { severity: 'error', when: 'arm.transfer `from`/`to` is a station the arm does not reach' },
  NOT_AT_STATION: { severity: 'error', when: 'arm.transfer to an AMR that is not parked at a station the arm reaches then' },
  ROBOT_CONFLICT: { severity: 'warning', when: "two robots' footprints would meet; resolved by a wait" },
  DEADLOCK: { severity: 'error', when: 'robots would block each other with no resolution' },
  BATTERY_LOW: { severity: 'error', when: "predicted state of charge falls below the site's reserve" },
  DEADLINE_MISSED: { severity: 'warning', when: 'predicted finish after `deadline`' },
  PARTS_SHORT: { severity: 'warning', when: 'a step takes more parts from a station than the plan has put there by then (machine.run, convey, arm.transfer)' },
  DEVICE_OFFLINE: { severity: 'error', when: 'the device is offline now, or not available (the gateway withholds it, e.g. its policy has no passing certificate), or `assume` says `online: false`' },
  DEVICE_WRONG_MAP: { severity: 'error', when: "the vehicle reports a map other than the site's `mapId`" },
  DEVICE_UNSUPPORTED_ACTION: { severity: 'error', when: "the vehicle's factsheet does not list an action the step needs (pick, drop, startCharging; startPause, stopPause, cancelOrder for any step)" },
  DEVICE_LIMITS: { severity: 'error', when: "the site assumes more of the vehicle than its factsheet states (speed, acceleration, deceleration, footprint; payload for a pick or an arm's transfer onto it)" },
  SPEED_LIMIT: { severity: 'warning', when: 'a route crosses a slow zone (the time includes it)' },
  DEVICE_BUSY: { severity: 'warning', when: 'the device has work committed to another mission first; the step starts after it' },
  MAKE_WAY: { severity: 'warning', when: "an idle robot stands in another robot's way for good; it is moved aside (site policy `idle`)" },
} as const;

export type IssueCode = keyof typeof ISSUE_CODES;
export type Severity = 'error' | 'warning';

export interface Issue {
  code: IssueCode;
  severity: Severity;
  step?: string;
  device?: string;
  message: string;
  hint: string;
  /** ROBOT_CONFLICT, DEADLOCK: the other robot; MAKE_WAY: the robot `device` makes way for. */
  with?: string;
  /**
   * ROBOT_CONFLICT, DEADLOCK: the nav-graph node where the robot that waits (or is stuck) stands:
   * `device`, or — in an issue about another mission's robot that this plan's robot `device`
   * holds up (`mission` set, the message says who waits) — that robot, `with`. MAKE_WAY: where
   * it stood.
   */
  at?: string;
  /** ROBOT_CONFLICT, DEADLOCK: simulated time (s from the start) when the wait begins; MAKE_WAY: when it sets off. */
  atS?: number;
  /** DEADLOCK: the node where `with` stands when it does not move at all (parked, and no step moves it). */
  withAt?: string;
  /** ROBOT_CONFLICT: how long the robot waits there, seconds. */
  waitS?: number;
  /** ROBOT_CONFLICT: `device` took a detour around the other robot (after waiting `waitS`). */
  detour?: boolean;
  /**
   * ROBOT_CONFLICT, DEADLOCK, DEVICE_BUSY: the other mission (approved, running or paused) whose
   * committed work is involved: the robot `with` works for it, or `device` is busy with it first.
   */
  mission?: string;
}

export interface StepTiming {
  id: string;
  device?: string;
  startS: number;
  endS: number;
  /** Nav-graph nodes the device drives through, for AMR steps that move. */
  route?: string[];
  /** The step never finishes: its robot is deadlocked (see the DEADLOCK issue); `endS` is when it got stuck. */
  blocked?: boolean;
}

/** An idle robot moved out of another's way (MAKE_WAY): what the run is to do when the time comes. */
export interface Move {
  /** The name its node entries carry in the check's schedule (`make-way:1`, …). */
  id: string;
  device: string;
  /** The node it stood on, and the station (or bare node) it goes to. */
  from: string;
  to: string;
  /** The nodes it drives, `from` first (detours included). */
  route: string[];
  /** When it sets off, s from the start. */
  atS: number;
  /** The robot it makes way for, and that robot's step (`missionId/stepId` for another mission's). */
  for: string;
  step: string;
}

export interface DeviceSummary {
  id: string;
  distanceM: number;
  socStart?: number;
  socEnd?: number;
  /** Seconds the AMR spends waiting for other robots (ROBOT_CONFLICT). */
  waitS?: number;
}

export interface CheckReport {
  verdict: 'pass' | 'warn' | 'fail';
  planHash: string;
  worldHash: string;
  assignments: Record<string, string>;
  makespanS: number;
  steps: StepTiming[];
  devices: DeviceSummary[];
  issues: Issue[];
  /** Idle robots the check moved out of the way of the plan's robots, or the plan's robots out of other missions' way (MAKE_WAY): the mission moves them too. */
  moves?: Move[];
  /**
   * When the first choice of devices for the roles failed: every assignment checked (the first
   * one first), its verdict, makespan and the codes of its errors. The report is the one of the
   * assignment that passes and finishes first, or the first if none passes.
   */
  tried?: { assignments: Record<string, string>; verdict: CheckReport['verdict']; makespanS: number; issues: IssueCode[] }[];
  /**
   * Only when some of the plan's steps did not run in the check: each, and why — `not scheduled`
   * (an error of its own, see its issue) or `never starts` (it waits on a step that never
   * finishes). `makespanS` counts only the steps that ran.
   */
  notRun?: { id: string; why: 'not scheduled' | 'never starts' }[];
}

export function issue(code: IssueCode, fields: Omit<Issue, 'code' | 'severity'>): Issue {
  return { code, severity: ISSUE_CODES[code].severity, ...fields };
}

export function verdictOf(issues: readonly Issue[]): CheckReport['verdict'] {
  if (issues.some((i) => i.severity === 'error')) return 'fail';
  return issues.length > 0 ? 'warn' : 'pass';
}
