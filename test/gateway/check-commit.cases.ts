// Checks run off the event loop, so a check now takes a while and other requests go on meanwhile.
// What was checked is still what is committed: approvals run one after another, an approval whose
// check ran against a schedule that changed meanwhile is checked again, and STOP, cancel and pause
// never wait for a check. The checker here holds each check until the test lets it answer, so
// every interleaving is chosen, not timed.
import t, { type Test } from 'tap';
import { inThreadChecker, type CheckJob, type Checker } from '../../gateway/checks/checker.ts';
import { MAX_RECHECKS, type MissionRunner } from '../../gateway/missions/service.ts';
import type { PlanInput } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { appFor, type TestApp } from './harness.ts';

/** Runs each check on the calling thread, but only once the test releases it. */
class HeldChecker implements Checker {
  private readonly held: { job: CheckJob; release: () => void }[] = [];
  private readonly arrived: ((n: number) => void)[] = [];
  readonly jobs: CheckJob[] = [];
  constructor(private readonly site: LoadedSite) {}

  check(job: CheckJob): Promise<CheckReport> {
    this.jobs.push(job);
    return new Promise((resolve, reject) => {
      this.held.push({ job, release: () => void inThreadChecker(this.site).check(job).then(resolve, reject) });
      for (const w of this.arrived.splice(0)) w(this.jobs.length);
    });
  }

  /** Resolves once `n` checks have been asked for in all. */
  async asked(n: number): Promise<void> {
    while (this.jobs.length < n) await new Promise<number>((r) => this.arrived.push(r));
  }

  /** Lets the oldest held check answer. */
  release(): void {
    const next = this.held.shift();
    if (!next) throw new Error('no check is held');
    next.release();
  }

  get waiting(): number {
    return this.held.length;
  }

  async close(): Promise<void> {}
}

async function setup(t: Test): Promise<{ h: TestApp; checks: HeldChecker }> {
  let checks!: HeldChecker;
  const h = await appFor(t, { checker: (site) => (checks = new HeldChecker(site)) });
  return { h, checks };
}

const drive = (name: string, amr: string, to: string): PlanInput => ({ schema: 'phygate.plan/v1', name, steps: [{ id: 'go', action: 'navigate', device: amr, params: { to } }] });

/** Submits a plan, letting its check answer; returns the mission. */
async function submitted(h: TestApp, checks: HeldChecker, plan: PlanInput): Promise<{ id: string; planHash: string }> {
  const n = checks.jobs.length;
  const res = h.app.inject({ method: 'POST', url: '/v1/missions', headers: h.auth('agent'), payload: { plan } });
  await checks.asked(n + 1);
  checks.release();
  const m = (await res).json();
  if (m.status !== 'awaiting_approval') throw new Error(`not awaiting approval: ${JSON.stringify(m)}`);
  return m;
}

const approve = (h: TestApp, m: { id: string; planHash: string }) => h.app.inject({ method: 'POST', url: `/v1/missions/${m.id}/approve`, headers: h.auth('operator'), payload: { planHash: m.planHash } });

/** Approves a mission, letting its check answer. */
async function approved(h: TestApp, checks: HeldChecker, m: { id: string; planHash: string }): Promise<void> {
  const n = checks.jobs.length;
  const res = approve(h, m);
  await checks.asked(n + 1);
  checks.release();
  const r = await res;
  if (r.statusCode !== 200) throw new Error(`approve: ${r.statusCode} ${r.payload}`);
}

const committedIds = (job: CheckJob) => (job.committed ?? []).map((c) => c.missionId).sort();

t.test("two approvals at once: the second is checked only once the first is committed, against it", async (t) => {
  const { h, checks } = await setup(t);
  const a = await submitted(h, checks, drive('a', 'amr-1', 'shelf-1'));
  const b = await submitted(h, checks, drive('b', 'amr-2', 'shelf-2'));
  const first = approve(h, a);
  const second = approve(h, b);
  await checks.asked(3);
  // Let everything else the event loop has run: the second approval still has not asked for its check.
  await new Promise((r) => setImmediate(r));
  t.equal(checks.jobs.length, 3, "the second approval's check waits for the first approval");
  t.same(committedIds(checks.jobs[2]!), [], 'the first is checked against nothing committed');
  checks.release();
  t.equal((await first).statusCode, 200, 'the first is approved');
  await checks.asked(4);
  t.same(committedIds(checks.jobs[3]!), [a.id], 'the second is checked against the first, now committed');
  checks.release();
  t.equal((await second).statusCode, 200, 'then the second');
});

t.test('the committed work changes while an approval is checked: it is checked again, and committed on the new check', async (t) => {
  const { h, checks } = await setup(t);
  const other = await submitted(h, checks, drive('other', 'amr-3', 'dock-b'));
  await approved(h, checks, other);
  const a = await submitted(h, checks, drive('a', 'amr-1', 'shelf-1'));
  const res = approve(h, a);
  const before = checks.jobs.length;
  await checks.asked(before + 1);
  t.same(committedIds(checks.jobs[before]!), [other.id], 'checked against the other mission');
  // Meanwhile the other mission is cancelled: the cancel does not wait for the check.
  const cancel = await h.app.inject({ method: 'POST', url: `/v1/missions/${other.id}/cancel`, headers: h.auth('operator'), payload: {} });
  t.equal(cancel.statusCode, 200, 'cancelled while the approval is checked');
  t.equal(checks.waiting, 1, 'the check is still running');
  checks.release();
  await checks.asked(before + 2);
  t.same(committedIds(checks.jobs[before + 1]!), [], 'checked again, without the cancelled mission');
  checks.release();
  const r = await res;
  t.equal(r.statusCode, 200);
  t.equal(r.json().status, 'approved');
});

t.test('robots reaching nodes while an approval is checked do not make it check again: their holds are not the schedule', async (t) => {
  let reached = 0;
  let checks!: HeldChecker;
  const runner: MissionRunner = {
    start: () => {},
    // Every question finds the robots a node further: as on a busy floor.
    holds: () => new Map([['amr-3', [`node-${++reached}`]]]),
    pause: () => {
      throw new Error('not used');
    },
    resume: () => {
      throw new Error('not used');
    },
    cancelWork: () => {},
  };
  const h = await appFor(t, { checker: (site) => (checks = new HeldChecker(site)), runner: () => runner });
  const a = await submitted(h, checks, drive('a', 'amr-1', 'shelf-1'));
  const before = checks.jobs.length;
  const res = approve(h, a);
  await checks.asked(before + 1);
  checks.release();
  const r = await res;
  t.equal(r.statusCode, 200);
  t.equal(checks.jobs.length, before + 1, 'one check, committed');
  t.ok(reached >= 2, 'the holds did change between the check and the commit');
});

t.test(`the schedule changes during each of ${MAX_RECHECKS} checks: 409 SCHEDULE_CHANGED and nothing committed`, async (t) => {
  const { h, checks } = await setup(t);
  const others = [];
  for (const [i, to] of ['dock-b', 'shelf-3', 'charger-1'].entries()) {
    const m = await submitted(h, checks, drive(`other-${i}`, 'amr-3', to));
    await approved(h, checks, m);
    others.push(m);
  }
  const a = await submitted(h, checks, drive('a', 'amr-1', 'shelf-1'));
  const res = approve(h, a);
  for (const [i, other] of others.entries()) {
    // Check i of the approval is held: cancelling a committed mission changes the schedule under it.
    await checks.asked(checks.jobs.length - checks.waiting + 1);
    t.equal(checks.waiting, 1, `check ${i + 1} of the approval is running`);
    await h.app.inject({ method: 'POST', url: `/v1/missions/${other.id}/cancel`, headers: h.auth('operator'), payload: {} });
    checks.release();
  }
  const r = await res;
  t.equal(r.statusCode, 409);
  t.equal(r.json().code, 'SCHEDULE_CHANGED');
  t.equal(h.store.missions.get(a.id)!.status, 'awaiting_approval', 'not approved');
  t.notOk(h.store.missions.events(a.id).some((e) => e.type === 'mission.approved'), 'no approval written');
});

t.test('STOP is answered while an approval and a plan check are still being checked', async (t) => {
  const { h, checks } = await setup(t);
  const a = await submitted(h, checks, drive('a', 'amr-1', 'shelf-1'));
  const order: string[] = [];
  const approval = approve(h, a).then((r) => (order.push('approve'), r));
  const check = h.app.inject({ method: 'POST', url: '/v1/plans/check', headers: h.auth('agent'), payload: { plan: drive('c', 'amr-2', 'shelf-2') } }).then((r) => (order.push('check'), r));
  await checks.asked(3);
  const stop = await h.app.inject({ method: 'POST', url: '/v1/stop', headers: h.auth('viewer') });
  order.push('stop');
  t.equal(stop.statusCode, 200, 'STOP answered');
  t.equal(checks.waiting, 2, 'both checks are still held');
  checks.release();
  checks.release();
  t.equal((await approval).statusCode, 200);
  t.equal((await check).statusCode, 200);
  t.equal(order[0], 'stop', `STOP answered first (${order.join(', ')})`);
});

t.test('a check that waits its turn longer than the request timeout still answers over its connection', async (t) => {
  // PHYGATE_REQUEST_TIMEOUT_MS bounds how long a request may take to arrive; a request that has
  // arrived and waits for a check (queued behind others) sends nothing meanwhile, and its socket
  // must not be closed for that: the agent would lose the answer without a status.
  let checks!: HeldChecker;
  const h = await appFor(t, { checker: (site) => (checks = new HeldChecker(site)), config: { PHYGATE_REQUEST_TIMEOUT_MS: 200 } });
  const base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const answer = fetch(`${base}/v1/plans/check`, { method: 'POST', headers: { ...h.auth('agent'), 'content-type': 'application/json' }, body: JSON.stringify({ plan: drive('held', 'amr-1', 'shelf-1') }) });
  await checks.asked(1);
  // Held for several request timeouts (the socket's idle time), then let go.
  await new Promise((r) => setTimeout(r, 1_000));
  checks.release();
  const res = await answer;
  t.equal(res.status, 200, 'answered after being held five times the request timeout');
  t.equal(((await res.json()) as { verdict: string }).verdict, 'pass');
});
