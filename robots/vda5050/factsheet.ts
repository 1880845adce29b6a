// A vehicle's factsheet compared with the site's description of it. The site is what the check
// plans with: a speed, acceleration or payload above what the vehicle states makes the check's
// timings and loads wrong, a footprint smaller than the vehicle makes its clearances wrong, and an
// action phygate sends that the vehicle does not list is one it will refuse (or, worse, ignore:
// a vehicle without startPause or cancelOrder cannot be stopped by STOP).
import type { DeviceFactsheet, FactsheetProblem } from '../../planners/fleet.ts';
import type { Amr } from '../../planners/site.ts';
import { END_ACTIONS, INSTANT_ACTIONS } from './order.ts';
import type { Factsheet } from './schemas.ts';

/** Figures equal up to rounding are equal: 1.0 m/s in the site and 0.9999999 in a factsheet is no problem. */
const EPSILON = 1e-6;

/** The actions phygate sends and the scope it sends them in. */
export const SENT_ACTIONS: readonly { action: string; scope: 'NODE' | 'INSTANT' }[] = [
  ...END_ACTIONS.map((action) => ({ action, scope: 'NODE' as const })),
  ...INSTANT_ACTIONS.map((action) => ({ action, scope: 'INSTANT' as const })),
];

export function compareFactsheet(amr: Amr, factsheet: Factsheet, receivedAt: string): DeviceFactsheet {
  const problems: FactsheetProblem[] = [];
  const out: DeviceFactsheet = { version: factsheet.version, receivedAt, problems };
  if (factsheet.typeSpecification?.seriesName) out.seriesName = factsheet.typeSpecification.seriesName;

  const listed = factsheet.protocolFeatures?.agvActions;
  if (listed) {
    // An action without actionScopes is taken as offered in every scope.
    const inScope = (scope: 'NODE' | 'INSTANT') => [...new Set(listed.filter((a) => !a.actionScopes || a.actionScopes.includes(scope)).map((a) => a.actionType))];
    out.actions = { node: inScope('NODE'), instant: inScope('INSTANT') };
    for (const { action, scope } of SENT_ACTIONS) {
      if ((scope === 'NODE' ? out.actions.node : out.actions.instant).includes(action)) continue;
      const elsewhere = listed.some((a) => a.actionType === action);
      problems.push({
        kind: 'action',
        action,
        scope,
        field: 'protocolFeatures.agvActions',
        message: `'${action}' is not listed${elsewhere ? ` in scope ${scope}` : ''}; phygate sends it ${scope === 'NODE' ? 'at the end of an order' : 'as an instant action'}`,
      });
    }
  }

  const physical = factsheet.physicalParameters;
  const limit = (kind: FactsheetProblem['kind'], field: string, site: number, siteField: string, vehicle: number | undefined, unit: string) => {
    if (vehicle === undefined || site <= vehicle + EPSILON) return;
    problems.push({ kind, field, message: `the site's ${siteField} ${site} ${unit} is above the vehicle's ${field} ${vehicle} ${unit}` });
  };
  if (physical) {
    out.speedMax = physical.speedMax;
    if (physical.accelerationMax !== undefined) out.accelerationMax = physical.accelerationMax;
    if (physical.decelerationMax !== undefined) out.decelerationMax = physical.decelerationMax;
    limit('speed', 'physicalParameters.speedMax', amr.limits.maxSpeed, 'limits.maxSpeed', physical.speedMax, 'm/s');
    limit('acceleration', 'physicalParameters.accelerationMax', amr.limits.maxAccel, 'limits.maxAccel', physical.accelerationMax, 'm/s²');
    limit('deceleration', 'physicalParameters.decelerationMax', amr.limits.maxDecel, 'limits.maxDecel', physical.decelerationMax, 'm/s²');
  }

  // The most it carries: typeSpecification.maxLoadMass, and no load set allows more.
  const sets = (factsheet.loadSpecification?.loadSets ?? []).map((l) => l.maxWeight).filter((w): w is number => w !== undefined);
  const maxLoad = factsheet.typeSpecification?.maxLoadMass ?? (sets.length > 0 ? Math.max(...sets) : undefined);
  if (maxLoad !== undefined) {
    out.maxLoadMass = maxLoad;
    limit('payload', factsheet.typeSpecification?.maxLoadMass !== undefined ? 'typeSpecification.maxLoadMass' : 'loadSpecification.loadSets.maxWeight', amr.payloadKg, 'payloadKg', maxLoad, 'kg');
  }

  // The outline: physicalParameters' length and width, or the 2D envelopes' extent if larger.
  let length = physical?.length;
  let width = physical?.width;
  for (const e of factsheet.agvGeometry?.envelopes2d ?? []) {
    if (e.polygonPoints.length === 0) continue;
    const xs = e.polygonPoints.map((p) => p.x);
    const ys = e.polygonPoints.map((p) => p.y);
    length = Math.max(length ?? 0, Math.max(...xs) - Math.min(...xs));
    width = Math.max(width ?? 0, Math.max(...ys) - Math.min(...ys));
  }
  if (length !== undefined) out.length = length;
  if (width !== undefined) out.width = width;
  const fp = amr.footprint;
  if ((length !== undefined && length > fp.length + EPSILON) || (width !== undefined && width > fp.width + EPSILON)) {
    problems.push({
      kind: 'footprint',
      field: 'physicalParameters.length/width, agvGeometry.envelopes2d',
      message: `the vehicle is ${round(length ?? 0)} m × ${round(width ?? 0)} m, larger than the site's footprint ${fp.length} m × ${fp.width} m`,
    });
  }
  return out;
}

function round(m: number): number {
  return Math.round(m * 1000) / 1000;
}
