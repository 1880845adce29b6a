// The fleet parked at home: every device of the site online and idle, AMRs at their home
// station with a charged battery. It stands in for devices until they report over MQTT, and is
// the state `phygate check` assumes when it has no live fleet.
import type { DeviceState, FleetState } from '../planners/fleet.ts';
import type { SiteIndex } from '../planners/site.ts';
import type { FleetRegistry } from '../robots/fleet-registry.ts';

export function parkedFleetState(site: SiteIndex, now: Date, soc = 0.9): FleetState {
  const states = new Map<string, DeviceState>();
  for (const d of site.site.devices) {
    if (d.kind === 'amr') {
      const station = site.station(d.home)!;
      const node = site.node(station.node)!;
      states.set(d.id, {
        id: d.id,
        online: true,
        state: 'idle',
        at: node.id,
        pose: { x: node.x, y: node.y, theta: station.theta },
        soc,
        cargo: 0,
        paused: false,
        errors: [],
        lastSeen: now.toISOString(),
      });
    } else {
      states.set(d.id, { id: d.id, online: true, state: 'idle', errors: [], lastSeen: now.toISOString() });
    }
  }
  return states;
}

export function parkFleetAtHome(fleet: FleetRegistry, now: Date, soc = 0.9): void {
  for (const [id, { id: _id, ...state }] of parkedFleetState(fleet.site, now, soc)) fleet.update(id, state);
}
