// The manager agent's MCP server: the gateway's use cases as MCP tools, the plan format, the site
// and the issue codes as resources, and a prompt that teaches the plan format. Built per request
// for the caller's token (the HTTP door is stateless, gateway/mcp/http.ts); every tool goes
// through UseCases.run, so it needs the role REST needs and leaves the audit row REST leaves.
import { readFileSync } from 'node:fs';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { MISSION_STATUSES } from '../../planners/mission.ts';
import { PlanSchema, type Plan } from '../../planners/plan.ts';
import { ISSUE_CODES, type CheckReport } from '../../planners/report.ts';
import type { DropCounter } from '../../robots/drops.ts';
import type { FleetRegistry } from '../../robots/fleet-registry.ts';
import type { LoadedSite } from '../../sim/site-folder.ts';
import { ApiError } from '../errors.ts';
import type { MissionService } from '../missions/service.ts';
import { CheckReportSchema, IssueSchema, MissionListSchema, MissionViewSchema, RobotListSchema, SiteViewSchema, StopPressAnswerSchema, StopReleaseAnswerSchema } from '../api/schemas.ts';
import { missionSummary, missionView } from '../missions/view.ts';
import type { RehearsalService } from '../rehearsal/service.ts';
import { CheckRequestSchema } from '../routes/plans.ts';
import { robotView } from '../routes/robots.ts';
import { siteView } from '../routes/site.ts';
import { DEFAULT_REASON, REASON_MAX } from '../stop-request.ts';
import type { StopService } from '../stop.ts';
import type { Caller, Operation, Outcome, UseCases } from '../use-cases.ts';
import { OPERATIONS } from '../use-cases.ts';

const PLAN_FORMAT = readFileSync(new URL('../../planners/plan-format.md', import.meta.url), 'utf8');

export interface McpDeps {
  useCases: UseCases;
  missions: MissionService;
  /** Rehearsals (the `rehearse_mission` tool); without them the tool is not offered. */
  rehearsals?: RehearsalService;
  stops: StopService;
  site: LoadedSite;
  /** How many times faster than real time the floor runs (GET /v1/site's timeScale). */
  timeScale?: number;
  fleet: FleetRegistry;
  drops?: Pick<DropCounter, 'of'>;
  version: string;
}

const MissionId = z.string().min(1).max(100).describe('a mission id');

/** A tool's answer: the structured value, and the same as JSON text for clients that read only text. */
function ok(value: Record<string, unknown>, text?: string): CallToolResult {
  return { content: [{ type: 'text', text: text ?? JSON.stringify(value) }], structuredContent: value };
}

/** A refusal as REST would answer it: the API error code and message (and details), as a tool error. */
function refused(err: unknown): CallToolResult {
  if (!(err instanceof ApiError)) throw err;
  const body = err.body();
  const issues = (err.details as { report?: CheckReport } | undefined)?.report?.issues;
  const lines = [`${body.code}: ${body.message}`, ...(issues ?? []).filter((i) => i.severity === 'error').map((i) => `- ${i.code}${i.step ? ` (step ${i.step})` : ''}: ${i.message} Hint: ${i.hint}`)];
  // No structuredContent: clients check it against the tool's output schema even on an error.
  // The first text is for the model; the second is the API's error body, for programs.
  return { isError: true, content: [{ type: 'text', text: lines.join('\n') }, { type: 'text', text: JSON.stringify(body) }] };
}

/** The issues with their hints, as text a model reads. */
function issuesText(report: CheckReport): string {
  if (report.issues.length === 0) return 'no issues';
  return report.issues.map((i) => `- ${i.severity} ${i.code}${i.step ? ` (step ${i.step})` : ''}: ${i.message} Hint: ${i.hint}`).join('\n');
}

/** The MCP server for one caller. */
export function mcpServer(deps: McpDeps, caller: Caller): McpServer {
  const { useCases, missions, stops, site, fleet } = deps;
  const server = new McpServer({ name: 'phygate', version: deps.version });
  const need = (op: Operation) => `Needs the '${OPERATIONS[op].role}' role.`;
  const run = <T>(op: Operation, f: () => T | Promise<T>, outcome?: (result: T) => Outcome): Promise<T> => useCases.run(op, caller, f, outcome);
  // Each tool's answer, or its refusal as a tool error with the API's code.
  const tool = (f: () => Promise<CallToolResult>) => f().catch(refused);

  server.registerTool(
    'get_site',
    {
      title: 'The site',
      description: `Stations (with their nav-graph node and position), nav graph, zones, devices and policies of the shop floor: what plan steps can name. ${need('site.read')}`,
      outputSchema: SiteViewSchema,
      annotations: { readOnlyHint: true },
    },
    () => tool(async () => ok(await run('site.read', () => siteView(site, deps.timeScale)))),
  );

  server.registerTool(
    'list_robots',
    {
      title: 'Devices and their live state',
      description: `Every device of the site with its live state (online, position, battery, what it is doing) and the messages of it that were dropped. ${need('robots.list')}`,
      outputSchema: RobotListSchema,
      annotations: { readOnlyHint: true },
    },
    () => tool(async () => ok(await run('robots.list', () => ({ robots: site.index.site.devices.map((d) => robotView(site, fleet, deps.drops, d.id)) })))),
  );

  server.registerTool(
    'check_plan',
    {
      title: 'Check a plan in simulation',
      description: `Checks a plan (the phygate://plan-format resource) against the site, the fleet as it is now and the other missions' work; nothing moves, nothing is stored. The report's verdict is fail when any issue is an error; each issue has a hint that says what to change. ${need('plans.check')}`,
      inputSchema: CheckRequestSchema.shape,
      outputSchema: CheckReportSchema,
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    (args) =>
      tool(async () => {
        const report = await run('plans.check', () => missions.check(args.plan as Plan, args.assume));
        return ok(report as unknown as Record<string, unknown>, `verdict ${report.verdict}, planHash ${report.planHash}, makespan ${report.makespanS} s\n${issuesText(report)}`);
      }),
  );

  server.registerTool(
    'submit_mission',
    {
      title: 'Submit a plan as a mission',
      description: `Checks the plan and stores it as a mission. A passing plan awaits an operator's approval (or is approved at once, by site policy). A failing plan is stored as rejected and answered here, not as an error: accepted false, with the report's issues and their hints; fix the plan and submit again. idempotencyKey makes retries safe. ${need('missions.submit')}`,
      inputSchema: { plan: PlanSchema, idempotencyKey: z.string().min(1).max(200).optional().describe('the same key and plan return the same mission') },
      outputSchema: z.object({
        accepted: z.boolean().describe('false: the plan failed its check and the mission is rejected'),
        created: z.boolean().describe('false: an idempotencyKey replay returned the mission made before'),
        mission: MissionViewSchema,
        issues: z.array(IssueSchema).describe("the report's issues, each with its hint"),
      }),
    },
    (args) =>
      tool(async () => {
        const { mission, created } = await run(
          'missions.submit',
          () => missions.submit(args.plan as Plan, caller.principal.name, args.idempotencyKey, caller.principal.id),
          (r) => (r.mission.status === 'rejected' ? { status: 422, code: 'PLAN_REJECTED' } : { status: r.created ? 201 : 200 }),
        );
        const report = mission.report as CheckReport;
        const accepted = mission.status !== 'rejected';
        const head = accepted ? `mission ${mission.id} is ${mission.status}` : `the plan failed its check: mission ${mission.id} is rejected; fix these and submit again`;
        return ok({ accepted, created, mission: missionView(mission), issues: report.issues }, `${head}\n${issuesText(report)}`);
      }),
  );

  server.registerTool(
    'get_mission',
    {
      title: 'One mission',
      description: `A mission with its plan, report and steps: where it is and why. ${need('missions.get')}`,
      inputSchema: { id: MissionId },
      outputSchema: MissionViewSchema,
      annotations: { readOnlyHint: true },
    },
    (args) => tool(async () => ok(await run('missions.get', () => missionView(missions.get(args.id), missions.rehearsalOf(args.id))))),
  );

  server.registerTool(
    'list_missions',
    {
      title: 'Missions, newest first',
      description: `Missions, newest first, optionally of some statuses; page with before = the last id (next). ${need('missions.list')}`,
      inputSchema: {
        status: z.array(z.enum(MISSION_STATUSES)).min(1).optional(),
        limit: z.number().int().min(1).max(500).default(50),
        before: z.string().min(1).max(100).optional().describe('a mission id: the page starts after it'),
      },
      outputSchema: MissionListSchema,
      annotations: { readOnlyHint: true },
    },
    (args) =>
      tool(async () =>
        ok(
          await run('missions.list', () => {
            const list = missions.list({ limit: args.limit, ...(args.status ? { status: args.status } : {}), ...(args.before ? { before: args.before } : {}) });
            return { missions: list.map(missionSummary), next: list.length === args.limit ? list.at(-1)!.id : null };
          }),
        ),
      ),
  );

  server.registerTool(
    'approve_mission',
    {
      title: 'Approve a mission',
      description: `Approves exactly the plan that was checked: planHash must be the one in the mission's report. The plan is checked again against the fleet as it is now. ${need('missions.approve')}`,
      inputSchema: { id: MissionId, planHash: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex digest') },
      outputSchema: MissionViewSchema,
    },
    (args) => tool(async () => ok(missionView(await run('missions.approve', () => missions.approve(args.id, args.planHash, caller.principal.name))))),
  );

  const { rehearsals } = deps;
  if (rehearsals) {
    server.registerTool(
      'rehearse_mission',
      {
        title: 'Rehearse a mission on a simulated fleet',
        description: `Runs the plan of a mission awaiting approval on a rehearsal fleet of virtual devices (never the real one), starting where the real robots stand. Answers at once with the rehearsal running; get_mission shows its outcome, makespan against the check's, the closest the robots came and its problems once it ended. Under the site's policy rehearsal: required, approval waits for a successful rehearsal of the same plan hash. ${need('missions.rehearse')}`,
        inputSchema: { id: MissionId },
        outputSchema: MissionViewSchema,
      },
      (args) =>
        tool(async () => {
          const record = await run('missions.rehearse', () => rehearsals.start(args.id, caller.principal.name), () => ({ status: 202 }));
          return ok(missionView(missions.get(args.id), record), `mission ${args.id}: rehearsal ${record.id} is running; get_mission shows how it ends`);
        }),
    );
  }

  for (const [name, op, what] of [
    ['pause_mission', 'missions.pause', 'Pauses a running mission: no new steps start, its AMRs pause.'],
    ['resume_mission', 'missions.resume', 'Resumes a paused mission (after a pause, a STOP or a restart); refused with STOP_ACTIVE while a STOP covers its devices.'],
  ] as const) {
    server.registerTool(name, { description: `${what} ${need(op)}`, inputSchema: { id: MissionId }, outputSchema: MissionViewSchema }, (args) =>
      tool(async () => ok(missionView(await run(op, () => (op === 'missions.pause' ? missions.pause(args.id, caller.principal.name) : missions.resume(args.id, caller.principal.name)))))),
    );
  }

  server.registerTool(
    'cancel_mission',
    {
      description: `Cancels a mission that has not finished; reason becomes the mission's reason. ${need('missions.cancel')}`,
      inputSchema: { id: MissionId, reason: z.string().max(500).optional() },
      outputSchema: MissionViewSchema,
    },
    (args) => tool(async () => ok(missionView(await run('missions.cancel', () => missions.cancel(args.id, caller.principal.name, args.reason))))),
  );

  server.registerTool(
    'stop',
    {
      title: 'STOP',
      description: `STOP: every device in the scope stops at once, latched until an operator releases it. scope: all (default), zone:<id>, device:<id> or a bare id; one that names nothing on the site is refused (NOT_FOUND) and nothing stops. Any role; never rate-limited.`,
      // Lenient as the REST press is: any reason is taken (cut to its limit), a scope is checked by the service.
      inputSchema: { scope: z.string().optional(), reason: z.string().optional() },
      outputSchema: StopPressAnswerSchema,
      annotations: { destructiveHint: true },
    },
    (args) =>
      tool(async () => {
        const reason = args.reason?.trim() ? args.reason.slice(0, REASON_MAX) : DEFAULT_REASON;
        const { stop, told, notes } = await run('stop.press', () => stops.stop({ scope: args.scope, reason, actor: caller.principal.name }));
        return ok({ ...stop, told, notes } as Record<string, unknown>);
      }),
  );

  server.registerTool(
    'release_stop',
    {
      title: 'Release every STOP',
      description: `Releases every active STOP; ack must be true: the operator confirms the floor is safe. Missions stay paused until resumed. ${need('stop.release')}`,
      inputSchema: { ack: z.literal(true), note: z.string().min(1).max(500).optional() },
      outputSchema: StopReleaseAnswerSchema,
    },
    (args) =>
      tool(async () => {
        const { released, resumed } = await run('stop.release', () => stops.release({ actor: caller.principal.name, ack: args.ack, ...(args.note === undefined ? {} : { note: args.note }) }));
        return ok({ active: false, released, resumed } as Record<string, unknown>);
      }),
  );

  // Resources: what an agent reads before it writes a plan.
  const json = (uri: URL, value: unknown) => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }] });
  server.registerResource('plan-format', 'phygate://plan-format', { title: 'Plan format v1', description: 'How to write a plan: steps, actions, roles, dependencies', mimeType: 'text/markdown' }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: 'text/markdown', text: PLAN_FORMAT }],
  }));
  server.registerResource('site', 'phygate://site', { title: 'The site', description: 'Stations, nav graph, zones, devices and policies', mimeType: 'application/json' }, (uri) => json(uri, siteView(site, deps.timeScale)));
  server.registerResource('issue-codes', 'phygate://issue-codes', { title: 'Issue codes', description: 'Every issue code a check report may contain, and what it means', mimeType: 'application/json' }, (uri) => json(uri, ISSUE_CODES));
  server.registerResource(
    'mission',
    new ResourceTemplate('phygate://missions/{id}', { list: undefined }),
    { title: 'A mission', description: 'A mission with its plan, report and steps', mimeType: 'application/json' },
    async (uri, vars) => {
      try {
        return json(uri, await run('missions.get', () => missionView(missions.get(String(vars.id)), missions.rehearsalOf(String(vars.id)))));
      } catch (err) {
        // Answered as the SDK answers a URI no resource matches, not as an internal error.
        if (err instanceof ApiError && err.code === 'NOT_FOUND') throw new McpError(ErrorCode.InvalidParams, `Resource ${uri.href} not found: ${err.message}`);
        throw err;
      }
    },
  );

  server.registerPrompt(
    'write_plan',
    {
      title: 'Write a phygate plan',
      description: "Teaches the plan format with this site's stations and devices, for a goal",
      argsSchema: { goal: z.string().describe('what the shop floor should get done') },
    },
    ({ goal }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: planPrompt(site, goal) } }],
    }),
  );
  return server;
}

/** The prompt: the format in brief, this site's stations and devices, the loop to follow. */
export function planPrompt(site: LoadedSite, goal: string): string {
  const s = site.index.site;
  const stations = s.stations.map((st) => `- ${st.id} (${st.kind})`).join('\n');
  const devices = s.devices.map((d) => `- ${d.id} (${d.kind})`).join('\n');
  return [
    `Write a phygate plan (schema "phygate.plan/v1") for this goal: ${goal}`,
    '',
    `The site "${s.name}" has these stations:`,
    stations,
    '',
    'and these devices:',
    devices,
    '',
    'A plan is JSON: {"schema": "phygate.plan/v1", "name", "goal", "priority" (0-10, default 5), "roles": {"courier": {"kind": "amr"}}, "steps": [...]}.',
    'Each step has an id, an action, a device (a device id, or $role for any device of the role\'s kind) and params; "after" lists the steps it waits for. For example:',
    '{"id": "fetch", "action": "navigate", "device": "$courier", "params": {"to": "cnc-1"}}',
    '{"id": "load", "action": "arm.transfer", "device": "arm-1", "params": {"from": "cnc-1", "to": "$courier"}, "after": ["fetch"]}',
    'The resource phygate://plan-format has every action and field.',
    '',
    'Then: call check_plan; while the verdict is fail, change the plan as the issues\' hints say and check again; when it passes, call submit_mission and follow the mission with get_mission. An operator approves it.',
  ].join('\n');
}
