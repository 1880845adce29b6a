// `phygate serve | check | fleet | edge | launch gazebo | map | token create | list | revoke | audit verify | device credentials | site validate | policy verify | mcp`: the command line of the gateway.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import { assumeProblems } from '../../planners/check.ts';
import { AssumeSchema, type Assume } from '../../planners/fleet.ts';
import { PlanSchema, shapeProblems, type Plan, type ShapeProblem } from '../../planners/plan.ts';
import type { CheckReport } from '../../planners/report.ts';
import { checkOnSite } from '../../sim/checker.ts';
import { generateGazebo, writeGenerated } from '../../sim/gazebo/generate.ts';
import { buildMapFiles, DEFAULT_MAP_RESOLUTION } from '../../sim/gazebo/map.ts';
import { renderPlanSvg } from '../../sim/plan-svg.ts';
import { describeWorld, openSiteFolder, SiteLoadError, validateSiteFolder, type LoadedSite } from '../../sim/site-folder.ts';
import { isRole, ROLES } from '../auth/roles.ts';
import { MqttConnectError } from '../../robots/mqtt.ts';
import { startVirtualFleet } from '../../sim/virtual-fleet.ts';
import { deviceTopics } from '../broker-auth.ts';
import { ConfigError, DEFAULT_SITE_DIR, readConfig, unknownVariables } from '../config.ts';
import { startGateway } from '../main.ts';
import { policyCommand } from './policy.ts';
import { edgeCommand } from './edge.ts';
import { CheckRequestSchema } from '../routes/plans.ts';
import { openStore, StoreOpenError } from '../store/index.ts';
import { mcpCommand } from '../mcp/stdio.ts';
import { renderUnicodeCompact } from 'uqr';

const USAGE = `phygate — control gateway for small shop floors

Usage:
  phygate serve                              run the gateway (the default; configured by PHYGATE_* variables)
  phygate check PLAN.json [--site DIR] [--assume FILE] [--json] [--svg FILE]
                                             check a plan against a site folder; nothing moves
  phygate fleet [--mqtt URL] [--site DIR] [--speed N] [--soc S] [--issue-credentials]
                                             run the site's virtual fleet on its own, like real hardware
  phygate edge --device ID [--site DIR] [--broker URL] [--policy FILE] [--certificate FILE]
               [--namespace NS] [--cmd-vel TOPIC] [--odom TOPIC] [--map-frame FRAME]
               [--map-transform X,Y,THETA]
                                             on a robot's own computer: be the AMR's VDA 5050 vehicle
                                             and drive its ROS 2 base (Twist on cmd_vel, odometry in)
                                             with its certified policy, through the shield
  phygate launch gazebo --out DIR [--site DIR] [--resolution R]
                                             generate the site's Gazebo Harmonic world, robot models,
                                             bridges, Nav2 parameters, map and ROS 2 launch file
  phygate map [--site DIR] [--out DIR] [--resolution R]
                                             write the site's Nav2 occupancy map and filter masks
  phygate token create --role ROLE --name N [--expires 30d] [--link URL [--qr]]
                                             create an access token and print it once; with
                                             --expires (30d, 12h, 45m or an ISO 8601 time) it is
                                             refused from then on (401 TOKEN_EXPIRED); with
                                             --link http://host:8080 also a tablet's sign-in link,
                                             and with --qr that link as a QR code to scan with the
                                             tablet's camera
  phygate token list                         list tokens (never their secrets)
  phygate token revoke ID|NAME               revoke a token: refused from its next request on,
                                             by a running gateway too
  phygate audit verify                       recompute the audit log's whole hash chain
  phygate policy verify MODEL [--site DIR] [--out CERT] [--device ID] [--variants N] [--edges N] [--seed N]
                                             roll a policy out on every edge and station approach
                                             of the site, through the shield; write its certificate
  phygate device credentials ID [--site DIR]
                                             give a device its MQTT login for the embedded broker, printed
                                             once (run again: a new one; the old one stops working)
  phygate site validate DIR                  check a site folder (site.yaml, its world, the nav graph
                                             against the obstacles) and print every problem found
  phygate mcp --url http://HOST:PORT --token TOKEN
                                             an MCP server on stdio for LLM clients that start a process;
                                             passes every request on to the gateway's /mcp with the token

Roles: ${ROLES.join(', ')}
Options: --data-dir DIR (default: $PHYGATE_DATA_DIR or ./var)

check: PLAN.json is a plan, or {"plan": …, "assume"?: …} as sent to POST /v1/plans/check.
  --site DIR     the site folder (default: $PHYGATE_SITE or the demo site)
  --assume FILE  what-if fleet state, {"amr-1": {"soc": 0.3, "at": "dock-b", "online": true}},
                 laid over the plan file's own assume, device by device
  --json         print the report as JSON, nothing else
  --svg FILE     also draw the plan on the floor plan, as SVG
  Exit status: 0 pass or warn, 1 fail, 2 unreadable input or site.

fleet: every AMR of the site as a VDA 5050 vehicle, every machine as a machine-protocol device.
  --mqtt URL     the broker (default: $PHYGATE_MQTT_URL, else mqtt://127.0.0.1:$PHYGATE_MQTT_PORT);
                 for mqtts://, $PHYGATE_MQTT_CA_FILE is the CA the devices trust
  --site DIR     the site folder (default: $PHYGATE_SITE or the demo site)
  --speed N      time scale: 10 runs everything ten times faster (default 1)
  --soc S        the AMRs' state of charge at start, 0..1 (default 0.9)
  --issue-credentials
                 give each device fresh MQTT credentials in the data folder (as
                 'phygate device credentials' does, replacing theirs) and log in with them:
                 for the embedded broker of a gateway on this machine

edge: one AMR of the site, on its own computer (POLICY.md, "On a robot: phygate edge").
  --device ID         the AMR (the vehicle its vda5050 manufacturer and serialNumber name)
  --site DIR          the site folder, the gateway's own (default: $PHYGATE_SITE or the demo site)
  --broker URL        the gateway's broker (default: $PHYGATE_MQTT_URL, else mqtt://127.0.0.1:$PHYGATE_MQTT_PORT);
                      the robot's login in $PHYGATE_MQTT_USERNAME and $PHYGATE_MQTT_PASSWORD (from
                      'phygate device credentials ID'), for mqtts:// $PHYGATE_MQTT_CA_FILE
  --policy FILE       the ONNX model (default: the device's policy.model in site.yaml)
  --certificate FILE  its certificate (default: FILE.cert.json): it must have passed for this model on
                      this site's world ('phygate policy verify'), else the edge refuses to start
  --namespace NS      the robot's ROS 2 namespace (default: the device's ros2.namespace, else /)
  --cmd-vel TOPIC     geometry_msgs/msg/Twist out (default: cmd_vel)
  --odom TOPIC        nav_msgs/msg/Odometry in (default: the device's ros2.odomTopic, else odom)
  --map-frame FRAME   a localised pose: the odometry's pose carried into FRAME by the transform a
                      localizer (AMCL, SLAM) publishes on tf/tf_static; the robot is not driven
                      until it is known (default: the device's ros2.frame when its ros2.poseSource
                      is tf; else none, and the odometry's pose is the map pose)
  --map-transform X,Y,THETA
                      where the site's origin and x axis lie in the map frame (the odometry's
                      without --map-frame; metres, radians; default: the device's
                      ros2.mapTransform, else 0,0,0)
  Needs ROS 2 sourced and rclnodejs installed. Runs until SIGINT or SIGTERM (the robot is given
  zero and goes offline). Exit status: 0 stopped, 1 stopped after a failure, 2 refused.

policy: 'verify' rolls an amr.track policy out in closed loop, faster than real time, through the shield.
  --site DIR     the site folder (default: $PHYGATE_SITE or the demo site)
  --out CERT     the certificate (default: MODEL.cert.json beside the model)
  --device ID    the AMR whose limits and footprint are used (default: the site's first)
  --variants N   roll-outs per edge: nominal, then perturbed ones (default 4)
  --edges N      only the first N edges (a quick look; the certificate says how many)
  --routes N     only the first N routes between stations (default every one; they time the check)
  --seed N       the perturbations' seed (default 1)
  Exit status: 0 passed, 1 failed, 2 unreadable model or site.
`;

type Out = (line: string) => void;

/** phygate's version, from package.json. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/**
 * A path the user typed, resolved where they stand: `npm run phygate -- check plan.json` runs in
 * the repository's root, and npm says in INIT_CWD where it was started from.
 */
export function userPath(path: string): string {
  return resolve(process.env.INIT_CWD || process.cwd(), path);
}

/** The usage of one command: its lines in USAGE and its own paragraph, if it has one. */
export function usageOf(command: string): string | undefined {
  // Commands with a usage page of their own.
  const page = ({ launch: LAUNCH_USAGE, map: MAP_USAGE } as Record<string, string>)[command];
  if (page !== undefined) return page;
  const lines = USAGE.split('\n');
  const head: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith(`  phygate ${command}`)) continue;
    head.push(lines[i]!);
    for (let j = i + 1; j < lines.length && /^ {10,}\S/.test(lines[j]!); j++) head.push(lines[j]!);
  }
  if (head.length === 0) return undefined;
  const start = lines.findIndex((l) => l.startsWith(`${command}:`));
  const own: string[] = [];
  if (start >= 0) for (let j = start; j < lines.length && lines[j]!.trim() !== ''; j++) own.push(lines[j]!);
  return ['Usage:', ...head, ...(own.length > 0 ? ['', ...own] : []), '', 'Options for every command: --data-dir DIR (default: $PHYGATE_DATA_DIR or ./var), --help'].join('\n');
}

export async function runCli(argv: string[], out: Out = (l) => process.stdout.write(`${l}\n`), err: Out = (l) => process.stderr.write(`${l}\n`)): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    const usage = usageOf(command);
    if (usage) {
      out(usage);
      return 0;
    }
  }
  try {
    switch (command) {
      case 'serve':
        return await serve(out, err);
      case 'check':
        return await check(rest, out, err);
      case 'fleet':
        return await fleet(rest, out, err);
      case 'launch':
        return await launch(rest, out, err);
      case 'map':
        return await map(rest, out, err);
      case 'token':
        return token(rest, out, err);
      case 'audit':
        return audit(rest, out, err);
      case 'device':
        return await device(rest, out, err);
      case 'site':
        return await siteCommand(rest, out, err);
      case 'edge':
        return await edgeCommand(rest, { userPath, readCa }, out, err);
      case 'policy':
        return await policyCommand(rest, userPath, out, err);
      case 'mcp':
        return await mcpCommand(rest, packageVersion(), err);
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
    else if (e instanceof StoreOpenError) err(`data folder error: ${e.message}`);
    else if (e instanceof MqttConnectError) err(`MQTT error: ${e.message}; check PHYGATE_MQTT_URL (or --mqtt) and that the broker runs`);
    else if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE' || (e as NodeJS.ErrnoException).code === 'EACCES') {
      // The embedded broker's error names its own setting; the HTTP server's does not.
      const message = (e as Error).message;
      err(`cannot listen: ${message}${message.includes('PHYGATE_') ? '' : '; set PHYGATE_PORT to a free port'}`);
    }
    else if (e instanceof Error && /^unknown option|Unexpected argument|Option '.*' argument/i.test(e.message)) err(`${e.message}\n\n${USAGE}`);
    else throw e;
    return 2;
  }
}

async function serve(out: Out, err: Out): Promise<number> {
  for (const w of unknownVariables(process.env)) err(`warning: ${w}`);
  const config = readConfig();
  const gateway = await startGateway(config);
  if (gateway.bootstrapToken) {
    out('');
    out('No access token existed, so an admin token was created. It is shown only this once:');
    out(`  ${gateway.bootstrapToken}`);
    out("Keep it safe; create tokens for agents and operators with 'phygate token create'.");
    out('');
  }
  for (const line of describeWorld(gateway.site)) out(line);
  out(
    gateway.embeddedBroker
      ? `MQTT: embedded broker at ${gateway.mqttUrl} (devices connect here${gateway.mqttAccess ? ", each with its own login: 'phygate device credentials ID'" : ', without logins (PHYGATE_MQTT_AUTH=off)'}; set PHYGATE_MQTT_URL to use another broker)`
      : `MQTT: connected to ${gateway.mqttUrl}`,
  );
  const vf = gateway.virtualFleet;
  out(vf ? `virtual fleet: ${[...vf.amrs.keys(), ...vf.machines.keys()].join(', ')} (PHYGATE_VIRTUAL_FLEET=0 for real hardware only)` : 'virtual fleet: off');
  out(`phygate serving site folder '${config.PHYGATE_SITE}' at ${gateway.url} (tablet: ${gateway.url}/, API docs: ${gateway.url}/docs)`);
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

async function fleet(argv: string[], out: Out, err: Out): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      mqtt: { type: 'string' },
      site: { type: 'string' },
      speed: { type: 'string' },
      soc: { type: 'string' },
      'issue-credentials': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
    },
    strict: true,
  });
  const config = readConfig();
  const speed = values.speed === undefined ? 1 : Number(values.speed);
  const soc = values.soc === undefined ? undefined : Number(values.soc);
  if (soc !== undefined && !(soc >= 0 && soc <= 1)) {
    err(`--soc must be a number from 0 to 1, not '${values.soc}'`);
    return 2;
  }
  if (!Number.isFinite(speed) || speed <= 0 || speed > 1000) {
    err(`--speed must be a number above 0 and at most 1000, not '${values.speed}'`);
    return 2;
  }
  const brokerUrl = values.mqtt ?? config.PHYGATE_MQTT_URL ?? `mqtt://127.0.0.1:${config.PHYGATE_MQTT_PORT}`;
  const site = await openSiteFolder(values.site !== undefined ? userPath(values.site) : resolve(config.PHYGATE_SITE));
  // An mqtts:// broker whose certificate no system CA vouches for (the embedded one's, say).
  const ca = config.PHYGATE_MQTT_CA_FILE === undefined ? undefined : readCa(config.PHYGATE_MQTT_CA_FILE);
  // Issued before connecting, all at once: the gateway's broker reads them at each CONNECT.
  const logins = new Map<string, { username: string; password: string }>();
  if (values['issue-credentials']) {
    const store = openStore(dataDirOf(values['data-dir']));
    try {
      for (const d of site.index.site.devices) logins.set(d.id, await store.deviceCredentials.issue(d.id));
    } finally {
      store.close();
    }
    err(`issued fresh MQTT credentials for ${[...logins.keys()].join(', ')} (the ones they had stop working)`);
  }
  let vf;
  try {
    vf = await startVirtualFleet({
      brokerUrl,
      site,
      speed,
      interfaceName: config.PHYGATE_VDA_INTERFACE,
      ...(soc === undefined ? {} : { soc }),
      ...(logins.size > 0 || ca !== undefined ? { credentials: (id: string) => ({ ...logins.get(id), ...(ca !== undefined ? { ca } : {}) }) } : {}),
    });
  } catch (e) {
    throw e instanceof MqttConnectError || /connect|ECONNREFUSED/i.test((e as Error).message) ? new MqttConnectError(`cannot reach ${brokerUrl}: ${(e as Error).message}`) : e;
  }
  out(`virtual fleet of site '${site.index.site.id}' connected to ${brokerUrl} at ${speed}x: ${[...vf.amrs.keys(), ...vf.machines.keys()].join(', ')}`);
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      out(`${signal}: the fleet goes offline`);
      vf.close().then(done, done);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function token(argv: string[], out: Out, err: Out): number {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { role: { type: 'string' }, name: { type: 'string' }, expires: { type: 'string' }, link: { type: 'string' }, qr: { type: 'boolean' }, 'data-dir': { type: 'string' } },
    allowPositionals: sub === 'revoke',
    strict: true,
  });
  const dataDir = dataDirOf(values['data-dir']);
  if (sub === 'create') {
    if (!isRole(values.role)) {
      err(`--role must be one of: ${ROLES.join(', ')}`);
      return 2;
    }
    if (!values.name) {
      err('--name is required: who or what will use this token (e.g. manager-agent, tablet-1)');
      return 2;
    }
    const now = new Date();
    const expiresAt = values.expires === undefined ? undefined : expiryOf(values.expires, now);
    if (expiresAt === null) {
      err(`--expires must be a duration (30d, 12h, 45m) or an ISO 8601 time in the future, not '${values.expires}'`);
      return 2;
    }
    let link: string | undefined;
    if (values.link !== undefined) {
      // The token goes in the fragment: a browser never sends it to the server, so no log has it.
      const url = URL.canParse(values.link) ? new URL(values.link) : undefined;
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        err(`--link must be the gateway's address, like http://192.168.1.20:8080, not '${values.link}'`);
        return 2;
      }
      link = `${url.origin}/`;
    }
    if (values.qr && !link) {
      err('--qr prints the sign-in link as a QR code: give the gateway\'s address with --link too');
      return 2;
    }
    const store = openStore(dataDir);
    try {
      const t = store.tokens.create(values.role, values.name, { now, ...(expiresAt ? { expiresAt } : {}) });
      out(t.token);
      err(`created ${t.role} token '${t.name}' (${t.id})${t.expiresAt ? `, expires ${t.expiresAt}` : ''}; it is shown only this once`);
      err(`stored in ${dataDir}: a gateway with this data folder (PHYGATE_DATA_DIR, now ${process.env.PHYGATE_DATA_DIR || 'unset: ./var'}) takes it`);
      if (link) {
        const signIn = `${link}#token=${encodeURIComponent(t.token)}`;
        err(`sign-in link for a tablet (open it once there; it signs in and remembers the token on that device): ${signIn}`);
        if (values.qr) err(`the same link as a QR code: scan it with the tablet's camera (anyone who scans it is signed in as '${t.name}')\n${signInQr(signIn)}`);
      }
    } finally {
      store.close();
    }
    return 0;
  }
  if (sub === 'list') {
    const store = openStore(dataDir);
    try {
      for (const t of store.tokens.list()) {
        const state = t.revokedAt ? `\trevoked ${t.revokedAt}` : t.expiresAt ? `\texpires ${t.expiresAt}` : '';
        out(`${t.id}\t${t.role}\t${t.name}\t${t.createdAt}${state}`);
      }
    } finally {
      store.close();
    }
    return 0;
  }
  if (sub === 'revoke') {
    const [which, ...extra] = positionals;
    if (which === undefined || extra.length > 0) {
      err('usage: phygate token revoke ID|NAME');
      return 2;
    }
    const store = openStore(dataDir);
    try {
      // An id names one token; a name may have been given to several, and then only the id will do.
      const live = store.tokens.list().filter((t) => t.revokedAt === null);
      const byId = store.tokens.get(which);
      const matches = byId ? [byId] : live.filter((t) => t.name === which);
      if (matches.length === 0) {
        err(`no token with the id or name '${which}' (revoked ones aside); see 'phygate token list'`);
        return 1;
      }
      if (matches.length > 1) {
        err(`${matches.length} live tokens are named '${which}'; revoke one by its id: ${matches.map((t) => t.id).join(', ')}`);
        return 2;
      }
      const t = matches[0]!;
      if (!store.tokens.revoke(t.id)) {
        out(`token '${t.name}' (${t.id}) was revoked already, at ${t.revokedAt}`);
        return 0;
      }
      out(`revoked ${t.role} token '${t.name}' (${t.id}); it is refused from its next request on`);
    } finally {
      store.close();
    }
    return 0;
  }
  err(`usage: phygate token create --role ROLE --name NAME [--expires 30d] | phygate token list | phygate token revoke ID|NAME`);
  return 2;
}

/** When a token given `--expires` expires: `now` plus a duration (`30d`, `12h`, `45m`), or an ISO 8601 time; null if neither or not in the future. */
export function expiryOf(text: string, now: Date): Date | null {
  const m = /^(\d{1,6})([dhm])$/.exec(text.trim());
  const at = m ? new Date(now.getTime() + Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm']) : /^\d{4}-\d{2}-\d{2}/.test(text) ? new Date(text) : null;
  return at && Number.isFinite(at.getTime()) && at.getTime() > now.getTime() ? at : null;
}

function audit(argv: string[], out: Out, err: Out): number {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { 'data-dir': { type: 'string' } }, strict: true });
  if (sub !== 'verify') {
    err('usage: phygate audit verify [--data-dir DIR]');
    return 2;
  }
  const store = openStore(dataDirOf(values['data-dir']));
  try {
    const check = store.audit.verify();
    if (check.ok) {
      out(`audit log: ${check.rows} rows, the whole hash chain verifies`);
      return 0;
    }
    err(`audit log: row ${check.seq} does not verify: ${check.reason}`);
    return 1;
  } finally {
    store.close();
  }
}

function readCa(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`PHYGATE_MQTT_CA_FILE: cannot read '${path}': ${(e as Error).message}`);
  }
}

/** The data folder: --data-dir where the user stands, else PHYGATE_DATA_DIR (or ./var) as `serve` reads it. */
/**
 * A sign-in link as a QR code in the terminal: two rows of modules a line, the light modules drawn
 * as blocks (a terminal's background is usually dark), with a quiet zone of two modules around it.
 */
export function signInQr(link: string): string {
  return renderUnicodeCompact(link, { border: 2 });
}

function dataDirOf(option: string | undefined): string {
  return option !== undefined ? userPath(option) : resolve(process.env.PHYGATE_DATA_DIR || 'var');
}

/** `phygate site validate DIR`: every problem of a site folder, each with its file and path; exit 0 valid, 1 not. */
async function siteCommand(argv: string[], out: Out, err: Out): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  if (positionals[0] !== 'validate' || positionals.length !== 2) {
    err(`usage: phygate site validate DIR\n\n${usageOf('site')}`);
    return 2;
  }
  const dir = userPath(positionals[1]!);
  const { site, problems } = await validateSiteFolder(dir);
  if (!site) {
    err(`site folder ${dir}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    for (const p of problems) err(`  ${relative(dir, p.file) || p.file} ${p.path}: ${p.message}`);
    return 1;
  }
  const s = site.index.site;
  out(`site folder ${dir}: valid — site '${s.id}' (${s.name}), ${s.nodes.length} nodes, ${s.edges.length} edges, ${s.stations.length} stations, ${s.zones.length} zones, ${s.devices.length} devices`);
  for (const line of describeWorld(site)) out(line);
  return 0;
}

/** `phygate device credentials ID`: a new MQTT login for one device of the site, printed once. */
async function device(argv: string[], out: Out, err: Out): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { site: { type: 'string' }, 'data-dir': { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (sub !== 'credentials' || positionals.length !== 1) {
    err('usage: phygate device credentials DEVICE_ID [--site DIR] [--data-dir DIR]');
    return 2;
  }
  const id = positionals[0]!;
  const site = await openSiteFolder(values.site !== undefined ? userPath(values.site) : resolve(process.env.PHYGATE_SITE || DEFAULT_SITE_DIR));
  const topics = deviceTopics(site.index, readConfig().PHYGATE_VDA_INTERFACE).get(id);
  if (!topics) {
    err(`no device '${id}' in site '${site.index.site.id}'; its devices are: ${site.index.site.devices.map((d) => d.id).join(', ')}`);
    return 2;
  }
  const store = openStore(dataDirOf(values['data-dir']));
  try {
    const c = await store.deviceCredentials.issue(id);
    out(`username: ${c.username}`);
    out(`password: ${c.password}`);
  } finally {
    store.close();
  }
  err(`MQTT credentials for ${id}: shown only this once; only a hash is stored, and any earlier ones no longer work.`);
  err(`${id} may publish on ${[...topics.publish].join(', ')}`);
  err(`and subscribe to ${[...topics.subscribe].join(', ')}`);
  return 0;
}

// ---- phygate launch gazebo, phygate map ------------------------------------------------------------

const LAUNCH_USAGE = `phygate launch gazebo --out DIR [--site DIR] [--resolution R]

Generates, from the site folder, what runs its fleet in Gazebo Harmonic with ROS 2 Jazzy and Nav2:
  world.sdf          the site's world with Gazebo's systems and the robots at their homes
  models/NAME/       each robot's SDF model (AMR: diff drive, odometry, lidar, IMU, joint states;
                     arm: joint trajectory controller)
  bridges/NAME.yaml  ros_gz_bridge topics of each robot, in its namespace (bridges/clock.yaml: /clock)
  nav2/NAME.yaml     Nav2 parameters of each AMR: footprint, speeds and accelerations from site.yaml,
                     keepout and speed filters
  maps/              the Nav2 map and the keepout and speed filter masks (as 'phygate map')
  gazebo.launch.py   starts Gazebo, the bridges, robot_state_publisher and Nav2 per robot
  site/              the site folder for the gateway: its AMRs with ros2 blocks for that fleet,
                     PHYGATE_ROS2=on PHYGATE_SITE=DIR/site npm start
Files already in DIR with these names are replaced.

  --out DIR         where to write (created if missing)
  --site DIR        the site folder (default: $PHYGATE_SITE or the demo site)
  --resolution R    map cell size in metres (default ${DEFAULT_MAP_RESOLUTION})`;

const MAP_USAGE = `phygate map [--site DIR] [--out DIR] [--resolution R]

Writes the site's Nav2 occupancy map rasterised from the obstacles of its world, the same
shapes the plan check reads (a cell any obstacle overlaps is occupied), origin at the site's origin:
  map.pgm, map.yaml          trinary occupancy map for map_server and AMCL
  keepout.pgm, keepout.yaml  keepout filter mask: the site's keep-out zones (raw mode, 100)
  speed.pgm, speed.yaml      speed filter mask: the slow zones' limits in cm/s (raw mode; speed
                             filter type 2, multiplier 0.01)

  --site DIR        the site folder (default: $PHYGATE_SITE or the demo site)
  --out DIR         where to write (default: ./maps)
  --resolution R    cell size in metres, above 0 and at most 1 (default ${DEFAULT_MAP_RESOLUTION})`;

function resolutionOf(text: string | undefined, err: Out): number | undefined {
  if (text === undefined) return DEFAULT_MAP_RESOLUTION;
  const r = Number(text);
  if (!(r > 0 && r <= 1)) {
    err(`--resolution must be a number of metres above 0 and at most 1, not '${text}'`);
    return undefined;
  }
  return r;
}

async function launch(argv: string[], out: Out, err: Out): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { site: { type: 'string' }, out: { type: 'string' }, resolution: { type: 'string' }, help: { type: 'boolean', default: false } },
    strict: true,
  });
  if (sub === '--help' || sub === '-h' || (sub === 'gazebo' && values.help)) {
    out(LAUNCH_USAGE);
    return 0;
  }
  if (sub !== 'gazebo') {
    err(`usage: ${LAUNCH_USAGE.split('\n')[0]}`);
    return 2;
  }
  if (values.out === undefined) {
    err(`--out DIR is required\n\n${LAUNCH_USAGE}`);
    return 2;
  }
  const resolution = resolutionOf(values.resolution, err);
  if (resolution === undefined) return 2;
  const site = await openSiteFolder(resolve(values.site ?? (process.env.PHYGATE_SITE || DEFAULT_SITE_DIR)));
  const dir = resolve(values.out);
  const files = generateGazebo(site, { resolution });
  writeGenerated(dir, files);
  out(`wrote ${files.size} files for the Gazebo fleet of site '${site.index.site.id}' to ${dir}`);
  out(`  run it:   ros2 launch ${resolve(dir, 'gazebo.launch.py')}`);
  out(`  drive it: PHYGATE_ROS2=on PHYGATE_SITE=${resolve(dir, 'site')} npm start`);
  return 0;
}

async function map(argv: string[], out: Out, err: Out): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { site: { type: 'string' }, out: { type: 'string' }, resolution: { type: 'string' }, help: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.help) {
    out(MAP_USAGE);
    return 0;
  }
  const resolution = resolutionOf(values.resolution, err);
  if (resolution === undefined) return 2;
  const site = await openSiteFolder(resolve(values.site ?? (process.env.PHYGATE_SITE || DEFAULT_SITE_DIR)));
  const dir = resolve(values.out ?? 'maps');
  const { files, occupancy } = buildMapFiles(site.index.site, site.world.obstacles, resolution);
  writeGenerated(dir, files);
  const occupied = occupancy.cells.reduce((n, c) => n + c, 0);
  out(`wrote the map of site '${site.index.site.id}' to ${dir}: ${occupancy.width} × ${occupancy.height} cells of ${resolution} m, ${occupied} occupied`);
  return 0;
}

// ---- phygate check ------------------------------------------------------------------------------

async function check(argv: string[], out: Out, err: Out): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { site: { type: 'string' }, assume: { type: 'string' }, json: { type: 'boolean', default: false }, svg: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) {
    err('usage: phygate check PLAN.json [--site DIR] [--assume FILE] [--json] [--svg FILE]');
    return 2;
  }
  const planFile = positionals[0]!;
  const request = readCheckRequest(userPath(planFile), err);
  if (!request) return 2;
  let assume = request.assume;
  if (values.assume !== undefined) {
    const more = readJsonFile(userPath(values.assume), err, (doc) => parseWith(AssumeSchema, doc, ['assume']));
    if (!more) return 2;
    assume = { ...assume, ...more };
  }

  const siteDir = values.site !== undefined ? userPath(values.site) : resolve(process.env.PHYGATE_SITE || DEFAULT_SITE_DIR);
  const site = await openSiteFolder(siteDir);
  const problems = assumeProblems(site.index, assume);
  if (problems.length > 0) {
    printProblems(err, `assume names things site '${site.index.site.id}' does not have:`, problems);
    return 2;
  }

  const report = checkOnSite(site, request.plan, assume ? { assume } : {});
  if (values.json) out(JSON.stringify(report, null, 2));
  else printSummary(out, site, request.plan, report);
  if (values.svg !== undefined) {
    const file = userPath(values.svg);
    const svg = renderPlanSvg({ site: site.index, obstacles: site.world.obstacles, report, title: request.plan.name ?? basename(planFile) });
    try {
      writeFileSync(file, svg);
    } catch (e) {
      err(`cannot write ${file}: ${(e as Error).message}`);
      return 2;
    }
    // With --json, stdout is the report alone.
    (values.json ? err : out)(`wrote the plan picture to ${file}`);
  }
  return report.verdict === 'fail' ? 1 : 0;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problems: ShapeProblem[] };

function parseWith<S extends z.ZodType>(schema: S, doc: unknown, prefix: string[] = []): Parsed<z.infer<S>> {
  const r = schema.safeParse(doc);
  return r.success ? { ok: true, value: r.data } : { ok: false, problems: shapeProblems(r.error, prefix) };
}

/** A JSON file parsed by `parse`; undefined (with the reasons printed) when it cannot be read. */
function readJsonFile<T>(file: string, err: Out, parse: (doc: unknown) => Parsed<T>): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    err(`cannot read ${file}: ${(e as Error).message}`);
    return undefined;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    err(`${file} is not valid JSON: ${(e as Error).message}`);
    return undefined;
  }
  const parsed = parse(doc);
  if (!parsed.ok) {
    printProblems(err, `${file} does not have the required shape:`, parsed.problems);
    return undefined;
  }
  return parsed.value;
}

/** The plan file: a bare plan, or the body of POST /v1/plans/check (`{plan, assume?}`). */
function readCheckRequest(file: string, err: Out): { plan: Plan; assume?: Assume } | undefined {
  return readJsonFile(file, err, (doc) => {
    const wrapped = typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'plan' in doc;
    if (wrapped) return parseWith(CheckRequestSchema, doc);
    const bare = parseWith(PlanSchema, doc);
    return bare.ok ? { ok: true, value: { plan: bare.value } } : bare;
  });
}

function printProblems(err: Out, head: string, problems: readonly ShapeProblem[]): void {
  err(head);
  for (const p of problems) err(`  ${p.path}: ${p.message}`);
}

function printSummary(out: Out, site: LoadedSite, plan: Plan, report: CheckReport): void {
  const errors = report.issues.filter((i) => i.severity === 'error').length;
  const warnings = report.issues.length - errors;
  const counts = report.issues.length === 0 ? 'no issues' : [count(errors, 'error'), count(warnings, 'warning')].filter(Boolean).join(', ');
  out(`verdict: ${report.verdict.toUpperCase()} (${counts})`);
  out(`plan: ${plan.name ?? '(unnamed)'}, planHash ${report.planHash.slice(0, 12)}…, site ${site.index.site.id} (${site.dir})`);
  const stuck = report.steps.filter((s) => s.blocked).length + (report.notRun?.length ?? 0);
  if (stuck === plan.steps.length) out(`makespan: none (no step of the plan finishes)`);
  else out(`makespan: ${report.makespanS.toFixed(1)} s${report.makespanS >= 60 ? ` (${minutes(report.makespanS)})` : ''}${stuck > 0 ? ` for the steps that finish; ${stuck} of ${plan.steps.length} do not` : ''}`);
  const roles = Object.entries(report.assignments);
  out(`roles: ${roles.length === 0 ? 'none' : roles.map(([r, d]) => `$${r} → ${d}`).join(', ')}`);
  out('steps:');
  const idW = Math.max(...plan.steps.map((s) => s.id.length), 2);
  const devW = Math.max(...report.steps.map((s) => (s.device ?? '-').length), 6);
  for (const s of report.steps) {
    const route = s.route && s.route.length > 1 ? `  route ${s.route.length} nodes, ${routeLength(site, s.route).toFixed(1)} m` : '';
    const times = s.blocked ? `${s.startS.toFixed(1)} s – stuck at ${s.endS.toFixed(1)} s, never finishes` : `${s.startS.toFixed(1)}–${s.endS.toFixed(1)} s`;
    out(`  ${s.id.padEnd(idW)}  ${(s.device ?? '-').padEnd(devW)}  ${times}${route}`);
  }
  for (const s of report.notRun ?? []) {
    out(`  ${s.id.padEnd(idW)}  ${'-'.padEnd(devW)}  ${s.why === 'not scheduled' ? 'not scheduled (see its issue)' : 'never starts (it waits on a step that never finishes)'}`);
  }
  if (report.issues.length === 0) {
    out('issues: none');
    return;
  }
  out(`issues (${report.issues.length}):`);
  for (const i of report.issues) {
    out(`${i.severity.toUpperCase()} ${i.code}${i.step ? ` ${i.step}` : ''}: ${i.message}`);
    out(`  hint: ${i.hint}`);
  }
}

function count(n: number, word: string): string {
  return n === 0 ? '' : `${n} ${word}${n === 1 ? '' : 's'}`;
}

function minutes(s: number): string {
  const total = Math.round(s);
  return total >= 3600 ? `${Math.floor(total / 3600)} h ${Math.floor((total % 3600) / 60)} min` : `${Math.floor(total / 60)} min ${total % 60} s`;
}

/** Metres along the nav graph through the route's nodes. */
function routeLength(site: LoadedSite, route: readonly string[]): number {
  let m = 0;
  for (let i = 1; i < route.length; i++) {
    const a = site.index.locate(route[i - 1]!);
    const b = site.index.locate(route[i]!);
    if (a && b) m += Math.hypot(b.x - a.x, b.y - a.y);
  }
  return m;
}
