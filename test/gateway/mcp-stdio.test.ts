// `phygate mcp --url --token`, the real binary as an MCP client starts it: the SDK's stdio client
// talks to it, it passes every request on to a real gateway's /mcp, and the gateway decides
// (its own file: a child process, as in cli-process.test.ts).
import { once } from 'node:events';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import t from 'tap';
import { EventHub } from '../../gateway/events.ts';
import { childEnv, spawnNode } from '../helpers/child-env.ts';
import { until } from '../helpers/wait.ts';
import { BIN } from './gateway-process.ts';
import { appFor, canonicalPlan, REPO_ROOT } from './harness.ts';

/** The child's environment, without tap's loader in NODE_OPTIONS (see child-env.ts). */
function env(): Record<string, string> {
  const e = childEnv();
  delete e.NODE_OPTIONS;
  return Object.fromEntries(Object.entries(e).filter((kv): kv is [string, string] => kv[1] !== undefined));
}

t.test('an MCP client on stdio calls the gateway through phygate mcp', async (t) => {
  const hub = new EventHub();
  const h = await appFor(t, { hub });
  const base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--url', base, '--token', h.tokens.agent], cwd: REPO_ROOT, env: env(), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += String(d)));
  const client = new Client({ name: 'stdio-test', version: '1.0.0' });
  await client.connect(transport);
  t.teardown(() => client.close());
  const { tools } = await client.listTools();
  t.ok(tools.some((x) => x.name === 'check_plan' && x.outputSchema), 'the tools, with their output schemas');
  const r = (await client.callTool({ name: 'check_plan', arguments: { plan: canonicalPlan() } })) as CallToolResult;
  t.notOk(r.isError, JSON.stringify(r.content));
  t.match(r.structuredContent, { verdict: 'pass', planHash: /^[0-9a-f]{64}$/ }, 'the report, structured');
  const refused = (await client.callTool({ name: 'approve_mission', arguments: { id: 'm-1', planHash: 'a'.repeat(64) } })) as CallToolResult;
  t.ok(refused.isError);
  t.match(JSON.parse((refused.content.at(-1) as { text: string }).text), { code: 'FORBIDDEN' }, "the gateway refuses the agent's approval");
  t.match(h.store.audit.list().filter((e) => e.operation), [{ operation: 'plans.check', actor: 'agent-test', status: 200 }, { operation: 'missions.approve', status: 403 }], 'audited by the gateway');
  const { resources } = await client.listResources();
  t.ok(resources.some((x) => x.uri === 'phygate://plan-format'), 'resources pass through');
  t.match(stderr, /serving on stdio/, 'it says what it does on stderr, never on stdout');

  // Mission change notifications: what the stateless HTTP door cannot push, the stdio process relays.
  t.match(client.getServerCapabilities()?.resources, { subscribe: true }, 'it offers resource subscriptions');
  const updated: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updated.push(n.params.uri));
  const submitted = (await client.callTool({ name: 'submit_mission', arguments: { plan: canonicalPlan() } })) as CallToolResult;
  const uri = `phygate://missions/${(submitted.structuredContent as { mission: { id: string } }).mission.id}`;
  await t.rejects(client.subscribeResource({ uri: 'phygate://missions/no-such-mission' }), { code: -32602, message: /no mission 'no-such-mission'/ }, 'a mission that does not exist is refused as a read is');
  const streams = hub.subscribers;
  await client.subscribeResource({ uri });
  await until("it follows the gateway's event stream", () => hub.subscribers === streams + 1);
  const res = await h.app.inject({ method: 'POST', url: `${uri.replace('phygate://', '/v1/')}/cancel`, headers: h.auth('operator'), payload: {} });
  t.equal(res.statusCode, 200);
  await until('the client is told the mission changed', () => updated.length > 0);
  t.same(updated, [uri]);
  await client.unsubscribeResource({ uri });
  await until('the stream is closed once nothing is subscribed', () => hub.subscribers === streams);
});

t.test('a token the gateway refuses: exit 2 with the reason', async (t) => {
  const h = await appFor(t);
  const base = await h.app.listen({ port: 0, host: '127.0.0.1' });
  const child = spawnNode([BIN, 'mcp', '--url', base, '--token', 'not-a-token'], { cwd: REPO_ROOT, env: childEnv() });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  const [code] = await once(child, 'exit');
  t.equal(code, 2);
  t.match(stderr, /cannot connect to the gateway's MCP server at http:\/\/127\.0\.0\.1:\d+\/mcp: .*UNAUTHORIZED/);
});

t.test('without --url or --token: the usage, exit 2', async (t) => {
  const child = spawnNode([BIN, 'mcp', '--url', 'http://127.0.0.1:1'], { cwd: REPO_ROOT, env: childEnv() });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  const [code] = await once(child, 'exit');
  t.equal(code, 2);
  t.match(stderr, /usage: phygate mcp --url/);
});
