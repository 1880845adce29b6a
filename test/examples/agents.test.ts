// The example agents (examples/) run their loop against the demo as `npm start` runs it
// (embedded broker, virtual fleet over MQTT, here at 100× speed and every AMR on the analytic
// motion model, which at that speed costs far less than a policy's control loop), one gateway for the file: the
// scripted agent from a goal whose words the site spells otherwise, to a plan fixed from the
// check's hints, to a succeeded mission; the LLM agent's loop with a scripted stand-in for the
// model (no network), and its "no model configured" path.
import t from 'tap';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { readConfig } from '../../gateway/config.ts';
import { startGateway } from '../../gateway/main.ts';
import { applyHints, draftPlan, runScriptedAgent, type SiteView } from '../../examples/scripted-agent.ts';
import { HOW_TO_CONFIGURE, llmAgentCommand, modelConfig, modelTools, runLlmAgent, type Chat, type ToolAnswer } from '../../examples/llm-agent.ts';
import { demoSiteCopy, tempDirFor } from '../gateway/harness.ts';
import { withoutPolicies } from '../helpers/demo-site.ts';
import { until } from '../helpers/wait.ts';
import { TEST_GATEWAY_ENV } from '../helpers/child-env.ts';

const g = await startGateway(readConfig({ ...TEST_GATEWAY_ENV, PHYGATE_PORT: '0', PHYGATE_MQTT_PORT: '0', PHYGATE_DATA_DIR: tempDirFor(t), PHYGATE_LOG_LEVEL: 'silent', PHYGATE_FLEET_SPEED: '100', PHYGATE_SITE: demoSiteCopy(t, withoutPolicies) }));
t.teardown(() => g.close());
await until('every device online', () => g.fleet.list().every((d) => d.online));
const agent = g.store.tokens.create('agent', 'example-agent').token;
const operator = g.store.tokens.create('operator', 'example-operator').token;

t.test('the scripted agent: from a goal to a succeeded mission, with the plan fixed from the hints', async (t) => {
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
  t.match(rows.filter((r) => r.operation === 'missions.approve' && r.path === '/mcp'), [{ actor: 'example-operator', status: 200 }], 'approved with the operator token, not the agent one');
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

t.test("the LLM agent's loop, with a scripted stand-in for the model: the hint fixes the plan, the mission succeeds", async (t) => {
  const plan = (program: string) => ({
    schema: 'phygate.plan/v1',
    roles: { courier: { kind: 'amr' } },
    steps: [
      { id: 'mill', action: 'machine.run', device: 'cnc-1', params: { program } },
      { id: 'pick', action: 'pick', device: '$courier', params: { at: 'cnc-1' }, after: ['mill'] },
      { id: 'drop', action: 'drop', device: '$courier', params: { at: 'shelf-3' }, after: ['pick'] },
    ],
  });
  const seen: (string | ToolAnswer[])[] = [];
  let offered: string[] = [];
  // What a model would answer, turn by turn: a plan with a wrong program, the one the hint names, then submit.
  const standInModel = (tools: Tool[]): Chat => {
    offered = (modelTools(tools, 'openai') as { function: { name: string } }[]).map((x) => x.function.name);
    return {
      async send(input) {
        seen.push(input);
        if (typeof input === 'string') return { text: 'checking a first draft', calls: [{ id: 'c1', name: 'check_plan', args: { plan: plan('bracket') } }] };
        const meant = /did you mean '([^']+)'/.exec(input[0]!.text)?.[1];
        if (meant) return { text: '', calls: [{ id: 'c2', name: 'check_plan', args: { plan: plan(meant) } }] };
        return { text: '', calls: [{ id: 'c3', name: 'submit_mission', args: { plan: plan('bracket-v2') } }] };
      },
    };
  };
  const lines: string[] = [];
  const { mission, verdicts } = await runLlmAgent({ url: g.url, token: agent, operatorToken: operator, goal: 'mill a bracket and shelve it on shelf 3', chat: standInModel, log: (l) => lines.push(l), pollMs: 100 });
  t.same(offered.sort(), ['check_plan', 'get_site', 'submit_mission'], 'the model is offered the tools to write and submit a plan, no operator ones');
  t.match(seen[0], /mill a bracket and shelve it on shelf 3[\s\S]*cnc-1/, "the model's first message is the gateway's write_plan prompt for the goal, with the site's names");
  t.match(seen[1], [{ id: 'c1', isError: false, text: /UNKNOWN_PROGRAM[\s\S]*did you mean 'bracket-v2'/ }], 'the check answers the issue with its hint');
  t.equal(verdicts.length, 2);
  t.equal(verdicts[0], 'fail', 'the first draft failed');
  t.not(verdicts[1], 'fail', 'fixed from the hint, it passed');
  if (mission.status !== 'succeeded') t.comment(lines.join('\n'));
  t.equal(mission.status, 'succeeded', 'the mission succeeded');
  t.equal(g.store.missions.get(mission.id)?.status, 'succeeded');
});

t.test('the LLM agent without a model configured says how to configure one and exits 0', async (t) => {
  const out: string[] = [];
  const err: string[] = [];
  const rows = g.store.audit.list().length;
  t.equal(await llmAgentCommand(['--url', g.url, '--token', agent], {}, (l) => out.push(l), (l) => err.push(l)), 0);
  t.same(out, [HOW_TO_CONFIGURE]);
  t.match(HOW_TO_CONFIGURE, /OPENAI_API_KEY[\s\S]*ANTHROPIC_API_KEY[\s\S]*OPENAI_BASE_URL/);
  t.same(err, []);
  t.equal(g.store.audit.list().length, rows, 'nothing reached the gateway');
  const configured = await llmAgentCommand([], { OPENAI_API_KEY: 'k' }, (l) => out.push(l), (l) => err.push(l));
  t.equal(configured, 2, 'configured, but no agent token: the usage');
  t.match(err.join('\n'), /an agent token is needed[\s\S]*usage: node --import tsx examples\/llm-agent\.ts/);
});

t.test('which model the environment configures', async (t) => {
  t.equal(modelConfig({}), undefined);
  t.equal(modelConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' }), undefined, 'a base URL without a model is not enough');
  t.same(modelConfig({ OPENAI_API_KEY: 'k' }), { api: 'openai', baseUrl: 'https://api.openai.com/v1', model: 'gpt-4o-mini', apiKey: 'k' });
  t.same(modelConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1/', OPENAI_MODEL: 'qwen2.5' }), { api: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'qwen2.5' }, 'a local server needs no key');
  t.same(modelConfig({ ANTHROPIC_API_KEY: 'a', ANTHROPIC_MODEL: 'm' }), { api: 'anthropic', baseUrl: 'https://api.anthropic.com/v1', model: 'm', apiKey: 'a' });
  const tools = [{ name: 'check_plan', description: 'd', inputSchema: { type: 'object' as const } }, { name: 'approve_mission', inputSchema: { type: 'object' as const } }];
  t.same(modelTools(tools, 'anthropic'), [{ name: 'check_plan', description: 'd', input_schema: { type: 'object' } }], "Anthropic's shape, operator tools left out");
});
