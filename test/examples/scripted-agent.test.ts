// The example agent (examples/scripted-agent.ts) runs its loop against the demo as `npm start`
// runs it (embedded broker, virtual fleet over MQTT, here at 100× speed): from a goal whose words
// the site spells otherwise, to a plan fixed from the check's hints, to a succeeded mission.
import t from 'tap';
import { readConfig } from '../../gateway/config.ts';
import { startGateway } from '../../gateway/main.ts';
import { applyHints, draftPlan, runScriptedAgent, type SiteView } from '../../examples/scripted-agent.ts';
import { tempDirFor } from '../gateway/harness.ts';
import { until } from '../helpers/wait.ts';

t.test('from a goal to a succeeded mission, with the plan fixed from the hints', async (t) => {
  const g = await startGateway(readConfig({ PHYGATE_PORT: '0', PHYGATE_MQTT_PORT: '0', PHYGATE_DATA_DIR: tempDirFor(t), PHYGATE_LOG_LEVEL: 'silent', PHYGATE_FLEET_SPEED: '100' }));
  t.teardown(() => g.close());
  await until('every device online', () => g.fleet.list().every((d) => d.online));
  const agent = g.store.tokens.create('agent', 'example-agent').token;
  const operator = g.store.tokens.create('operator', 'example-operator').token;
  const lines: string[] = [];
  const result = await runScriptedAgent({ url: g.url, token: agent, operatorToken: operator, goal: 'mill 2 brackets on cnc-1, then deliver them to shelf2', log: (l) => lines.push(l), pollMs: 100 });

  if (result.mission.status !== 'succeeded') t.comment(lines.join('\n'));
  t.equal(result.mission.status, 'succeeded', 'the mission succeeded');
  t.equal(g.store.missions.get(result.mission.id)?.status, 'succeeded', 'the gateway says so too');
  t.same(
    result.fixes.map((f) => [f.code, f.field, f.from, f.to]).sort(),
    [
      ['UNKNOWN_LOCATION', 'params.at', 'shelf2', 'shelf-2'],
      ['UNKNOWN_PROGRAM', 'params.program', 'brackets', 'bracket-v2'],
    ],
    'both names fixed from the hints',
  );
  t.same(result.verdicts.at(0), 'fail', 'the first draft failed its check');
  t.not(result.verdicts.at(-1), 'fail', 'the last check passed');
  const plan = g.store.missions.get(result.mission.id)!.plan as { steps: { params: Record<string, unknown> }[] };
  t.ok(plan.steps.some((s) => s.params.program === 'bracket-v2') && plan.steps.some((s) => s.params.at === 'shelf-2'), 'the mission runs the fixed plan');
  const rows = g.store.audit.list();
  t.equal(rows.filter((r) => r.operation === 'plans.check' && r.actor === 'example-agent').length, result.verdicts.length, 'every check went through the gateway');
  t.match(rows.filter((r) => r.operation === 'missions.approve'), [{ actor: 'example-operator', status: 200 }], 'approved with the operator token, not the agent one');
  t.ok(lines.some((l) => /fix from the hint: step \w+ params\.program 'brackets' → 'bracket-v2'/.test(l)), 'it says what it fixed');
  t.ok(lines.some((l) => l === `mission ${result.mission.id}: succeeded`), 'and follows the mission to its end');
});

const SITE: SiteView = {
  name: 'two machines',
  stations: [{ id: 'cnc-1', kind: 'machine' }, { id: 'printer-1', kind: 'machine' }, { id: 'shelf-2', kind: 'shelf' }],
  devices: [
    { id: 'cnc-1', kind: 'cnc', station: 'cnc-1' },
    { id: 'printer-1', kind: 'printer', station: 'printer-1' },
    { id: 'arm-1', kind: 'arm', reaches: ['cnc-1'] },
  ],
};

t.test('the draft: an arm loads the courier where it reaches the machine, else the courier picks up', async (t) => {
  const milled = draftPlan('mill 4 bracket-v2 on cnc-1 then deliver to shelf-2', SITE);
  t.same(milled.steps.map((s) => [s.id, s.action, s.device, s.after ?? []]), [
    ['mill', 'machine.run', 'cnc-1', []],
    ['fetch', 'navigate', '$courier', []],
    ['load', 'arm.transfer', 'arm-1', ['mill', 'fetch']],
    ['carry', 'drop', '$courier', ['load']],
  ]);
  t.same(milled.steps[0]!.params, { program: 'bracket-v2', count: 4 });
  t.same(milled.roles, { courier: { kind: 'amr' } });
  const printed = draftPlan('print clip x on printer-1; bring it to shelf 2', SITE);
  t.same(printed.steps.map((s) => [s.action, s.params, s.after ?? []]), [
    ['machine.run', { program: 'clip-x', count: 1 }, []],
    ['pick', { at: 'printer-1' }, ['print']],
    ['drop', { at: 'shelf-2' }, ['pick']],
  ]);
  t.throws(() => draftPlan('deliver to shelf-2', SITE), /deliver what\?/);
  t.throws(() => draftPlan('dance on the table', SITE), /not a goal this agent understands/);
});

t.test('hints: a suggestion replaces the value the message quotes; what has none is left', async (t) => {
  const plan = draftPlan('mill 1 bracket on cnc-1, deliver to shelf-2', SITE);
  plan.steps[2]!.after = ['mil', 'fetch'];
  const { plan: fixed, fixes, left } = applyHints(plan, [
    { code: 'UNKNOWN_DEPENDENCY', severity: 'error', step: 'load', message: "step 'load' waits for step 'mil', which the plan does not have", hint: "did you mean 'mill'? known steps: carry, fetch, load, mill" },
    { code: 'ROBOT_CONFLICT', severity: 'warning', step: 'fetch', message: 'a wait', hint: 'no change needed' },
    { code: 'BATTERY_LOW', severity: 'error', step: 'carry', message: "amr-1 falls to 10 %", hint: 'charge it first' },
  ]);
  t.same(fixes, [{ code: 'UNKNOWN_DEPENDENCY', step: 'load', field: 'after[0]', from: 'mil', to: 'mill' }]);
  t.same(fixed.steps[2]!.after, ['mill', 'fetch']);
  t.same(plan.steps[2]!.after, ['mil', 'fetch'], 'the plan given is left as it was');
  t.same(left.map((i) => i.code), ['BATTERY_LOW'], 'warnings need nothing; an error without a suggestion is left');
  delete (plan.roles as Record<string, unknown>).courier;
  const roles = applyHints(plan, [{ code: 'UNKNOWN_ROLE', severity: 'error', step: 'fetch', message: "'$courier' is not declared", hint: 'declare it in roles, e.g. "roles": { "courier": { "kind": "amr" } }' }]);
  t.same(roles.plan.roles, { courier: { kind: 'amr' } }, 'a role declared as the hint shows');
});
