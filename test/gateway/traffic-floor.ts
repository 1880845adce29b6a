// A floor for end-to-end traffic tests, as on a real site: Mosquitto, the virtual fleet in its own
// process (`phygate fleet --speed N`), the gateway as a child process on a real SQLite file, and a
// watch that samples GET /v1/robots and GET /v1/traffic every ~75 ms for as long as the test runs:
// how close any two AMRs came, whether a node was ever held by two, and who waited for whom.
import type { Test } from 'tap';
import { startMosquitto, type TestBroker } from '../helpers/brokers.ts';
import { until } from '../helpers/wait.ts';
import { call, spawnFleet, startGatewayProcess, waitHealthy, type GatewayProcess } from './gateway-process.ts';
import { demoSiteCopy, tempDirFor } from './harness.ts';
import { withoutPolicies } from '../helpers/demo-site.ts';

export const TOKEN = 'test-admin-token-0123456789';
/** Two AMRs of the demo floor (footprint 0.8 × 0.6) whose centres are this close may touch: discs of radius 0.5 each. */
export const APART_M = 1.0;
const SAMPLE_EVERY_MS = 75;
const OVER = new Set(['succeeded', 'failed', 'cancelled', 'rejected']);

export interface Pose {
  x: number;
  y: number;
  at?: string;
}

export interface TrafficDevice {
  id: string;
  holds: string[];
  path?: { missionId: string; stepId: string; nodes: string[]; reached: number; granted: number };
  waitsFor?: { device: string; node: string; why: string; missionId?: string; pass?: number };
}

export interface Sample {
  /** ms since the watch started. */
  ms: number;
  poses: Record<string, Pose>;
  traffic: TrafficDevice[];
}

export interface Mission {
  id: string;
  status: string;
  planHash: string;
  report: { verdict: string; assignments: Record<string, string>; makespanS: number; issues: { code: string; message: string; device?: string; with?: string; at?: string; step?: string; mission?: string; waitS?: number }[]; moves?: { id: string; device: string; from: string; to: string; route: string[] }[]; steps: { id: string; device?: string; route?: string[] }[] };
  steps: { id: string; status: string; device?: string; startedAt?: string; endedAt?: string }[];
}

function posesOf(body: { robots: { id: string; kind: string; pose?: { x: number; y: number }; at?: string }[] }): Record<string, Pose> {
  const poses: Record<string, Pose> = {};
  for (const r of body.robots) if (r.kind === 'amr' && r.pose) poses[r.id] = { x: r.pose.x, y: r.pose.y, ...(r.at ? { at: r.at } : {}) };
  return poses;
}

/** What the samples showed. */
export class Watch {
  readonly samples: Sample[] = [];
  /** Polls that got no answer (the gateway was down). */
  missed = 0;
  private running = true;
  private readonly started = Date.now();
  private readonly done: Promise<void>;

  constructor(private readonly url: () => string) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        const [robots, traffic] = await Promise.all([call(this.url(), TOKEN, 'GET', '/v1/robots'), call(this.url(), TOKEN, 'GET', '/v1/traffic')]);
        if (robots.status !== 200 || traffic.status !== 200) throw new Error(`${robots.status} ${traffic.status}`);
        this.samples.push({ ms: Date.now() - this.started, poses: posesOf(robots.json), traffic: traffic.json.devices as TrafficDevice[] });
      } catch {
        this.missed += 1;
      }
      await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** The closest two AMRs came in any sample, and which. */
  closest(): { m: number; pair: string; ms: number } {
    let best = { m: Infinity, pair: '', ms: -1 };
    for (const s of this.samples) {
      const ids = Object.keys(s.poses).sort();
      for (let i = 0; i < ids.length; i++) {
        for (let j = i + 1; j < ids.length; j++) {
          const a = s.poses[ids[i]!]!;
          const b = s.poses[ids[j]!]!;
          const m = Math.hypot(a.x - b.x, a.y - b.y);
          if (m < best.m) best = { m, pair: `${ids[i]}/${ids[j]}`, ms: s.ms };
        }
      }
    }
    return best;
  }

  /** Every sample where one node was in two devices' holds, as `node: a, b @ ms`. */
  doubleHolds(): string[] {
    const out: string[] = [];
    for (const s of this.samples) {
      const holder = new Map<string, string>();
      for (const d of s.traffic) {
        for (const n of d.holds) {
          const other = holder.get(n);
          if (other !== undefined && other !== d.id) out.push(`${n}: ${other}, ${d.id} @ ${s.ms}`);
          holder.set(n, d.id);
        }
      }
    }
    return out;
  }

  /** The device's traffic entry in each sample that has one. */
  of(device: string): { ms: number; view: TrafficDevice; pose?: Pose }[] {
    return this.samples.flatMap((s) => {
      const view = s.traffic.find((d) => d.id === device);
      const pose = s.poses[device];
      return view ? [{ ms: s.ms, view, ...(pose ? { pose } : {}) }] : [];
    });
  }
}

export interface Floor {
  broker: TestBroker;
  dataDir: string;
  gateway: GatewayProcess;
  watch: Watch;
  url(): string;
  /** Starts the gateway again on the same data folder (after a kill). */
  restart(): Promise<void>;
  submit(plan: object, key?: string): Promise<{ status: number; json: any }>;
  approve(m: { id: string; planHash: string }): Promise<{ status: number; json: any }>;
  mission(id: string): Promise<Mission>;
  /** Where each AMR stands now. */
  poses(): Promise<Record<string, Pose>>;
  /** Waits until the mission is over and returns it. */
  over(id: string, timeoutMs?: number): Promise<Mission>;
}

/** Mosquitto, `phygate fleet --speed <speed>` and the gateway, every device online, the watch sampling. All stopped when `t` ends. */
export async function startFloor(t: Test, speed: number): Promise<Floor> {
  const broker = await startMosquitto(t);
  const dataDir = tempDirFor(t);
  // Every AMR on the analytic motion model, in the gateway and the fleet alike: these tests are
  // about traffic, and a policy-driven amr-3 at 20× costs a core of its own.
  const site = demoSiteCopy(t, withoutPolicies);
  const env = { PHYGATE_MQTT_URL: broker.url, PHYGATE_VIRTUAL_FLEET: '0', PHYGATE_ADMIN_TOKEN: TOKEN, PHYGATE_RATE_LIMIT: '100000', PHYGATE_SITE: site };
  spawnFleet(t, broker.url, speed, site);
  const start = async () => {
    const g = await startGatewayProcess(t, { dataDir, port: 0, env });
    await waitHealthy(g.url);
    return g;
  };
  const floor: Floor = {
    broker,
    dataDir,
    gateway: await start(),
    watch: undefined as unknown as Watch,
    url: () => floor.gateway.url,
    restart: async () => {
      floor.gateway = await start();
    },
    submit: (plan, key) => call(floor.url(), TOKEN, 'POST', '/v1/missions', { plan }, key ? { 'idempotency-key': key } : {}),
    approve: (m) => call(floor.url(), TOKEN, 'POST', `/v1/missions/${m.id}/approve`, { planHash: m.planHash }),
    poses: async () => posesOf((await call(floor.url(), TOKEN, 'GET', '/v1/robots')).json),
    mission: async (id) => (await call(floor.url(), TOKEN, 'GET', `/v1/missions/${id}`)).json as Mission,
    over: (id, timeoutMs = 120_000) =>
      until(
        `mission ${id} over`,
        async () => {
          const m = await floor.mission(id);
          return OVER.has(m.status) ? m : undefined;
        },
        timeoutMs,
        100,
      ),
  };
  await until('the fleet online', async () => ((await call(floor.url(), TOKEN, 'GET', '/v1/robots')).json.robots as { online: boolean }[]).every((d) => d.online), 30_000);
  floor.watch = new Watch(floor.url);
  t.teardown(() => floor.watch.stop());
  return floor;
}

/** The samples' verdict every case shares: never two AMRs within APART_M, never a node held twice. */
export function assertApart(t: Test, watch: Watch): void {
  t.ok(watch.samples.length >= 20, `sampled the floor (${watch.samples.length} samples, ${watch.missed} missed)`);
  const c = watch.closest();
  t.ok(c.m >= APART_M, `the closest two AMRs came: ${c.m.toFixed(2)} m (${c.pair} at ${c.ms} ms); never under ${APART_M} m`);
  t.same(watch.doubleHolds(), [], 'no node in two devices’ holds in any sample');
}
