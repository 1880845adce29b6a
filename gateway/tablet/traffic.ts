// Traffic on the floor map (GET /v1/traffic, `traffic` events): for each AMR the part of its route
// reserved for it (granted: a solid line in the robot's colour), the rest of its route (thin and
// dashed: not yet its own), where it is going (a target of two rings at the route's last node, while
// it is on its way), and the nodes it holds, ringed. Drawn over the lanes and under the stations,
// machines and robots, so it never hides what stands on the floor.
import type { SiteView, TrafficDevice } from './api.ts';
import { s } from './dom.ts';

/** How many route colours style.css has (.route-0 …): robots get them in the site's order. */
const ROUTE_COLOURS = 4;

export class TrafficLayer {
  readonly el: SVGGElement;
  private readonly at: Map<string, { x: number; y: number }>;
  private readonly colour: Map<string, number>;
  private readonly drawn = new Map<string, { g: SVGGElement; signature: string }>();

  constructor(site: SiteView) {
    this.el = s('g', { class: 'traffic' });
    this.at = new Map(site.nodes.map((n) => [n.id, n]));
    this.colour = new Map(site.devices.filter((d) => d.kind === 'amr').map((d, i) => [d.id, i % ROUTE_COLOURS]));
  }

  /** The colour class of a robot's route, also used for its wait label. */
  colourOf(device: string): string {
    return `route-${this.colour.get(device) ?? 0}`;
  }

  /** Every AMR's holds and route as they are now; a robot no longer listed is drawn no more. */
  show(devices: readonly TrafficDevice[]): void {
    const listed = new Set<string>();
    for (const d of devices) {
      listed.add(d.id);
      const signature = JSON.stringify([d.holds, d.path ?? null]);
      const old = this.drawn.get(d.id);
      if (old?.signature === signature) continue;
      const g = this.draw(d);
      if (old) old.g.replaceWith(g);
      else this.el.append(g);
      this.drawn.set(d.id, { g, signature });
    }
    for (const [id, old] of this.drawn) {
      if (listed.has(id)) continue;
      old.g.remove();
      this.drawn.delete(id);
    }
  }

  private draw(d: TrafficDevice): SVGGElement {
    const p = d.path;
    const reserved = p ? p.nodes.slice(p.reached, p.granted + 1) : [];
    const ahead = p ? p.nodes.slice(Math.max(p.granted, p.reached)) : [];
    const goal = p && p.reached < p.nodes.length - 1 ? p.nodes[p.nodes.length - 1]! : undefined;
    const at = goal ? this.at.get(goal) : undefined;
    return s(
      'g',
      { class: `traffic-of ${this.colourOf(d.id)}`, 'data-device': d.id, 'data-holds': d.holds.join(' ') },
      ahead.length > 1 ? s('polyline', { class: 'ahead', 'data-ahead-for': d.id, 'data-nodes': ahead.join(' '), points: this.points(ahead) }) : null,
      p ? s('polyline', { class: 'reserved', 'data-reserved-for': d.id, 'data-nodes': reserved.join(' '), points: this.points(reserved) }) : null,
      at
        ? s(
            'g',
            { class: 'destination', 'data-destination-for': d.id, 'data-node': goal, transform: `translate(${at.x} ${-at.y})` },
            s('title', null, `${d.id} drives to ${goal}`),
            s('circle', { r: 0.95 }),
            s('circle', { r: 0.6 }),
          )
        : null,
      ...d.holds.map((n) => {
        const at = this.at.get(n);
        return at ? s('circle', { class: 'hold', 'data-node': n, cx: at.x, cy: -at.y, r: 0.45 }) : null;
      }),
    );
  }

  private points(nodes: readonly string[]): string {
    return nodes
      .map((n) => this.at.get(n))
      .filter((at): at is { x: number; y: number } => !!at)
      .map((at) => `${at.x},${-at.y}`)
      .join(' ');
  }
}
