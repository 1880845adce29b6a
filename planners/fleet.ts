// What the core knows about each device right now. Adapters fill it in from the wire; a
// check reads it (with `assume` laid over it for what-if questions).
import { z } from 'zod';

export const AssumeSchema = z.record(
  z.string(),
  z.strictObject({
    soc: z.number().min(0).max(1).optional(),
    at: z.string().min(1).optional().describe('a station or node id'),
    online: z.boolean().optional(),
  }),
);
export type Assume = z.infer<typeof AssumeSchema>;

export interface Pose {
  x: number;
  y: number;
  theta: number;
}

export interface DeviceState {
  id: string;
  online: boolean;
  /** Node the device stands on (AMRs), when known. */
  at?: string;
  pose?: Pose;
  /** State of charge 0..1 (AMRs). */
  soc?: number;
  /** Totes carried (AMRs). */
  cargo?: number;
  paused?: boolean;
  state: string;
  errors?: string[];
  lastSeen?: string;
  /** Machines: the job running, or the one that just ended (see robots/machine/PROTOCOL.md). */
  job?: MachineJob;
  /** Machines: share of the job's time done, 0..1. */
  progress?: number;
  /** Machines: parts of the job finished. */
  partsProduced?: number;
}

export interface MachineJob {
  commandId: string;
  action: string;
  program?: string;
  count?: number;
  from?: string;
  to?: string;
}

export type FleetState = ReadonlyMap<string, DeviceState>;

/** The fleet as the check sees it: live state with `assume` laid over it. */
export function applyAssume(fleet: FleetState, assume: Assume | undefined, locate: (id: string) => string | undefined): Map<string, DeviceState> {
  const out = new Map(fleet);
  for (const [id, a] of Object.entries(assume ?? {})) {
    const base: DeviceState = out.get(id) ?? { id, online: false, state: 'unknown' };
    out.set(id, {
      ...base,
      ...(a.online === undefined ? {} : { online: a.online }),
      ...(a.soc === undefined ? {} : { soc: a.soc }),
      ...(a.at === undefined ? {} : { at: locate(a.at) ?? a.at }),
    });
  }
  return out;
}
