// Role allocation: bind each `$role` to one concrete device for the whole plan.
import { onWrongMap, type DeviceState } from './fleet.ts';
import type { Plan, Step } from './plan.ts';
import { issue, type Issue } from './report.ts';
import { findRoute, type NavGraph } from './route.ts';
import type { Device, SiteIndex } from './site.ts';

export interface Allocation {
  assignments: Record<string, string>;
  issues: Issue[];
  /** Per bound role, every device it could have had instead, best first (the bound one first). */
  candidates: Record<string, string[]>;
}

/** Where a step sends its device first, if anywhere: the natural "near" of a role without one. */
export function stepTarget(step: Step): string | undefined {
  switch (step.action) {
    case 'navigate': return step.params.to;
    case 'pick': case 'drop': return step.params.at;
    case 'charge': return step.params.at;
    default: return undefined;
  }
}

export function allocateRoles(
  index: SiteIndex,
  graph: NavGraph,
  plan: Plan,
  order: readonly Step[],
  fleet: ReadonlyMap<string, DeviceState>,
  /** Devices with work committed to other missions (device → mission): bound only when no free one is left. */
  busy: ReadonlyMap<string, string> = new Map(),
  /** Role → device to keep while it can still take the role and no other mission has work for it (approval keeps what the operator saw). */
  keep: Readonly<Record<string, string>> = {},
): Allocation {
  const assignments: Record<string, string> = {};
  const candidates: Record<string, string[]> = {};
  const issues: Issue[] = [];
  const usedDirectly = new Set(plan.steps.map((s) => s.device).filter((d) => !d.startsWith('$')));
  const bound = new Set<string>();
  // Roles are bound in name order so the same plan always gets the same devices.
  for (const [role, spec] of Object.entries(plan.roles ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const firstStep = order.find((s) => s.device === `$${role}`) ?? plan.steps.find((s) => s.device === `$${role}`);
    const ofKind = index.site.devices.filter((d) => d.kind === spec.kind);
    // A vehicle on another map is online but cannot be sent anywhere on this one.
    const online = ofKind.filter((d) => fleet.get(d.id)?.online === true && !onWrongMap(fleet.get(d.id), index.site.mapId));
    const free = online.filter((d) => !bound.has(d.id));
    if (free.length === 0) {
      const why =
        ofKind.length === 0
          ? `the site has no device of kind '${spec.kind}'`
          : online.length === 0
            ? `every ${spec.kind} (${ofKind.map((d) => d.id).join(', ')}) is offline${ofKind.some((d) => onWrongMap(fleet.get(d.id), index.site.mapId)) ? ` or on another map than '${index.site.mapId}'` : ''}`
            : `every online ${spec.kind} is already bound to another role`;
      issues.push(
        issue('ROLE_UNASSIGNABLE', {
          ...(firstStep ? { step: firstStep.id } : {}),
          message: `role '${role}' cannot be bound: ${why}`,
          hint:
            ofKind.length === 0
              ? `use one of the kinds this site has: ${[...new Set(index.site.devices.map((d) => d.kind))].join(', ')}`
              : online.length === 0
                ? `bring a device online (on map '${index.site.mapId}'), or wait and check again`
                : 'use fewer roles of this kind, or let two roles share one device by using its id',
        }),
      );
      continue;
    }
    const near = spec.near ?? (firstStep ? stepTarget(firstStep) : undefined);
    const nearNode = near ? index.locate(near)?.id : undefined;
    const score = (d: Device) => ({
      kept: keep[role] === d.id ? 0 : 1,
      busy: busy.has(d.id) ? 1 : 0,
      direct: usedDirectly.has(d.id) ? 1 : 0,
      distance: distanceTo(graph, d, fleet.get(d.id), nearNode, index),
      soc: fleet.get(d.id)?.soc ?? 0,
    });
    const ranked = free
      .map((d) => ({ d, s: score(d) }))
      .sort((a, b) => a.s.busy - b.s.busy || a.s.kept - b.s.kept || a.s.direct - b.s.direct || a.s.distance - b.s.distance || b.s.soc - a.s.soc || a.d.id.localeCompare(b.d.id));
    const best = ranked[0]!;
    assignments[role] = best.d.id;
    candidates[role] = ranked.map((r) => r.d.id);
    bound.add(best.d.id);
  }
  return { assignments, issues, candidates };
}

function distanceTo(graph: NavGraph, device: Device, state: DeviceState | undefined, nearNode: string | undefined, index: SiteIndex): number {
  if (device.kind !== 'amr' || !nearNode) return 0;
  const from = state?.at ?? index.locate(device.home)?.id;
  if (!from) return Infinity;
  const r = findRoute(graph, from, nearNode, device.limits);
  return r.ok ? r.route.distanceM : Infinity;
}
