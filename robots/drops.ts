// Messages from devices (or from anyone on the broker) that the gateway does not act on, counted
// per device and reason. The counts are what `GET /v1/robots/{id}` shows as `dropped` and
// `GET /v1/metrics` as `phygate_mqtt_messages_dropped_total`; the log says it too, but at a bounded
// rate: a flood of forged messages must not become a flood of log lines (one line per device and
// reason per `logEveryMs`, with how many were dropped since the last one).
import { silentLog, type Log } from './log.ts';

/**
 * Why a message was dropped:
 * - `schema`: not JSON, or not a valid message of its protocol (wrong types, numbers out of range);
 * - `unknown-device`: from a topic of no device of the site;
 * - `other-vehicle`: a VDA 5050 message whose manufacturer/serialNumber is not its topic's;
 * - `headerId-backwards`: a VDA 5050 headerId not above the last one taken from that topic;
 * - `headerId-jump`: a VDA 5050 headerId too far above the last one taken;
 * - `clock-skew`: a VDA 5050 timestamp too far from the gateway's clock;
 * - `seq`: a machine state whose seq is not above the last one taken, or too far above it;
 * - `unknown-command`: a machine acknowledgement or job end for a commandId the gateway did not send to that device.
 */
export const DROP_REASONS = ['schema', 'unknown-device', 'other-vehicle', 'headerId-backwards', 'headerId-jump', 'clock-skew', 'seq', 'unknown-command'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * The device a message from no device of the site is counted under. Not the id from its topic:
 * whoever can publish could otherwise make one counter (and one metrics series) per made-up id.
 */
export const UNKNOWN_DEVICE = '(unknown)';

/** At most one log line per device and reason this often. */
export const DROP_LOG_EVERY_MS = 10_000;

export interface DropCounterOptions {
  log?: Log;
  /** The gateway's clock in ms (injected in tests). */
  now?: () => number;
  logEveryMs?: number;
}

interface Tally {
  count: number;
  /** Dropped since the last log line. */
  unlogged: number;
  loggedAt?: number;
}

export interface DropCount {
  device: string;
  reason: DropReason;
  count: number;
}

export class DropCounter {
  private readonly log: Log;
  private readonly now: () => number;
  private readonly logEveryMs: number;
  /** device → reason → tally; devices are the site's and UNKNOWN_DEVICE, reasons DROP_REASONS: bounded. */
  private readonly tallies = new Map<string, Map<DropReason, Tally>>();
  private sum = 0;

  constructor(opts: DropCounterOptions = {}) {
    this.log = opts.log ?? silentLog;
    this.now = opts.now ?? Date.now;
    this.logEveryMs = opts.logEveryMs ?? DROP_LOG_EVERY_MS;
  }

  /**
   * Counts one dropped message and logs it, unless a line for the same device and reason was
   * logged less than `logEveryMs` ago (the next line then says how many came meanwhile).
   */
  drop(device: string, reason: DropReason, message: string, detail: object = {}): void {
    let byReason = this.tallies.get(device);
    if (!byReason) this.tallies.set(device, (byReason = new Map()));
    let tally = byReason.get(reason);
    if (!tally) byReason.set(reason, (tally = { count: 0, unlogged: 0 }));
    tally.count++;
    tally.unlogged++;
    this.sum++;
    const now = this.now();
    if (tally.loggedAt !== undefined && now - tally.loggedAt < this.logEveryMs) return;
    this.log.warn({ ...detail, device, reason, dropped: tally.unlogged, droppedTotal: tally.count }, `${device}: message dropped (${reason}): ${message}${tally.unlogged > 1 ? ` (${tally.unlogged} dropped for this since the last line)` : ''}`);
    tally.loggedAt = now;
    tally.unlogged = 0;
  }

  /** The device's counts by reason (only reasons it has). */
  of(device: string): Partial<Record<DropReason, number>> {
    const out: Partial<Record<DropReason, number>> = {};
    for (const [reason, tally] of this.tallies.get(device) ?? []) out[reason] = tally.count;
    return out;
  }

  /** Every count, by device then reason. */
  list(): DropCount[] {
    const out: DropCount[] = [];
    for (const [device, byReason] of this.tallies) for (const [reason, tally] of byReason) out.push({ device, reason, count: tally.count });
    return out;
  }

  /** All messages dropped so far. */
  total(): number {
    return this.sum;
  }
}
