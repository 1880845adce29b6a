// Every error the API returns, declared once: a stable code, its HTTP status and what it means.
// Clients branch on `code`; the message is for people.
import { z } from 'zod';

export const ERRORS = {
  VALIDATION_FAILED: { status: 400, message: 'the request does not have the required shape; see details for each path' },
  INVALID_JSON: { status: 400, message: 'the body is not valid JSON' },
  UNAUTHORIZED: { status: 401, message: 'a valid bearer token is required: Authorization: Bearer <token>' },
  TOKEN_EXPIRED: { status: 401, message: 'this token has expired; ask an admin for a new one' },
  FORBIDDEN: { status: 403, message: "this token's role may not do this" },
  NOT_FOUND: { status: 404, message: 'no such resource' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'this method is not allowed here' },
  REQUEST_TIMEOUT: { status: 408, message: 'the request took too long to arrive' },
  INVALID_TRANSITION: { status: 409, message: 'the mission is not in a state that allows this' },
  STOP_ACTIVE: { status: 409, message: 'a STOP covers devices of this mission; an operator releases it first (POST /v1/stop/release)' },
  PLAN_HASH_MISMATCH: { status: 409, message: 'the planHash does not match the plan that was checked' },
  REPORT_CHANGED: { status: 409, message: "checked again, the plan now runs on other devices than its report said; the mission has the new report: read it and approve again" },
  SCHEDULE_CHANGED: { status: 409, message: 'the other missions changed each time the plan was checked for approval; approve again' },
  REHEARSAL_REQUIRED: { status: 409, message: "the site's policy asks for a successful rehearsal of this plan before it is approved: POST /v1/missions/{id}/rehearse" },
  REHEARSAL_BUSY: { status: 409, message: 'a rehearsal is running; rehearse once it has ended' },
  BODY_TOO_LARGE: { status: 413, message: 'the body is larger than the limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'send JSON with Content-Type: application/json' },
  PLAN_REJECTED: { status: 422, message: 'the plan failed its check; the report says why' },
  IDEMPOTENCY_CONFLICT: { status: 422, message: 'this Idempotency-Key was already used with a different body' },
  RATE_LIMITED: { status: 429, message: 'too many requests for this token (or, without a valid token, from this address); retry after the time in Retry-After' },
  TOO_MANY_STREAMS: { status: 429, message: 'too many event streams are open (for this token, or in all); close one first' },
  INTERNAL: { status: 500, message: 'an internal error; it has been logged' },
  UNAVAILABLE: { status: 503, message: 'the gateway is shutting down or not ready' },
  CHECK_TIMEOUT: { status: 503, message: 'the check ran past its time budget and was stopped; nothing was stored' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** An error answer, for routes that declare one; `code` stays first (the audit log reads it there). */
export const ErrorBodySchema = z.object({
  code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  details: z.unknown().optional(),
});

/** An error the API answers with as is: its code, status and optional details reach the client. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: unknown,
  ) {
    super(message ?? ERRORS[code].message);
    this.name = 'ApiError';
    this.status = ERRORS[code].status;
  }

  body(): ErrorBody {
    return { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) };
  }
}
