// The gateway's use cases behind one set of rules, whichever door a request came through: the
// least role each needs and the audit row it leaves. REST routes take their role and operation
// name from OPERATIONS (the HTTP audit hook in app.ts writes the row, with the operation); the
// MCP tools (gateway/mcp/server.ts) go through UseCases.run, which checks the role and writes the
// same row itself. So a rule REST enforces, MCP cannot skip.
import type { Role } from './auth/roles.ts';
import { roleAllows } from './auth/roles.ts';
import type { Principal } from './auth/bearer.ts';
import { ApiError } from './errors.ts';
import type { AuditStore } from './store/audit.ts';

/** Every use case: its least role, and whether it changes anything (those leave an audit row). */
export const OPERATIONS = {
  'site.read': { role: 'viewer', changes: false },
  'robots.list': { role: 'viewer', changes: false },
  'plans.check': { role: 'agent', changes: true },
  'missions.submit': { role: 'agent', changes: true },
  'missions.get': { role: 'viewer', changes: false },
  'missions.list': { role: 'viewer', changes: false },
  'missions.rehearse': { role: 'operator', changes: true },
  'missions.approve': { role: 'operator', changes: true },
  'missions.pause': { role: 'operator', changes: true },
  'missions.resume': { role: 'operator', changes: true },
  'missions.cancel': { role: 'operator', changes: true },
  'stop.press': { role: 'viewer', changes: true },
  'stop.release': { role: 'operator', changes: true },
} as const satisfies Record<string, { role: Role; changes: boolean }>;

export type Operation = keyof typeof OPERATIONS;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The use case the route is (OPERATIONS): its audit rows record it. */
    operation?: Operation;
  }
}

/** A REST route's config for a use case: its least role and the operation its audit rows name. */
export function restConfig<O extends Operation>(operation: O): { role: (typeof OPERATIONS)[O]['role']; operation: O } {
  return { role: OPERATIONS[operation].role, operation };
}

/** Who asks, and the HTTP request that carried it (for the audit row). */
export interface Caller {
  principal: Principal;
  method: string;
  path: string;
  requestId: string;
}

/** How a use case that ran ended, for its audit row: the status REST answers it with. */
export interface Outcome {
  status: number;
  code?: string | null;
}

export class UseCases {
  constructor(private readonly deps: { audit: AuditStore; now: () => Date; log: { error(obj: object, msg: string): void } }) {}

  /**
   * Runs `op` for `caller`: refused with FORBIDDEN when the role is short of it; a use case that
   * changes something leaves one audit row, accepted or refused (`outcome` says how a result
   * ended when it is not a plain 200, e.g. a rejected plan is 422 PLAN_REJECTED).
   */
  async run<T>(op: Operation, caller: Caller, f: () => T | Promise<T>, outcome?: (result: T) => Outcome): Promise<T> {
    const need = OPERATIONS[op].role;
    const { principal } = caller;
    if (!roleAllows(principal.role, need)) {
      const e = new ApiError('FORBIDDEN', `this needs the '${need}' role; your token '${principal.name}' has '${principal.role}'`);
      this.audit(op, caller, { status: e.status, code: e.code });
      throw e;
    }
    let result: T;
    try {
      result = await f();
    } catch (err) {
      const e = err instanceof ApiError ? err : undefined;
      this.audit(op, caller, { status: e?.status ?? 500, code: e?.code ?? 'INTERNAL' });
      throw err;
    }
    this.audit(op, caller, outcome ? outcome(result) : { status: 200 });
    return result;
  }

  private audit(op: Operation, caller: Caller, outcome: Outcome): void {
    if (!OPERATIONS[op].changes) return;
    try {
      this.deps.audit.append({
        at: this.deps.now(),
        actor: caller.principal.name,
        role: caller.principal.role,
        method: caller.method,
        path: caller.path,
        status: outcome.status,
        code: outcome.status >= 400 ? (outcome.code ?? null) : null,
        requestId: caller.requestId,
        operation: op,
      });
    } catch (err) {
      this.deps.log.error({ err, operation: op }, 'could not write the audit row');
    }
  }
}
