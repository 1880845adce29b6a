// MCP over Streamable HTTP at /mcp: stateless, one server and transport per request, built for
// the request's token (any role may connect; each tool needs its own role, gateway/use-cases.ts).
// Answers are plain JSON, not event streams. GET and DELETE (server-sent streams, sessions) are
// not offered: 405.
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { refusals, TOKEN_REFUSALS } from '../api/refusals.ts';
import { JsonRpcAnswerSchema, JsonRpcErrorSchema, JsonRpcMessageSchema } from '../api/schemas.ts';
import type { Principal } from '../auth/bearer.ts';
import { mcpServer, type McpDeps } from './server.ts';

export interface McpHttpOptions extends McpDeps {
  /** The request budgets (gateway/rate-limit.ts): every MCP request counts but one that only calls `stop`. */
  limit?: (req: FastifyRequest, reply: FastifyReply, principal: Principal | undefined) => void;
  /** Holds the running plan checks until it is called back (gateway/checks/checker.ts): a STOP's answer is not delayed by them. */
  stepAside?: () => () => void;
}

/** Only `stop` tool calls: STOP is never rate-limited, whichever door it comes through. */
export function onlyStops(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.length > 0 && messages.every((m) => (m as { method?: unknown })?.method === 'tools/call' && (m as { params?: { name?: unknown } }).params?.name === 'stop');
}

export const mcpRoutes: FastifyPluginAsync<McpHttpOptions> = async (app, opts) => {
  app.post(
    '/mcp',
    {
      // Without a valid token the auth hook counts the request; with one, the handler does, once
      // the body says whether it is a STOP.
      config: { role: 'viewer', rateLimit: 'route' },
      // The body schema is documentation: the MCP transport reads the messages and answers what is
      // not JSON-RPC with a JSON-RPC error, as MCP clients expect.
      validatorCompiler: () => (value) => ({ value }),
      schema: {
        tags: ['mcp'],
        summary: 'The MCP server (Streamable HTTP, stateless): tools, resources and a prompt for LLM agents',
        operationId: 'mcp.call',
        description: 'JSON-RPC messages of the Model Context Protocol; send Accept: application/json, text/event-stream. Any token connects; each tool needs the role its REST route needs (a refused tool call is a tool result with `isError`, not an HTTP error).',
        body: z.union([JsonRpcMessageSchema, z.array(JsonRpcMessageSchema)]).meta({ examples: [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }] }),
        response: {
          200: z.union([JsonRpcAnswerSchema, z.array(JsonRpcAnswerSchema)]).describe('the answer to a request (or the answers to a batch)'),
          202: z.null().describe('notifications and answers only: accepted, nothing to answer'),
          400: z.union([refusals('INVALID_JSON')[400], JsonRpcErrorSchema]).describe('the body is not JSON (`INVALID_JSON`), or not a JSON-RPC message (a JSON-RPC parse error)'),
          406: JsonRpcErrorSchema.describe('Accept does not name both application/json and text/event-stream'),
          ...refusals(...TOKEN_REFUSALS, 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'),
        },
      },
    },
    async (req, reply) => {
      // A STOP over MCP is what POST /v1/stop is: never rate-limited, and checks wait until its answer is out.
      if (onlyStops(req.body)) {
        if (opts.stepAside) reply.raw.once('close', opts.stepAside());
      } else opts.limit?.(req, reply, req.principal);
      const server = mcpServer(opts, { principal: req.principal!, method: req.method, path: '/mcp', requestId: String(req.id) });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      reply.hijack();
      reply.raw.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req.raw, reply.raw, req.body);
    },
  );
};
