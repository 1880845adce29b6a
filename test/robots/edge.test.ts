// `phygate edge` on one robot: the demo site's amr-1 as a VDA 5050 vehicle on a real Mosquitto,
// ordered by the real master, driven by the tests' own tracking policy (the real runtime, in its
// worker) through the shield, and its base played over the rclnodejs STAND-IN (not ROS 2) by a
// simulated base: it integrates the Twist it gets on cmd_vel with the motion model and publishes
// odometry, on a clock that moves one control tick each time the edge sleeps. The certificates are
// made by the real verifier on one edge of the site. A missing, failed or foreign certificate
// refuses the start before the base or the broker are touched.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Amr } from '../../planners/site.ts';
import { EdgeRefusedError, edgePolicy, startEdge, type EdgeClock } from '../../robots/edge/edge.ts';
import { startRos2Base } from '../../robots/edge/ros2-base.ts';
import { stepAmr, type AmrState } from '../../robots/policy/kinematics.ts';
import { yawToQuaternion } from '../../robots/ros2/poses.ts';
import { NODE_TOLERANCE_M } from '../../robots/vda5050/vehicle-checks.ts';
import { until } from '../helpers/wait.ts';
import { StandInRcl } from './ros2/rclnodejs-stand-in.ts';
import { CERTIFIED, certifiedTracker, demoSite, edgeMaster, edgeSite as site } from './edge-fixtures.ts';
import { edgeSiteOf } from '../../sim/policy-gate.ts';
import { runCli } from '../../gateway/cli/commands.ts';

const amr1 = site.index.device('amr-1') as Amr;
const NS = '/amr_1';

const { model, failedCert, dir } = await certifiedTracker(t);

/** Simulated time: it moves only when the edge's loop sleeps, one control tick at a time, `speed` times faster than real time. */
class SimClock implements EdgeClock {
  ms = 0;
  readonly onAdvance: ((dtS: number) => void)[] = [];
  constructor(private readonly speed: number) {}
  now(): number {
    return this.ms;
  }
  async sleep(ms: number): Promise<void> {
    this.ms += ms;
    for (const f of this.onAdvance) f(ms / 1000);
    await new Promise((done) => setTimeout(done, ms / this.speed));
  }
}

/** The robot's base, played through the stand-in: Twist in, the motion model, Odometry out. */
class SimBase {
  state: AmrState;
  command = { v: 0, omega: 0 };
  /** Set false to stop its odometry (a driver that hangs). */
  publishing = true;
  /** Clock steps (control ticks) so far, and when it last published odometry. */
  steps = 0;
  lastOdometryMs = 0;
  /** Whether the edge is paused, asked as each Twist arrives. */
  pausedProbe: () => boolean = () => false;
  readonly twists: { atMs: number; step: number; paused: boolean; v: number; omega: number }[] = [];
  constructor(
    readonly rcl: StandInRcl,
    private readonly clock: SimClock,
    start: { x: number; y: number; theta: number },
  ) {
    this.state = { ...start, v: 0, omega: 0 };
    rcl.onPublished(`${NS}/cmd_vel`, (m) => {
      this.command = { v: m.linear.x, omega: m.angular.z };
      this.twists.push({ atMs: clock.ms, step: this.steps, paused: this.pausedProbe(), ...this.command });
    });
    clock.onAdvance.push((dt) => {
      this.steps++;
      this.state = stepAmr(this.state, this.command, amr1.limits, dt);
      if (this.publishing) this.publishOdometry();
    });
  }
  publishOdometry(): void {
    const s = this.state;
    this.lastOdometryMs = this.clock.ms;
    this.rcl.publish(`${NS}/odom`, {
      header: { frame_id: 'odom' },
      pose: { pose: { position: { x: s.x, y: s.y, z: 0 }, orientation: yawToQuaternion(s.theta) } },
      twist: { twist: { linear: { x: s.v, y: 0, z: 0 }, angular: { x: 0, y: 0, z: s.omega } } },
    });
  }
}

t.test('a missing, failed or foreign certificate refuses the start, saying why; the base is never started', async (t) => {
  const refused = async (certificateFile: string, siteOver = site, policyFile = model) => {
    let baseStarted = false;
    const err = await startEdge({
      site: siteOver,
      deviceId: 'amr-1',
      brokerUrl: 'mqtt://127.0.0.1:1',
      policyFile,
      certificateFile,
      startBase: async () => {
        baseStarted = true;
        throw new Error('not to be reached');
      },
    }).catch((e: unknown) => e);
    t.notOk(baseStarted, 'the base was not started');
    t.ok(err instanceof EdgeRefusedError, 'EdgeRefusedError');
    return (err as Error).message;
  };
  t.match(await refused(join(dir, 'none.cert.json')), /^amr-1: the policy test-tracker 1\.0\.0 may not drive: .*none\.cert\.json: no certificate \(run phygate policy verify\) \(certify it: phygate policy verify .*tracker\.onnx --site .* --device amr-1\)$/, 'no certificate');
  t.match(await refused(failedCert), /may not drive: .*failed\.cert\.json: the policy failed verification: success rate 0\.0% is below 95\.0%/, 'a failed verification, with its reason');
  // The same floor with one more line in its world file: not the floor the certificate was made on.
  const elsewhere = edgeSiteOf({ ...demoSite, worldSdf: `${demoSite.worldSdf}\n` });
  t.match(await refused(CERTIFIED.cert, elsewhere, CERTIFIED.model), /the certificate is for another floor or robot .*verify the policy again on this site/, 'another floor');
  const quick = join(dir, 'quick.cert.json');
  const good = JSON.parse(readFileSync(CERTIFIED.cert, 'utf8'));
  writeFileSync(quick, JSON.stringify({ ...good, settings: { ...good.settings, edges: 1 } }));
  t.match(await refused(quick, site, CERTIFIED.model), /the certificate covers 1 of 72 edges .*verify without --edges or --routes/, 'a certificate of part of the floor');
  // The certificate is good for this model on this world: the check itself lets it through.
  const ok = await edgePolicy(site, 'amr-1', CERTIFIED.model, CERTIFIED.cert);
  t.equal(ok.policy.metadata.name, 'amr-track-mlp', 'the certified model may drive');
  await t.rejects(edgePolicy(site, 'cnc-1', CERTIFIED.model, CERTIFIED.cert), { code: 'EDGE_REFUSED', message: /has no AMR 'cnc-1'; its AMRs are: amr-1, amr-2, amr-3$/ }, 'a device that is not an AMR');
  await t.rejects(edgePolicy(site, 'amr-1'), { message: /no policy to drive it: give --policy FILE/ }, 'no policy given, none in site.yaml');
});

t.test('phygate edge: its usage page, and a refusal is exit status 2 with the reason', async (t) => {
  const lines: string[] = [];
  t.equal(await runCli(['edge', '--help'], (l) => lines.push(l)), 0, '--help is 0');
  t.match(lines.join('\n'), /phygate edge --device ID[\s\S]*--certificate FILE[\s\S]*Exit status: 0 stopped, 1 stopped after a failure, 2 refused/, 'the usage names the options and exit statuses');
  const errors: string[] = [];
  const code = await runCli(['edge', '--site', site.dir, '--device', 'amr-1', '--policy', model, '--certificate', join(dir, 'none.cert.json')], () => {}, (l) => errors.push(l));
  t.equal(code, 2, 'refused: 2');
  t.match(errors.join('\n'), /^edge refused: amr-1: the policy test-tracker 1\.0\.0 may not drive: .*none\.cert\.json: no certificate/, 'saying why');
  const missing: string[] = [];
  t.equal(await runCli(['edge', '--site', site.dir], () => {}, (l) => missing.push(l)), 2, 'no --device: 2');
  t.match(missing.join('\n'), /--device is required/, 'saying so');
});

async function harness(t: Test) {
  const { broker, master, fleet, progress } = await edgeMaster(t);
  const rcl = new StandInRcl();
  const clock = new SimClock(20);
  const dock = site.index.node('dock-a')!;
  const base = new SimBase(rcl, clock, { x: dock.x, y: dock.y, theta: site.index.station('dock-a')!.theta });
  const edge = await startEdge({
    site,
    deviceId: 'amr-1',
    brokerUrl: broker.url,
    policyFile: CERTIFIED.model,
    certificateFile: CERTIFIED.cert,
    clock,
    visualizationIntervalMs: 50,
    startBase: (now) => startRos2Base({ namespace: NS, now, loadBinding: async () => rcl }),
  });
  t.teardown(() => edge.close());
  base.pausedProbe = () => edge.paused();
  await until('amr-1 online and placed', () => fleet.get('amr-1')?.online === true && fleet.get('amr-1')?.at === 'dock-a');
  return { master, fleet, progress, base, edge, clock, rcl };
}

t.test('an order over MQTT is driven to its last node through cmd_vel; a pause gives zero within a tick; stale odometry gives zero and an error; a failed base is a FATAL error', async (t) => {
  const { master, progress, base, edge, clock, rcl } = await harness(t);
  t.equal(rcl.node.namespace, NS, "the edge's node is in the robot's namespace");
  const route = ['dock-a', 'sa-1', 'sa-2'];
  const seen: string[] = [];
  master.onOrderProgress((p) => seen.at(-1) !== p.lastNodeId && seen.push(p.lastNodeId));
  await master.sendOrder('amr-1', { route });

  // Pause while it drives the aisle: a zero Twist at once, and only zero while paused.
  await until('driving from sa-1 toward sa-2', () => edge.lastNodeId() === 'sa-1' && base.state.v > 0.3);
  await master.instantAction('amr-1', 'startPause');
  await until('the edge is paused', () => edge.paused());
  await until('the robot stands', () => base.state.v === 0);
  const lastDriven = base.twists.filter((x) => !x.paused).at(-1)!;
  const paused = base.twists.filter((x) => x.paused);
  t.ok(lastDriven.v > 0, `the last Twist before the pause drove (${lastDriven.v.toFixed(2)} m/s)`);
  t.match(paused[0], { v: 0, omega: 0 }, 'the first Twist of the pause is zero');
  t.ok(paused[0]!.step <= lastDriven.step + 1, `within one tick (tick ${lastDriven.step} drove, tick ${paused[0]!.step} gave zero)`);
  t.ok(paused.length > 5 && paused.every((x) => x.v === 0 && x.omega === 0), `all ${paused.length} Twists while paused are zero`);
  t.ok(edge.interventions().stop > 0, `the shield counted the pause (${edge.interventions().stop} ticks)`);
  t.equal(edge.lastNodeId(), 'sa-1', 'it stood between sa-1 and sa-2');

  await master.instantAction('amr-1', 'stopPause');
  // Odometry that stops coming while it drives: zero velocity from two ticks on, and an error.
  await until('driving again', () => !edge.paused() && base.state.v > 0.3);
  base.publishing = false;
  const lastOdometry = base.lastOdometryMs;
  await until('odometryStale reported', () => master.lastState('amr-1')?.errors.some((e) => e.errorType === 'odometryStale'));
  const periodMs = edge.tickS * 1000;
  await until('some ticks without odometry', () => base.twists.filter((x) => x.atMs > lastOdometry + 2 * periodMs).length > 5);
  const blind = base.twists.filter((x) => x.atMs > lastOdometry + 2 * periodMs);
  t.ok(blind.every((x) => x.v === 0 && x.omega === 0), `all ${blind.length} Twists after two ticks without odometry are zero`);
  t.ok(edge.interventions().stale > 0, 'the shield counted them as stale');
  base.publishing = true;
  await until('the error cleared', () => !master.lastState('amr-1')?.errors.some((e) => e.errorType === 'odometryStale'));

  const done = await until('the order finished', () => progress.find((p) => p.finished || p.failed), 60_000);
  t.notOk(done.failed, 'not failed');
  t.ok(done.finished, 'finished: every node reached');
  t.same(seen.filter((n) => route.includes(n)), route, 'its nodes reached in order');
  const end = site.index.node('sa-2')!;
  t.ok(Math.hypot(base.state.x - end.x, base.state.y - end.y) <= NODE_TOLERANCE_M, `the base stands within ${NODE_TOLERANCE_M} m of sa-2`);
  const state = master.lastState('amr-1')!;
  t.match(state, { lastNodeId: 'sa-2', nodeStates: [], edgeStates: [], paused: false }, 'its state says so');
  t.ok(Math.hypot(state.agvPosition!.x - end.x, state.agvPosition!.y - end.y) <= NODE_TOLERANCE_M, 'and places it there');
  const info = state.information?.find((i) => i.infoType === 'policyShield');
  t.match(Object.fromEntries((info?.infoReferences ?? []).map((r) => [r.referenceKey, r.referenceValue])), { policyName: 'amr-track-mlp', policySha256: edge.policy.policy.sha256 }, 'and names the policy');


  // A base that fails (its ROS 2 node gone: the command cannot be sent) stops the loop, and the
  // vehicle reports it as a FATAL error.
  rcl.node.destroy();
  await until('baseFailed reported', () => master.lastState('amr-1')?.errors.find((e) => e.errorType === 'baseFailed'));
  t.match(master.lastState('amr-1')!.errors.find((e) => e.errorType === 'baseFailed'), { errorLevel: 'FATAL', errorDescription: /^amr-1: the robot is stopped: its base failed: the node is destroyed$/ }, 'a FATAL baseFailed, saying why');
  t.match(edge.failure(), /its base failed/, 'the edge says so too');
});
