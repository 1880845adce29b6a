// What a step asks of its device at the moment it is sent, in the shop floor's terms (a port
// turns it into its protocol's message): the route an AMR drives — the one the check planned,
// from where it stands — and the parts a machine still has to make after a STOP interrupted it.
import type { DeviceState } from '../../planners/fleet.ts';
import type { Step } from '../../planners/plan.ts';
import { findRoute, NODE_TOLERANCE_M, profileAlong } from '../../planners/route.ts';
import { StepRefusedError, type WorkRequest } from '../../robots/device-port.ts';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';

export interface RequestInput {
  missionId: string;
  step: Step;
  stepIndex: number;
  device: string;
  onto: string | undefined;
  attempt: number;
  ttlMs: number;
  /** The work a STOP interrupted, when the step goes again: its id and what it asked for. */
  previous?: { id: string; count?: number };
  /** The nodes of the last route the AMR was sent along (the interrupted one, or its last order). */
  driven?: readonly string[];
  /** The route the mission's check planned for the step (its report's `steps[].route`), detours included. */
  checked?: readonly string[];
}

const DRIVES = new Set(['navigate', 'pick', 'drop', 'charge']);

/** The request, or `nothing-left` for a machine that made every part before a STOP stopped it. */
export function workRequest(site: LoadedSite, fleet: FleetRegistry, input: RequestInput): WorkRequest | 'nothing-left' {
  const { step, device } = input;
  const request: WorkRequest = { missionId: input.missionId, step, stepIndex: input.stepIndex, attempt: input.attempt, device, ttlMs: input.ttlMs };
  if (input.onto) request.onto = input.onto;
  if (DRIVES.has(step.action) && site.index.device(device)?.kind === 'amr') {
    // A charge step without `at` goes to the charger its check chose.
    const target = (step.action === 'navigate' ? step.params.to : 'at' in step.params ? step.params.at : undefined) ?? input.checked?.at(-1);
    const route = target === undefined ? undefined : routeFrom(site, fleet, device, target, input.driven, input.checked);
    if (!route) throw new StepRefusedError(`${device}: no route from where it stands to '${target ?? 'a charger'}'`);
    request.route = route;
  }
  if ((step.action === 'machine.run' || step.action === 'convey') && input.previous) {
    // The stopped job's state says how many parts it finished; the part in work when it stopped is lost.
    const state = fleet.get(device);
    const done = state?.job?.commandId === input.previous.id ? (state.partsProduced ?? 0) : 0;
    const left = (input.previous.count ?? step.params.count) - done;
    if (left <= 0) return 'nothing-left';
    request.count = left;
  }
  return request;
}

/**
 * Node ids from where the AMR stands to `target` (a station or node). The route the check planned
 * (`checked`) is driven as it is, from the node of it where the AMR stands: its waits and detours
 * are what was approved. Only an AMR that stands off that route gets a route found anew. An AMR
 * halted between two nodes of the route it was `driven` along goes on along the edge it is on, to
 * that route's next node, and on from there: its route starts at its last node with a deviation
 * that covers where it stands, so it never cuts across the floor off the graph.
 */
export function routeFrom(site: LoadedSite, fleet: FleetRegistry, device: string, target: string, driven?: readonly string[], checked?: readonly string[]): WorkRequest['route'] {
  const amr = site.index.device(device);
  const state = fleet.get(device);
  const at = state?.at;
  const to = site.index.locate(target)?.id;
  if (amr?.kind !== 'amr' || !at || !to) return undefined;
  const off = offNode(site, state, at);
  const next = driven?.[driven.indexOf(at) + 1];
  if (off > NODE_TOLERANCE_M && driven?.includes(at) && next) {
    const rest = findRoute(site.graph, next, to, amr.limits);
    return rest.ok ? { nodes: [at, ...rest.route.nodes], startDeviationXY: off + NODE_TOLERANCE_M } : undefined;
  }
  const from = checked ? checked.indexOf(at) : -1;
  if (checked && from >= 0 && checked.at(-1) === to) {
    const rest = checked.slice(from);
    // A route of another floor (the site changed since the check) is not driven.
    if (rest.length === 1 || profileAlong(site.graph, rest, amr.limits)) return { nodes: rest };
  }
  const r = findRoute(site.graph, at, to, amr.limits);
  return r.ok ? { nodes: r.route.nodes } : undefined;
}

/** How far (m) the device's reported pose is from the node (0 when either is unknown): more than NODE_TOLERANCE_M, it stands on an edge. */
export function offNode(site: LoadedSite, state: DeviceState | undefined, nodeId: string): number {
  const node = site.index.node(nodeId);
  return node && state?.pose ? Math.hypot(state.pose.x - node.x, state.pose.y - node.y) : 0;
}
