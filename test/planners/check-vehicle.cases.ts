// What a VDA 5050 vehicle says against a plan: a map other than the site's (DEVICE_WRONG_MAP),
// and, from its factsheet, an action it does not list (DEVICE_UNSUPPORTED_ACTION) or figures below
// the site's (DEVICE_LIMITS). The factsheets are compared with the site as the master compares them.
import t from 'tap';
import type { DeviceState } from '../../planners/fleet.ts';
import type { Amr } from '../../planners/site.ts';
import { compareFactsheet } from '../../robots/vda5050/factsheet.ts';
import type { Factsheet } from '../../robots/vda5050/schemas.ts';
import { factsheetOf } from '../../robots/vda5050/vehicle-checks.ts';
import { CANONICAL_ROLES, CANONICAL_STEPS, check, demo, parkedFleet } from './fixtures/demo.ts';

const amr1 = demo.index.device('amr-1') as Amr;

/** The virtual AMR's own factsheet for amr-1 (it matches the site), changed by `edit`. */
function sheet(edit: (f: Factsheet) => void = () => {}): Factsheet {
  const f = structuredClone({ headerId: 1, timestamp: '2026-12-01T00:00:00.000Z', version: '2.0.0', manufacturer: 'phygate', serialNumber: 'amr-1', ...factsheetOf(amr1) }) as unknown as Factsheet;
  edit(f);
  return f;
}

function fleetWith(id: string, patch: Partial<DeviceState>): Map<string, DeviceState> {
  const fleet = parkedFleet();
  fleet.set(id, { ...fleet.get(id)!, ...patch });
  return fleet;
}

const withoutAction = (type: string) => (f: Factsheet) => {
  f.protocolFeatures!.agvActions = f.protocolFeatures!.agvActions.filter((a) => a.actionType !== type);
};

t.test("the virtual AMR's factsheet matches the site: no problems, and the check says nothing", async (t) => {
  const s = compareFactsheet(amr1, sheet(), '2026-12-01T00:00:00.000Z');
  t.same(s.problems, []);
  t.equal(s.speedMax, 1);
  t.equal(s.maxLoadMass, 30);
  t.ok(s.actions!.node.includes('pick') && s.actions!.instant.includes('cancelOrder'));
  const r = check([{ id: 'p', action: 'pick', device: 'amr-1', params: { at: 'shelf-1' } }], { fleet: fleetWith('amr-1', { factsheet: s }) });
  t.same(r.issues.map((i) => i.code), []);
  t.equal(r.verdict, 'pass');
});

t.test('compareFactsheet: each shortfall named with its field', async (t) => {
  const s = compareFactsheet(
    amr1,
    sheet((f) => {
      withoutAction('pick')(f);
      // drop offered, but only as an instant action: phygate sends it at a node.
      f.protocolFeatures!.agvActions = f.protocolFeatures!.agvActions.map((a) => (a.actionType === 'drop' ? { ...a, actionScopes: ['INSTANT'] } : a));
      f.physicalParameters!.speedMax = 0.8;
      f.physicalParameters!.decelerationMax = 0.5;
      f.typeSpecification!.maxLoadMass = 20;
      f.physicalParameters!.length = 1.1;
    }),
    'now',
  );
  t.same(
    s.problems.map((p) => [p.kind, p.action ?? p.field]),
    [
      ['action', 'pick'],
      ['action', 'drop'],
      ['speed', 'physicalParameters.speedMax'],
      ['deceleration', 'physicalParameters.decelerationMax'],
      ['payload', 'typeSpecification.maxLoadMass'],
      ['footprint', 'physicalParameters.length/width, agvGeometry.envelopes2d'],
    ],
  );
  t.match(s.problems[1]!.message, /in scope NODE/);
  t.match(s.problems[2]!.message, /limits\.maxSpeed 1 m\/s is above the vehicle's physicalParameters\.speedMax 0\.8/);
  // A factsheet without agvActions says nothing of actions; one without physicalParameters nothing of limits.
  const bare = compareFactsheet(amr1, { headerId: 0, timestamp: 'x', version: '2.1.0', manufacturer: 'phygate', serialNumber: 'amr-1' } as Factsheet, 'now');
  t.same(bare.problems, []);
  t.equal(bare.actions, undefined);
});

t.test('DEVICE_UNSUPPORTED_ACTION: a pick on a vehicle whose factsheet lists no pick; a role takes another', async (t) => {
  const s = compareFactsheet(amr1, sheet(withoutAction('pick')), 'now');
  const fleet = fleetWith('amr-1', { factsheet: s });
  const direct = check([{ id: 'p', action: 'pick', device: 'amr-1', params: { at: 'shelf-1' } }], { fleet });
  t.equal(direct.verdict, 'fail');
  const issue = direct.issues.find((i) => i.code === 'DEVICE_UNSUPPORTED_ACTION')!;
  t.match(issue, { step: 'p', device: 'amr-1', severity: 'error' });
  t.match(issue.message, /does not list 'pick' \(scope NODE\)/);
  t.match(issue.hint, /amr-2, amr-3/, 'the hint names the vehicles that list it');
  // A navigate needs no pick: no issue.
  t.same(check([{ id: 'n', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }], { fleet }).issues.map((i) => i.code), []);
  // A role near amr-1 would bind it first; the check then takes another AMR that passes.
  const role = check([{ id: 'p', action: 'pick', device: '$courier', params: { at: 'shelf-1' } }], { fleet, extra: { roles: { courier: { kind: 'amr', near: 'dock-a' } } } });
  t.equal(role.verdict, 'pass');
  t.not(role.assignments.courier, 'amr-1');
  t.ok(role.tried?.some((r) => r.assignments.courier === 'amr-1' && r.issues.includes('DEVICE_UNSUPPORTED_ACTION')), 'amr-1 was tried and failed for it');
});

t.test('DEVICE_UNSUPPORTED_ACTION: a vehicle that cannot be stopped (no cancelOrder) fails any step', async (t) => {
  const fleet = fleetWith('amr-1', { factsheet: compareFactsheet(amr1, sheet(withoutAction('cancelOrder')), 'now') });
  const r = check([{ id: 'n', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }], { fleet });
  t.same(r.issues.map((i) => i.code), ['DEVICE_UNSUPPORTED_ACTION']);
  t.match(r.issues[0]!.message, /'cancelOrder' \(scope INSTANT\).*STOP/);
});

t.test('DEVICE_LIMITS: the site assumes a faster vehicle than its factsheet; payload only for a pick', async (t) => {
  const slow = fleetWith('amr-1', { factsheet: compareFactsheet(amr1, sheet((f) => (f.physicalParameters!.speedMax = 0.6)), 'now') });
  const r = check([{ id: 'n', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }], { fleet: slow });
  t.same(r.issues.map((i) => i.code), ['DEVICE_LIMITS']);
  t.match(r.issues[0]!.hint, /limits\.maxSpeed/);
  const light = fleetWith('amr-1', { factsheet: compareFactsheet(amr1, sheet((f) => (f.typeSpecification!.maxLoadMass = 10)), 'now') });
  t.same(check([{ id: 'n', action: 'navigate', device: 'amr-1', params: { to: 'shelf-1' } }], { fleet: light }).issues, [], 'no payload needed to drive');
  const pick = check([{ id: 'p', action: 'pick', device: 'amr-1', params: { at: 'shelf-1' } }], { fleet: light });
  t.same(pick.issues.map((i) => i.code), ['DEVICE_LIMITS']);
  t.match(pick.issues[0]!.hint, /payloadKg/);
  // The canonical plan: the arm loads the courier, which then drops. With every AMR too light, the load is the problem.
  const allLight = parkedFleet();
  for (const id of ['amr-1', 'amr-2', 'amr-3']) {
    const amr = demo.index.device(id) as Amr;
    allLight.set(id, { ...allLight.get(id)!, factsheet: compareFactsheet(amr, sheet((f) => (f.typeSpecification!.maxLoadMass = 10)), 'now') });
  }
  const canonical = check(CANONICAL_STEPS, { extra: CANONICAL_ROLES, fleet: allLight });
  t.same(canonical.issues.map((i) => [i.code, i.step, i.device]), [['DEVICE_LIMITS', 'load', canonical.assignments.courier]], "the arm's transfer onto the courier");
});

t.test('DEVICE_WRONG_MAP: named with both maps; a role never binds the vehicle; the right map again passes', async (t) => {
  const wrong = fleetWith('amr-2', { mapId: 'local', state: 'wrong map' });
  const direct = check([{ id: 'go', action: 'navigate', device: 'amr-2', params: { to: 'shelf-1' } }], { fleet: wrong });
  t.equal(direct.verdict, 'fail');
  const issue = direct.issues.find((i) => i.code === 'DEVICE_WRONG_MAP')!;
  t.match(issue, { step: 'go', device: 'amr-2' });
  t.match(issue.hint, /reports map 'local'; set its map to 'demo-hall'/);
  // amr-2 stands at dock-b: the nearest to a step there, yet not bound, nor tried.
  const steps = [{ id: 'go', action: 'navigate' as const, device: '$courier', params: { to: 'dock-b' } }];
  const role = check(steps, { fleet: wrong, extra: CANONICAL_ROLES });
  t.not(role.assignments.courier, 'amr-2');
  t.notOk(role.tried?.some((r) => r.assignments.courier === 'amr-2'), 'amr-2 is no candidate');
  t.notOk(role.issues.some((i) => i.code === 'DEVICE_WRONG_MAP'));
  // Every AMR on another map: the role cannot be bound, and says why.
  const all = parkedFleet();
  for (const id of ['amr-1', 'amr-2', 'amr-3']) all.set(id, { ...all.get(id)!, mapId: 'local' });
  const none = check(steps, { fleet: all, extra: CANONICAL_ROLES });
  t.match(none.issues.find((i) => i.code === 'ROLE_UNASSIGNABLE')?.message, /on another map than 'demo-hall'/);
  // Back on the site's map.
  const back = fleetWith('amr-2', { mapId: 'demo-hall' });
  t.equal(check(steps, { fleet: back, extra: CANONICAL_ROLES }).assignments.courier, 'amr-2');
  t.same(check([{ id: 'go', action: 'navigate', device: 'amr-2', params: { to: 'shelf-1' } }], { fleet: back }).issues, []);
});
