// What the tablet says, in the shop floor's words: durations, times, device and mission states,
// and the colour class that goes with each state (style.css holds the colours).
import type { DevicePolicy, DeviceState, MissionStatus, Rehearsal, Report, StepStatus, TrafficWait } from './api.ts';

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function clock(at: Date | string): string {
  const d = typeof at === 'string' ? new Date(at) : at;
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** The time, and the day too when it is not today: for records that outlast a shift. */
export function dayClock(at: string): string {
  const d = new Date(at);
  const today = new Date().toDateString() === d.toDateString();
  return today ? clock(d) : `${d.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${clock(d)}`;
}

export function hhmm(at: Date): string {
  return at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function percent(share: number): string {
  return `${Math.round(share * 100)} %`;
}

/** The colour class of a device: what someone looking at the floor needs to know first. */
export type Tone = 'busy' | 'idle' | 'paused' | 'fault' | 'offline' | 'charging';

export function deviceTone(d: DeviceState): Tone {
  if (!d.online) return 'offline';
  // A device says when it is in fault; the errors it lists may be warnings (shown in its row).
  if (d.state === 'error' || d.state === 'fault') return 'fault';
  if (d.paused || d.state === 'paused' || d.state === 'stopped') return 'paused';
  if (d.state === 'charging') return 'charging';
  if (d.state === 'driving' || d.state === 'working' || d.state === 'running') return 'busy';
  return 'idle';
}

export function deviceStateWords(d: DeviceState): string {
  if (!d.online) return d.state === 'never connected' || d.state === 'offline' ? d.state : `offline (${d.state})`;
  if (d.paused && d.state !== 'paused') return `paused (${d.state})`;
  return d.state;
}

export const TONE_WORDS: Record<Tone, string> = {
  busy: 'moving / working',
  idle: 'idle',
  paused: 'paused',
  fault: 'fault',
  offline: 'offline',
  charging: 'charging',
};

export const MISSION_WORDS: Record<MissionStatus, string> = {
  rejected: 'rejected by the check',
  awaiting_approval: 'waiting for approval',
  approved: 'approved',
  running: 'running',
  paused: 'paused',
  succeeded: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

export const STEP_WORDS: Record<StepStatus, string> = {
  pending: 'waiting',
  dispatched: 'sent',
  running: 'running',
  blocked: 'blocked',
  succeeded: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

export const VERDICT_WORDS: Record<Report['verdict'], string> = {
  pass: 'Check passed',
  warn: 'Passed with warnings',
  fail: 'Check failed',
};

/** The devices a plan uses, with the roles they were given: ["amr-2 (courier)", "arm-1", "cnc-1"]. */
export function devicesUsed(report: Report): string[] {
  const roleOf = new Map(Object.entries(report.assignments).map(([role, device]) => [device, role]));
  const ids = [...new Set(report.steps.map((s) => s.device).filter((d): d is string => !!d))].sort();
  return ids.map((id) => (roleOf.has(id) ? `${id} (${roleOf.get(id)})` : id));
}

/** Why a robot waits, said of the one it waits for: "it holds sa-2". */
export function waitReason(w: TrafficWait): string {
  if (w.why === 'held') return `it holds ${w.node}`;
  if (w.why === 'near') return `it is too close to ${w.node}`;
  return `the checked schedule has it first at ${w.node}`;
}

/** Whom a robot waits for and why: "waits for amr-1 (mission m_…): it holds sa-2". */
export function waitWords(w: TrafficWait): string {
  return `waits for ${w.device}${w.missionId ? ` (mission ${w.missionId})` : ''}: ${waitReason(w)}`;
}

/** Why a policy's safety shield stepped in, in words (the reasons of POLICY.md's shield table). */
const SHIELD_REASON_WORDS: Record<string, string> = {
  stop: 'STOP or pause',
  stale: 'observation too old',
  'missed-tick': 'no action in time',
  'non-finite': 'action not a number',
  'device-limit': "beyond the robot's speed or turn limit",
  acceleration: 'speed change too sharp',
  'zone-limit': "above a slow zone's speed",
  'look-ahead': 'wall, keep-out or slow zone ahead',
};

/** The policy that drives a robot, in one line: "track-mlp 1.0.0 · SHA-256 1a2b3c4d5e6f". */
export function policyWords(p: DevicePolicy): string {
  return `${p.name} ${p.version} · SHA-256 ${p.sha256.slice(0, 12)}`;
}

/** How often the shield stepped in, by reason, most first; reasons it never had are left out. */
export function interventionsByReason(p: DevicePolicy): string[] {
  return Object.entries(p.byReason)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([reason, n]) => `${reason} (${SHIELD_REASON_WORDS[reason] ?? 'other'}): ${n}`);
}

export function timesWords(n: number): string {
  return n === 1 ? 'once' : `${n} times`;
}

/**
 * A rehearsal's result in a line, to read beside the check: how it ended, how long it took
 * against the check's estimate, and how close the robots came. `planHash`: the plan awaiting
 * approval; a rehearsal of another plan says so.
 */
export function rehearsalWords(r: Rehearsal | null | undefined, planHash: string): string {
  if (!r) return 'Not rehearsed yet.';
  if (r.status === 'running') return 'Rehearsing on the simulated fleet…';
  const of = r.planHash === planHash ? '' : ' (of an earlier plan)';
  const where = r.fleet === 'gazebo' ? ' in Gazebo' : '';
  const head = r.status === 'succeeded' ? `Rehearsal${where} passed${of}` : `Rehearsal${where} failed${of}`;
  const took = r.makespanS !== null && r.checkMakespanS !== null ? `: took ${duration(r.makespanS)} (the check: ${duration(r.checkMakespanS)})` : r.reason ? `: ${r.reason}` : '';
  const s = r.minSeparation;
  const apart = s ? `; closest robots ${s.robots.join(' and ')}, ${s.distanceM.toFixed(1)} m apart near ${s.near}` : '';
  return `${head}${took}${apart}.`;
}
