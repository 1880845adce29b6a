// The manager agent's loop with a language model writing the plan: the model gets the gateway's
// write_plan prompt (the plan format in brief, this site's stations and devices) and three of its
// MCP tools — get_site, check_plan, submit_mission — and fixes its plan from the check's hints
// until it passes and is submitted; then this program follows the mission to its end. Everything
// the model does goes through the gateway's MCP server with the agent's token.
//
// It runs only when a model is configured (no package beyond the MCP SDK; plain fetch):
//   OPENAI_API_KEY [OPENAI_MODEL, OPENAI_BASE_URL]   OpenAI, or any OpenAI-compatible server
//   ANTHROPIC_API_KEY [ANTHROPIC_MODEL]              Anthropic's Messages API
//   OPENAI_BASE_URL alone (e.g. http://127.0.0.1:11434/v1 for Ollama) with OPENAI_MODEL: a local server
// Without one it says how to configure one and exits 0.
//
//   node --import tsx examples/llm-agent.ts --url http://127.0.0.1:8080 --token AGENT_TOKEN \
//     [--operator-token OPERATOR_TOKEN] "machine 2 brackets and put them on shelf 2"
import { pathToFileURL } from 'node:url';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { commonArgs, connect, followMission, USAGE_OPTIONS, type Mission } from './mcp-session.ts';

export const DEFAULT_GOAL = 'machine 2 brackets on cnc-1 and put them on shelf 2';
/** The tools the model may call: enough to write a plan and submit it, nothing an operator does. */
export const MODEL_TOOLS = ['get_site', 'check_plan', 'submit_mission'] as const;

export type ModelConfig =
  | { api: 'openai'; baseUrl: string; model: string; apiKey?: string }
  | { api: 'anthropic'; baseUrl: string; model: string; apiKey: string };

/** The model the environment configures, or undefined. OpenAI(-compatible) first, then Anthropic. */
export function modelConfig(env: NodeJS.ProcessEnv): ModelConfig | undefined {
  const base = env.OPENAI_BASE_URL?.replace(/\/+$/, '');
  if (env.OPENAI_API_KEY || (base && env.OPENAI_MODEL)) {
    return { api: 'openai', baseUrl: base ?? 'https://api.openai.com/v1', model: env.OPENAI_MODEL ?? 'gpt-4o-mini', ...(env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY } : {}) };
  }
  if (env.ANTHROPIC_API_KEY) return { api: 'anthropic', baseUrl: 'https://api.anthropic.com/v1', model: env.ANTHROPIC_MODEL ?? 'claude-sonnet-4-5', apiKey: env.ANTHROPIC_API_KEY };
  return undefined;
}

export const HOW_TO_CONFIGURE = [
  'No language model is configured, so this example does nothing (examples/scripted-agent.ts runs the same loop without one).',
  'Configure one with environment variables:',
  '  OPENAI_API_KEY=…  [OPENAI_MODEL=gpt-4o-mini] [OPENAI_BASE_URL=https://api.openai.com/v1]',
  '  ANTHROPIC_API_KEY=…  [ANTHROPIC_MODEL=claude-sonnet-4-5]',
  '  OPENAI_BASE_URL=http://127.0.0.1:11434/v1 OPENAI_MODEL=qwen2.5  (any OpenAI-compatible server, e.g. Ollama; no key needed)',
].join('\n');

export interface ToolCall {
  id: string;
  name: string;
  args: Record<string, unknown>;
}

export interface ToolAnswer {
  id: string;
  text: string;
  isError: boolean;
}

/** One conversation with a model: a user message or the answers to its tool calls in, its next turn out. */
export interface Chat {
  send(input: string | ToolAnswer[]): Promise<{ text: string; calls: ToolCall[] }>;
}

const SYSTEM =
  'You are the manager agent of a small shop floor run by phygate. Write a plan, call check_plan, and while the verdict is fail change the plan exactly as the issues\' hints say and check again. When it passes, call submit_mission once with that plan. Do not explain; call the tools.';

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as unknown;
}

/** The MCP tools as the model's API describes functions. */
export function modelTools(tools: Tool[], api: ModelConfig['api']) {
  const offered = tools.filter((t) => (MODEL_TOOLS as readonly string[]).includes(t.name));
  return api === 'openai'
    ? offered.map((t) => ({ type: 'function', function: { name: t.name, description: t.description ?? '', parameters: t.inputSchema } }))
    : offered.map((t) => ({ name: t.name, description: t.description ?? '', input_schema: t.inputSchema }));
}

/** A chat over OpenAI's chat completions API (and the servers that speak it). */
function openaiChat(config: Extract<ModelConfig, { api: 'openai' }>, tools: Tool[]): Chat {
  const messages: unknown[] = [{ role: 'system', content: SYSTEM }];
  const headers: Record<string, string> = config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {};
  return {
    async send(input) {
      if (typeof input === 'string') messages.push({ role: 'user', content: input });
      else for (const a of input) messages.push({ role: 'tool', tool_call_id: a.id, content: a.text });
      const res = (await post(`${config.baseUrl}/chat/completions`, headers, { model: config.model, messages, tools: modelTools(tools, 'openai') })) as {
        choices: { message: { content?: string | null; tool_calls?: { id: string; function: { name: string; arguments: string } }[] } }[];
      };
      const message = res.choices[0]!.message;
      messages.push(message);
      return {
        text: message.content ?? '',
        calls: (message.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, args: parseArgs(c.function.arguments) })),
      };
    },
  };
}

/** A chat over Anthropic's Messages API. */
function anthropicChat(config: Extract<ModelConfig, { api: 'anthropic' }>, tools: Tool[]): Chat {
  const messages: unknown[] = [];
  const headers = { 'x-api-key': config.apiKey, 'anthropic-version': '2023-06-01' };
  return {
    async send(input) {
      messages.push({ role: 'user', content: typeof input === 'string' ? input : input.map((a) => ({ type: 'tool_result', tool_use_id: a.id, content: a.text, is_error: a.isError })) });
      const res = (await post(`${config.baseUrl}/messages`, headers, { model: config.model, max_tokens: 4096, system: SYSTEM, messages, tools: modelTools(tools, 'anthropic') })) as {
        content: ({ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> })[];
      };
      messages.push({ role: 'assistant', content: res.content });
      return {
        text: res.content.map((b) => (b.type === 'text' ? b.text : '')).join(''),
        calls: res.content.flatMap((b) => (b.type === 'tool_use' ? [{ id: b.id, name: b.name, args: b.input }] : [])),
      };
    },
  };
}

/** A model's tool arguments: JSON, or an empty object the tool's schema then refuses with its reason. */
function parseArgs(json: string): Record<string, unknown> {
  try {
    return JSON.parse(json || '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
}

export function chatFor(config: ModelConfig, tools: Tool[]): Chat {
  return config.api === 'openai' ? openaiChat(config, tools) : anthropicChat(config, tools);
}

export interface LlmAgentOptions {
  url: string;
  token: string;
  operatorToken?: string;
  goal: string;
  chat: (tools: Tool[]) => Chat;
  log: (line: string) => void;
  /** Model turns before the agent gives up. */
  maxTurns?: number;
  pollMs?: number;
}

/** The model writes, checks, fixes and submits the plan; then the mission is followed to its end. */
export async function runLlmAgent(opts: LlmAgentOptions): Promise<{ mission: Mission; verdicts: string[] }> {
  const agent = await connect(opts.url, opts.token, 'phygate-llm-agent');
  try {
    const { tools } = await agent.client.listTools();
    const chat = opts.chat(tools);
    // The gateway's own prompt teaches the format with this site's names.
    const prompt = await agent.client.getPrompt({ name: 'write_plan', arguments: { goal: opts.goal } });
    const first = prompt.messages.map((m) => (m.content.type === 'text' ? m.content.text : '')).join('\n');
    const verdicts: string[] = [];
    let turn = await chat.send(first);
    for (let n = 1; n <= (opts.maxTurns ?? 12); n++) {
      if (turn.text) opts.log(`model: ${turn.text.trim()}`);
      if (turn.calls.length === 0) {
        turn = await chat.send('Call check_plan with your plan, or submit_mission once it passes.');
        continue;
      }
      const answers: ToolAnswer[] = [];
      for (const call of turn.calls) {
        if (!(MODEL_TOOLS as readonly string[]).includes(call.name)) {
          answers.push({ id: call.id, text: `${call.name} is not offered to the model`, isError: true });
          continue;
        }
        const r = (await agent.client.callTool({ name: call.name, arguments: call.args })) as CallToolResult;
        const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
        opts.log(`${call.name}: ${text.split('\n')[0]}`);
        answers.push({ id: call.id, text, isError: r.isError === true });
        const out = r.structuredContent as { verdict?: string; accepted?: boolean; mission?: Mission } | undefined;
        if (call.name === 'check_plan' && out?.verdict) verdicts.push(out.verdict);
        if (call.name === 'submit_mission' && out?.accepted && out.mission) {
          const mission = await followMission(agent, out.mission, { url: opts.url, ...(opts.operatorToken ? { operatorToken: opts.operatorToken } : {}), log: opts.log, pollMs: opts.pollMs ?? 1000, timeoutMs: 3_600_000 });
          return { mission, verdicts };
        }
      }
      turn = await chat.send(answers);
    }
    throw new Error(`the model did not submit a passing plan in ${opts.maxTurns ?? 12} turns`);
  } finally {
    await agent.close();
  }
}

/** The command: 0 when no model is configured (after saying how) or the mission succeeded. */
export async function llmAgentCommand(argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const config = modelConfig(env);
  if (!config) {
    out(HOW_TO_CONFIGURE);
    return 0;
  }
  const args = commonArgs(argv, env);
  if (typeof args === 'string') {
    err(`${args}\nusage: node --import tsx examples/llm-agent.ts ${USAGE_OPTIONS}`);
    return 2;
  }
  out(`model: ${config.model} (${config.api} API at ${config.baseUrl})`);
  try {
    const { mission, verdicts } = await runLlmAgent({ ...args, goal: args.goal ?? DEFAULT_GOAL, chat: (tools) => chatFor(config, tools), log: out });
    out(`done: mission ${mission.id} ${mission.status} after ${verdicts.length} check(s): ${verdicts.join(', ')}`);
    return mission.status === 'succeeded' ? 0 : 1;
  } catch (e) {
    err(`llm agent: ${(e as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await llmAgentCommand(process.argv.slice(2), process.env, (l) => console.log(l), (l) => console.error(l));
}
