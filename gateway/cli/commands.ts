// `phygate serve | token create | token list`: the command line of the gateway.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isRole, ROLES } from '../auth/roles.ts';
import { ConfigError, readConfig } from '../config.ts';
import { startGateway } from '../main.ts';
import { openStore } from '../store/index.ts';
import { SiteLoadError } from '../../sim/site-folder.ts';

const USAGE = `phygate — control gateway for small shop floors

Usage:
  phygate serve                              run the gateway (the default; configured by PHYGATE_* variables)
  phygate token create --role ROLE --name N  create an access token and print it once
  phygate token list                         list tokens (never their secrets)

Roles: ${ROLES.join(', ')}
Options: --data-dir DIR (default: $PHYGATE_DATA_DIR or ./var)
`;

type Out = (line: string) => void;

export async function runCli(argv: string[], out: Out = (l) => process.stdout.write(`${l}\n`), err: Out = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(out);
      case 'token':
        return token(rest, out, err);
      case 'help':
      case '--help':
      case '-h':
        out(USAGE);
        return 0;
      default:
        err(`unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof ConfigError) err(`configuration error: ${e.message}`);
    else if (e instanceof SiteLoadError) err(`site error: ${e.message}`);
    else if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' || (e as NodeJS.ErrnoException).code === 'EACCES') {
      err(`cannot listen: ${(e as Error).message}; set PHYGATE_PORT to a free port`);
    }
    else if (e instanceof Error && /^unknown option|Unexpected argument|Option '.*' argument/i.test(e.message)) err(`${e.message}\n\n${USAGE}`);
    else throw e;
    return 2;
  }
}

async function serve(out: Out): Promise<number> {
  const config = readConfig();
  const gateway = await startGateway(config);
  if (gateway.bootstrapToken) {
    out('');
    out('No access token existed, so an admin token was created. It is shown only this once:');
    out(`  ${gateway.bootstrapToken}`);
    out("Keep it safe; create tokens for agents and operators with 'phygate token create'.");
    out('');
  }
  out(`phygate serving site folder '${config.PHYGATE_SITE}' at ${gateway.url} (API docs: ${gateway.url}/docs)`);
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      out(`${signal}: shutting down`);
      gateway.close().then(done, done);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function token(argv: string[], out: Out, err: Out): number {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { role: { type: 'string' }, name: { type: 'string' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  const dataDir = resolve(values['data-dir'] ?? (process.env.PHYGATE_DATA_DIR || 'var'));
  if (sub === 'create') {
    if (!isRole(values.role)) {
      err(`--role must be one of: ${ROLES.join(', ')}`);
      return 2;
    }
    if (!values.name) {
      err('--name is required: who or what will use this token (e.g. manager-agent, tablet-1)');
      return 2;
    }
    const store = openStore(dataDir);
    try {
      const t = store.tokens.create(values.role, values.name);
      out(t.token);
      err(`created ${t.role} token '${t.name}' (${t.id}); it is shown only this once`);
    } finally {
      store.close();
    }
    return 0;
  }
  if (sub === 'list') {
    const store = openStore(dataDir);
    try {
      for (const t of store.tokens.list()) out(`${t.id}\t${t.role}\t${t.name}\t${t.createdAt}${t.revokedAt ? `\trevoked ${t.revokedAt}` : ''}`);
    } finally {
      store.close();
    }
    return 0;
  }
  err(`usage: phygate token create --role ROLE --name NAME | phygate token list`);
  return 2;
}
