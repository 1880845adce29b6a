// The demo site's virtual fleet: every AMR of the site as a VDA 5050 vehicle and every machine,
// conveyor and arm as a machine-protocol device (those with a `ros2` block aside: ROS 2 drives
// them), each with its own MQTT connection to the broker, exactly as real hardware would connect.
// An AMR whose device says `policy:` is driven by that ONNX policy through the fleet's one
// PolicyPilot (policy-pilot.ts), loaded only then. `npm start` runs it in the gateway process;
// `phygate fleet` runs it as a process of its own.
import { protocolOf } from '../planners/site.ts';
import type { MqttLogin } from '../robots/mqtt.ts';
import type { LoadedSite } from './site-folder.ts';
import type { PolicyPilot } from './policy-pilot.ts';
import { startVirtualAmr, type VirtualAmr } from './virtual-amr.ts';
import { startVirtualMachine, type VirtualMachine } from './virtual-machine.ts';

export interface VirtualFleetOptions {
  brokerUrl: string;
  site: LoadedSite;
  /** Time scale (10: everything ten times faster). Default 1. */
  speed?: number;
  interfaceName?: string;
  /** State of charge the AMRs start with. Default 0.9. */
  soc?: number;
  /** Each device's login to the broker, as a real one has its own (none: connect anonymously). */
  credentials?: (deviceId: string) => MqttLogin | undefined;
  /**
   * Where each AMR starts, and how charged, when not at its home with `soc`: a rehearsal's fleet
   * starts where the real one stands (gateway/rehearsal/world.ts).
   */
  start?: (amrId: string) => { node?: string; pose?: { x: number; y: number; theta: number }; soc?: number; loaded?: boolean } | undefined;
  /** Where a refused policy model is said (default: stderr). */
  log?: (line: string) => void;
  /** Devices the gateway withholds (sim/policy-gate.ts): not started, as a robot the gateway does not use stays parked. */
  withheld?: ReadonlySet<string>;
}

export interface VirtualFleet {
  amrs: Map<string, VirtualAmr>;
  machines: Map<string, VirtualMachine>;
  /** AMRs not started because their policy model was refused, with why. */
  refused: Map<string, string>;
  /** Every device says OFFLINE and disconnects. */
  close(): Promise<void>;
}

export async function startVirtualFleet(opts: VirtualFleetOptions): Promise<VirtualFleet> {
  const { site } = opts;
  const amrs = new Map<string, VirtualAmr>();
  const machines = new Map<string, VirtualMachine>();
  const loginOf = (id: string) => {
    const login = opts.credentials?.(id);
    return login ? { login } : {};
  };
  let pilot: PolicyPilot | undefined;
  let refused = new Map<string, string>();
  const close = async () => {
    await Promise.allSettled([...[...amrs.values()].map((a) => a.close()), ...[...machines.values()].map((m) => m.close())]);
    await pilot?.close();
  };
  try {
    // The policy runtime (onnxruntime, a worker) and the shields' collision world are loaded only
    // when some virtual AMR is driven by a policy.
    const withheld = opts.withheld ?? new Set<string>();
    if (site.index.site.devices.some((d) => d.kind === 'amr' && d.policy && protocolOf(d) !== 'ros2' && !withheld.has(d.id))) {
      const { PolicyPilot } = await import('./policy-pilot.ts');
      const started = await PolicyPilot.start({ site, speed: opts.speed ?? 1, log: opts.log ?? ((line) => console.error(line)), skip: withheld });
      pilot = started.pilot;
      refused = started.refused;
    }
    for (const d of site.index.site.devices) {
      // A device with a `ros2` block is driven over ROS 2 only (planners/site.ts protocolOf): a
      // VDA 5050 twin of it would report a second, motionless pose for the same robot.
      if (protocolOf(d) === 'ros2' || withheld.has(d.id)) continue;
      if (d.kind === 'amr') {
        // A model that does not fit the contract: this AMR stays off, the rest of the fleet runs.
        if (refused.has(d.id)) continue;
        const start = opts.start?.(d.id);
        const amr = await startVirtualAmr({
          brokerUrl: opts.brokerUrl,
          site: site.index,
          graph: site.graph,
          amrId: d.id,
          ...(opts.interfaceName ? { interfaceName: opts.interfaceName } : {}),
          speed: opts.speed ?? 1,
          soc: start?.soc ?? opts.soc ?? 0.9,
          ...(start?.node ? { startNode: start.node } : {}),
          ...(start?.pose ? { startPose: start.pose } : {}),
          ...loginOf(d.id),
          ...(d.policy && pilot ? { pilot } : {}),
        });
        amrs.set(d.id, amr);
        if (start?.loaded) amr.receiveLoad();
      } else {
        machines.set(
          d.id,
          await startVirtualMachine({
            brokerUrl: opts.brokerUrl,
            site: site.index,
            siteId: site.index.site.id,
            deviceId: d.id,
            speed: opts.speed ?? 1,
            ...loginOf(d.id),
            // The simulated arm's transfer onto an AMR puts the tote on that virtual AMR.
            onJobDone: (job) => {
              if (job.action === 'transfer') amrs.get(job.to)?.receiveLoad();
            },
          }),
        );
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { amrs, machines, refused, close };
}
