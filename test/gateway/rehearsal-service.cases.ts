// The rehearsal use case around its world (gateway/rehearsal/service.ts), with the world replaced
// by one the test ends by hand: one rehearsal at a time, its record kept per plan hash, a failed
// or erroring world recorded as failed, a rehearsal cut off by a restart marked failed, and the
// `rehearsal` events a tablet follows.
import t, { type Test } from 'tap';
import { inThreadChecker } from '../../gateway/checks/checker.ts';
import { EventHub } from '../../gateway/events.ts';
import { RehearsalService } from '../../gateway/rehearsal/service.ts';
import type { RehearsalInput } from '../../gateway/rehearsal/world.ts';
import { openStore, type Store } from '../../gateway/store/index.ts';
import type { RehearsalResult } from '../../gateway/store/rehearsals.ts';
import { planHash, PlanSchema } from '../../planners/plan.ts';
import { FleetRegistry } from '../../robots/fleet-registry.ts';
import { parkFleetAtHome } from '../../sim/parked-fleet.ts';
import { loadSiteFolder } from '../../sim/site-folder.ts';
import { DEMO_SITE_DIR, FIXED_NOW, tempDirFor } from './harness.ts';

const site = loadSiteFolder(DEMO_SITE_DIR);
const plan = PlanSchema.parse({ schema: 'phygate.plan/v1', name: 'park', steps: [{ id: 'go', action: 'navigate', device: 'amr-1', params: { to: 'park-1' } }] });

const outcome = (o: RehearsalResult['outcome'], extra: Partial<RehearsalResult> = {}): RehearsalResult => ({
  fleet: 'virtual',
  speed: 50,
  outcome: o,
  reason: null,
  makespanS: 30,
  checkMakespanS: 28.7,
  minSeparation: null,
  problems: [],
  ...extra,
});

function setup(t: Test, dir = tempDirFor(t)) {
  const store = openStore(dir);
  t.teardown(() => store.db.open && store.close());
  const fleet = new FleetRegistry(site.index);
  parkFleetAtHome(fleet, FIXED_NOW());
  const hub = new EventHub();
  const events: unknown[] = [];
  hub.subscribe((e) => e.type === 'rehearsal' && events.push(e.data));
  // Each rehearsal's world waits for the test to end it: `finish` is the last one started's.
  const started: RehearsalInput[] = [];
  let finish: (r: RehearsalResult | Error) => void = () => {};
  const world = (input: RehearsalInput) => {
    started.push(input);
    return new Promise<RehearsalResult>((resolve, reject) => (finish = (r) => (r instanceof Error ? reject(r) : resolve(r))));
  };
  const service = new RehearsalService({ site, store, fleet, checker: inThreadChecker(site), now: FIXED_NOW, speed: 50, hub, world });
  const mission = (name = 'park') => {
    const p = { ...plan, name };
    return store.missions.create({ plan: p, planHash: planHash(p), worldHash: 'w', report: { makespanS: 28.7 }, status: 'awaiting_approval', requestHash: name, actor: 'agent' }).mission;
  };
  return { store, fleet, service, started, events, mission, end: (r: RehearsalResult | Error) => finish(r), dir };
}

const settled = (store: Store, id: string) => store.rehearsals.latest(id)?.status !== 'running';

t.test('one rehearsal at a time, recorded for its plan hash, with events', async (t) => {
  const { store, service, started, events, mission, end } = setup(t);
  const a = mission('a');
  const b = mission('b');
  const r = service.start(a.id, 'op');
  t.match(r, { missionId: a.id, planHash: a.planHash, status: 'running', requestedBy: 'op' });
  t.same(started[0]?.fleet.get('amr-1')?.at, 'dock-a', 'the world starts from the real fleet');
  t.equal(started[0]?.speed, 50);
  t.throws(() => service.start(b.id, 'op'), { code: 'REHEARSAL_BUSY' }, 'a second one waits');
  t.notOk(store.rehearsals.passed(a.id, a.planHash), 'not passed while running');
  end(outcome('succeeded'));
  await service.close();
  t.ok(settled(store, a.id));
  t.match(store.rehearsals.latest(a.id), { status: 'succeeded', result: { outcome: 'succeeded', makespanS: 30, checkMakespanS: 28.7 } });
  t.ok(store.rehearsals.passed(a.id, a.planHash), 'passed for its hash');
  t.notOk(store.rehearsals.passed(a.id, b.planHash), 'not for another hash');
  t.same(events, [{ id: r.id, missionId: a.id, status: 'running' }, { id: r.id, missionId: a.id, status: 'succeeded' }]);
});

t.test('a mission that succeeded with an error problem, or a world that throws, is a failed rehearsal', async (t) => {
  const { store, service, mission, end } = setup(t);
  const a = mission('a');
  service.start(a.id, 'op');
  end(outcome('succeeded', { problems: [{ code: 'ROBOTS_TOO_CLOSE', severity: 'error', message: 'amr-1 and amr-2 …' }] }));
  await service.close();
  t.equal(store.rehearsals.latest(a.id)?.status, 'failed');
  t.notOk(store.rehearsals.passed(a.id, a.planHash));

  const again = setup(t);
  const b = again.mission('b');
  again.service.start(b.id, 'op');
  again.end(new Error('no port free'));
  await again.service.close();
  t.match(again.store.rehearsals.latest(b.id), { status: 'failed', result: { outcome: 'not_started', reason: 'the rehearsal could not run: no port free' } });
});

t.test('only a mission awaiting approval is rehearsed', async (t) => {
  const { store, service, mission } = setup(t);
  const a = mission('a');
  store.missions.transition(a.id, 'cancelled', 'op');
  t.throws(() => service.start(a.id, 'op'), { code: 'INVALID_TRANSITION' });
  t.throws(() => service.start('m_none', 'op'), { code: 'NOT_FOUND' });
  t.equal(store.rehearsals.latest(a.id), undefined, 'nothing recorded');
});

t.test('a rehearsal a restart cut off is marked failed when the gateway starts again', async (t) => {
  const first = setup(t);
  const a = first.mission('a');
  first.service.start(a.id, 'op');
  first.store.close();
  const second = setup(t, first.dir);
  t.match(second.store.rehearsals.latest(a.id), { status: 'failed', result: { outcome: 'cancelled', reason: 'the gateway stopped during the rehearsal' } });
  t.same(second.store.rehearsals.running(), []);
});
