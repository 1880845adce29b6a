// The virtual vehicles of the MQTT benchmark (test/bench/mqtt.ts), in a child process of their
// own so that their CPU is not counted as the gateway's. Driven over the IPC channel of
// `child_process.fork`: `start` opens a few MQTT connections and publishes, for each vehicle,
// a VDA 5050 state (current timestamp, rising headerId, a pose that moves a little, the battery)
// every 1/hz s at QoS 0, the vehicles spread evenly over each tick; `count` reports what was
// published so far; `stop` closes the connections. The process ends when its parent goes away.
import type { Socket } from 'node:net';
import type { MqttClient } from 'mqtt';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import type { State } from '../../robots/vda5050/schemas.ts';
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
}

export type FromPublisher = { type: 'started'; vehicles: number; connections: number } | PublisherCount | { type: 'stopped' } | { type: 'error'; message: string };

interface Vehicle {
  topic: string;
  client: MqttClient;
  state: State;
  phase: number;
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
      const pos = st.agvPosition!;
      pos.x = s.x + 0.2 * Math.sin(v.phase);
      pos.y = s.y + 0.2 * Math.cos(v.phase);
      pos.theta = Math.atan2(-Math.sin(v.phase), Math.cos(v.phase));
      const vel = st.velocity!;
      vel.vx = 0.2 * Math.cos(v.phase);
      vel.vy = -0.2 * Math.sin(v.phase);
      st.batteryState.batteryCharge = Math.max(5, st.batteryState.batteryCharge - 0.0005);
      v.client.publish(v.topic, JSON.stringify(st), { qos: 0 }, this.onSent);
    }
  }

  count(): PublisherCount {
    const cpu = process.cpuUsage();
    const out: PublisherCount = { type: 'count', published: this.published, failed: this.failed, atMs: Date.now(), cpuUs: cpu.user + cpu.system, maxLateMs: this.maxLateMs };
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
