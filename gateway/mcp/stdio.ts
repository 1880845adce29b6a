// `phygate mcp --url --token`: an MCP server on stdio for clients that start a process, whose
// every request is passed on to a gateway's /mcp with the token. The gateway decides everything
// (roles, audit, STOP); this only carries messages, so both doors stay one. It adds what the
// stateless HTTP door cannot offer: subscriptions to a mission (phygate://missions/{id}), whose
// changes it learns from the gateway's event stream (mission-updates.ts).
import { parseArgs } from 'node:util';
import type { Readable, Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { MissionUpdates } from './mission-updates.ts';

export interface StdioProxyOptions {
  /** The gateway's base URL (http://host:8080) or its /mcp endpoint. */
  url: string;
  token: string;
  version: string;
  /** Default: this process's stdin and stdout. */
  stdin?: Readable;
  stdout?: Writable;
  /** Where problems with the gateway's event stream are told (stderr for `phygate mcp`). */
  warn?: (line: string) => void;
}

/** The /mcp endpoint of a gateway given by its base URL or by the endpoint itself. */
export function mcpEndpoint(url: string): URL {
  const u = new URL(url);
  if (!u.pathname.replace(/\/+$/, '').endsWith('/mcp')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/mcp`;
  return u;
}

/** Connects to the gateway (so a wrong URL or token fails at once, not at the first tool call), then serves stdio until it closes. */
export async function runStdioProxy(opts: StdioProxyOptions): Promise<{ closed: Promise<void> }> {
  const upstream = new Client({ name: 'phygate-mcp-stdio', version: opts.version });
  await upstream.connect(new StreamableHTTPClientTransport(mcpEndpoint(opts.url), { requestInit: { headers: { authorization: `Bearer ${opts.token}` } } }));
  const caps = upstream.getServerCapabilities() ?? {};
  const server = new Server(
    { name: 'phygate', version: opts.version },
    { capabilities: { tools: {}, resources: { subscribe: true }, prompts: {} }, ...(upstream.getInstructions() ? { instructions: upstream.getInstructions()! } : {}) },
  );
  const updates = new MissionUpdates({
    eventsUrl: new URL(`${mcpEndpoint(opts.url).pathname.replace(/\/mcp$/, '')}/v1/events`, opts.url),
    token: opts.token,
    updated: (uri) => void server.sendResourceUpdated({ uri }).catch(() => undefined),
    warn: opts.warn ?? (() => undefined),
  });
  server.setRequestHandler(ListToolsRequestSchema, (req) => upstream.listTools(req.params));
  // The gateway's answer as it is, refusals (isError) included: the result is not re-validated here.
  server.setRequestHandler(CallToolRequestSchema, (req) => upstream.callTool(req.params));
  server.setRequestHandler(ListResourcesRequestSchema, (req) => upstream.listResources(req.params));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, (req) => upstream.listResourceTemplates(req.params));
  server.setRequestHandler(ReadResourceRequestSchema, (req) => upstream.readResource(req.params));
  // Reading the resource first: a mission that does not exist, or a token that may not read it, is refused as a read is.
  server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    await upstream.readResource({ uri: req.params.uri });
    updates.subscribe(req.params.uri);
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, (req) => {
    updates.unsubscribe(req.params.uri);
    return {};
  });
  server.setRequestHandler(ListPromptsRequestSchema, (req) => (caps.prompts ? upstream.listPrompts(req.params) : { prompts: [] }));
  server.setRequestHandler(GetPromptRequestSchema, (req) => upstream.getPrompt(req.params));
  const transport = new StdioServerTransport(opts.stdin, opts.stdout);
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => {
      updates.close();
      void upstream.close();
      resolve();
    };
  });
  await server.connect(transport);
  return { closed };
}

export const MCP_USAGE = 'usage: phygate mcp --url http://HOST:PORT --token TOKEN';

/**
 * The `phygate mcp` command: stdout carries the protocol, so everything else goes to `err`.
 * Resolves when the client closes stdin; 2 when the gateway cannot be reached or refuses the token.
 */
export async function mcpCommand(argv: string[], version: string, err: (line: string) => void): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { url: { type: 'string' }, token: { type: 'string' } }, strict: true });
  if (!values.url || !values.token) {
    err(MCP_USAGE);
    return 2;
  }
  let url: URL;
  try {
    url = mcpEndpoint(values.url);
  } catch {
    err(`'${values.url}' is not a URL; ${MCP_USAGE}`);
    return 2;
  }
  let proxy: Awaited<ReturnType<typeof runStdioProxy>>;
  try {
    proxy = await runStdioProxy({ url: url.href, token: values.token, version, warn: err });
  } catch (e) {
    err(`cannot connect to the gateway's MCP server at ${url.href}: ${(e as Error).message}`);
    return 2;
  }
  err(`phygate mcp: serving on stdio, passing requests to ${url.href}`);
  await proxy.closed;
  return 0;
}
