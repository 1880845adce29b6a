// What both example agents share: the connection to a gateway's MCP server (the official SDK
// client over Streamable HTTP), tool calls that answer the structured result or throw the
// gateway's refusal, the optional operator approval, and following a mission to its end.
// Only the SDK and Node: an agent outside this repository would be written the same way.
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** The gateway's /mcp endpoint from its base URL (http://host:8080) or from the endpoint itself. */
export function mcpUrl(url: string): URL {
  const u = new URL(url);
  const path = u.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/mcp')) u.pathname = `${path}/mcp`;
  return u;
}

export interface Connection {
  client: Client;
  /** Calls a tool; the structured result, or an Error with the gateway's refusal (its code first). */
  call<T = Record<string, unknown>>(name: string, args?: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

/** An MCP client connected to the gateway with a token. */
export async function connect(url: string, token: string, name: string): Promise<Connection> {
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  // Listing the tools first makes the SDK check every structured result against its output schema.
  await client.listTools();
  return {
    client,
    async call<T>(tool: string, args: Record<string, unknown> = {}) {
      const r = (await client.callTool({ name: tool, arguments: args })) as CallToolResult;
      if (r.isError) throw new Error(r.content.map((c) => (c.type === 'text' ? c.text : '')).find((x) => x) ?? `${tool} failed`);
      return r.structuredContent as T;
    },
    close: () => client.close(),
  };
}

/** The fields of a mission the agents read (get_mission answers more). */
export interface Mission {
  id: string;
  status: string;
  planHash: string;
  reason?: string | null;
  steps: { id: string; status: string; device?: string | null }[];
}

export const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'rejected']);

export interface FollowOptions {
  /** Approves the mission with this operator token; without it, an operator approves it on the tablet. */
  operatorToken?: string;
  url: string;
  log: (line: string) => void;
  /** Between two reads of the mission. */
  pollMs: number;
  /** Gives up (the mission goes on) after this long. */
  timeoutMs: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Approves the mission if given an operator token, then reads it until it ends; logs each change of it and its steps. */
export async function followMission(agent: Connection, mission: Mission, opts: FollowOptions): Promise<Mission> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  if (mission.status === 'awaiting_approval') {
    if (opts.operatorToken) {
      // The agent's own token may not approve: approval is an operator's, so a second connection.
      const operator = await connect(opts.url, opts.operatorToken, 'example-operator');
      try {
        mission = await operator.call<Mission>('approve_mission', { id: mission.id, planHash: mission.planHash });
        opts.log(`approved mission ${mission.id} with the operator token`);
      } finally {
        await operator.close();
      }
    } else opts.log(`mission ${mission.id} awaits an operator's approval (on the tablet, or POST /v1/missions/${mission.id}/approve)`);
  }
  const seen = new Map<string, string>();
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    for (const s of mission.steps) {
      if (seen.get(s.id) !== s.status) opts.log(`  step ${s.id}${s.device ? ` on ${s.device}` : ''}: ${s.status}`);
      seen.set(s.id, s.status);
    }
    if (seen.get('') !== mission.status) opts.log(`mission ${mission.id}: ${mission.status}${mission.reason ? ` (${mission.reason})` : ''}`);
    seen.set('', mission.status);
    if (FINAL.has(mission.status)) return mission;
    if (Date.now() > deadline) throw new Error(`mission ${mission.id} is still ${mission.status} after ${opts.timeoutMs / 1000} s; it goes on without this agent`);
    await sleep(opts.pollMs);
    mission = await agent.call<Mission>('get_mission', { id: mission.id });
  }
}

export interface CommonArgs {
  url: string;
  token: string;
  operatorToken?: string;
  goal?: string;
}

export const USAGE_OPTIONS = '--url URL --token AGENT_TOKEN [--operator-token TOKEN] [GOAL…]  (or PHYGATE_URL, PHYGATE_TOKEN, PHYGATE_OPERATOR_TOKEN)';

/** The command line (or the environment): the gateway, the tokens and the goal (the words left over). */
export function commonArgs(argv: string[], env: NodeJS.ProcessEnv): CommonArgs | string {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { url: { type: 'string' }, token: { type: 'string' }, 'operator-token': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const url = values.url ?? env.PHYGATE_URL ?? 'http://127.0.0.1:8080';
  const token = values.token ?? env.PHYGATE_TOKEN;
  if (!token) return "an agent token is needed: --token or PHYGATE_TOKEN ('npm run phygate -- token create --role agent --name NAME' makes one)";
  const operatorToken = values['operator-token'] ?? env.PHYGATE_OPERATOR_TOKEN;
  const goal = positionals.join(' ').trim();
  return { url, token, ...(operatorToken ? { operatorToken } : {}), ...(goal ? { goal } : {}) };
}
