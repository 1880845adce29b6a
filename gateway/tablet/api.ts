// The gateway's API as the tablet uses it: the shapes it reads, and one call that sends the token
// and turns an error answer into an ApiError carrying the gateway's code.
import type { Role } from '../auth/roles.ts';

export type { Role };
// Code stays in this folder (the bundle and its source hash cover only it); types come from the gateway.
const ROLES: readonly Role[] = ['viewer', 'agent', 'operator', 'admin'];

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

// The shapes are the gateway's own (gateway/api/schemas.ts), imported as types only: nothing of
// the gateway is bundled into the page.
export type {
  DeviceState,
  Issue,
  Mission,
  MissionStatus,
  MissionStep,
  MissionSummary,
  Obstacle,
  Rehearsal,
  Report,
  SiteDevice,
  SiteView,
  StepStatus,
  StopRecord,
  TrafficDevice,
  TrafficWait,
  Whoami,
  Zone,
} from '../api/schemas.ts';
import type { DeviceState } from '../api/schemas.ts';

/** An AMR driven by a learned policy: which one, and how often its safety shield stepped in, in total and by reason. */
export type DevicePolicy = NonNullable<DeviceState['policy']>;

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
