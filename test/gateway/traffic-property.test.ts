// Property-based test of traffic at run time (fast-check) on the virtual fleet: random sets of
// 2–6 missions over the demo floor — AMRs driving to stations and carrying totes between them, by
// role or by name, some with a cnc job — submitted one after another to one gateway (embedded
// broker, virtual fleet at high speed, one process), each approved if its check passes, then run.
//
// Whatever the missions: the AMRs' centres, sampled from the virtual fleet's true positions, never
// come closer than two footprint discs (0.8 m × 0.6 m: radius 0.5 m); no node is held by two
// devices in any sample of the traffic view; every approved mission succeeds; and every one ends
// within a generous bound (a deadlock detector, not a speed figure).
//
// A handful of runs only (each starts a gateway); the seed is printed, PHYGATE_PROPERTY_SEED
// replays one.
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { readConfig } from '../../gateway/config.ts';
import { startGateway, type Gateway } from '../../gateway/main.ts';
import type { PlanInput } from '../../planners/plan.ts';
import { join } from 'node:path';
import { tempDir } from './harness.ts';
import { copyAnalyticDemoSite } from '../helpers/demo-site.ts';
import { until } from '../helpers/wait.ts';
import { rmSync } from 'node:fs';
import { callApi } from '../helpers/http.ts';
import { TEST_GATEWAY_ENV } from '../helpers/child-env.ts';

const ADMIN = 'test-admin-token-0123456789';
const SPEED = 40;
const SEED = Number(process.env.PHYGATE_PROPERTY_SEED ?? 20261212);
const RUNS = 4;
/** Two discs of radius 0.5 m (half the diagonal of 0.8 m × 0.6 m) do not overlap. */
const MIN_CENTRES_M = 1.0;
const AMRS = ['amr-1', 'amr-2', 'amr-3'] as const;
const GO_TO = ['dock-a', 'dock-b', 'shelf-1', 'shelf-2', 'shelf-3', 'cnc-1', 'conveyor-1-in', 'conveyor-1-out', 'park-1', 'park-2', 'charger-2'] as const;
const PICK_AT = ['dock-a', 'dock-b', 'shelf-1', 'shelf-2', 'shelf-3', 'conveyor-1-out'] as const;
const DROP_AT = ['dock-a', 'dock-b', 'shelf-1', 'shelf-2', 'shelf-3', 'conveyor-1-in'] as const;

type Leg = { kind: 'go'; to: string } | { kind: 'carry'; from: string; to: string };
interface MissionSpec {
  /** An AMR by name, or the role `$courier`. */
  amr: (typeof AMRS)[number] | '$courier';
  legs: Leg[];
  /** A cnc job: alone, or after the AMR's last leg. */
  machine?: 'alone' | 'after';
}

const leg: fc.Arbitrary<Leg> = fc.oneof(
  fc.record({ kind: fc.constant('go' as const), to: fc.constantFrom(...GO_TO) }),
  fc
    .record({ kind: fc.constant('carry' as const), from: fc.constantFrom(...PICK_AT), to: fc.constantFrom(...DROP_AT) })
    .filter((l) => l.from !== l.to),
);
const missionSpec: fc.Arbitrary<MissionSpec> = fc.record(
  {
    amr: fc.constantFrom<MissionSpec['amr']>(...AMRS, '$courier', '$courier'),
    legs: fc.array(leg, { minLength: 1, maxLength: 2 }),
    machine: fc.constantFrom<'alone' | 'after'>('alone', 'after'),
  },
  { requiredKeys: ['amr', 'legs'] },
);

function planOf(spec: MissionSpec, k: number): PlanInput {
  const steps: PlanInput['steps'] = [];
  spec.legs.forEach((l, i) => {
    const after = i > 0 ? { after: [`leg-${i}`] } : {};
    if (l.kind === 'go') steps.push({ id: `leg-${i + 1}`, action: 'navigate', device: spec.amr, params: { to: l.to }, ...after });
    else {
      steps.push({ id: `pick-${i + 1}`, action: 'pick', device: spec.amr, params: { at: l.from }, ...after });
      steps.push({ id: `leg-${i + 1}`, action: 'drop', device: spec.amr, params: { at: l.to }, after: [`pick-${i + 1}`] });
    }
  });
  if (spec.machine) {
    steps.push({ id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2' }, ...(spec.machine === 'after' ? { after: [`leg-${spec.legs.length}`] } : {}) });
  }
  return {
    schema: 'phygate.plan/v1',
    name: `traffic-${k}`,
    ...(spec.amr === '$courier' ? { roles: { courier: { kind: 'amr' } } } : {}),
    steps,
  } as PlanInput;
}

interface MissionView {
  id: string;
  status: string;
  planHash: string;
  report: { verdict: string; makespanS: number };
  steps: { id: string; status: string; reason?: string | null }[];
  reason?: string | null;
}

const api = <T = MissionView>(g: Gateway, method: string, path: string, body?: unknown) => callApi<T>(g.url, ADMIN, method, path, body);

/** Approves the mission; a report that changed meanwhile is read and approved again. Returns whether it was approved. */
async function approve(g: Gateway, m: MissionView): Promise<boolean> {
  let hash = m.planHash;
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await api<{ code?: string; status?: string }>(g, 'POST', `/v1/missions/${m.id}/approve`, { planHash: hash });
    if (r.status === 200) return true;
    if (r.json.code !== 'REPORT_CHANGED') return false;
    hash = (await api(g, 'GET', `/v1/missions/${m.id}`)).json.planHash;
  }
  return false;
}

interface Tally {
  submitted: number;
  approved: number;
  rejected: number;
  succeeded: number;
  closestM: number;
  samples: number;
  floorS: number;
  wallMs: number;
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'rejected']);

async function runFloor(specs: MissionSpec[], tally: Tally): Promise<void> {
  const dir = tempDir();
  const g = await startGateway(
    readConfig({
      ...TEST_GATEWAY_ENV,
      PHYGATE_PORT: '0',
      PHYGATE_MQTT_PORT: '0',
      PHYGATE_DATA_DIR: dir,
      PHYGATE_LOG_LEVEL: process.env.PHYGATE_PROPERTY_LOG ?? 'silent',
      PHYGATE_FLEET_SPEED: String(SPEED),
      PHYGATE_ADMIN_TOKEN: ADMIN,
      PHYGATE_RATE_LIMIT: '100000',
      // The AMRs on the analytic motion model: a policy-driven one at this speed keeps a core busy.
      PHYGATE_SITE: copyAnalyticDemoSite(join(dir, 'site')),
    }),
  );
  const problems: string[] = [];
  let sampler: NodeJS.Timeout | undefined;
  const began = Date.now();
  try {
    await until('the fleet online', () => g.fleet.list().every((d) => d.online));
    const amrs = [...g.virtualFleet!.amrs.values()];
    let closest = { d: Infinity, what: '' };
    let samples = 0;
    sampler = setInterval(() => {
      samples++;
      const at = amrs.map((a) => ({ id: a.amrId, p: a.position() }));
      for (let i = 0; i < at.length; i++) {
        for (let j = i + 1; j < at.length; j++) {
          const d = Math.hypot(at[i]!.p.x - at[j]!.p.x, at[i]!.p.y - at[j]!.p.y);
          if (d < closest.d) closest = { d, what: `${at[i]!.id} (${at[i]!.p.x.toFixed(2)}, ${at[i]!.p.y.toFixed(2)}) and ${at[j]!.id} (${at[j]!.p.x.toFixed(2)}, ${at[j]!.p.y.toFixed(2)})` };
        }
      }
      const holder = new Map<string, string>();
      for (const d of g.executor.traffic.view()) {
        for (const n of d.holds) {
          const other = holder.get(n);
          if (other && problems.length < 20) problems.push(`node ${n} held by ${other} and ${d.id}`);
          holder.set(n, d.id);
        }
      }
    }, 20);

    const approved: { id: string; makespanS: number }[] = [];
    for (const [k, spec] of specs.entries()) {
      const sub = await api<MissionView & { code?: string }>(g, 'POST', '/v1/missions', { plan: planOf(spec, k) });
      // A plan that fails its check is rejected at once (422 PLAN_REJECTED): fine, and counted.
      if (sub.status !== 201 && sub.json.code !== 'PLAN_REJECTED') throw new Error(`submit ${k}: ${sub.status} ${JSON.stringify(sub.json)}`);
      tally.submitted++;
      if (sub.status !== 201 || !(await approve(g, sub.json))) {
        tally.rejected++;
        continue;
      }
      tally.approved++;
      const m = (await api(g, 'GET', `/v1/missions/${sub.json.id}`)).json;
      approved.push({ id: m.id, makespanS: m.report.makespanS });
    }
    // The approvals' checks see every committed mission before it: the last one's makespan runs to
    // the end of all of them. Three times that, plus slack for a loaded machine.
    const floorS = Math.max(0, ...approved.map((a) => a.makespanS));
    const boundMs = 20_000 + (3 * floorS * 1000) / SPEED;
    const ends = await until(
      'every approved mission ended',
      async () => {
        const views = await Promise.all(approved.map(async (a) => (await api(g, 'GET', `/v1/missions/${a.id}`)).json));
        return views.every((v) => FINAL.has(v.status)) ? views : undefined;
      },
      boundMs,
      100,
    ).catch((err: Error) => {
      const view = g.executor.traffic.view().map((d) => `${d.id} holds ${d.holds.join(',')}${d.waitsFor ? ` waits for ${d.waitsFor.device} at ${d.waitsFor.node} (${d.waitsFor.why})` : ''}`);
      throw new Error(`${err.message} (bound ${(boundMs / 1000).toFixed(0)} s; checked ${floorS.toFixed(0)} s of floor time)\n  ${view.join('\n  ')}`);
    });
    for (const v of ends) {
      if (v.status === 'succeeded') tally.succeeded++;
      else problems.push(`mission ${v.id} ${v.status}: ${v.reason ?? ''} ${v.steps.map((s) => `${s.id}:${s.status}${s.reason ? ` (${s.reason})` : ''}`).join(', ')}`);
    }
    tally.closestM = Math.min(tally.closestM, closest.d);
    tally.samples += samples;
    tally.floorS += floorS;
    if (closest.d < MIN_CENTRES_M) problems.push(`AMRs ${closest.d.toFixed(2)} m apart: ${closest.what}`);
  } finally {
    clearInterval(sampler);
    tally.wallMs += Date.now() - began;
    await g.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
}

t.test('random missions on one floor: robots keep apart, no node has two holders, every approved mission succeeds', async (t: Test) => {
  // About a minute alone; more on a loaded CI machine than the suite's default two minutes allow.
  t.setTimeout(240_000);
  const tally: Tally = { submitted: 0, approved: 0, rejected: 0, succeeded: 0, closestM: Infinity, samples: 0, floorS: 0, wallMs: 0 };
  t.comment(`seed ${SEED} (PHYGATE_PROPERTY_SEED replays it), ${RUNS} runs at speed ${SPEED}`);
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(missionSpec, { minLength: 2, maxLength: 6 }), async (specs) => {
      runs++;
      await runFloor(specs, tally);
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: true },
  );
  t.equal(runs, RUNS);
  t.ok(tally.approved > 0, 'some missions were approved');
  t.equal(tally.succeeded, tally.approved, 'every approved mission succeeded');
  t.comment(
    `${tally.submitted} missions submitted, ${tally.approved} approved (${tally.rejected} rejected), ${tally.succeeded} succeeded; ` +
      `closest AMR centres ${tally.closestM.toFixed(2)} m over ${tally.samples} samples; ` +
      `${tally.floorS.toFixed(0)} s of checked floor time in ${(tally.wallMs / 1000).toFixed(1)} s wall`,
  );
});
