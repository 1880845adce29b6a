// Mission lifecycle: which status may follow which. The store applies a transition only
// from the statuses listed here, so a late or repeated request cannot move a mission backwards.
export const MISSION_STATUSES = [
  'rejected',
  'awaiting_approval',
  'approved',
  'running',
  'paused',
  'succeeded',
  'failed',
  'cancelled',
] as const;
export type MissionStatus = (typeof MISSION_STATUSES)[number];

export const STEP_STATUSES = ['pending', 'dispatched', 'running', 'blocked', 'succeeded', 'failed', 'cancelled'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

const NEXT: Record<MissionStatus, readonly MissionStatus[]> = {
  rejected: [],
  awaiting_approval: ['approved', 'cancelled'],
  approved: ['running', 'cancelled'],
  running: ['paused', 'succeeded', 'failed', 'cancelled'],
  paused: ['running', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: MissionStatus, to: MissionStatus): boolean {
  return NEXT[from].includes(to);
}

/** Statuses a mission may be in for `to` to be allowed. */
export function statusesLeadingTo(to: MissionStatus): MissionStatus[] {
  return MISSION_STATUSES.filter((s) => NEXT[s].includes(to));
}

export function isFinal(status: MissionStatus): boolean {
  return NEXT[status].length === 0;
}

const STEP_NEXT: Record<StepStatus, readonly StepStatus[]> = {
  pending: ['dispatched', 'cancelled'],
  dispatched: ['running', 'blocked', 'succeeded', 'failed', 'cancelled'],
  running: ['blocked', 'succeeded', 'failed', 'cancelled'],
  // A step a STOP interrupted is dispatched again on resume (an AMR drives on from where it stands).
  blocked: ['running', 'dispatched', 'failed', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export function canStepTransition(from: StepStatus, to: StepStatus): boolean {
  return STEP_NEXT[from].includes(to);
}

/** Step statuses from which `to` may follow. */
export function stepStatusesLeadingTo(to: StepStatus): StepStatus[] {
  return STEP_STATUSES.filter((s) => STEP_NEXT[s].includes(to));
}

export function isStepFinal(status: StepStatus): boolean {
  return STEP_NEXT[status].length === 0;
}

/** Sent and not yet ended (a blocked step waits for its device or a resume). */
export function isStepInFlight(status: StepStatus): boolean {
  return status === 'dispatched' || status === 'running' || status === 'blocked';
}
