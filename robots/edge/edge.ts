// `phygate edge`: one robot's own computer. It is the VDA 5050 vehicle of one AMR of the site
// (vda-5050-lib's AgvController and vehicle.ts), runs that AMR's policy (the runtime's worker
// thread, one robot in its batch) behind the safety shield, and drives the robot's base
// (ros2-base.ts: Twist on cmd_vel, odometry in), so a bare ROS 2 base without Nav2 follows the
// gateway's orders.
//
// A policy drives only with a passing certificate (`phygate policy verify`) for this model and
// this site's world: anything else refuses the start, saying why, before the broker or the robot
// are touched.
//
// Each control tick, at the policy's rate: the last odometry (older than two ticks, or none: zero
// command and an error), the shield's hold (a pause or STOP: zero without asking the policy), one
// inference, the shield's filter, the command to the base. A pause sends the base zero at once,
// between ticks. A runtime or base that fails gets the robot a zero command and stops the loop;
// the vehicle reports it as a FATAL error.
import { resolve } from 'node:path';
import type { NavGraph } from '../../planners/route.ts';
import type { Amr, SiteIndex } from '../../planners/site.ts';
import type { MqttLogin } from '../mqtt.ts';
import { CERTIFICATE_SUFFIX, CertificateError, readCertificate, type Certificate } from '../policy/certificate.ts';
import { PolicyContractError } from '../policy/contract.ts';
import type { DrivenRobot } from '../policy/drive.ts';
import type { LoadedPolicy } from '../policy/loader.ts';
import type { InterventionReason, Walls } from '../policy/shield.ts';
import { VDA5050_VERSION } from '../vda5050/schemas.ts';
import { DEFAULT_INTERFACE_NAME } from '../vda5050/topics.ts';
import { VehicleController, vehicleTransport } from '../vda5050/vehicle-controller.ts';
import type { BaseOdometry, EdgeBase } from './ros2-base.ts';
import { EdgeVehicle, type EdgeVehicleOptions } from './vehicle.ts';

/** The time the control loop runs on; tests pass one that moves only when the loop sleeps. */
export interface EdgeClock {
  /** ms */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const REAL_CLOCK: EdgeClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
};

/** The edge will not start: `message` says why (no certificate, another world, a model that does not fit…). */
export class EdgeRefusedError extends Error {
  readonly code = 'EDGE_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'EdgeRefusedError';
  }
}

class BaseFailure extends Error {}

/** What the edge needs of the site folder (sim/policy-gate.ts `edgeSiteOf` makes it of a loaded one). */
export interface EdgeSite {
  dir: string;
  index: SiteIndex;
  graph: NavGraph;
  /** Why this certificate does not let the model (by SHA-256) drive this AMR on this floor; the gateway's rule. */
  certificateProblem(amr: Amr, cert: Certificate, modelSha256: string): string | undefined;
}

export interface EdgePolicy {
  file: string;
  certificateFile: string;
  policy: LoadedPolicy;
  amr: Amr;
}

/**
 * The device's policy, checked against the contract and its certificate: the model in `file` (by
 * default the device's `policy.model` in site.yaml), and a certificate (by default beside it) that
 * passed for this model on this site's world, with this device's limits and footprint. Throws
 * EdgeRefusedError saying what is missing or wrong.
 */
export async function edgePolicy(site: EdgeSite, deviceId: string, file?: string, certificateFile?: string): Promise<EdgePolicy> {
  const device = site.index.device(deviceId);
  if (!device || device.kind !== 'amr') {
    const amrs = site.index.devicesOfKind('amr').map((d) => d.id);
    throw new EdgeRefusedError(`site '${site.index.site.id}' has no AMR '${deviceId}'; its AMRs are: ${amrs.join(', ') || 'none'}`);
  }
  const model = file ?? (device.policy ? resolve(site.dir, device.policy.model) : undefined);
  if (!model) throw new EdgeRefusedError(`${deviceId}: no policy to drive it: give --policy FILE, or 'policy: { model: … }' on the device in site.yaml`);
  const { loadPolicyFile } = await import('../policy/loader.ts');
  let policy: LoadedPolicy;
  try {
    policy = await loadPolicyFile(model);
  } catch (err) {
    throw new EdgeRefusedError(`${model}: ${err instanceof PolicyContractError ? err.message : `cannot read: ${(err as Error).message}`}`);
  }
  const certFile = certificateFile ?? model + CERTIFICATE_SUFFIX;
  const refuse = (why: string) =>
    new EdgeRefusedError(`${deviceId}: the policy ${policy.metadata.name} ${policy.metadata.version} may not drive: ${why} (certify it: phygate policy verify ${model} --site ${site.dir} --device ${deviceId})`);
  let cert;
  try {
    cert = await readCertificate(certFile);
  } catch (err) {
    if (err instanceof CertificateError) throw refuse(err.message);
    throw err;
  }
  // The same rule as the gateway's: this model, this floor and this robot's size and limits, passed, complete.
  const problem = site.certificateProblem(device, cert, policy.sha256);
  if (problem) throw refuse(`${certFile}: ${problem}`);
  return { file: model, certificateFile: certFile, policy, amr: device };
}

export interface EdgeOptions {
  site: EdgeSite;
  /** The site's walls and machines (its world through the collision engine), for the shield's look-ahead. */
  walls?: Walls;
  deviceId: string;
  brokerUrl: string;
  login?: MqttLogin;
  interfaceName?: string;
  /** The ONNX model; default: the device's `policy.model`. */
  policyFile?: string;
  /** Default: the model's file name + `.cert.json`. */
  certificateFile?: string;
  /** Starts the robot's base (startRos2Base); called only once the policy may drive. `odom` names where odometry comes from. */
  startBase: (now: () => number) => Promise<EdgeBase & { readonly odom: string }>;
  clock?: EdgeClock;
  log?: (line: string) => void;
  /** How long to wait for the first odometry, ms on the edge's clock. Default 10 000. */
  odometryWaitMs?: number;
  /** Real ms between state messages when nothing changes. Default 2000. */
  stateIntervalMs?: number;
  /** Real ms between visualization messages. Default 250. */
  visualizationIntervalMs?: number;
}

export interface Edge {
  readonly deviceId: string;
  readonly policy: EdgePolicy;
  /** Seconds per control tick (1 / the policy's rateHz). */
  readonly tickS: number;
  /** Control ticks run. */
  ticks(): number;
  /** A pause (a STOP) holds the robot. */
  paused(): boolean;
  lastNodeId(): string;
  /** The shield's interventions by reason. */
  interventions(): Readonly<Record<InterventionReason, number>>;
  /** Why the loop stopped, when the runtime or the base failed. */
  failure(): string | undefined;
  /** Stops the robot (zero command), goes offline, shuts the runtime and the base down. */
  close(): Promise<void>;
}

/** Starts `phygate edge` for one robot; EdgeRefusedError when its policy may not drive. */
export async function startEdge(opts: EdgeOptions): Promise<Edge> {
  const log = opts.log ?? (() => {});
  const clock = opts.clock ?? REAL_CLOCK;
  const chosen = await edgePolicy(opts.site, opts.deviceId, opts.policyFile, opts.certificateFile);
  const { policy, amr } = chosen;
  const tickS = 1 / policy.metadata.rateHz;
  const periodMs = tickS * 1000;
  const [{ PolicyRuntime }, { PolicyDrive }, { Shield, shieldSiteOf }] = await Promise.all([
    import('../policy/runtime.ts'),
    import('../policy/drive.ts'),
    import('../policy/shield.ts'),
  ]);
  const base = await opts.startBase(() => clock.now());
  let runtime: import('../policy/runtime.ts').PolicyRuntime | undefined;
  let controller: VehicleController | undefined;
  try {
    let odo: BaseOdometry | undefined;
    const waitMs = opts.odometryWaitMs ?? 10_000;
    for (let waited = 0; !(odo = base.odometry()); waited += periodMs) {
      if (waited >= waitMs) throw new EdgeRefusedError(`${opts.deviceId}: no odometry on ${base.odom} within ${waitMs / 1000} s: is the base running, and is the namespace right?`);
      await clock.sleep(periodMs);
    }
    runtime = await PolicyRuntime.start(new Map([[chosen.file, policy]]));
    const shield = new Shield({
      limits: amr.limits,
      footprint: amr.footprint,
      site: shieldSiteOf(opts.site.index.site, opts.walls),
      tickS,
      onAlert: (a) => log(`${a.robot}: shield: ${a.message}`),
    });
    let vehicle: EdgeVehicle | undefined;
    let state: 'running' | 'failed' | 'closed' = 'running';
    let failure: string | undefined;
    let ticks = 0;
    const zero = () => {
      try {
        base.drive(0, 0);
      } catch (err) {
        log(`${opts.deviceId}: the zero command could not be sent: ${(err as Error).message}`);
      }
    };
    const vehicleOptions: EdgeVehicleOptions = {
      site: opts.site.index,
      graph: opts.site.graph,
      amr,
      policy,
      shield,
      start: odo,
      onPause: zero,
      created: (v) => (vehicle = v),
    };
    controller = new VehicleController(
      { manufacturer: amr.vda5050.manufacturer, serialNumber: amr.vda5050.serialNumber },
      { interfaceName: opts.interfaceName ?? DEFAULT_INTERFACE_NAME, transport: vehicleTransport(opts.brokerUrl, opts.login), vdaVersion: VDA5050_VERSION },
      { agvAdapterType: EdgeVehicle, publishStateInterval: opts.stateIntervalMs ?? 2_000, publishVisualizationInterval: opts.visualizationIntervalMs ?? 250 },
      vehicleOptions,
    );
    controller.speak(amr.vda5050.version);
    await controller.start();
    await vehicle!.ready;
    const v = vehicle!;
    const rt = runtime;
    const drive = new PolicyDrive({ inference: rt, stopped: () => v.isPaused, now: () => clock.now() });
    const ZERO_OBS = new Float64Array(policy.inputs);

    // A command the base does not take is a failure of the base, not of the policy.
    const send = (v: number, omega: number) => {
      try {
        base.drive(v, omega);
      } catch (err) {
        throw new BaseFailure((err as Error).message);
      }
    };
    const tick = async () => {
      ticks++;
      const now = clock.now();
      const last = base.odometry();
      const stale = !last || now - last.at > 2 * periodMs;
      v.setStale(stale, base.odom);
      v.battery(base.battery());
      if (!last) return send(0, 0);
      const sensed = v.sense(last);
      // Nothing to follow and not paused: the robot stands, and the policy is not asked.
      if (!sensed && !v.isPaused) return send(0, 0);
      const robot: DrivenRobot = {
        id: amr.id,
        model: chosen.file,
        state: sensed?.state ?? { x: last.x, y: last.y, theta: last.theta, v: last.v, omega: last.omega },
        obs: sensed?.obs ?? ZERO_OBS,
        observedAt: last.at,
        shield,
      };
      const command = (await drive.tick([robot])).get(amr.id)!;
      if (state !== 'running') return;
      send(command.v, command.omega);
      v.advance(tickS);
    };

    const loop = (async () => {
      while (state === 'running') {
        const began = clock.now();
        try {
          await tick();
        } catch (err) {
          if (state !== 'running') return;
          state = 'failed';
          const ofBase = err instanceof BaseFailure;
          failure = `${opts.deviceId}: the robot is stopped: ${ofBase ? `its base failed: ${err.message}` : (err as Error).message}`;
          zero();
          log(failure);
          v.fault(failure, ofBase ? 'baseFailed' : 'policyRuntimeFailed');
          return;
        }
        await clock.sleep(Math.max(0, periodMs - (clock.now() - began)));
      }
    })();

    const ctl = controller;
    let closing: Promise<void> | undefined;
    return {
      deviceId: opts.deviceId,
      policy: chosen,
      tickS,
      ticks: () => ticks,
      paused: () => v.isPaused,
      lastNodeId: () => v.lastNodeId,
      interventions: () => shield.interventions(amr.id),
      failure: () => failure,
      close: () =>
        (closing ??= (async () => {
          if (state === 'running') state = 'closed';
          await loop;
          zero();
          // Orders and instant actions arriving while it stops would throw inside the library.
          (ctl as unknown as { _mqtt?: { removeAllListeners(event: string): void } })._mqtt?.removeAllListeners('message');
          v.halt();
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([ctl.stop().catch(() => {}), new Promise<void>((done) => (timer = setTimeout(done, 3_000)))]);
          clearTimeout(timer);
          ctl.crash();
          await rt.close();
          await base.close();
        })()),
    };
  } catch (err) {
    try {
      base.drive(0, 0);
    } catch {
      // the first error is the one to report
    }
    if (controller) {
      await controller.stop().catch(() => {});
      controller.crash();
    }
    await runtime?.close();
    await base.close();
    throw err;
  }
}
