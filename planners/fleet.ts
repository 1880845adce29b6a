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
  /**
   * VDA 5050 AMRs: the map the vehicle says it is localised on (its state's `agvPosition.mapId`).
   * Another than the site's `mapId` makes it unusable (`wrongMap`), however online it is.
   */
  mapId?: string;
  /** VDA 5050 AMRs: what its last factsheet says, and where that falls short of the site's description. */
  factsheet?: DeviceFactsheet;
  /**
   * VDA 5050 AMRs driven by a learned policy: which one, and how often its safety shield stepped
   * in (the state's `policyShield` information entry, POLICY.md).
   */
  policy?: DevicePolicy;
  /**
   * Why the gateway does not use this device, whatever it reports (e.g. its policy has no passing
   * certificate for this floor). Such a device is offline to the check and is never given work.
   */
  unavailable?: string;
}

export interface DevicePolicy {
  name: string;
  version: string;
  sha256: string;
  /** The shield's interventions in total and by reason. */
  interventions: number;
  byReason: Record<string, number>;
}

/** A vehicle's factsheet as the check needs it (robots/vda5050/factsheet.ts makes it). */
export interface DeviceFactsheet {
  /** The factsheet's VDA 5050 version and when it arrived (ISO). */
  version: string;
  receivedAt: string;
  seriesName?: string;
  /** Action types the vehicle lists, by scope; absent when the factsheet lists none (nothing is then known). */
  actions?: { node: string[]; instant: string[] };
  /** m/s, m/s² */
  speedMax?: number;
  accelerationMax?: number;
  decelerationMax?: number;
  /** kg: the most it carries. */
  maxLoadMass?: number;
  /** Metres: the vehicle's outline (physicalParameters, or its 2D envelopes if larger). */
  length?: number;
  width?: number;
  /** Where the site assumes more than the factsheet offers; [] when nothing. */
  problems: FactsheetProblem[];
}

export interface FactsheetProblem {
  /** `action`: an action phygate sends is not listed (in its scope); the others: the site's figure is above the vehicle's. */
  kind: 'action' | 'speed' | 'acceleration' | 'deceleration' | 'payload' | 'footprint';
  /** For `action`: the action type. */
  action?: string;
  /** For `action`: the scope it is sent in. */
  scope?: 'NODE' | 'INSTANT';
  /** The factsheet field, e.g. `physicalParameters.speedMax`. */
  field: string;
  message: string;
}

/** A device reporting a map that is not the site's: online, but nothing may be sent to it. */
export function onWrongMap(state: DeviceState | undefined, siteMapId: string): boolean {
  return state?.mapId !== undefined && state.mapId !== siteMapId;
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
      // A device the gateway withholds stays offline: `assume` asks what if, not to use it anyway.
      ...(a.online === undefined || base.unavailable !== undefined ? {} : { online: a.online }),
      ...(a.soc === undefined ? {} : { soc: a.soc }),
      ...(a.at === undefined ? {} : { at: locate(a.at) ?? a.at }),
    });
  }
  return out;
}
