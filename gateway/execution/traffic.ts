// Traffic at run time: no AMR drives into a node another one holds, and the robots enter nodes in
// the order the checked schedule has them (docs/architecture.md, "Traffic at run time").
//
// Every AMR holds the node it stands on. An AMR sent along a route holds the nodes it is granted
// ahead of it, at most `lookahead` beyond the one it reached, and gives each one back once it has
// reached the next. A node is granted by the same rule the check's simulation uses (sim/traffic.ts):
// no other robot's held node may be within reach of the node or of the edge to it. And, where the
// check scheduled another robot to enter a node near it first (the `passes` of the approval's
// simulation), the robot waits until that one has: the run keeps the check's order, so it cannot
// deadlock where the check found none. A VDA 5050 order's base ends at the last granted node; the
// port extends it with order updates as nodes are granted. Holds, routes and the schedule are
// persisted (gateway/store/traffic.ts): a restarted gateway takes them over.
import type { Pass } from '../../planners/check.ts';
import type { DeviceState } from '../../planners/fleet.ts';
import { findRoute, NODE_TOLERANCE_M } from '../../planners/route.ts';
import type { DevicePorts, Work } from '../../robots/device-port.ts';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import { errorText, type Log } from '../../robots/log.ts';
import { Traffic, type TrafficRobot } from '../../sim/traffic.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import type { EventHub } from '../events.ts';
import type { Store } from '../store/index.ts';
import type { ScheduledPass, TrafficPath } from '../store/traffic.ts';
import type { Clock } from './clock.ts';
import { offNode } from './work-request.ts';

/** How many nodes beyond the one it reached an AMR may be granted. */
export const LOOKAHEAD = 2;

/** Why a robot waits: the node is held, another robot is within reach, or the schedule has another robot there first. */
export type WaitReason = 'held' | 'near' | 'schedule';

export interface TrafficWait {
  /** The robot it waits for. */
  device: string;
  /** The node it waits to enter. */
  node: string;
  why: WaitReason;
  /** The mission of the robot it waits for, when it has one. */
  missionId?: string;
  /** The schedule's pass it waits for (`why: schedule`). */
  pass?: number;
}

export interface TrafficDeviceView {
  id: string;
  /** Nodes it holds now. */
  holds: string[];
  /** The route it drives, how far it reached and how far it may go. */
  path?: { missionId: string; stepId: string; nodes: string[]; reached: number; granted: number };
  waitsFor?: TrafficWait;
}

export interface TrafficDeps {
  store: Pick<Store, 'traffic' | 'outbox' | 'missions' | 'db'>;
  site: LoadedSite;
  fleet: FleetRegistry;
  ports: Pick<DevicePorts, 'for'>;
  clock: Clock;
  log: Log;
  /** Where the `traffic` event goes (throttled); a hub without throttling gets none. */
  hub?: Partial<Pick<EventHub, 'publishThrottled'>>;
  resendMs: number;
  lookahead?: number;
  /** Whether a STOP covers the device: nothing more is granted to it or sent. */
  stopped?(device: string): boolean;
}

/** Missions whose scheduled passes still count. */
const LIVE = new Set(['approved', 'running', 'paused']);

export class TrafficControl {
  private readonly traffic: Traffic;
  private readonly robots = new Map<string, TrafficRobot>();
  /** Node → the device holding it. */
  private readonly owner = new Map<string, string>();
  private readonly paths = new Map<string, TrafficPath>();
  /** The latest message of each path's work, when it was last sent, and whether it is an update (which this class sends). */
  private readonly works = new Map<string, { work: Work; sentAt: number; update: boolean }>();
  private readonly waits = new Map<string, TrafficWait>();
  /** Devices told to drop their work: their routes are granted no further. */
  private readonly frozen = new Set<string>();
  /** Nesting of `batch`, and the sends waiting for its commit. */
  private depth = 0;
  private outbound: Work[] = [];
  /** The schedule's passes not yet made, in order, and by node. */
  private schedule: ScheduledPass[] = [];
  private byNode = new Map<string, ScheduledPass[]>();
  private readonly freed = new Set<() => void>();
  /** Within the input being handled (see batch): nodes given back, and nodes taken that were free when it began. */
  private inInput: { released: Set<string>; takenFree: Set<string> } | undefined;
  private readonly off: () => void;
  private readonly lookahead: number;

  constructor(private readonly deps: TrafficDeps) {
    this.lookahead = deps.lookahead ?? LOOKAHEAD;
    this.traffic = new Traffic(deps.site.graph);
    for (const d of deps.site.index.site.devices) {
      if (d.kind !== 'amr') continue;
      const r: TrafficRobot = { id: d.id, radius: Math.hypot(d.footprint.length / 2, d.footprint.width / 2), occupied: new Set() };
      this.robots.set(d.id, r);
      this.traffic.add(r);
    }
    // What was held and driven before a restart holds on.
    for (const [node, device] of deps.store.traffic.holds()) this.take(device, node);
    for (const p of deps.store.traffic.paths()) {
      if (!this.robots.has(p.device)) continue;
      this.paths.set(p.device, p);
      const entry = p.workId ? deps.store.outbox.get(p.workId) : undefined;
      if (entry && entry.settledAt === null) this.works.set(p.device, { work: { id: entry.id, device: entry.device, channel: entry.channel, message: entry.message, expiresAt: entry.expiresAt }, sentAt: -Infinity, update: p.updateId > 0 });
    }
    this.index(deps.store.traffic.schedule());
    for (const s of deps.fleet.list()) this.stand(s);
    this.off = deps.fleet.onChange((s) => {
      const robot = this.robots.get(s.id);
      // Most states change nothing here: an AMR with no route still where it was.
      if (!robot || (!this.paths.has(s.id) && (!s.at || (robot.occupied.size === 1 && robot.occupied.has(s.at))))) return;
      try {
        this.batch(() => this.moved(s));
      } catch (err) {
        deps.log.error({ device: s.id, err: errorText(err) }, 'traffic control failed to follow a state');
      }
    });
  }

  close(): void {
    this.off();
  }

  /** Called whenever nodes are given back: steps waiting for a whole route may go now. */
  onFreed(listener: () => void): () => void {
    this.freed.add(listener);
    return () => this.freed.delete(listener);
  }

  // ---- the schedule ----------------------------------------------------------------------------

  /**
   * The approval of `missionId` was checked with this simulation: from now on the robots enter
   * nodes in its order (it covers every committed mission's work still to do, and the new one's).
   * Without a mission: the committed work simulated anew (a paused mission resumes).
   */
  adopt(missionId: string | undefined, passes: readonly Pass[]): void {
    return this.batch(() => {
      const rows = passes.flatMap((p, seq): ScheduledPass[] => {
        const slash = p.step.lastIndexOf('/');
        if (slash >= 0) return [{ seq, node: p.node, device: p.device, missionId: p.step.slice(0, slash), stepId: p.step.slice(slash + 1) }];
        return missionId === undefined ? [] : [{ seq, node: p.node, device: p.device, missionId, stepId: p.step }];
      });
      this.deps.store.traffic.replaceSchedule(rows);
      this.index(rows);
      // A route being driven has passed the nodes behind its grant: their passes are made.
      for (const p of this.paths.values()) this.forgetPasses(p, (node, i) => i <= p.granted || !p.nodes.includes(node));
      this.grantAll();
    });
  }

  private index(rows: ScheduledPass[]): void {
    this.schedule = rows;
    this.byNode = new Map();
    for (const r of rows) {
      let list = this.byNode.get(r.node);
      if (!list) this.byNode.set(r.node, (list = []));
      list.push(r);
    }
  }

  /** Drops the passes of the path's step that `drop` picks (by node and the node's index on the route, -1 if not on it). */
  private forgetPasses(p: Pick<TrafficPath, 'device' | 'missionId' | 'stepId' | 'nodes'>, drop: (node: string, index: number) => boolean): void {
    const gone = this.schedule.filter((r) => r.device === p.device && r.missionId === p.missionId && r.stepId === p.stepId && drop(r.node, p.nodes.indexOf(r.node)));
    this.dropPasses(gone);
  }

  private dropPasses(gone: readonly ScheduledPass[]): void {
    if (gone.length === 0) return;
    const set = new Set(gone);
    this.schedule = this.schedule.filter((r) => !set.has(r));
    for (const r of gone) {
      const list = this.byNode.get(r.node)!;
      list.splice(list.indexOf(r), 1);
    }
    this.deps.store.traffic.dropPasses(gone.map((r) => r.seq));
  }

  // ---- routes ----------------------------------------------------------------------------------

  /**
   * The device sets off along `nodes` (its first node where it stands) for a step: the nodes it
   * may drive to now are granted. Returns how many nodes of the route are granted (at least the
   * first), or, with `whole`, undefined unless the whole route is (nothing is then held for it).
   */
  begin(device: string, missionId: string, stepId: string, nodes: readonly string[], whole = false): number | undefined {
    return this.batch(() => {
      const robot = this.robots.get(device);
      if (!robot) return nodes.length;
      const old = this.paths.get(device);
      if (old) this.forgetPasses(old, () => true);
      this.frozen.delete(device);
      const path: TrafficPath = { device, missionId, stepId, nodes: [...nodes], reached: 0, granted: 0, updateId: 0 };
      this.forgetPasses(path, (_node, i) => i < 1);
      // An AMR halted on the edge to the route's second node already stands partly on it.
      const between = nodes[1] !== undefined && robot.occupied.has(nodes[1]) ? [nodes[1]] : [];
      this.paths.set(device, path);
      this.works.delete(device);
      this.setHolds(device, [nodes[0]!, ...between]);
      this.extendPath(path, whole ? nodes.length : this.lookahead);
      if (whole && path.granted < nodes.length - 1) {
        this.end(device);
        return undefined;
      }
      this.deps.store.traffic.putPath(path);
      // Its holds changed: the others' waits (and grants) are what they are now.
      this.grantAll();
      return path.granted + 1;
    });
  }

  /** The work that drives the device's route, as stored: granted nodes beyond its base go out as updates. */
  bind(device: string, work: Work): void {
    return this.batch(() => {
      const path = this.paths.get(device);
      if (!path) return;
      path.workId = work.id;
      this.works.set(device, { work, sentAt: this.deps.clock.now(), update: false });
      this.deps.store.traffic.putPath(path);
    });
  }

  /** The device is told to drop the step's work: it keeps what it holds until the step ends, and is granted nothing more. */
  freeze(device: string, missionId: string, stepId: string): void {
    const path = this.paths.get(device);
    if (path?.missionId === missionId && path.stepId === stepId) this.frozen.add(device);
  }

  /**
   * The device's step is over (or interrupted): it keeps the node it stands on, and the one ahead
   * if it stopped on the way there. With a mission and step: only if the route is that step's.
   */
  end(device: string, missionId?: string, stepId?: string): void {
    return this.batch(() => {
      const path = this.paths.get(device);
      if (!path || (missionId !== undefined && (path.missionId !== missionId || path.stepId !== stepId))) return;
      this.paths.delete(device);
      this.works.delete(device);
      this.waits.delete(device);
      this.frozen.delete(device);
      this.forgetPasses(path, () => true);
      this.deps.store.traffic.dropPath(device);
      const state = this.deps.fleet.get(device);
      const here = path.nodes[path.reached]!;
      const next = path.nodes[path.reached + 1];
      const keep = [here];
      if (next && path.granted > path.reached && offNode(this.deps.site, state, here) > NODE_TOLERANCE_M) keep.push(next);
      this.setHolds(device, keep);
      this.grantAll();
    });
  }

  /** The route of a device, if it drives one. */
  pathOf(device: string): TrafficPath | undefined {
    return this.paths.get(device);
  }

  view(): TrafficDeviceView[] {
    return [...this.robots.values()].map((r) => {
      const p = this.paths.get(r.id);
      const w = this.waits.get(r.id);
      return {
        id: r.id,
        holds: [...r.occupied],
        ...(p ? { path: { missionId: p.missionId, stepId: p.stepId, nodes: p.nodes, reached: p.reached, granted: p.granted } } : {}),
        ...(w ? { waitsFor: w } : {}),
      };
    });
  }

  // ---- what the robots report ------------------------------------------------------------------

  /** A state: nodes behind the robot are given back, and others may be granted; a lost order update goes again. */
  private moved(s: DeviceState): void {
    const path = this.paths.get(s.id);
    if (!path) {
      if (this.stand(s)) this.grantAll();
      return;
    }
    const at = s.at === undefined ? -1 : path.nodes.indexOf(s.at, path.reached);
    if (at > path.reached && at <= path.granted) {
      path.reached = at;
      this.setHolds(s.id, path.nodes.slice(at, path.granted + 1));
      this.deps.store.traffic.putPath(path);
      this.grantAll();
      return;
    }
    // The device may have just taken the work: what may be granted to it and sent goes out now.
    if (this.frozen.has(s.id)) return;
    this.extendPath(path, this.lookahead);
    this.push(path);
  }

  /** Grants every route what it may have now (a STOP was released). */
  regrant(): void {
    this.batch(() => this.grantAll());
  }

  /** An AMR with no route holds the node it stands on. Returns whether that changed. */
  private stand(s: DeviceState): boolean {
    const robot = this.robots.get(s.id);
    if (!robot || this.paths.has(s.id) || !s.at || !this.deps.site.index.node(s.at)) return false;
    if (robot.occupied.size === 1 && robot.occupied.has(s.at)) return false;
    const holder = this.owner.get(s.at);
    if (holder && holder !== s.id) {
      this.deps.log.error({ device: s.id, node: s.at, holder }, `${s.id} reports standing at '${s.at}', which ${holder} holds`);
      return false;
    }
    this.setHolds(s.id, [s.at]);
    return true;
  }

  // ---- granting --------------------------------------------------------------------------------

  /** Grants every route what it may have now, the routes in the schedule's order; a wait cycle the schedule caused is broken. */
  private grantAll(): void {
    for (let round = 0; round < 8; round++) {
      const ordered = [...this.paths.values()].sort((a, b) => this.nextSeq(a) - this.nextSeq(b) || (a.device < b.device ? -1 : 1));
      for (const p of ordered) this.extendPath(p, this.lookahead);
      if (!this.breakScheduleCycle()) break;
    }
    for (const p of this.paths.values()) this.push(p);
    this.publish();
  }

  private nextSeq(p: TrafficPath): number {
    const next = p.nodes[p.granted + 1];
    return (next === undefined ? undefined : this.passOf(p, next)?.seq) ?? Number.MAX_SAFE_INTEGER;
  }

  /** Grants nodes beyond the path's grant, up to `ahead` beyond the node reached, while the way is clear. */
  private extendPath(p: TrafficPath, ahead: number): void {
    if (this.frozen.has(p.device) || this.deps.stopped?.(p.device)) return;
    const before = p.granted;
    while (p.granted < p.nodes.length - 1 && p.granted - p.reached < ahead) {
      const from = p.nodes[p.granted]!;
      const to = p.nodes[p.granted + 1]!;
      const wait = this.blocker(p, from, to) ?? this.standingBeyond(p, p.granted + 2);
      if (wait) {
        this.waits.set(p.device, wait);
        break;
      }
      this.waits.delete(p.device);
      const pass = this.passOf(p, to);
      if (pass) this.dropPasses([pass]);
      p.granted += 1;
      this.take(p.device, to);
    }
    if (p.granted === p.nodes.length - 1 || p.granted - p.reached >= ahead) this.waits.delete(p.device);
    if (p.granted !== before) {
      this.deps.store.traffic.setHolds(p.device, [...this.robots.get(p.device)!.occupied], new Date(this.deps.clock.now()));
      this.deps.store.traffic.putPath(p);
    }
  }

  /** Why the path's robot may not drive `from → to` now, or undefined if it may. */
  private blocker(p: TrafficPath, from: string, to: string): TrafficWait | undefined {
    const holder = this.owner.get(to);
    if (holder && holder !== p.device) return this.wait(holder, to, 'held');
    const near = this.traffic.blocker(this.robots.get(p.device)!, from, to);
    if (near) return this.wait(near, to, 'near');
    const mine = this.passOf(p, to);
    if (!mine) return undefined;
    const dead: ScheduledPass[] = [];
    let first: ScheduledPass | undefined;
    for (const node of this.traffic.nodesNearEdge(from, to)) {
      // Nobody enters a node this robot holds before it has left: such a pass cannot come first.
      if (this.owner.get(node) === p.device) continue;
      for (const r of this.byNode.get(node) ?? []) {
        if (r.seq >= mine.seq) break;
        if (r.device === p.device) continue;
        if (!LIVE.has(this.deps.store.missions.statusOf(r.missionId) ?? '')) dead.push(r);
        else if (!first || r.seq < first.seq) first = r;
      }
    }
    this.dropPasses(dead);
    return first && { ...this.wait(first.device, to, 'schedule'), missionId: first.missionId, pass: first.seq };
  }

  /**
   * A robot does not drive into a node when the route's next one is held by a robot standing still
   * there: that robot may need the node to get out (a station at the end of a spur, the aisle node
   * before it), and the two would wait for each other for good.
   */
  private standingBeyond(p: TrafficPath, index: number): TrafficWait | undefined {
    const node = p.nodes[index];
    const holder = node === undefined ? undefined : this.owner.get(node);
    if (!holder || holder === p.device) return undefined;
    // Standing: no route, at the end of its route, or told to drop it (one waiting on its way is not).
    const theirs = this.paths.get(holder);
    const standing = !theirs || theirs.reached === theirs.nodes.length - 1 || this.frozen.has(holder);
    return standing ? this.wait(holder, node!, 'held') : undefined;
  }

  private wait(device: string, node: string, why: WaitReason): TrafficWait {
    const path = this.paths.get(device);
    return { device, node, why, ...(path ? { missionId: path.missionId } : {}) };
  }

  /** The path's step's next scheduled pass of `node`. */
  private passOf(p: TrafficPath, node: string): ScheduledPass | undefined {
    return this.byNode.get(node)?.find((r) => r.device === p.device && r.missionId === p.missionId && r.stepId === p.stepId);
  }

  /**
   * Robots waiting for each other in a ring never move. A ring the schedule made (the run left
   * the check's order: a robot late, a route planned again) is broken by dropping the pass that
   * holds one of them back; a ring of held nodes only, by a detour if one of them has one.
   */
  private breakScheduleCycle(): boolean {
    for (const start of this.waits.keys()) {
      const ring: string[] = [];
      let id: string | undefined = start;
      while (id !== undefined && !ring.includes(id)) {
        ring.push(id);
        id = this.waits.get(id)?.device;
      }
      if (id !== start) continue;
      const first = ring.find((d) => this.waits.get(d)!.why === 'schedule');
      const edge = first === undefined ? undefined : this.waits.get(first)!;
      if (!edge) return this.detour(ring);
      const pass = this.schedule.find((r) => r.seq === edge.pass);
      this.deps.log.warn({ devices: ring, node: edge.node }, `traffic: ${ring.join(', ')} would wait for each other; ${first} goes first at '${edge.node}' against the schedule`);
      if (pass) this.dropPasses([pass]);
      return pass !== undefined;
    }
    return false;
  }

  /**
   * Robots holding what the others need next, all of them: the run left the check (a robot late, a
   * route planned again). The first of them (by id) that can reach its target another way, around
   * every node within reach of another robot, takes that way from the end of its grant (the
   * horizon of a VDA 5050 order may change); if none can, it is logged and they wait.
   */
  private detour(ring: readonly string[]): boolean {
    for (const device of [...ring].sort()) {
      const p = this.paths.get(device);
      const amr = this.deps.site.index.device(device);
      if (!p || amr?.kind !== 'amr' || this.frozen.has(device)) continue;
      const from = p.nodes[p.granted]!;
      const to = p.nodes[p.nodes.length - 1]!;
      const avoid = this.traffic.nodesNear(this.robots.get(device)!);
      avoid.delete(from);
      const r = findRoute(this.deps.site.graph, from, to, amr.limits, {}, { avoid });
      if (!r.ok || r.route.nodes.length < 2) continue;
      const nodes = [...p.nodes.slice(0, p.granted + 1), ...r.route.nodes.slice(1)];
      this.deps.log.warn({ devices: ring, device, route: nodes }, `traffic: ${ring.join(', ')} wait for each other; ${device} takes another way to '${to}', off its checked route`);
      this.forgetPasses(p, () => true);
      p.nodes = nodes;
      this.deps.store.traffic.putPath(p);
      return true;
    }
    this.deps.log.error({ devices: ring }, `traffic: ${ring.join(', ')} wait for each other, and none can take another way`);
    return false;
  }

  // ---- the device ------------------------------------------------------------------------------

  /** Sends the path's work again as an update when it is granted beyond the base the device has. */
  private push(p: TrafficPath): void {
    const held = this.works.get(p.device);
    if (!held || this.frozen.has(p.device) || this.deps.stopped?.(p.device)) return;
    const port = this.deps.ports.for(p.device);
    if (!port.extend || !port.has) return;
    // One update at a time: the next once the device shows it has the last.
    if (!port.has(held.work)) return this.resend(p);
    const through = port.describe(held.work).releasedThrough ?? p.nodes.length - 1;
    if (p.granted <= through) return;
    let next: Work;
    try {
      next = port.extend(held.work, p.nodes, p.granted, p.reached);
    } catch (err) {
      this.deps.log.error({ device: p.device, err: errorText(err) }, `traffic: no order update for ${p.device}`);
      return;
    }
    p.updateId += 1;
    // Within the input's transaction (batch): the update is stored before it goes out.
    this.deps.store.outbox.revise(next.id, next.message);
    this.deps.store.traffic.putPath(p);
    this.works.set(p.device, { work: next, sentAt: this.deps.clock.now(), update: true });
    this.send(next);
  }

  /** The last update again, if the device does not show it after `resendMs`. */
  private resend(p: TrafficPath): void {
    const held = this.works.get(p.device);
    const port = this.deps.ports.for(p.device);
    if (!held?.update || !port.has || port.has(held.work)) return;
    const now = this.deps.clock.now();
    if (now - held.sentAt < this.deps.resendMs) return;
    held.sentAt = now;
    this.send(held.work);
  }

  /** Queued while a batch runs: sent once what it stored is committed. */
  private send(work: Work): void {
    if (this.depth > 0) {
      this.outbound.push(work);
      return;
    }
    this.deps.ports
      .for(work.device)
      .send(work)
      .catch((err: Error) => this.deps.log.warn({ device: work.device, work: work.id }, `order update for ${work.device} not sent: ${err.message}`));
  }

  /**
   * Runs one input in one transaction (one disk sync for everything it stores, however many
   * holds, routes and passes change), and sends the order updates it made only once committed.
   */
  private batch<T>(f: () => T): T {
    this.depth++;
    if (this.depth === 1) this.inInput = { released: new Set(), takenFree: new Set() };
    let result: T;
    try {
      result = this.depth === 1 ? this.deps.store.db.transaction(f).immediate() : f();
    } finally {
      this.depth--;
    }
    if (this.depth === 0 && this.outbound.length > 0) {
      const out = this.outbound;
      this.outbound = [];
      out.forEach((w) => this.send(w));
    }
    if (this.depth === 0) {
      // Only a node held before the input and free after it is news to a route that waits: one
      // taken and given back within the input (a route that could not be granted whole) is not,
      // and telling of it would have that route tried again, and again, for ever.
      const { released, takenFree } = this.inInput!;
      this.inInput = undefined;
      if ([...released].some((n) => !this.owner.has(n) && !takenFree.has(n))) this.notifyFreed();
    }
    return result;
  }

  private notifyFreed(): void {
    for (const l of this.freed) l();
  }

  // ---- holds -----------------------------------------------------------------------------------

  private setHolds(device: string, nodes: readonly string[]): void {
    const robot = this.robots.get(device)!;
    const keep = new Set(nodes.filter((n) => !this.owner.has(n) || this.owner.get(n) === device));
    let freed = false;
    for (const n of [...robot.occupied]) {
      if (keep.has(n)) continue;
      this.traffic.leave(robot, n);
      this.owner.delete(n);
      this.inInput?.released.add(n);
      freed = true;
    }
    for (const n of keep) this.take(device, n);
    this.deps.store.traffic.setHolds(device, [...keep], new Date(this.deps.clock.now()));
    // Within an input, the input's end tells (batch); outside one, at once.
    if (freed && this.inInput === undefined) this.notifyFreed();
  }

  private take(device: string, node: string): void {
    const robot = this.robots.get(device);
    if (!robot || robot.occupied.has(node)) return;
    // Free now and not given back within the input: it was free when the input began.
    if (this.inInput && !this.owner.has(node) && !this.inInput.released.has(node)) this.inInput.takenFree.add(node);
    this.traffic.enter(robot, node);
    this.owner.set(node, device);
  }

  private publish(): void {
    this.deps.hub?.publishThrottled?.('traffic', 'traffic', { devices: this.view() });
  }
}
