// The MCP conformance suite (@modelcontextprotocol/conformance, its active server scenarios) run
// against a real gateway's /mcp on loopback, with the baseline of the scenarios it does not pass
// and why (mcp-conformance-expected.yaml): the suite fails on a scenario that fails and is not
// listed, and on one listed that passes. The suite's client sends no token, so a loopback proxy
// adds an agent token's header to every request, as a client configured with headers would.
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { childEnv, spawnNode } from '../helpers/child-env.ts';
import { appFor, REPO_ROOT } from './harness.ts';

const CLI = fileURLToPath(import.meta.resolve('@modelcontextprotocol/conformance/dist/index.js'));
const NODE20 = fileURLToPath(new URL('../helpers/conformance-node20.mjs', import.meta.url));
const BASELINE = fileURLToPath(new URL('mcp-conformance-expected.yaml', import.meta.url));

t.test("the conformance suite's server scenarios pass, but for the ones the baseline lists", async (t) => {
  const h = await appFor(t);
  const gateway = new URL(await h.app.listen({ port: 0, host: '127.0.0.1' }));
  const proxy = createServer((req, res) => {
    const upstream = request({ host: gateway.hostname, port: gateway.port, path: req.url, method: req.method, headers: { ...req.headers, authorization: `Bearer ${h.tokens.agent}` } }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  t.teardown(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const { port } = proxy.address() as { port: number };

  const child = spawnNode(['--import', NODE20, CLI, 'server', '--url', `http://127.0.0.1:${port}/mcp`, '--expected-failures', BASELINE], { cwd: REPO_ROOT, env: childEnv({ NO_COLOR: '1' }) });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += String(d)));
  child.stderr.on('data', (d: Buffer) => (out += String(d)));
  const [code] = await once(child, 'exit');
  // eslint-disable-next-line no-control-regex
  const text = out.replace(/\x1b\[[0-9;]*m/g, '');
  t.equal(code, 0, text.slice(-3000));
  t.match(text, /Baseline check passed: all failures are expected/);
  for (const s of ['server-initialize', 'ping', 'tools-list', 'resources-list', 'prompts-list']) t.match(text, new RegExp(`✓ ${s}: [1-9]\\d* passed, 0 failed`), `${s} passes`);
});
