// The LLM agent's two chat APIs (examples/llm-agent.ts) against a loopback stand-in for the model
// server, which records each request and answers a scripted turn: what is sent (the model, the
// tools in the API's shape, the conversation so far with the tool answers tied to their calls)
// and how a turn's text and tool calls are read back. No network.
import { once } from 'node:events';
import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import { chatFor } from '../../examples/llm-agent.ts';

const TOOLS = [
  { name: 'check_plan', description: 'checks a plan', inputSchema: { type: 'object' as const, properties: { plan: { type: 'object' } } } },
  { name: 'stop', inputSchema: { type: 'object' as const } },
];

/** A model server on a free loopback port that answers `turns` in order and records every request. */
async function standInServer(t: Test, turns: unknown[]): Promise<{ url: string; requests: { path: string; headers: Record<string, unknown>; body: Record<string, unknown> }[] }> {
  const requests: { path: string; headers: Record<string, unknown>; body: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += String(d)));
    req.on('end', () => {
      requests.push({ path: req.url!, headers: req.headers, body: JSON.parse(body) as Record<string, unknown> });
      const turn = turns.shift();
      res.writeHead(turn ? 200 : 429, { 'content-type': 'application/json' });
      res.end(JSON.stringify(turn ?? { error: 'no more turns' }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, requests };
}

t.test('OpenAI chat completions: tools as functions, tool answers tied to their call ids', async (t) => {
  const call = { id: 'call_1', type: 'function', function: { name: 'check_plan', arguments: '{"plan":{"steps":[]}}' } };
  const { url, requests } = await standInServer(t, [
    { choices: [{ message: { role: 'assistant', content: null, tool_calls: [call] } }] },
    { choices: [{ message: { role: 'assistant', content: 'done' } }] },
  ]);
  const chat = chatFor({ api: 'openai', baseUrl: `${url}/v1`, model: 'm-1', apiKey: 'k-1' }, TOOLS);
  t.same(await chat.send('write a plan'), { text: '', calls: [{ id: 'call_1', name: 'check_plan', args: { plan: { steps: [] } } }] });
  t.same(await chat.send([{ id: 'call_1', text: 'verdict fail', isError: false }]), { text: 'done', calls: [] });
  t.equal(requests[0]!.path, '/v1/chat/completions');
  t.equal(requests[0]!.headers.authorization, 'Bearer k-1');
  t.match(requests[0]!.body, { model: 'm-1', tools: [{ type: 'function', function: { name: 'check_plan', description: 'checks a plan', parameters: TOOLS[0]!.inputSchema } }] });
  t.equal((requests[0]!.body.tools as unknown[]).length, 1, 'only the tools the model may call');
  t.match(requests[1]!.body.messages, [{ role: 'system' }, { role: 'user', content: 'write a plan' }, { role: 'assistant', tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_1', content: 'verdict fail' }]);
  await t.rejects(chat.send('again'), /chat\/completions: HTTP 429 .*no more turns/, "a refusal says the server's answer");
});

t.test('Anthropic messages: tool_use blocks in, tool_result blocks out', async (t) => {
  const { url, requests } = await standInServer(t, [
    { content: [{ type: 'text', text: 'checking' }, { type: 'tool_use', id: 'tu_1', name: 'check_plan', input: { plan: {} } }] },
  ]);
  const chat = chatFor({ api: 'anthropic', baseUrl: url, model: 'c-1', apiKey: 'ak' }, TOOLS);
  t.same(await chat.send('write a plan'), { text: 'checking', calls: [{ id: 'tu_1', name: 'check_plan', args: { plan: {} } }] });
  await t.rejects(chat.send([{ id: 'tu_1', text: 'not offered', isError: true }]), /HTTP 429/);
  t.equal(requests[0]!.path, '/messages');
  t.match(requests[0]!.headers, { 'x-api-key': 'ak', 'anthropic-version': '2023-06-01' });
  t.match(requests[0]!.body, { model: 'c-1', system: String, tools: [{ name: 'check_plan', input_schema: TOOLS[0]!.inputSchema }] });
  t.match(requests[1]!.body.messages, [
    { role: 'user', content: 'write a plan' },
    { role: 'assistant', content: [{ type: 'text' }, { type: 'tool_use', id: 'tu_1' }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: 'not offered', is_error: true }] },
  ]);
});
