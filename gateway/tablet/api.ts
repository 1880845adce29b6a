// The gateway's API as the tablet uses it: the shapes it reads, and one call that sends the token
// and turns an error answer into an ApiError carrying the gateway's code.
export type Role = 'viewer' | 'agent' | 'operator' | 'admin';
const ROLES: Role[] = ['viewer', 'agent', 'operator', 'admin'];

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export interface Whoami {
  name: string;
  role: Role;
}

export interface Pose {
  x: number;
  y: number;
  theta: number;
}

export interface DeviceState {
  id: string;
  kind?: string;
  online: boolean;
  state: string;
  at?: string;
  pose?: Pose;
  soc?: number;
  cargo?: number;
  paused?: boolean;
  errors?: string[];
  lastSeen?: string;
  job?: { action: string; program?: string; count?: number };
  progress?: number;
  partsProduced?: number;
}

export interface SiteDevice {
  id: string;
  kind: string;
  home?: string;
  station?: string;
  from?: string;
  to?: string;
  pose?: { x: number; y: number };
}

export interface Zone {
  id: string;
  kind: 'keep-out' | 'slow';
  polygon: [number, number][];
  maxSpeed?: number;
}

export interface Obstacle {
  model: string;
  shape: { kind: 'box'; hx: number; hy: number } | { kind: 'circle'; r: number };
  x: number;
  y: number;
  yaw: number;
}

export interface SiteView {
  id: string;
  name: string;
  stations: { id: string; kind: string; node: string; x: number; y: number; theta: number }[];
  nodes: { id: string; x: number; y: number }[];
  edges: { from: string; to: string }[];
  zones: Zone[];
  devices: SiteDevice[];
  world: { obstacles: Obstacle[] };
  /** How many times faster than real time the floor runs (the virtual fleet's speed; 1 on real hardware). */
  timeScale: number;
}

export interface Issue {
  code: string;
  severity: 'error' | 'warning';
  step?: string;
  device?: string;
  message: string;
  hint: string;
}

export interface Report {
  verdict: 'pass' | 'warn' | 'fail';
  planHash: string;
  makespanS: number;
  assignments: Record<string, string>;
  steps: { id: string; device?: string; startS: number; endS: number }[];
  issues: Issue[];
  /** Idle robots the mission moves out of the way (MAKE_WAY). */
  moves?: { device: string }[];
}

export type MissionStatus = 'rejected' | 'awaiting_approval' | 'approved' | 'running' | 'paused' | 'succeeded' | 'failed' | 'cancelled';
export type StepStatus = 'pending' | 'dispatched' | 'running' | 'blocked' | 'succeeded' | 'failed' | 'cancelled';

export interface MissionStep {
  id: string;
  action: string;
  /** The device it was dispatched to, else the one the check assigned; null when none has its role. */
  device: string | null;
  status: StepStatus;
  startedAt: string | null;
  endedAt: string | null;
  /** Why it failed, was cancelled or is blocked. */
  reason: string | null;
}

export interface MissionSummary {
  id: string;
  status: MissionStatus;
  name: string | null;
  planHash: string;
  verdict: Report['verdict'];
  makespanS: number;
  createdAt: string;
  updatedAt: string;
  approvedBy: string | null;
  approvedAt: string | null;
  /** Why it failed, was cancelled or is paused. */
  reason: string | null;
  reasonStep: string | null;
  endedAt: string | null;
  steps: MissionStep[];
}

/** A mission's newest rehearsal: its plan run on a simulated fleet first (README, "Rehearsal"). */
export interface Rehearsal {
  id: string;
  status: 'running' | 'succeeded' | 'failed';
  planHash: string;
  outcome: 'succeeded' | 'failed' | 'cancelled' | 'timed_out' | 'not_started' | null;
  reason: string | null;
  makespanS: number | null;
  checkMakespanS: number | null;
  minSeparation: { robots: [string, string]; distanceM: number; gapM: number; near: string } | null;
  problems: { code: string; severity: 'error' | 'warning'; message: string }[];
}

export interface Mission extends MissionSummary {
  createdBy: string;
  report: Report;
  plan: { name?: string; goal?: string };
  rehearsal?: Rehearsal | null;
}

export interface StopRecord {
  id: string;
  scope: string;
  reason: string;
  devices: string[];
  createdBy: string;
  createdAt: string;
}

/** Whom a waiting AMR waits for, and why (GET /v1/traffic). */
export interface TrafficWait {
  device: string;
  /** The node it waits to enter. */
  node: string;
  /** `held`: the other robot holds the node; `near`: it holds one within reach; `schedule`: the checked schedule has it there first. */
  why: 'held' | 'near' | 'schedule';
  missionId?: string;
  pass?: number;
}

/** One AMR in GET /v1/traffic and the `traffic` event: the nodes it holds, the route it drives, whom it waits for. */
export interface TrafficDevice {
  id: string;
  holds: string[];
  /** `nodes[reached..granted]` is reserved for it; the rest of the route is not yet. */
  path?: { missionId: string; stepId: string; nodes: string[]; reached: number; granted: number };
  waitsFor?: TrafficWait;
}

/** An answer other than 2xx: `code` is the gateway's error code (README, "Error codes"), or NETWORK. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  constructor(private readonly token: string) {}

  async json<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    return (await res.json()) as T;
  }

  /** The answer as a blob (a picture), e.g. a mission's plan.svg. */
  async blob(path: string): Promise<Blob> {
    return (await this.send('GET', path)).blob();
  }

  private async send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'NETWORK', 'the gateway cannot be reached');
    }
    if (!res.ok) {
      const err = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
      throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? `the gateway answered ${res.status}`);
    }
    return res;
  }
}
