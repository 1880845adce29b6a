// The virtual fleet's policy pilot: every virtual AMR whose device in site.yaml says `policy:` is
// driven by that ONNX model instead of the analytic motion model. One pilot per fleet holds one
// policy runtime (a worker thread, one session per model, every robot on a model in one batch,
// and the shields' filters decided there on the site's zones and walls), the robots' shields (which
// hold and count) and one control loop: each tick it asks every policy-driven AMR for its
// observation, runs PolicyDrive (shield hold, batched inference and filter, the hold again) and
// hands each AMR its shielded command for one tick of simulated time.
//
// Simulated time moves one control tick per tick of the loop, never by the wall clock: a machine
// too slow for the fleet's speed factor makes the robots move slower, never jump. Tick k of a busy
// stretch is due 1 / (rateHz × speed) real seconds × k after it began; ticks that fall behind (a
// timer cannot wait less than a millisecond) run back to back, so the robots keep the fleet's
// speed as long as the machine can. When no vehicle has a path to follow or is still moving, the
// loop sleeps until one is given a route (`nudge`): an idle fleet costs nothing.
import { resolve } from 'node:path';
import { PolicyContractError } from '../robots/policy/contract.ts';
import type { AmrState } from '../robots/policy/kinematics.ts';
import type { LoadedPolicy } from '../robots/policy/loader.ts';
import type { Shield, ShieldAlert, ShieldedCommand } from '../robots/policy/shield.ts';
import type { Amr } from '../planners/site.ts';
import type { LoadedSite } from './site-folder.ts';

/** What the pilot asks of a policy-driven virtual AMR each tick. */
export interface PilotedVehicle {
  readonly id: string;
  /** Its state and the observation of the path it follows; undefined when it has nothing to follow. */
  sense(): { state: AmrState; obs: ArrayLike<number> } | undefined;
  /** Paused (a STOP is a pause to a VDA 5050 vehicle): the shield gives zero without asking the policy. */
  stopped(): boolean;
  /** One tick of `dtS` simulated seconds under the shielded command (undefined: none this tick, brake). */
  act(command: ShieldedCommand | undefined, dtS: number): void;
  /** The runtime failed: the vehicle reports an error and stands. */
  fault(message: string): void;
  /** Still moving (braking to a stand takes ticks too, with or without a path). */
  moving(): boolean;
}

/** The policy a device is driven by, as the pilot loaded it. */
export interface PilotPolicy {
  file: string;
  policy: LoadedPolicy;
}

export interface PolicyPilotOptions {
  site: LoadedSite;
  /** Simulated seconds per real second. */
  speed: number;
  log: (line: string) => void;
  /** Devices not to drive (the gateway withholds them). */
  skip?: ReadonlySet<string>;
}

export interface PolicyPilotStart {
  /** Undefined when no device's model could be used. */
  pilot?: PolicyPilot;
  /** Devices whose model was refused, with why: they are not started. */
  refused: Map<string, string>;
}

/** How far behind its schedule the control loop may fall before it stops catching up, real ms. */
const MAX_BEHIND_MS = 250;
/**
 * How long a tick waits for the worker's answer, real ms. The fleet's time is simulated and stands
 * still while the answer is awaited, so an answer a loaded machine delays is not late for the
 * robots: they must not brake for it, or they drive slower than the check timed them. The budget
 * only guards against a worker that stopped answering.
 */
const PILOT_BUDGET_MS = 2000;

export class PolicyPilot {
  private readonly vehicles = new Map<string, { vehicle: PilotedVehicle; model: string; shield: Shield; profile: string }>();
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** Set when a vehicle was given something to drive since the loop last looked. */
  private nudged = false;
  /** The loop waits for a nudge, not a timer. */
  private sleeping = false;
  private simMs = 0;
  private looping: Promise<void> | undefined;
  /** Control ticks run since the start. */
  ticks = 0;
  /** Times the loop fell more than MAX_BEHIND_MS behind its schedule and dropped the backlog. */
  behind = 0;

  private constructor(
    private readonly opts: PolicyPilotOptions,
    /** By device id. */
    readonly policies: ReadonlyMap<string, PilotPolicy>,
    private readonly runtime: import('../robots/policy/runtime.ts').PolicyRuntime,
    private readonly drive: import('../robots/policy/drive.ts').PolicyDrive,
    private readonly makeShield: (amr: Amr, tickS: number, onAlert: (a: ShieldAlert) => void) => Shield,
    private readonly freeWorld: () => void,
    /** Seconds of simulated time per control tick. */
    readonly tickS: number,
  ) {}

  /**
   * Loads the model of every AMR with `policy:`, checks each against the contract and starts one
   * runtime for those that fit. The runtime, onnxruntime and the collision world are loaded only
   * here, so a site without policies never loads them.
   */
  static async start(opts: PolicyPilotOptions): Promise<PolicyPilotStart> {
    const refused = new Map<string, string>();
    const policies = new Map<string, PilotPolicy>();
    const { loadPolicyFile } = await import('../robots/policy/loader.ts');
    let rateHz: number | undefined;
    for (const d of opts.site.index.devicesOfKind('amr')) {
      if (!d.policy || opts.skip?.has(d.id)) continue;
      const file = resolve(opts.site.dir, d.policy.model);
      try {
        const policy = await loadPolicyFile(file);
        rateHz ??= policy.metadata.rateHz;
        if (policy.metadata.rateHz !== rateHz) {
          throw new PolicyContractError('metadata.rateHz', `the fleet's policies run on one control loop at ${rateHz} Hz; this model is made for ${policy.metadata.rateHz} Hz`);
        }
        policies.set(d.id, { file, policy });
      } catch (err) {
        const why = err instanceof PolicyContractError ? `${file}: ${err.message}` : `${file}: ${(err as Error).message}`;
        refused.set(d.id, why);
        opts.log(`${d.id}: policy model refused, the AMR is not started: ${why}`);
      }
    }
    if (policies.size === 0 || rateHz === undefined) return { refused };
    const [{ PolicyRuntime }, { PolicyDrive }, { Shield, shieldSiteOf }, { createCollisionWorld }] = await Promise.all([
      import('../robots/policy/runtime.ts'),
      import('../robots/policy/drive.ts'),
      import('../robots/policy/shield.ts'),
      import('./world/collision.ts'),
    ]);
    // One session per model file: robots on the same file are rows of one batch.
    const models = new Map<string, LoadedPolicy>();
    for (const p of policies.values()) models.set(p.file, p.policy);
    const tickS = 1 / rateHz;
    // Each policy-driven AMR's filter is decided in the inference worker (drive.ts), on the same
    // zones and walls as its shield here: one profile per device.
    const shields: import('../robots/policy/runtime.ts').WorkerShields = {
      site: shieldSiteOf(opts.site.index.site),
      walls: { module: new URL('./world/collision.ts', import.meta.url).href, data: opts.site.world.obstacles },
      profiles: [...policies.keys()].map((id) => {
        const amr = opts.site.index.device(id) as Amr;
        return { id, limits: amr.limits, footprint: amr.footprint, tickS };
      }),
    };
    let runtime: import('../robots/policy/runtime.ts').PolicyRuntime;
    try {
      runtime = await PolicyRuntime.start(models, { shields, budgetMs: PILOT_BUDGET_MS });
    } catch (err) {
      for (const id of policies.keys()) {
        refused.set(id, (err as Error).message);
        opts.log(`${id}: policy runtime did not start, the AMR is not started: ${(err as Error).message}`);
      }
      return { refused };
    }
    const world = await createCollisionWorld(opts.site.world.obstacles);
    const shieldSite = shieldSiteOf(opts.site.index.site, world);
    let pilot: PolicyPilot | undefined;
    const drive = new PolicyDrive({ inference: runtime, stopped: (id) => pilot!.vehicles.get(id)?.vehicle.stopped() ?? true, now: () => pilot!.simMs });
    pilot = new PolicyPilot(
      opts,
      policies,
      runtime,
      drive,
      (amr, tick, onAlert) => new Shield({ limits: amr.limits, footprint: amr.footprint, site: shieldSite, tickS: tick, onAlert }),
      () => world.free(),
      tickS,
    );
    return { pilot, refused };
  }

  /** The shield a device's vehicle is driven through (one per device, counting its interventions). */
  attach(amr: Amr, vehicle: PilotedVehicle): Shield {
    const p = this.policies.get(amr.id);
    if (!p) throw new Error(`'${amr.id}' has no policy in this pilot`);
    const shield = this.makeShield(amr, this.tickS, (a) => this.opts.log(`${a.robot}: shield: ${a.message}`));
    this.vehicles.set(amr.id, { vehicle, model: p.file, shield, profile: amr.id });
    this.looping ??= this.loop();
    return shield;
  }

  detach(id: string): void {
    this.vehicles.delete(id);
  }

  private async loop(): Promise<void> {
    const periodMs = (this.tickS * 1000) / this.opts.speed;
    // Not within attach: the vehicle being attached is not ready for its first tick yet.
    await new Promise<void>((done) => setImmediate(done));
    // The schedule of this busy stretch: tick k is due at anchor + k periods. A timer wakes at
    // the earliest a millisecond later, and at high speed factors a period is shorter than that
    // (0.5 ms at 100× and 20 Hz): the ticks that fell behind run back to back, each still giving
    // the event loop a turn, so simulated time keeps pace with the wall clock × speed.
    let anchor = performance.now();
    let due = 0;
    while (!this.closed) {
      let busy: boolean;
      try {
        busy = await this.tick();
      } catch (err) {
        // The runtime failed (its worker died, a run failed): no robot can be driven any more.
        const message = `the policy pilot failed: ${(err as Error).message}`;
        this.opts.log(message);
        for (const { vehicle } of this.vehicles.values()) vehicle.fault(message);
        return;
      }
      // Closed while the tick ran: close() has already woken the loop, and it must not wait again.
      if (this.closed) break;
      due++;
      let wait = anchor + due * periodMs - performance.now();
      if (wait < -MAX_BEHIND_MS) {
        // A machine too slow for the speed factor: the backlog is dropped, and the robots move
        // slower than the wall clock × speed rather than in a burst.
        this.behind++;
        anchor = performance.now();
        due = 0;
        wait = 0;
      }
      const idle = !busy && !this.nudged;
      this.nudged = false;
      await new Promise<void>((done) => {
        this.wake = done;
        this.sleeping = idle;
        if (idle) return;
        if (wait >= 1) this.timer = setTimeout(done, wait);
        else setImmediate(done);
      });
      if (idle) {
        anchor = performance.now();
        due = 0;
      }
      this.sleeping = false;
    }
  }

  /** A vehicle was given a route (or anything to drive): the loop wakes if it sleeps. */
  nudge(): void {
    this.nudged = true;
    if (this.sleeping) this.wake?.();
  }

  /** One control tick; false when nothing was driven and nothing moves (the loop may sleep). */
  private async tick(): Promise<boolean> {
    this.simMs += this.tickS * 1000;
    this.ticks++;
    const driven: import('../robots/policy/drive.ts').DrivenRobot[] = [];
    const entries = [...this.vehicles.values()];
    for (const e of entries) {
      const sensed = e.vehicle.sense();
      if (sensed) driven.push({ id: e.vehicle.id, model: e.model, state: sensed.state, obs: sensed.obs, observedAt: this.simMs, shield: e.shield, profile: e.profile });
    }
    const commands = driven.length > 0 ? await this.drive.tick(driven) : new Map<string, ShieldedCommand>();
    if (this.closed) return false;
    for (const e of entries) if (this.vehicles.get(e.vehicle.id) === e) e.vehicle.act(commands.get(e.vehicle.id), this.tickS);
    return driven.length > 0 || entries.some((e) => e.vehicle.moving());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.wake?.();
    await this.looping?.catch(() => {});
    await this.runtime.close();
    this.freeWorld();
  }
}
