// The demo fleet parked at home: every device of the site online and idle, AMRs at their home
// station with a charged battery. It stands in for devices until they report over MQTT.
import type { FleetRegistry } from '../robots/fleet-registry.ts';

export function parkFleetAtHome(fleet: FleetRegistry, now: Date, soc = 0.9): void {
  const { site } = fleet;
  for (const d of site.site.devices) {
    if (d.kind === 'amr') {
      const station = site.station(d.home)!;
      const node = site.node(station.node)!;
      fleet.update(d.id, {
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
      fleet.update(d.id, { online: true, state: 'idle', errors: [], lastSeen: now.toISOString() });
    }
  }
}
