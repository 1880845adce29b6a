// What a STOP press asks for. It is never refused over its body: no body, any Content-Type or
// none, JSON or not, missing, empty, odd or over-long fields all stop, with scope `all` unless
// the body names one and reason 'STOP' unless it gives one, and `notes` say what was made of it.
//
// Only a scope that names nothing on this site is refused: 404, nothing stopped, the known zones
// and devices listed. Whoever names a scope means part of the floor; stopping all of it for a
// typo would stop arms mid-transfer and lines that were safe, while the 404 comes back at once
// with what to send instead. Whoever does not know what to name sends no scope and stops it all.
import type { Device, SiteIndex, Zone } from '../planners/site.ts';
import { ApiError } from './errors.ts';

export const DEFAULT_REASON = 'STOP';
export const REASON_MAX = 500;
/** Bytes of a STOP body read at most (one is a few dozen); the rest is dropped, not refused. */
export const STOP_BODY_MAX = 64 * 1024;

/** A body as it arrived: its bytes, and why it was cut off if it was. */
export interface StopBody {
  bytes: Buffer;
  cutOff?: 'limit' | 'aborted';
}

/** What the body asks for: `scope` as sent (undefined when absent), the reason to store, notes. */
export interface StopAsk {
  scope: unknown;
  reason: string;
  notes: string[];
}

export type Scope = { kind: 'all' } | { kind: 'zone'; zone: Zone } | { kind: 'device'; device: Device };

export interface ResolvedScope {
  scope: Scope;
  /** As stored: `all`, `zone:<id>` or `device:<id>`. */
  name: string;
  notes: string[];
}

type BodyKind = 'JSON' | 'form' | 'text';

/** How each kind of body is declared; a body declared otherwise, or not at all, gets a note. */
const DECLARED: Record<BodyKind, RegExp> = {
  JSON: /^application\/([\w.+-]*\+)?json\s*(;|$)/i,
  form: /^application\/x-www-form-urlencoded\s*(;|$)/i,
  text: /^text\/plain\s*(;|$)/i,
};

/** A whole text body that is one scope (`device:amr-1`) is read as the scope, any other text as the reason. */
const SCOPE_WORD = /^(all|(zone|device)\s*:\s*\S+)$/i;

/** Reads `scope` and `reason` out of whatever arrived; never throws. */
export function readStopBody(body: StopBody | undefined, contentType: string | undefined): StopAsk {
  const notes: string[] = [];
  const bytes = body?.bytes ?? Buffer.alloc(0);
  if (body?.cutOff === 'limit') notes.push(`body longer than ${STOP_BODY_MAX} bytes: only its first ${bytes.length} read`);
  if (body?.cutOff === 'aborted') notes.push(`the connection broke after ${bytes.length} bytes of the body: those were read`);
  const text = asText(bytes);
  let fields: Record<string, unknown> = {};
  let kind: BodyKind | undefined;
  if (text === undefined) {
    notes.push(`body is not text (${bytes.length} bytes): ignored`);
  } else if (text.trim() !== '') {
    const read = readText(text.trim(), notes);
    fields = read.fields;
    kind = read.kind;
  }
  if (kind !== undefined && !(contentType !== undefined && DECLARED[kind].test(contentType))) {
    notes.push(contentType === undefined ? `no Content-Type: the body was read as ${kind}` : `Content-Type '${clip(contentType)}' ignored: the body was read as ${kind}`);
  }

  const used: string[] = [];
  const scope = field(fields, 'scope', used, notes);
  const reason = readReason(field(fields, 'reason', used, notes), notes);
  const unknown = Object.keys(fields).filter((k) => !used.includes(k));
  if (unknown.length > 0) {
    const names = unknown.slice(0, 10).map((k) => `'${clip(k, 40)}'`).join(', ') + (unknown.length > 10 ? ` and ${unknown.length - 10} more` : '');
    notes.push(`unknown field${unknown.length > 1 ? 's' : ''} ${names} ignored`);
  }
  return { scope, reason, notes };
}

/**
 * The scope as sent, read leniently: absent, null or empty is `all`; case and spaces do not
 * matter; a bare id is the device or zone of that id (both: `all`). Throws 404 NOT_FOUND, with
 * nothing stopped, for a scope that names nothing on this site or is not a name.
 */
export function resolveScope(index: SiteIndex, sent: unknown): ResolvedScope {
  const { zones, devices } = index.site;
  const zone = (id: string) => zones.find((z) => z.id === id);
  const notes: string[] = [];
  const all = (note: string): ResolvedScope => ({ scope: { kind: 'all' }, name: 'all', notes: [note] });
  if (sent === undefined) return all("scope missing: 'all' used");
  if (sent === null) return all("scope null: 'all' used");
  if (typeof sent !== 'string') throw nothingStopped(index, sent, `scope ${clip(JSON.stringify(sent))} is not a name`);
  const wanted = sent.trim().toLowerCase();
  if (wanted === '') return all("scope empty: 'all' used");

  let found: ResolvedScope | undefined;
  const prefixed = /^(zone|device)\s*:\s*(.*)$/.exec(wanted);
  if (wanted === 'all') {
    found = { scope: { kind: 'all' }, name: 'all', notes };
  } else if (prefixed?.[1] === 'zone') {
    const id = prefixed[2]!;
    const z = zone(id);
    if (!z) {
      const hint = index.device(id) ? ` ('${id}' is a device: scope 'device:${id}')` : '';
      throw nothingStopped(index, sent, `'${clip(id)}' is not a zone of this site${hint}; zones: ${zones.map((x) => x.id).join(', ') || 'none'}`);
    }
    found = { scope: { kind: 'zone', zone: z }, name: `zone:${z.id}`, notes };
  } else if (prefixed?.[1] === 'device') {
    const id = prefixed[2]!;
    const d = index.device(id);
    if (!d) {
      const hint = zone(id) ? ` ('${id}' is a zone: scope 'zone:${id}')` : '';
      throw nothingStopped(index, sent, `'${clip(id)}' is not a device of this site${hint}; devices: ${devices.map((x) => x.id).join(', ')}`);
    }
    found = { scope: { kind: 'device', device: d }, name: `device:${d.id}`, notes };
  } else {
    const d = index.device(wanted);
    const z = zone(wanted);
    // Both exist: stopping the two is what was asked for at least, and one scope cannot say both.
    if (d && z) return all(`'${wanted}' is both a zone and a device: everything stopped ('all')`);
    if (d) found = { scope: { kind: 'device', device: d }, name: `device:${d.id}`, notes };
    else if (z) found = { scope: { kind: 'zone', zone: z }, name: `zone:${z.id}`, notes };
    else {
      throw nothingStopped(
        index,
        sent,
        `'${clip(sent)}' is not 'all', 'zone:<id>', 'device:<id>' nor the id of a zone or device of this site; zones: ${zones.map((x) => x.id).join(', ') || 'none'}; devices: ${devices.map((x) => x.id).join(', ')}`,
      );
    }
  }
  if (found.name !== sent) notes.push(`scope '${clip(sent)}' read as '${found.name}'`);
  return found;
}

function nothingStopped(index: SiteIndex, sent: unknown, why: string): ApiError {
  return new ApiError('NOT_FOUND', `Nothing was stopped: ${why}. Send scope 'all', or no scope, to stop everything.`, {
    stopped: false,
    scope: typeof sent === 'string' ? clip(sent) : sent,
    zones: index.site.zones.map((z) => z.id),
    devices: index.site.devices.map((d) => d.id),
  });
}

/** The fields of a text body: a JSON object, a form, or a scope or reason on its own. */
function readText(text: string, notes: string[]): { fields: Record<string, unknown>; kind: BodyKind } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    if (/^[^=&\s]+=/.test(text)) {
      // A repeated key: the last counts, as in JSON.
      const fields = Object.fromEntries(new URLSearchParams(text));
      if (Object.keys(fields).some((k) => ['scope', 'reason'].includes(k.toLowerCase()))) return { fields, kind: 'form' };
    }
    if (/^[[{"]/.test(text)) {
      notes.push(`body is not valid JSON (${clip((err as Error).message)}): ignored`);
      return { fields: {}, kind: 'JSON' };
    }
    return { fields: loneText(text, 'body', notes), kind: 'text' };
  }
  if (typeof json === 'string') return { fields: loneText(json, 'body, a JSON string,', notes), kind: 'JSON' };
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) return { fields: json as Record<string, unknown>, kind: 'JSON' };
  notes.push(`body is ${describe(json)}, not an object {"scope", "reason"}: ignored`);
  return { fields: {}, kind: 'JSON' };
}

function loneText(text: string, what: string, notes: string[]): Record<string, unknown> {
  if (SCOPE_WORD.test(text.trim())) {
    notes.push(`${what} read as the scope`);
    return { scope: text };
  }
  notes.push(`${what} read as the reason`);
  return { reason: text };
}

/** The field by its name, exactly spelled or else in any case; its key goes into `used`. */
function field(fields: Record<string, unknown>, name: string, used: string[], notes: string[]): unknown {
  const key = Object.hasOwn(fields, name) ? name : Object.keys(fields).find((k) => k.toLowerCase() === name);
  if (key === undefined) return undefined;
  used.push(key);
  if (key !== name) notes.push(`field '${clip(key, 40)}' read as '${name}'`);
  return fields[key];
}

function readReason(sent: unknown, notes: string[]): string {
  let reason: string;
  if (sent === undefined || sent === null) {
    notes.push(`reason ${sent === null ? 'null' : 'missing'}: '${DEFAULT_REASON}' used`);
    return DEFAULT_REASON;
  }
  if (typeof sent === 'string') {
    reason = sent;
  } else {
    reason = JSON.stringify(sent);
    notes.push(`reason is ${describe(sent)}: its JSON text used`);
  }
  // One line, as the tablet's banner and the logs show it.
  reason = reason.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (reason === '') {
    notes.push(`reason empty: '${DEFAULT_REASON}' used`);
    return DEFAULT_REASON;
  }
  const chars = [...reason];
  if (chars.length > REASON_MAX) {
    notes.push(`reason longer than ${REASON_MAX} characters (${chars.length}): cut to ${REASON_MAX}`);
    reason = `${chars.slice(0, REASON_MAX - 1).join('')}…`;
  }
  return reason;
}

/** UTF-8 text, or undefined for bytes that are not (binary, compressed). */
function asText(bytes: Buffer): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
    return /[\u0000-\u0008\u000e-\u001f]/.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

function clip(s: string, max = 100): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
