// Machines, arms and conveyors over the machine protocol (PROTOCOL.md) as a device port
// (../device-port.ts): a step's work is one command with a commandId the machine never runs twice
// and an expiry after which it refuses it; acknowledgements and job ends become step signals.
// A machine cannot pause a job (it finishes it); abort and STOP are its `stop` command.
import type { DeviceState } from '../../planners/fleet.ts';
import type { SiteIndex } from '../../planners/site.ts';
import {
  StepRefusedError,
  StepSignals,
  type DevicePort,
  type PauseEffect,
  type StepSignal,
  type StopAnswer,
  type Work,
  type WorkRequest,
  type WorkSummary,
} from '../device-port.ts';
import type { FleetRegistry } from '../fleet-registry.ts';
import { errorText, silentLog, type Log } from '../log.ts';
import type { AckEvent, JobEndEvent, MachineMaster } from './master.ts';
import { JOB_END_STATES, MACHINE_STATES, type MachineCommand, type MachineCommandRequest } from './schemas.ts';

export class MachinePort implements DevicePort {
  readonly via = 'machine';
  private readonly signals: StepSignals;
  /** Works taken over after a restart, by device: waiting for the machine's first state. */
  private readonly followed = new Map<string, Work>();
  /** Works told to stop, by device, and whether the machine was asked before. */
  private readonly aborting = new Map<string, Work>();
  private readonly offs: (() => void)[];

  constructor(
    private readonly master: MachineMaster,
    private readonly fleet: FleetRegistry,
    private readonly site: SiteIndex,
    private readonly log: Log = silentLog,
  ) {
    this.signals = new StepSignals((err) => log.error({ err: errorText(err) }, 'a machine step listener threw'));
    this.offs = [
      master.onAck((a) => this.acked(a)),
      master.onJob((j) => this.signals.emit(jobSignal(j.deviceId, j.commandId, j.outcome, j.errors))),
      fleet.onChange((s) => {
        if (this.followed.has(s.id)) this.checkFollowed(s);
        if (this.aborting.has(s.id)) this.checkAborted(s);
      }),
    ];
  }

  prepare(request: WorkRequest): Work {
    const { step, device } = request;
    let command: MachineCommandRequest;
    if (step.action === 'machine.run') command = { action: 'run', program: step.params.program, count: request.count ?? step.params.count };
    else if (step.action === 'convey') command = { action: 'convey', count: request.count ?? step.params.count };
    else if (step.action === 'arm.transfer') command = { action: 'transfer', from: step.params.from, to: request.onto ?? step.params.to };
    else throw new StepRefusedError(`${device} takes machine commands: it cannot do '${step.action}'`);
    try {
      // A random commandId (the master's): one made of the mission's id and the step's index could
      // be named by anyone on the broker, and a forged `done` for it would end the step. The
      // outbox row, stored with the mission and step before it is sent, is what traces it back.
      const message = this.master.prepareCommand(device, command, { ttlMs: request.ttlMs });
      return { id: message.commandId, device, channel: 'machine.command', message: message as unknown as Record<string, unknown>, expiresAt: message.expiresAt };
    } catch (err) {
      throw StepRefusedError.from(device, err);
    }
  }

  /** The machine answers a commandId it saw with `duplicate` and does not run it again. */
  send(work: Work): Promise<void> {
    return this.master.publish(work.device, work.message as unknown as MachineCommand);
  }

  pause(): PauseEffect {
    return 'continues';
  }

  resume(): void {}

  /** `stop`, until the machine's state shows the job ended or never there (asked twice). */
  abort(work: Work): void {
    const again = this.aborting.get(work.device)?.id === work.id;
    this.aborting.set(work.device, work);
    const state = this.fleet.get(work.device);
    if (state && this.checkAborted(state, again)) return;
    this.master.command(work.device, { action: 'stop' }).catch((err: Error) => this.log.warn({ device: work.device, err: err.message }, `stop not sent to ${work.device}`));
  }

  follow(work: Work): void {
    // Sent by this gateway before it restarted: the machine's acknowledgements and job end of it count.
    this.master.expectCommand(work.device, work.id);
    this.followed.set(work.device, work);
    const state = this.fleet.get(work.device);
    if (state) this.checkFollowed(state);
  }

  describe(work: Work): WorkSummary {
    const m = work.message as { action?: string; count?: number; to?: string };
    return {
      ...(typeof m.count === 'number' ? { count: m.count } : {}),
      ...(m.action === 'transfer' && m.to && this.site.device(m.to)?.kind === 'amr' ? { onto: m.to } : {}),
    };
  }

  async stop(device: string): Promise<StopAnswer> {
    await this.master.command(device, { action: 'stop' });
    return 'sent';
  }

  release(): undefined {
    return undefined;
  }

  moving(state: DeviceState): boolean {
    return state.state === 'running';
  }

  onSignal(listener: (signal: StepSignal) => void): () => void {
    return this.signals.on(listener);
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
  }

  private acked(a: AckEvent): void {
    const base = { workId: a.commandId, device: a.deviceId };
    if (a.result === 'accepted') return this.signals.emit({ type: 'running', ...base });
    if (a.result === 'duplicate') {
      // A command sent again that the machine had: fine if its job is this one (an end it reached was
      // signalled when the machine reported it: nothing follows an end), else its outcome is unknown.
      const state = this.fleet.get(a.deviceId);
      if (state?.job?.commandId === a.commandId) {
        if (!(JOB_END_STATES as readonly string[]).includes(state.state)) this.signals.emit({ type: 'accepted', ...base });
        return;
      }
      return this.signals.emit({ type: 'failed', ...base, reason: `${a.deviceId} had the command already but reports no job of it: its outcome is unknown` });
    }
    this.signals.emit({ type: 'failed', ...base, reason: `${a.deviceId} ${a.result} the command${a.reason ? `: ${a.reason}` : ''}`, expired: a.result === 'expired' });
  }

  /** Once the machine has reported: its job is (or was) this command, and what became of it; or it never got it. */
  private checkFollowed(state: DeviceState): void {
    const work = this.followed.get(state.id)!;
    if (!state.online || !(MACHINE_STATES as readonly string[]).includes(state.state)) return;
    this.followed.delete(state.id);
    const base = { workId: work.id, device: state.id };
    if (state.job?.commandId !== work.id) return this.signals.emit({ type: 'missing', ...base });
    this.signals.emit({ type: 'accepted', ...base });
    if (state.state === 'running') this.signals.emit({ type: 'running', ...base });
    else if ((JOB_END_STATES as readonly string[]).includes(state.state)) this.signals.emit(jobSignal(state.id, work.id, state.state as JobEndEvent['outcome'], state.errors ?? []));
  }

  /**
   * True (and the end signalled) once the state shows the job is not running: ended, or never
   * there — the latter only when asked `again`, so a command on its way has arrived by then.
   */
  private checkAborted(state: DeviceState, again = false): boolean {
    const work = this.aborting.get(state.id)!;
    if (state.state === 'running' && state.job?.commandId === work.id) return false;
    const ended = state.job?.commandId === work.id && (JOB_END_STATES as readonly string[]).includes(state.state);
    if (!ended && !again) return false;
    this.aborting.delete(state.id);
    this.signals.emit({ type: 'aborted', workId: work.id, device: state.id, reason: ended ? `${state.id} ended the job ${state.state}` : `${state.id} never took the command` });
    return true;
  }
}

function jobSignal(device: string, workId: string, outcome: JobEndEvent['outcome'], errors: string[]): StepSignal {
  const base = { workId, device };
  if (outcome === 'done') return { type: 'done', ...base };
  const reason = `${device} ended the job ${outcome}${errors.length ? `: ${errors.join('; ')}` : ''}`;
  return outcome === 'stopped' ? { type: 'aborted', ...base, reason } : { type: 'failed', ...base, reason };
}
