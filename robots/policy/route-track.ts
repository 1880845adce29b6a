// A route of nav-graph nodes followed by an `amr.track` policy, one node at a time by the rule a
// policy-driven vehicle follows an order (order-track.ts: the edge ahead as the path, a node
// passed within NODE_TOLERANCE_M, the last one once also turned to the end heading).
// `phygate policy verify` drives routes between stations with it, so the timing a certificate
// states is the timing of the driving the virtual fleet and `phygate edge` do.
import type { NavGraph } from '../../planners/route.ts';
import type { Amr } from '../../planners/site.ts';
import type { AmrState } from './kinematics.ts';
import { nodeReached, trackToNode, type NodeTrack } from './order-track.ts';

/** What a step of the robot did to the route: still on the way, or the end reached. */
export type RouteProgress = 'driving' | 'end';

export class RouteTrack {
  /** The way to the node ahead: its path is what the policy is given now. */
  track: NodeTrack;
  /** Edge being driven: node `index` is behind, `index + 1` ahead. */
  index = 0;

  constructor(
    private readonly graph: NavGraph,
    private readonly nodes: readonly string[],
    /** The heading the route must end with; undefined: any. */
    private readonly endTheta: number | undefined,
    private readonly amr: Pick<Amr, 'limits'>,
    start: AmrState,
  ) {
    if (nodes.length < 2) throw new Error('a route to follow has two nodes at least');
    this.track = trackToNode(graph, nodes[0]!, nodes[1]!, start, amr);
  }

  /** Where the robot is after a step: on to the next edge once it reached the node ahead. */
  advance(s: AmrState): RouteProgress {
    const last = this.index + 1 === this.nodes.length - 1;
    if (!nodeReached(this.graph, this.track, this.nodes[this.index + 1]!, s, last ? this.endTheta : undefined)) return 'driving';
    if (last) return 'end';
    this.index++;
    this.track = trackToNode(this.graph, this.nodes[this.index]!, this.nodes[this.index + 1]!, s, this.amr);
    return 'driving';
  }
}
