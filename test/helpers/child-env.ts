// How tests start processes of their own (`phygate serve`, `phygate fleet`, a writer that is
// killed). tap loads its processinfo loader and coverage recording into every node process a test
// starts; a child's coverage counts for nothing here (test/coverage-map.mjs), and the two made
// each child start about a third slower, and stop slower still, which on a busy machine took a
// gateway start past the tests' 30 s.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

/**
 * Settings every gateway a test starts gets, in its process or as a child. The suite runs several
 * test files at once, each with gateways of its own, on a machine of two cores: check workers at
 * the lowest priority (the default, 19) would wait behind every other test's work, and a check
 * that takes seconds alone took a minute. Tests that are about that priority set their own.
 */
export const TEST_GATEWAY_ENV = { PHYGATE_CHECK_NICE: '0' } as const;

/** The environment of a child: ours without any PHYGATE_* (no admin token leaks in), TEST_GATEWAY_ENV, then `env`. */
export function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PHYGATE_'))), ...TEST_GATEWAY_ENV, ...env };
}

/**
 * `node args…` as a child process, stdout and stderr piped, without tap's loader. tap writes the
 * loader back into the NODE_OPTIONS of every process spawned, whatever environment it is given,
 * so node is started through env(1), which sets NODE_OPTIONS without it and then runs node in
 * its own place (same pid: kill() and exit codes are node's).
 */
export function spawnNode(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcessByStdio<null, Readable, Readable> {
  const env = options.env ?? process.env;
  const nodeOptions = (env.NODE_OPTIONS ?? '').replace(/"?--(?:import|loader|require)=\S*@tapjs\/processinfo\S*?"?(?=\s|$)/g, '').trim();
  const set = nodeOptions ? [`NODE_OPTIONS=${nodeOptions}`] : ['-u', 'NODE_OPTIONS'];
  return spawn('/usr/bin/env', [...set, process.execPath, ...args], { ...options, env, stdio: ['ignore', 'pipe', 'pipe'] });
}
