// The virtual vehicles of the MQTT benchmark (test/bench/mqtt.ts), in a child process of their
// own so that their CPU is not counted as the gateway's. Driven over the IPC channel of
// `child_process.fork`: `start` opens a few MQTT connections and publishes, for each vehicle,
// a VDA 5050 state (current timestamp, rising headerId, a pose that moves a little, the battery)
// every 1/hz s at QoS 0, the vehicles spread evenly over each tick; `count` reports what was
// published so far; `stop` closes the connections. The process ends when its parent goes away.
//
// With `orders` (opt-in; without it the vehicles subscribe to nothing and only sway around their
// node) each vehicle also takes VDA 5050 orders: it reports the order's id, update and the nodes
// and edges still ahead in its state, drives the route at `orders.speed` m/s (its pose, last node
// and node/edge states follow), finishes the order's actions at the last node, and carries out a
// `cancelOrder` instant action (it halts where it is; the order's open actions fail).
import type { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import type { InstantActions, Order, State } from '../../robots/vda5050/schemas.ts';
import { vehicleTopic } from '../../robots/vda5050/topics.ts';

export interface PublisherStart {
  type: 'start';
  url: string;
  interfaceName: string;
  manufacturer: string;
  serialNumbers: string[];
  /** MQTT connections the vehicles are shared out over (vehicle i uses connection ⌊i / slots⌋ mod connections). */
  connections: number;
  /** State messages per vehicle per second. */
  hz: number;
  /** Each tick is cut into this many slots; vehicle i publishes in slot i mod slots. */
  slots: number;
  mapId: string;
  /** The node the vehicles report as their last node, and where they stand (they sway around it). */
  node: string;
  x: number;
  y: number;
  /** The vehicles take orders and drive them at `speed` m/s; absent, they ignore orders. */
  orders?: { speed: number };
}

export type ToPublisher = PublisherStart | { type: 'count' } | { type: 'stop' };

export interface PublisherCount {
  type: 'count';
  /** State messages handed to the socket since `start`. */
  published: number;
  /** Publishes mqtt.js reported as failed (not connected, say). */
  failed: number;
  /** Date.now() when the count was taken. */
  atMs: number;
  /** process.cpuUsage() of this process, user + system, µs. */
  cpuUs: number;
  /** How late the slowest slot ran since the previous count, ms: the publisher's own lag. */
  maxLateMs: number;
  /** Characters of the state messages handed to the socket since `start` (ASCII JSON: bytes). */
  bytes: number;
  /** With `orders`: orders taken, orders finished and cancelOrders carried out since `start`. */
  orders: { taken: number; finished: number; cancelled: number };
}

export type FromPublisher = { type: 'started'; vehicles: number; connections: number } | PublisherCount | { type: 'stopped' } | { type: 'error'; message: string };

interface Vehicle {
  topic: string;
  client: MqttClient;
  state: State;
  phase: number;
  /** The order it drives, with `orders`. */
  drive?: Drive;
  /** It has taken an order: its pose follows its orders (it no longer sways around its first node). */
  ordered?: boolean;
}

/** An order being driven: from node `leg` towards node `leg + 1`, `alongM` metres along that edge. */
interface Drive {
  nodes: { nodeId: string; sequenceId: number; x: number; y: number }[];
  leg: number;
  alongM: number;
  lastMs: number;
}

function initialState(s: PublisherStart, serialNumber: string, i: number): State {
  return {
    headerId: 0,
    timestamp: new Date().toISOString(),
    version: '2.0.0',
    manufacturer: s.manufacturer,
    serialNumber,
    orderId: '',
    orderUpdateId: 0,
    lastNodeId: s.node,
    lastNodeSequenceId: 0,
    nodeStates: [],
    edgeStates: [],
    agvPosition: { x: s.x, y: s.y, theta: 0, mapId: s.mapId, positionInitialized: true, localizationScore: 0.9 },
    velocity: { vx: 0, vy: 0, omega: -0.5 },
    loads: [],
    driving: true,
    paused: false,
    operatingMode: 'AUTOMATIC',
    batteryState: { batteryCharge: 60 + (i % 40), batteryVoltage: 48, charging: false },
    errors: [],
    information: [],
    actionStates: [],
    safetyState: { eStop: 'NONE', fieldViolation: false },
  };
}

class Publisher {
  private clients: MqttClient[] = [];
  private vehicles: Vehicle[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private published = 0;
  private failed = 0;
  private maxLateMs = 0;
  private bytes = 0;
  private orders = { taken: 0, finished: 0, cancelled: 0 };
  private readonly onSent = (err?: Error) => {
    if (err) this.failed++;
    else this.published++;
  };

  async start(s: PublisherStart): Promise<void> {
    if (this.running) throw new Error('already publishing');
    const tag = `${process.pid}-${Date.now().toString(36)}`;
    this.clients = await Promise.all(Array.from({ length: s.connections }, (_, k) => connectMqtt({ url: s.url, clientId: `bench-vehicles-${tag}-${k}` })));
    for (const c of this.clients) {
      // One connection carries the states of many vehicles here, where a real vehicle has its own
      // and publishes every 100 ms: without TCP_NODELAY, Nagle's algorithm would hold each state
      // back until the broker's (delayed) ACK of the previous one, adding up to 40 ms no real
      // vehicle adds. Set again after a reconnect, which opens a new socket.
      const noDelay = () => (c.stream as unknown as Socket).setNoDelay?.(true);
      noDelay();
      c.on('connect', noDelay);
    }
    this.vehicles = s.serialNumbers.map((serialNumber, i) => ({
      topic: vehicleTopic(s.interfaceName, { manufacturer: s.manufacturer, serialNumber }, 'state'),
      // The vehicles of one slot go out over different connections.
      client: this.clients[Math.floor(i / s.slots) % s.connections]!,
      state: initialState(s, serialNumber, i),
      phase: (i * 0.37) % (2 * Math.PI),
    }));
    this.published = 0;
    this.failed = 0;
    this.maxLateMs = 0;
    this.bytes = 0;
    this.orders = { taken: 0, finished: 0, cancelled: 0 };
    if (s.orders) await this.takeOrders(s);
    this.running = true;
    const slotMs = 1000 / s.hz / s.slots;
    const t0 = performance.now();
    let k = 0;
    const step = () => {
      if (!this.running) return;
      this.maxLateMs = Math.max(this.maxLateMs, performance.now() - (t0 + k * slotMs));
      this.publishSlot(k % s.slots, s);
      k++;
      this.timer = setTimeout(step, Math.max(0, t0 + k * slotMs - performance.now()));
    };
    step();
  }

  private publishSlot(slot: number, s: PublisherStart): void {
    const now = new Date().toISOString();
    for (let i = slot; i < this.vehicles.length; i += s.slots) {
      const v = this.vehicles[i]!;
      const st = v.state;
      v.phase += 0.05;
      st.headerId++;
      st.timestamp = now;
      if (v.ordered) this.driveOn(v, s.orders!.speed);
      else {
        const pos = st.agvPosition!;
        pos.x = s.x + 0.2 * Math.sin(v.phase);
        pos.y = s.y + 0.2 * Math.cos(v.phase);
        pos.theta = Math.atan2(-Math.sin(v.phase), Math.cos(v.phase));
        const vel = st.velocity!;
        vel.vx = 0.2 * Math.cos(v.phase);
        vel.vy = -0.2 * Math.sin(v.phase);
      }
      st.batteryState.batteryCharge = Math.max(5, st.batteryState.batteryCharge - 0.0005);
      this.send(v, JSON.stringify(st));
    }
  }

  private send(v: Vehicle, payload: string): void {
    this.bytes += payload.length;
    v.client.publish(v.topic, payload, { qos: 0 }, this.onSent);
  }

  // ---- orders (opt-in) -----------------------------------------------------------------------

  /** Each connection subscribes to the order and instantActions topics of the vehicles it carries. */
  private async takeOrders(s: PublisherStart): Promise<void> {
    const byTopic = new Map<string, { vehicle: Vehicle; kind: 'order' | 'instantActions' }>();
    const subscriptions = new Map<MqttClient, Record<string, { qos: 0 | 1 }>>();
    for (const v of this.vehicles) {
      const address = { manufacturer: s.manufacturer, serialNumber: v.state.serialNumber };
      const order = vehicleTopic(s.interfaceName, address, 'order');
      const instant = vehicleTopic(s.interfaceName, address, 'instantActions');
      byTopic.set(order, { vehicle: v, kind: 'order' });
      byTopic.set(instant, { vehicle: v, kind: 'instantActions' });
      const topics = subscriptions.get(v.client) ?? {};
      topics[order] = { qos: 0 };
      topics[instant] = { qos: 0 };
      subscriptions.set(v.client, topics);
    }
    for (const c of this.clients) {
      c.on('message', (topic: string, payload: Buffer) => {
        const to = byTopic.get(topic);
        if (!to || to.vehicle.client !== c) return;
        try {
          const message = JSON.parse(payload.toString('utf8')) as unknown;
          if (to.kind === 'order') this.onOrder(to.vehicle, message as Order);
          else this.onInstantActions(to.vehicle, message as InstantActions);
        } catch {
          // Not JSON: a vehicle ignores it.
        }
      });
    }
    await Promise.all([...subscriptions].map(([c, topics]) => c.subscribeAsync(topics)));
  }

  /** A new order is taken from the first node on; one the vehicle already has (a resend) changes nothing. */
  private onOrder(v: Vehicle, order: Order): void {
    const st = v.state;
    if (order.orderId === st.orderId && order.orderUpdateId <= st.orderUpdateId) return;
    const nodes = order.nodes.map((n) => ({ nodeId: n.nodeId, sequenceId: n.sequenceId, x: n.nodePosition?.x ?? st.agvPosition!.x, y: n.nodePosition?.y ?? st.agvPosition!.y }));
    if (nodes.length === 0) return;
    st.orderId = order.orderId;
    st.orderUpdateId = order.orderUpdateId;
    st.lastNodeId = nodes[0]!.nodeId;
    st.lastNodeSequenceId = nodes[0]!.sequenceId;
    st.nodeStates = order.nodes.slice(1).map((n) => ({ nodeId: n.nodeId, sequenceId: n.sequenceId, released: n.released, ...(n.nodePosition ? { nodePosition: n.nodePosition } : {}) }));
    st.edgeStates = order.edges.map((e) => ({ edgeId: e.edgeId, sequenceId: e.sequenceId, released: e.released }));
    st.actionStates = [...order.nodes.flatMap((n) => n.actions), ...order.edges.flatMap((e) => e.actions)].map((a) => ({ actionId: a.actionId, actionType: a.actionType, actionStatus: 'WAITING' as const }));
    st.driving = nodes.length > 1;
    const pos = st.agvPosition!;
    pos.x = nodes[0]!.x;
    pos.y = nodes[0]!.y;
    v.drive = { nodes, leg: 0, alongM: 0, lastMs: performance.now() };
    v.ordered = true;
    this.orders.taken++;
    if (nodes.length === 1) this.arrive(v);
  }

  /** `cancelOrder`: the vehicle halts where it is and drops the rest of its order. Other instant actions are acknowledged only. */
  private onInstantActions(v: Vehicle, message: InstantActions): void {
    const st = v.state;
    for (const a of message.actions ?? []) {
      if (a.actionType === 'cancelOrder') {
        if (v.drive) this.orders.cancelled++;
        v.drive = undefined;
        st.nodeStates = [];
        st.edgeStates = [];
        st.driving = false;
        st.velocity = { vx: 0, vy: 0, omega: 0 };
        for (const x of st.actionStates) if (x.actionStatus !== 'FINISHED') x.actionStatus = 'FAILED';
      }
      if (a.actionType === 'cancelOrder' || a.actionType === 'startPause' || a.actionType === 'stopPause') {
        st.actionStates.push({ actionId: a.actionId, actionType: a.actionType, actionStatus: 'FINISHED' });
      }
    }
  }

  /** Moves the vehicle along its order for the time since its last state; it stands still without one. */
  private driveOn(v: Vehicle, speed: number): void {
    const d = v.drive;
    if (!d) return;
    const st = v.state;
    const now = performance.now();
    let left = (speed * (now - d.lastMs)) / 1000;
    d.lastMs = now;
    while (d.leg < d.nodes.length - 1) {
      const from = d.nodes[d.leg]!;
      const to = d.nodes[d.leg + 1]!;
      const length = Math.hypot(to.x - from.x, to.y - from.y);
      if (d.alongM + left < length) {
        d.alongM += left;
        const f = length > 0 ? d.alongM / length : 1;
        const pos = st.agvPosition!;
        pos.x = from.x + f * (to.x - from.x);
        pos.y = from.y + f * (to.y - from.y);
        pos.theta = Math.atan2(to.y - from.y, to.x - from.x);
        st.velocity = { vx: speed * Math.cos(pos.theta), vy: speed * Math.sin(pos.theta), omega: 0 };
        return;
      }
      // Past the next node: it is the last node now, and no longer ahead.
      left -= length - d.alongM;
      d.alongM = 0;
      d.leg++;
      st.lastNodeId = to.nodeId;
      st.lastNodeSequenceId = to.sequenceId;
      st.nodeStates.shift();
      st.edgeStates.shift();
    }
    this.arrive(v);
  }

  /** At the order's last node: its actions are done and the order is finished. */
  private arrive(v: Vehicle): void {
    const d = v.drive!;
    const st = v.state;
    const last = d.nodes[d.nodes.length - 1]!;
    const pos = st.agvPosition!;
    pos.x = last.x;
    pos.y = last.y;
    st.nodeStates = [];
    st.edgeStates = [];
    st.driving = false;
    st.velocity = { vx: 0, vy: 0, omega: 0 };
    for (const a of st.actionStates) if (a.actionStatus === 'WAITING') a.actionStatus = 'FINISHED';
    v.drive = undefined;
    this.orders.finished++;
  }

  count(): PublisherCount {
    const cpu = process.cpuUsage();
    const out: PublisherCount = {
      type: 'count',
      published: this.published,
      failed: this.failed,
      atMs: Date.now(),
      cpuUs: cpu.user + cpu.system,
      maxLateMs: this.maxLateMs,
      bytes: this.bytes,
      orders: { ...this.orders },
    };
    this.maxLateMs = 0;
    return out;
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    const clients = this.clients;
    this.clients = [];
    this.vehicles = [];
    await Promise.all(clients.map((c) => closeMqtt(c, true)));
  }
}

if (process.send) {
  const publisher = new Publisher();
  const send = (m: FromPublisher) => process.send!(m);
  process.on('message', (m: ToPublisher) => {
    const run = async () => {
      switch (m.type) {
        case 'start':
          await publisher.start(m);
          send({ type: 'started', vehicles: m.serialNumbers.length, connections: m.connections });
          break;
        case 'count':
          send(publisher.count());
          break;
        case 'stop':
          await publisher.stop();
          send({ type: 'stopped' });
          break;
      }
    };
    run().catch((err: Error) => send({ type: 'error', message: err.stack ?? String(err) }));
  });
  // The bench is gone (finished, or crashed): close everything and leave.
  process.on('disconnect', () => {
    void publisher.stop().finally(() => process.exit(0));
  });
} else {
  console.error('test/bench/state-publisher.ts is started by test/bench/mqtt.ts (child_process.fork), not on its own');
  process.exitCode = 2;
}
