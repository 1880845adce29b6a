// The loop a manager agent runs, without a language model: read the site, write a plan for a
// goal, check it, fix it from the report's hints until it passes, submit it, and follow the
// mission to its end. It talks to the gateway only through its MCP tools.
//
//   node --import tsx examples/scripted-agent.ts --url http://127.0.0.1:8080 --token AGENT_TOKEN \
//     [--operator-token OPERATOR_TOKEN] "mill 2 brackets on cnc-1, then deliver them to shelf2"
//
// Its first draft takes the goal's words as they are written ("brackets", "shelf2"), as a model
// that has not looked up every name would; the check says which names the site does not know
// and its hints say what they probably meant. The agent applies those suggestions generically
// (the value an issue's message quotes, replaced by the hint's "did you mean"), never by knowing
// the demo site's names.
import { pathToFileURL } from 'node:url';
import { commonArgs, connect, followMission, USAGE_OPTIONS, type Connection, type Mission } from './mcp-session.ts';

export const DEFAULT_GOAL = 'mill 2 brackets on cnc-1, then deliver them to shelf2';

/** The parts of the site the draft needs (get_site answers more). */
export interface SiteView {
  name: string;
  stations: { id: string; kind: string }[];
  devices: { id: string; kind: string; station?: string; reaches?: string[] }[];
}

/** A plan as the agent writes it (the phygate://plan-format resource has the whole format). */
export interface Plan {
  schema: 'phygate.plan/v1';
  name: string;
  goal: string;
  requester: { agent: string };
  roles: Record<string, { kind: string }>;
  steps: { id: string; action: string; device: string; params: Record<string, unknown>; after?: string[] }[];
}

export interface Issue {
  code: string;
  severity: 'error' | 'warning';
  step?: string;
  message: string;
  hint: string;
}

interface Report {
  verdict: 'pass' | 'warn' | 'fail';
  planHash: string;
  makespanS: number;
  assignments: Record<string, string>;
  issues: Issue[];
}

/** One change the agent made to its plan because of an issue's hint. */
export interface Fix {
  code: string;
  step: string;
  field: string;
  from: string;
  to: string;
}

/** The words the goal may use: a machine job, and a delivery of what the last job made. */
const JOB = /^(mill|machine|print|make|run)\s+(?:(\d+)\s+)?(.+?)\s+on\s+(\S+)$/i;
const DELIVERY = /^(?:deliver|bring|take|carry)\s+(?:(?:them|it|the parts)\s+)?to\s+(.+)$/i;

/** A name as the agent spells it: lower case, words joined by '-' (the site may spell it otherwise). */
const name = (words: string) => words.trim().toLowerCase().replace(/\s+/g, '-');

/**
 * The first draft of a plan for `goal`: clauses separated by commas, semicolons or "then", each
 * "<mill|print|…> [count] <program> on <machine>" or "deliver [them] to <station>". Throws when a
 * clause is none of these (the agent cannot guess what it means).
 */
export function draftPlan(goal: string, site: SiteView): Plan {
  const steps: Plan['steps'] = [];
  const roles: Plan['roles'] = {};
  let made: { step: string; station?: string } | undefined;
  const id = (base: string) => (steps.some((s) => s.id === base) ? `${base}-${steps.length + 1}` : base);
  for (const clause of goal.split(/[,;]|\bthen\b/i).map((c) => c.trim().replace(/^and\s+/i, '')).filter(Boolean)) {
    const job = JOB.exec(clause);
    const delivery = DELIVERY.exec(clause);
    if (job) {
      const [, verb, count, program, machine] = job;
      // A machine named by its station is the device standing there.
      const device = site.devices.find((d) => d.id === name(machine!)) ?? site.devices.find((d) => d.station === name(machine!));
      const step = id(verb!.toLowerCase());
      steps.push({ id: step, action: 'machine.run', device: device?.id ?? name(machine!), params: { program: name(program!), count: Number(count ?? 1) } });
      made = { step, ...(device?.station ? { station: device.station } : {}) };
    } else if (delivery) {
      if (!made?.station) throw new Error(`'${clause}': deliver what? name a machine job before it`);
      const to = name(delivery[1]!);
      roles.courier = { kind: 'amr' };
      // An arm that reaches the machine loads the courier parked there; otherwise the courier picks the tote up itself.
      const arm = site.devices.find((d) => d.kind === 'arm' && d.reaches?.includes(made!.station!));
      if (arm) {
        const fetch = id('fetch');
        steps.push({ id: fetch, action: 'navigate', device: '$courier', params: { to: made.station } });
        const load = id('load');
        steps.push({ id: load, action: 'arm.transfer', device: arm.id, params: { from: made.station, to: '$courier' }, after: [made.step, fetch] });
        steps.push({ id: id('carry'), action: 'drop', device: '$courier', params: { at: to }, after: [load] });
      } else {
        const pick = id('pick');
        steps.push({ id: pick, action: 'pick', device: '$courier', params: { at: made.station }, after: [made.step] });
        steps.push({ id: id('carry'), action: 'drop', device: '$courier', params: { at: to }, after: [pick] });
      }
    } else throw new Error(`'${clause}' is not a goal this agent understands: "mill|print [count] PROGRAM on MACHINE" or "deliver to STATION"`);
  }
  if (steps.length === 0) throw new Error('the goal names nothing to do');
  return { schema: 'phygate.plan/v1', name: 'scripted-agent', goal, requester: { agent: 'scripted-agent' }, roles, steps };
}

/** How many leading characters two names share. */
function commonPrefix(a: string, b: string): number {
  let n = 0;
  while (n < a.length && a[n] === b[n]) n++;
  return n;
}

/**
 * The plan changed as the report's error hints say: where an issue's message quotes a value its
 * step holds (the device, a parameter, an `after` id) and the hint says "did you mean 'X'", the
 * value becomes X; a role the hint says to declare is declared. The issues it cannot act on are
 * answered as `left`.
 */
export function applyHints(plan: Plan, issues: Issue[]): { plan: Plan; fixes: Fix[]; left: Issue[] } {
  const next: Plan = structuredClone(plan);
  const fixes: Fix[] = [];
  const left: Issue[] = [];
  for (const issue of issues.filter((i) => i.severity === 'error')) {
    const step = next.steps.find((s) => s.id === issue.step);
    const meant = /did you mean '([^']+)'/.exec(issue.hint)?.[1];
    const role = /"roles":\s*(\{.*\})/.exec(issue.hint)?.[1];
    let fixed = false;
    if (step && meant) {
      const quoted = [...issue.message.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
      const fields: [string, () => unknown, (v: string) => void][] = [
        ['device', () => step.device, (v) => (step.device = v)],
        ...Object.keys(step.params).map((k): [string, () => unknown, (v: string) => void] => [`params.${k}`, () => step.params[k], (v) => (step.params[k] = v)]),
        ...(step.after ?? []).map((_, k): [string, () => unknown, (v: string) => void] => [`after[${k}]`, () => step.after![k], (v) => (step.after![k] = v)]),
      ];
      // The message may quote more than the wrong value (the machine's id as well as its
      // program): the wrong one is the value most like what the hint suggests.
      const candidates = fields.filter(([, get]) => {
        const value = get();
        return typeof value === 'string' && quoted.includes(value) && value !== meant;
      });
      const best = candidates.sort((a, b) => commonPrefix(String(b[1]()), meant) - commonPrefix(String(a[1]()), meant))[0];
      if (best) {
        const [field, get, set] = best;
        fixes.push({ code: issue.code, step: step.id, field, from: String(get()), to: meant });
        set(meant);
        fixed = true;
      }
    } else if (issue.code === 'UNKNOWN_ROLE' && role) {
      try {
        Object.assign(next.roles, JSON.parse(role) as Plan['roles']);
        fixes.push({ code: issue.code, step: issue.step ?? '', field: 'roles', from: '', to: role });
        fixed = true;
      } catch {
        // Not the JSON the hint usually shows: left for a person.
      }
    }
    if (!fixed) left.push(issue);
  }
  return { plan: next, fixes, left };
}

export interface AgentOptions {
  url: string;
  token: string;
  operatorToken?: string;
  goal?: string;
  log?: (line: string) => void;
  /** Checks before the agent gives up on fixing its plan. */
  maxChecks?: number;
  pollMs?: number;
  timeoutMs?: number;
}

export interface AgentResult {
  mission: Mission;
  /** The reports' verdicts, one per check, in order. */
  verdicts: string[];
  fixes: Fix[];
}

const issueLine = (i: Issue) => `${i.severity} ${i.code}${i.step ? ` (step ${i.step})` : ''}: ${i.message}\n      hint: ${i.hint}`;

/** Runs the loop once, from the goal to the mission's end. */
export async function runScriptedAgent(opts: AgentOptions): Promise<AgentResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const goal = opts.goal ?? DEFAULT_GOAL;
  const agent: Connection = await connect(opts.url, opts.token, 'phygate-scripted-agent');
  try {
    const site = await agent.call<SiteView>('get_site');
    log(`site "${site.name}": ${site.stations.length} stations, ${site.devices.length} devices`);
    log(`goal: ${goal}`);
    let plan = draftPlan(goal, site);
    log(`draft plan: ${plan.steps.map((s) => `${s.id} (${s.action} on ${s.device})`).join(', ')}`);
    const verdicts: string[] = [];
    const fixes: Fix[] = [];
    for (let n = 1; ; n++) {
      const report = await agent.call<Report>('check_plan', { plan });
      verdicts.push(report.verdict);
      log(`check ${n}: ${report.verdict}, makespan ${report.makespanS} s${report.issues.length ? '' : ', no issues'}`);
      for (const i of report.issues) log(`    ${issueLine(i)}`);
      if (report.verdict !== 'fail') break;
      const next = applyHints(plan, report.issues);
      for (const f of next.fixes) log(`  fix from the hint: step ${f.step} ${f.field} '${f.from}' → '${f.to}'`);
      fixes.push(...next.fixes);
      if (next.left.length > 0 || next.fixes.length === 0) throw new Error(`the report has issues this agent cannot fix from their hints: ${next.left.map((i) => i.code).join(', ')}`);
      if (n >= (opts.maxChecks ?? 5)) throw new Error(`the plan still fails after ${n} checks`);
      plan = next.plan;
    }
    const submitted = await agent.call<{ accepted: boolean; mission: Mission; issues: Issue[] }>('submit_mission', { plan });
    // The world may have changed since the check; the submit's own check then rejects it with its issues.
    if (!submitted.accepted) throw new Error(`the plan failed its check at submit: ${submitted.issues.map(issueLine).join('; ')}`);
    log(`submitted: mission ${submitted.mission.id} (${submitted.mission.status})`);
    const mission = await followMission(agent, submitted.mission, { url: opts.url, ...(opts.operatorToken ? { operatorToken: opts.operatorToken } : {}), log, pollMs: opts.pollMs ?? 1000, timeoutMs: opts.timeoutMs ?? 3_600_000 });
    return { mission, verdicts, fixes };
  } finally {
    await agent.close();
  }
}

async function main(): Promise<number> {
  const args = commonArgs(process.argv.slice(2), process.env);
  if (typeof args === 'string') {
    console.error(`${args}\nusage: node --import tsx examples/scripted-agent.ts ${USAGE_OPTIONS}`);
    return 2;
  }
  try {
    const { mission, fixes } = await runScriptedAgent(args);
    console.log(`done: mission ${mission.id} ${mission.status}, ${fixes.length} fix(es) made from the check's hints`);
    return mission.status === 'succeeded' ? 0 : 1;
  } catch (err) {
    console.error(`scripted agent: ${(err as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main();
