// The traffic benchmark, sections (h) and (i) of `npm run bench` (or alone: `node --import tsx test/bench/traffic.ts`).
//
// One run of a generated 10-AMR shift (test/bench/generate.ts: two cells of five AMRs with their
// cncs, printers, conveyors and arms) on the real stack: a gateway as gateway/main.ts starts it
// (startGateway, HTTP, SQLite store in a temp folder) on a site folder written from generateSite(10)
// (an empty world), its virtual fleet in the same process as `npm start` runs it, over Mosquitto
// (the embedded aedes broker in a child process when Mosquitto is not installed; the output says
// so). The shift is submitted over HTTP as the check bench cuts it (generateShiftPlans: plans of
// whole cells of at most 200 steps, one for 10 AMRs), approved, and run to the end.
//
// (h) Reservation grant latency: from a vehicle's state arriving at the gateway's MQTT client
// reporting a node reached, to the order update it lets traffic control grant (orderUpdateId > 0)
// being handed to the MQTT client, and being received back from the broker by a subscriber in this
// process. The chain is synchronous from the state's 'message' event to the publish, so each update
// is attributed to the state whose handling published it. Baseline in the same run: the same
// states' ingest, arrival → the fleet registry's update (parse, validation, mapping).
//
// (i) Run-time makespan against the checked one: wall time from the first approval to the last
// mission's end, times the fleet's speed, against the latest end the approvals' checks predicted
// (each approval's makespan from when it was approved). Goal: within 10 %.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { readConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import type { DeviceState } from '../../planners/fleet.ts';
import { table } from './format.ts';
import { generateShift, generateShiftPlans, generateSite } from './generate.ts';
import { MOSQUITTO, ms, quantile, Resources, startAedes, startMosquitto, times, type Broker } from './mqtt.ts';
import { callApi } from '../helpers/http.ts';

const ROBOTS = 10;
const SPEED = Number(process.env.PHYGATE_BENCH_TRAFFIC_SPEED ?? 20);
const HOURS = Number(process.env.PHYGATE_BENCH_TRAFFIC_HOURS ?? 1);
const GOAL = 0.1;
const ADMIN = 'bench-admin-token-0123456789';

interface MissionView {
  id: string;
  status: string;
  planHash: string;
  endedAt?: string | null;
  reason?: string | null;
  report: { verdict: string; makespanS: number };
}

const api = <T = MissionView>(g: Gateway, method: string, path: string, body?: unknown) => callApi<T>(g.url, ADMIN, method, path, body);

/** Times of the state → fleet registry → order update chain, taken on the gateway's own MQTT client. */
class GrantProbe {
  /** ms from a state's arrival to the fleet registry's update. */
  readonly ingest: number[] = [];
  /** ms from a state reporting a node reached to an order update handed to the MQTT client. */
  readonly grant: number[] = [];
  /** ms from the same state to the update received back from the broker. */
  readonly wire: number[] = [];
  /** Order updates another state published (one acknowledging the last update, or a step's end). */
  otherUpdates = 0;
  /** Order updates published outside a state's handling (a resend timer, an approval). */
  untriggered = 0;
  reaches = 0;
  private current: { t: number; reach: boolean } | undefined;
  private readonly lastNode = new Map<string, string>();
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly g: Gateway,
    private readonly observer: MqttClient,
  ) {}

  async attach(): Promise<void> {
    const client = (this.g.vda5050 as unknown as { client: MqttClient }).client;
    client.prependListener('message', (topic, payload) => {
      if (!topic.endsWith('/state')) return;
      const t = performance.now();
      const s = JSON.parse(payload.toString()) as { serialNumber: string; lastNodeId?: string };
      const before = this.lastNode.get(s.serialNumber);
      const reach = !!s.lastNodeId && before !== undefined && before !== s.lastNodeId;
      if (s.lastNodeId) this.lastNode.set(s.serialNumber, s.lastNodeId);
      if (reach) this.reaches++;
      this.current = { t, reach };
    });
    // After the master's own listener: the state's handling, publishes included, is over.
    client.on('message', () => (this.current = undefined));
    const fleet = this.g.fleet;
    const set = fleet.set.bind(fleet);
    fleet.set = (next: DeviceState) => {
      if (this.current?.reach) this.ingest.push(performance.now() - this.current.t);
      return set(next);
    };
    const publish = client.publishAsync.bind(client);
    client.publishAsync = ((topic: string, message: string | Buffer, opts?: object) => {
      if (topic.endsWith('/order')) {
        const o = JSON.parse(String(message)) as { orderId: string; orderUpdateId: number };
        if (o.orderUpdateId > 0) {
          const now = performance.now();
          if (!this.current) this.untriggered++;
          else if (!this.current.reach) this.otherUpdates++;
          else {
            this.grant.push(now - this.current.t);
            this.sent.set(`${o.orderId}/${o.orderUpdateId}`, this.current.t);
          }
        }
      }
      return publish(topic, message, opts as never);
    }) as typeof client.publishAsync;
    this.observer.on('message', (topic, payload) => {
      if (!topic.endsWith('/order')) return;
      const o = JSON.parse(payload.toString()) as { orderId: string; orderUpdateId: number };
      const key = `${o.orderId}/${o.orderUpdateId}`;
      const t = this.sent.get(key);
      if (t === undefined) return;
      this.sent.delete(key);
      this.wire.push(performance.now() - t);
    });
    await this.observer.subscribeAsync('+/+/+/+/order', { qos: 1 });
  }
}

/** A site folder for generateSite(10): site.yaml and an empty world. */
function writeSiteFolder(dir: string): void {
  const site = generateSite(ROBOTS);
  writeFileSync(join(dir, 'site.yaml'), stringify({ ...site, world: 'world.sdf' }));
  writeFileSync(join(dir, 'world.sdf'), `<?xml version="1.0"?>\n<sdf version="1.9"><world name="${site.id}"></world></sdf>\n`);
}

export async function benchTraffic(): Promise<void> {
  const res = new Resources();
  const began = performance.now();
  try {
    const broker: Broker = existsSync(MOSQUITTO) ? await startMosquitto(res) : await startAedes(res);
    const siteDir = mkdtempSync(join(os.tmpdir(), 'phygate-bench-site-'));
    const dataDir = mkdtempSync(join(os.tmpdir(), 'phygate-bench-data-'));
    for (const d of [siteDir, dataDir]) {
      res.dir(d);
      res.add(d, () => rmSync(d, { recursive: true, force: true }));
    }
    writeSiteFolder(siteDir);
    const g = await startGateway(
      readConfig({
        PHYGATE_SITE: siteDir,
        PHYGATE_DATA_DIR: dataDir,
        PHYGATE_PORT: '0',
        PHYGATE_MQTT_URL: broker.url,
        PHYGATE_LOG_LEVEL: 'silent',
        PHYGATE_FLEET_SPEED: String(SPEED),
        PHYGATE_ADMIN_TOKEN: ADMIN,
        PHYGATE_RATE_LIMIT: '100000',
      }),
    );
    res.add('the gateway', () => g.close());
    const observer = await mqtt.connectAsync(broker.url, { clientId: `phygate-bench-observer-${process.pid}` });
    res.add('the observer', () => observer.endAsync());
    for (let i = 0; !g.fleet.list().every((d) => d.online); i++) {
      if (i > 300) throw new Error('the virtual fleet did not come online in 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const probe = new GrantProbe(g, observer);
    await probe.attach();

    const site = generateSite(ROBOTS);
    const shift = generateShift(site, ROBOTS, HOURS);
    // As the check bench submits it: plans of whole cells of at most 200 steps (one, for 10 AMRs).
    const plans = generateShiftPlans(site, ROBOTS, HOURS);
    const missions: { id: string; approvedMs: number; makespanS: number; steps: number }[] = [];
    let firstMs: number | undefined;
    for (const plan of plans) {
      const sub = await api(g, 'POST', '/v1/missions', { plan });
      if (sub.status !== 201) throw new Error(`${plan.name}: submit answered ${sub.status}: ${JSON.stringify((sub.json as unknown as { details?: { report?: { issues?: unknown[] } } }).details?.report?.issues?.filter((i) => (i as { severity: string }).severity === "error") ?? sub.json).slice(0, 1200)}`);
      let hash = sub.json.planHash;
      for (let attempt = 0; ; attempt++) {
        const t = performance.now();
        const ok = await api<MissionView & { code?: string }>(g, 'POST', `/v1/missions/${sub.json.id}/approve`, { planHash: hash });
        if (ok.status === 200) {
          firstMs ??= t;
          const view = (await api(g, 'GET', `/v1/missions/${sub.json.id}`)).json;
          missions.push({ id: view.id, approvedMs: t, makespanS: view.report.makespanS, steps: plan.steps.length });
          break;
        }
        if (ok.json.code !== 'REPORT_CHANGED' || attempt > 2) throw new Error(`${plan.name}: approve answered ${ok.status}: ${JSON.stringify(ok.json).slice(0, 400)}`);
        hash = (await api(g, 'GET', `/v1/missions/${sub.json.id}`)).json.planHash;
      }
    }
    const checkedS = Math.max(...missions.map((m) => ((m.approvedMs - firstMs!) / 1000) * SPEED + m.makespanS));
    const limitMs = ((3 * checkedS) / SPEED) * 1000 + 60_000;
    const ends = new Map<string, { status: string; at: number; reason: string }>();
    while (ends.size < missions.length) {
      if (performance.now() - firstMs! > limitMs) throw new Error(`the shift did not end within ${(limitMs / 1000).toFixed(0)} s: ${missions.length - ends.size} mission(s) still running`);
      await new Promise((r) => setTimeout(r, 250));
      for (const m of missions) {
        if (ends.has(m.id)) continue;
        const v = (await api(g, 'GET', `/v1/missions/${m.id}`)).json;
        if (['succeeded', 'failed', 'cancelled'].includes(v.status)) ends.set(m.id, { status: v.status, at: performance.now(), reason: v.reason ?? '' });
      }
    }
    const runS = ((Math.max(...[...ends.values()].map((e) => e.at)) - firstMs!) / 1000) * SPEED;
    const failed = [...ends].filter(([, e]) => e.status !== 'succeeded');

    console.log(`(h) reservation grant latency: a ${ROBOTS}-AMR shift (${missions.length} missions, ${shift.steps.length} steps) on the virtual fleet at ${SPEED}x, over ${broker.kind}`);
    console.log(`  broker: ${broker.description}; gateway and virtual fleet in this process (as npm start runs them)`);
    console.log(`  from a state reporting a node reached (its arrival at the gateway's MQTT client) to the order update granting nodes ahead`);
    const row = (label: string, xs: number[]) => [label, String(xs.length), ms(quantile(xs, 0.5)), ms(quantile(xs, 0.99)), ms(Math.max(...xs))];
    table(['from the state to', 'count', 'p50 ms', 'p99 ms', 'max ms'], [row('order update handed to MQTT', probe.grant), row('order update back from the broker', probe.wire), row('baseline: fleet registry updated', probe.ingest)]);
    console.log(
      `  ${probe.reaches} nodes reached; ${probe.grant.length} updates granted on a node reached, ${probe.otherUpdates} on another state, ${probe.untriggered} outside a state's handling;` +
        ` grant/ingest at p50 ${times(quantile(probe.grant, 0.5) / quantile(probe.ingest, 0.5))}, at p99 ${times(quantile(probe.grant, 0.99) / quantile(probe.ingest, 0.99))}\n`,
    );

    const ratio = runS / checkedS;
    console.log(`(i) run-time makespan against the checked makespan: the same ${HOURS === 1 ? 'one-hour' : `${HOURS} h`} shift of ${ROBOTS} AMRs executed at ${SPEED}x`);
    table(
      ['missions', 'steps', 'checked makespan', 'run (wall × speed)', 'wall', 'run/checked', 'ended'],
      [
        [
          String(missions.length),
          String(shift.steps.length),
          `${checkedS.toFixed(0)} s`,
          `${runS.toFixed(0)} s`,
          `${(runS / SPEED).toFixed(1)} s`,
          times(ratio),
          [...ends.values()].map((e) => e.status).join(', '),
        ],
      ],
    );
    for (const [id, e] of failed) console.log(`  !! mission ${id} ${e.status}: ${e.reason}`);
    console.log(`  goal within ${(GOAL * 100).toFixed(0)} %: ${failed.length === 0 && Math.abs(ratio - 1) <= GOAL ? 'MET' : 'MISSED'} (${((ratio - 1) * 100).toFixed(1)} %); checked = the latest end over the approvals' checks, each from its approval`);
    if (failed.length > 0) process.exitCode = 1;
  } finally {
    await res.closeAll();
    console.log(`  traffic bench ${((performance.now() - began) / 1000).toFixed(1)} s`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await benchTraffic();
