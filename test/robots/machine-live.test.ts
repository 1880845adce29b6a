// The machine protocol end to end on both real brokers: the gateway's MachineMaster and the fleet
// registry of the demo site, talking to virtual machines at 100× speed. Jobs run to the end with
// the site's durations; duplicates, expired commands and impossible ones never run; stop ends a
// job; a killed machine goes offline through its last will; bad messages are counted, not fatal.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { MqttClient } from 'mqtt';
import type { DeviceState } from '../../planners/fleet.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import type { StepSignal } from '../../robots/device-port.ts';
import { MachineMaster, type AckEvent, type JobEndEvent } from '../../robots/machine/master.ts';
import { MachinePort } from '../../robots/machine/port.ts';
import type { MachineCommand, MachineState } from '../../robots/machine/schemas.ts';
import { machineTopic } from '../../robots/machine/topics.ts';
import { closeMqtt, connectMqtt } from '../../robots/mqtt.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { startVirtualMachine, type VirtualMachine } from '../../sim/virtual-machine.ts';
import { BROKERS, type TestBroker } from '../helpers/brokers.ts';
import { recordingLog } from '../helpers/log.ts';

const site = loadSiteFolder(fileURLToPath(new URL('../../launch/sites/demo', import.meta.url))).index;
const SITE = site.site.id;
const SPEED = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(t: Test, what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!ok()) {
    if (performance.now() > end) {
      t.fail(`timed out waiting for: ${what}`);
      throw new Error(`timed out waiting for: ${what}`);
    }
    await sleep(10);
  }
}

interface Rig {
  broker: TestBroker;
  fleet: FleetRegistry;
  master: MachineMaster;
  acks: AckEvent[];
  jobs: JobEndEvent[];
  warnings: string[];
  /** Every state the fleet registry took, per device. */
  history: Map<string, DeviceState[]>;
  vms: Map<string, VirtualMachine>;
  /** A plain client of the test's own, to publish what the gateway would never send. */
  raw: MqttClient;
  ack(commandId: string, result: AckEvent['result']): Promise<AckEvent>;
  jobEnd(commandId: string): Promise<JobEndEvent>;
}

async function rig(t: Test, start: (t: Test) => Promise<TestBroker>, devices: string[], opts: { silentAfterMs?: number } = {}): Promise<Rig> {
  const broker = await start(t);
  const fleet = new FleetRegistry(site);
  const history = new Map<string, DeviceState[]>();
  fleet.onChange((s) => history.set(s.id, [...(history.get(s.id) ?? []), s]));
  const client = await connectMqtt({ url: broker.url, clientId: `gateway-${randomUUID().slice(0, 8)}` });
  const raw = await connectMqtt({ url: broker.url, clientId: `test-${randomUUID().slice(0, 8)}` });
  const warnings: string[] = [];
  const master = new MachineMaster({ client, site, siteId: SITE, fleet, log: { ...recordingLog(), warn: (_o: object, msg: string) => void warnings.push(msg), error: (_o: object, msg: string) => void warnings.push(msg) }, ...opts });
  const acks: AckEvent[] = [];
  const jobs: JobEndEvent[] = [];
  master.onAck((a) => acks.push(a));
  master.onJob((j) => jobs.push(j));
  await master.start();
  const vms = new Map<string, VirtualMachine>();
  t.teardown(async () => {
    await Promise.all([...vms.values()].map((vm) => vm.close()));
    await master.stop();
    await Promise.all([closeMqtt(client, true), closeMqtt(raw, true)]);
  });
  for (const id of devices) vms.set(id, await startVirtualMachine({ brokerUrl: broker.url, site, siteId: SITE, deviceId: id, speed: SPEED }));
  await until(t, `${devices.join(', ')} online and idle`, () => devices.every((id) => fleet.get(id)?.online === true && fleet.get(id)?.state === 'idle'));
  const r: Rig = {
    broker,
    fleet,
    master,
    acks,
    jobs,
    warnings,
    history,
    vms,
    raw,
    ack: async (commandId, result) => {
      await until(t, `${result} for ${commandId}`, () => acks.some((a) => a.commandId === commandId && a.result === result));
      return acks.find((a) => a.commandId === commandId && a.result === result)!;
    },
    jobEnd: async (commandId) => {
      await until(t, `the end of job ${commandId}`, () => jobs.some((j) => j.commandId === commandId));
      return jobs.find((j) => j.commandId === commandId)!;
    },
  };
  return r;
}

function command(fields: Record<string, unknown>, ttlMs = 10_000, issuedAgoMs = 0): MachineCommand {
  const issued = Date.now() - issuedAgoMs;
  return {
    commandId: randomUUID(),
    issuedAt: new Date(issued).toISOString(),
    expiresAt: new Date(issued + ttlMs).toISOString(),
    ...fields,
  } as MachineCommand;
}

const statesSince = (r: Rig, id: string, from: number) => (r.history.get(id) ?? []).slice(from);

for (const [name, start] of BROKERS) {
  t.test(`${name}: cnc-1 runs bracket-v2 ×2 in 180 s / 100; the same command again is a duplicate and runs nothing`, async (t) => {
    const r = await rig(t, start, ['cnc-1']);
    const sent: string[] = [];
    await r.raw.subscribeAsync(machineTopic(SITE, 'cnc-1', 'command'), { qos: 1 });
    r.raw.on('message', (_topic, payload) => sent.push(payload.toString()));

    const t0 = performance.now();
    const id = await r.master.command('cnc-1', { action: 'run', program: 'bracket-v2', count: 2 });
    t.equal((await r.ack(id, 'accepted')).deviceId, 'cnc-1');
    await until(t, 'running with progress', () => (r.history.get('cnc-1') ?? []).some((s) => s.state === 'running' && s.progress! > 0 && s.progress! < 1));
    t.match(r.fleet.get('cnc-1'), { online: true, state: 'running', job: { commandId: id, action: 'run', program: 'bracket-v2', count: 2 } });
    const end = await r.jobEnd(id);
    const seconds = (performance.now() - t0) / 1000;
    t.match(end, { deviceId: 'cnc-1', outcome: 'done', partsProduced: 2, job: { program: 'bracket-v2', count: 2 } });
    // The job takes its floor time at this speed; no upper bound: a busy machine only adds.
    t.ok(seconds >= 1.75, `took ${seconds.toFixed(2)} s, not less than 180 s / ${SPEED}`);
    t.match(r.fleet.get('cnc-1'), { online: true, state: 'done', progress: 1, partsProduced: 2, errors: [] });
    t.equal(r.master.stats().commandsSent, 1);

    // The gateway retries: the very same message again.
    await until(t, 'the command seen on the wire', () => sent.length === 1);
    const before = r.history.get('cnc-1')!.length;
    await r.raw.publishAsync(machineTopic(SITE, 'cnc-1', 'command'), sent[0]!, { qos: 1 });
    t.match(await r.ack(id, 'duplicate'), { reason: 'already accepted' });
    await sleep(300);
    t.notOk(statesSince(r, 'cnc-1', before).some((s) => s.state === 'running'), 'not run twice');
    t.equal(r.jobs.filter((j) => j.commandId === id).length, 1, 'one job end');
    t.match(r.fleet.get('cnc-1'), { state: 'done', partsProduced: 2, job: { commandId: id } });
  });

  t.test(`${name}: expired, unknown, wrong-device and busy commands do not run; stop ends a job, reset clears it`, async (t) => {
    const r = await rig(t, start, ['cnc-1']);
    const topic = machineTopic(SITE, 'cnc-1', 'command');

    // Sent by the test's own client, not the master: the master reports only acknowledgements of
    // commands it sent, or was told to expect.
    const stale = command({ action: 'run', program: 'bracket-v2', count: 1 }, 10_000, 20_000);
    r.master.expectCommand('cnc-1', stale.commandId);
    await r.raw.publishAsync(topic, JSON.stringify(stale), { qos: 1 });
    t.match(await r.ack(stale.commandId, 'expired'), { reason: /^expired at .*, received at / });
    // Still valid, but issued before the machine started: it may have run before a restart.
    const older = command({ action: 'run', program: 'bracket-v2', count: 1 }, 60_000, 30_000);
    r.master.expectCommand('cnc-1', older.commandId);
    await r.raw.publishAsync(topic, JSON.stringify(older), { qos: 1 });
    t.match(await r.ack(older.commandId, 'expired'), { reason: /before the device started/ });

    const unknown = await r.master.command('cnc-1', { action: 'run', program: 'bracket-v9', count: 1 });
    t.match(await r.ack(unknown, 'rejected'), { reason: "cnc-1 has no program 'bracket-v9'; programs: bracket-v2, housing-a" });
    const wrong = await r.master.command('cnc-1', { action: 'convey', count: 1 });
    t.match(await r.ack(wrong, 'rejected'), { reason: /cnc-1 is a cnc: it takes run, stop and reset, not convey/ });
    await sleep(100);
    t.notOk((r.history.get('cnc-1') ?? []).some((s) => s.state === 'running'), 'nothing ran');
    t.equal(r.fleet.get('cnc-1')?.state, 'idle');
    t.same(r.jobs, []);

    // housing-a: 240 s / 100 = 2.4 s. Busy, then stopped half-way.
    const job = await r.master.command('cnc-1', { action: 'run', program: 'housing-a', count: 1 });
    await r.ack(job, 'accepted');
    const busy = await r.master.command('cnc-1', { action: 'run', program: 'bracket-v2', count: 1 });
    t.match(await r.ack(busy, 'rejected'), { reason: `busy with job ${job}` });
    const resetWhileRunning = await r.master.command('cnc-1', { action: 'reset' });
    t.match(await r.ack(resetWhileRunning, 'rejected'), { reason: /send stop first/ });
    await sleep(600);
    const stop = await r.master.command('cnc-1', { action: 'stop' });
    await r.ack(stop, 'accepted');
    t.match(await r.jobEnd(job), { outcome: 'stopped', partsProduced: 0 });
    const stopped = r.fleet.get('cnc-1')!;
    t.match(stopped, { state: 'stopped', partsProduced: 0, job: { commandId: job } });
    t.ok(stopped.progress! > 0.1 && stopped.progress! < 0.9, `stopped at progress ${stopped.progress}`);
    await sleep(2_200);
    t.equal(r.fleet.get('cnc-1')?.state, 'stopped', 'the job did not finish after all');

    const again = await r.master.command('cnc-1', { action: 'stop' });
    t.match(await r.ack(again, 'accepted'), { reason: 'nothing to stop' });
    const reset = await r.master.command('cnc-1', { action: 'reset' });
    await r.ack(reset, 'accepted');
    await until(t, 'idle after reset', () => r.fleet.get('cnc-1')?.state === 'idle');
    t.match(r.fleet.get('cnc-1'), { state: 'idle', job: undefined, progress: undefined, partsProduced: undefined });
  });

  t.test(`${name}: a fault ends the job, turns new jobs down until reset`, async (t) => {
    const r = await rig(t, start, ['printer-1']);
    const job = await r.master.command('printer-1', { action: 'run', program: 'clip-x', count: 1 });
    await r.ack(job, 'accepted');
    await sleep(200);
    r.vms.get('printer-1')!.fault({ code: 'NOZZLE_CLOG', message: 'no flow from the nozzle' });
    t.match(await r.jobEnd(job), { outcome: 'fault', errors: ['NOZZLE_CLOG: no flow from the nozzle'] });
    t.match(r.fleet.get('printer-1'), { online: true, state: 'fault', errors: ['NOZZLE_CLOG: no flow from the nozzle'] });
    const next = await r.master.command('printer-1', { action: 'run', program: 'clip-x', count: 1 });
    t.match(await r.ack(next, 'rejected'), { reason: 'in fault: send reset first' });
    await r.ack(await r.master.command('printer-1', { action: 'reset' }), 'accepted');
    await until(t, 'idle after reset', () => r.fleet.get('printer-1')?.state === 'idle');
    t.same(r.fleet.get('printer-1')?.errors, []);
  });

  t.test(`${name}: conveyor-1 conveys two parts and arm-1 loads an AMR, each to the end`, async (t) => {
    const r = await rig(t, start, ['conveyor-1', 'arm-1']);
    const t0 = performance.now();
    const convey = await r.master.command('conveyor-1', { action: 'convey', count: 2 });
    const transfer = await r.master.command('arm-1', { action: 'transfer', from: 'cnc-1', to: 'amr-1' });
    t.match(await r.jobEnd(transfer), { deviceId: 'arm-1', outcome: 'done', partsProduced: 1, job: { action: 'transfer', from: 'cnc-1', to: 'amr-1' } });
    t.ok(performance.now() - t0 >= 240, 'the arm took its transferS (25 s / 100)');
    t.match(await r.jobEnd(convey), { deviceId: 'conveyor-1', outcome: 'done', partsProduced: 2, job: { action: 'convey', count: 2 } });
    t.ok(performance.now() - t0 >= 390, 'the conveyor took 2 × transferS (2 × 20 s / 100)');
    t.match(r.fleet.get('conveyor-1'), { state: 'done', partsProduced: 2 });
    t.match(r.fleet.get('arm-1'), { state: 'done', job: { to: 'amr-1' } });

    const far = await r.master.command('arm-1', { action: 'transfer', from: 'shelf-2', to: 'cnc-1' });
    t.match(await r.ack(far, 'rejected'), { reason: "from 'shelf-2' is out of reach of arm-1; it reaches cnc-1, conveyor-1-in" });
    const nowhere = await r.master.command('arm-1', { action: 'transfer', from: 'cnc-1', to: 'printer-1' });
    t.match(await r.ack(nowhere, 'rejected'), { reason: /neither a station arm-1 reaches .* nor an AMR/ });
  });

  t.test(`${name}: a killed machine is offline at once through its last will, and gets no new work`, async (t) => {
    const r = await rig(t, start, ['cnc-1', 'conveyor-1']);
    const id = await r.master.command('cnc-1', { action: 'run', program: 'housing-a', count: 1 });
    await r.ack(id, 'accepted');
    r.vms.get('cnc-1')!.kill();
    r.vms.delete('cnc-1');
    await until(t, 'cnc-1 offline', () => r.fleet.get('cnc-1')?.online === false, 5_000);
    t.match(r.fleet.get('cnc-1'), { online: false, state: 'connection broken', job: { commandId: id } });
    t.equal(r.fleet.get('conveyor-1')?.online, true, 'the others stay online');
    await t.rejects(r.master.command('cnc-1', { action: 'run', program: 'bracket-v2', count: 1 }), { message: 'cnc-1 is offline: it gets no new work' });
    await t.resolves(r.master.command('cnc-1', { action: 'stop' }), 'a stop is still sent');

    // A gateway that starts now reads the retained state and connection: cnc-1 is gone.
    const fleet2 = new FleetRegistry(site);
    const client2 = await connectMqtt({ url: r.broker.url, clientId: `gateway2-${randomUUID().slice(0, 8)}` });
    const master2 = new MachineMaster({ client: client2, site, siteId: SITE, fleet: fleet2 });
    t.teardown(async () => {
      await master2.stop();
      await closeMqtt(client2, true);
    });
    await master2.start();
    await until(t, 'the retained messages read', () => fleet2.get('conveyor-1')?.state === 'idle' && fleet2.get('cnc-1')?.state !== 'never connected');
    await sleep(200);
    t.match(fleet2.get('conveyor-1'), { online: true, state: 'idle' });
    t.equal(fleet2.get('cnc-1')?.online, false, 'cnc-1 is offline for a gateway that starts after it died');

    // A graceful close says OFFLINE.
    await r.vms.get('conveyor-1')!.close();
    r.vms.delete('conveyor-1');
    await until(t, 'conveyor-1 offline', () => r.fleet.get('conveyor-1')?.online === false, 5_000);
    t.equal(r.fleet.get('conveyor-1')?.state, 'offline');
  });

  t.test(`${name}: the broker restarts: machines are offline meanwhile, then back and working`, async (t) => {
    const r = await rig(t, start, ['cnc-1']);
    const before = r.history.get('cnc-1')!.length;
    await r.broker.restart();
    // Mosquitto sends the wills of its clients when it shuts down; aedes just goes away.
    await until(t, 'cnc-1 offline while the broker was away', () =>
      statesSince(r, 'cnc-1', before).some((s) => s.online === false && ['broker unreachable', 'connection broken'].includes(s.state)),
    );
    await until(t, 'cnc-1 back online', () => r.fleet.get('cnc-1')?.online === true && r.fleet.get('cnc-1')?.state === 'idle');
    const id = await r.master.command('cnc-1', { action: 'run', program: 'bracket-v2', count: 1 });
    t.match(await r.jobEnd(id), { outcome: 'done', partsProduced: 1 });
  });

  t.test(`${name}: malformed and invalid messages are counted and logged; nothing crashes`, async (t) => {
    const r = await rig(t, start, ['cnc-1']);
    const pub = (topic: string, payload: string) => r.raw.publishAsync(topic, payload, { qos: 1 });
    const valid: MachineState = { seq: 1, timestamp: new Date().toISOString(), state: 'idle', errors: [], acks: [] };

    await pub(machineTopic(SITE, 'cnc-1', 'state'), '{"seq": 1, "state": ');
    await pub(machineTopic(SITE, 'cnc-1', 'state'), JSON.stringify({ ...valid, state: 'running' }));
    await pub(machineTopic(SITE, 'cnc-1', 'connection'), JSON.stringify({ connectionState: 'MAYBE' }));
    await pub(machineTopic(SITE, 'ghost-9', 'state'), JSON.stringify(valid));
    await pub(machineTopic(SITE, 'amr-1', 'state'), JSON.stringify(valid));
    await pub(machineTopic(SITE, 'cnc-1', 'state'), JSON.stringify(valid));
    await pub(`phygate/v1/${SITE}/cnc-1/factsheet`, 'not ours');
    await until(t, 'all counted', () => r.master.stats().invalid === 3 && r.master.stats().unknownDevice === 2 && r.master.stats().outOfOrder === 1);
    // Logged at a bounded rate: one line per device and reason (robots/drops.ts), the first of each.
    t.equal(r.warnings.length, 3, 'a line for cnc-1 schema, for unknown devices and for cnc-1 seq');
    t.match(r.warnings.join('\n'), /cnc-1: message dropped \(schema\): machine protocol: invalid message on phygate\/v1\/demo\/cnc-1\/state: \(root\): not JSON/);
    t.match(r.warnings.join('\n'), /'ghost-9' is not a machine of site 'demo'/);
    t.match(r.warnings.join('\n'), /cnc-1: message dropped \(seq\): machine protocol: a state with seq 1, not above the last one taken/);
    t.match(r.fleet.get('cnc-1'), { online: true, state: 'idle' }, 'the fleet did not take any of them');

    // The machine drops what it cannot read, and rejects a command it can name but not run.
    const topic = machineTopic(SITE, 'cnc-1', 'command');
    await pub(topic, '{{{');
    r.master.expectCommand('cnc-1', 'no-program-1');
    await pub(topic, JSON.stringify({ commandId: 'no-program-1', action: 'run', count: 1, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 5_000).toISOString() }));
    t.match(await r.ack('no-program-1', 'rejected'), { reason: /^not a valid command: program: / });
    t.same(r.vms.get('cnc-1')!.stats(), { commands: 1, dropped: 1 });

    const id = await r.master.command('cnc-1', { action: 'run', program: 'bracket-v2', count: 1 });
    t.match(await r.jobEnd(id), { outcome: 'done', partsProduced: 1 }, 'both sides still work');
    r.master.onAck(() => {
      throw new Error('a listener with a bug');
    });
    const after = await r.master.command('cnc-1', { action: 'reset' });
    await r.ack(after, 'accepted');
    t.match(r.warnings.join('\n'), /a listener threw/);
    await t.rejects(r.master.command('amr-1', { action: 'stop' }), { message: "'amr-1' is not a machine of site 'demo'" });
    await t.rejects(r.master.command('cnc-1', { action: 'run', program: 'bracket-v2', count: 0 }), { message: /invalid run command for cnc-1: count: / });
  });
}

t.test('a machine that publishes nothing for silentAfterMs is put offline', async (t) => {
  const r = await rig(t, BROKERS[1][1], [], { silentAfterMs: 300 });
  const state: MachineState = { seq: 1, timestamp: new Date().toISOString(), state: 'idle', errors: [], acks: [] };
  await r.raw.publishAsync(machineTopic(SITE, 'printer-1', 'state'), JSON.stringify(state), { qos: 1 });
  await until(t, 'printer-1 online', () => r.fleet.get('printer-1')?.online === true);
  await until(t, 'printer-1 offline', () => r.fleet.get('printer-1')?.online === false, 3_000);
  t.equal(r.fleet.get('printer-1')?.state, 'silent');
  t.match(r.warnings.join('\n'), /printer-1 sent nothing for 300 ms; offline/);
});

t.test('aedes: the port hears running, accepted for the command sent again while it runs, done; sent again after the end, nothing more', async (t) => {
  const r = await rig(t, BROKERS[1][1], ['cnc-1']);
  const port = new MachinePort(r.master, r.fleet, site);
  t.teardown(() => port.close());
  const signals: StepSignal[] = [];
  port.onSignal((s) => signals.push(s));
  const work = port.prepare({
    missionId: 'm-1',
    step: { id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program: 'bracket-v2', count: 1 } },
    stepIndex: 0,
    attempt: 0,
    device: 'cnc-1',
    ttlMs: 60_000,
  });
  const duplicates = () => r.acks.filter((a) => a.commandId === work.id && a.result === 'duplicate').length;
  await port.send(work);
  await r.ack(work.id, 'accepted');
  await port.send(work);
  await until(t, 'the duplicate while it runs', () => duplicates() === 1);
  await r.jobEnd(work.id);
  await port.send(work);
  await until(t, 'the duplicate after the end', () => duplicates() === 2);
  t.same(signals.map((s) => [s.type, s.workId]), [
    ['running', work.id],
    ['accepted', work.id],
    ['done', work.id],
  ]);
});
