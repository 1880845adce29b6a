// What the API answers, declared once as zod schemas: the routes serialize their answers with them
// (and the OpenAPI description is generated from them), the MCP tools give them as output schemas,
// and the tablet takes their types. The tablet's type check reads this file, so it imports only
// zod and modules that import nothing else (no Node, no store).
//
// Objects the gateway builds field by field are `z.object` (serializing drops nothing it sends);
// those that carry what devices or the checker made (a device's state, a report) are
// `z.looseObject` with the fields clients read spelled out, so a field added there reaches
// clients without being dropped on the way.
import { z } from 'zod';
import { ROLES } from '../auth/roles.ts';
import { MISSION_STATUSES, STEP_STATUSES } from '../../planners/mission.ts';
import { ISSUE_CODES, type IssueCode } from '../../planners/report.ts';

const Time = z.string().describe('ISO-8601');
const Hash = z.string().describe('sha256, hex');
const VERDICTS = ['pass', 'warn', 'fail'] as const;

export const HealthSchema = z
  .object({
    status: z.literal('ok'),
    site: z.string().describe("the site's id"),
    uptimeS: z.number().int().describe('seconds since the gateway started'),
  })
  .meta({ examples: [{ status: 'ok', site: 'demo', uptimeS: 3600 }] });

export const WhoamiSchema = z
  .object({
    name: z.string().describe("the token's name"),
    role: z.enum(ROLES).describe('what the token may do: viewer < agent < operator < admin'),
  })
  .meta({ examples: [{ name: 'tablet-1', role: 'operator' }] });

// ---- Devices ----------------------------------------------------------------------------------

const PoseSchema = z.object({ x: z.number(), y: z.number(), theta: z.number() });

/** A device's live state, as the fleet registry holds it (planners/fleet.ts DeviceState). */
export const DeviceStateSchema = z.looseObject({
  id: z.string(),
  kind: z.string().optional().describe('amr, arm, machine or conveyor'),
  online: z.boolean(),
  state: z.string().describe('what it is doing: idle, moving, charging, running, …'),
  at: z.string().optional().describe('the node it stands on (AMRs)'),
  pose: PoseSchema.optional(),
  soc: z.number().optional().describe('state of charge, 0..1 (AMRs)'),
  cargo: z.number().optional().describe('totes carried (AMRs)'),
  paused: z.boolean().optional(),
  errors: z.array(z.string()).optional(),
  lastSeen: Time.optional(),
  job: z
    .object({ commandId: z.string(), action: z.string(), program: z.string().optional(), count: z.number().optional(), from: z.string().optional(), to: z.string().optional() })
    .optional().describe('machines: the job running or just ended'),
  progress: z.number().optional().describe("machines: share of the job's time done, 0..1"),
  partsProduced: z.number().optional(),
  mapId: z.string().optional().describe('VDA 5050 AMRs: the map the vehicle says it is localised on'),
  factsheet: z.looseObject({ version: z.string(), receivedAt: Time }).optional().describe('VDA 5050 AMRs: what its last factsheet says'),
  policy: z
    .object({ name: z.string(), version: z.string(), sha256: Hash, interventions: z.number().int(), byReason: z.record(z.string(), z.number()) })
    .optional()
    .describe('AMRs driven by a learned policy: which one, and how often its safety shield stepped in'),
  unavailable: z
    .string()
    .optional()
    .describe('why the gateway does not use the device, whatever it reports (e.g. its policy has no passing certificate for this floor); such a device is offline to every check'),
});

export const RobotSchema = DeviceStateSchema.extend({
  kind: z.string(),
  dropped: z.record(z.string(), z.number().int()).describe("how many of the device's messages were not acted on, by reason"),
}).meta({ examples: [{ id: 'amr-1', kind: 'amr', online: true, state: 'idle', at: 'dock-a', pose: { x: 1, y: 2, theta: 0 }, soc: 0.8, cargo: 0, dropped: {} }] });

export const RobotListSchema = z.object({ robots: z.array(RobotSchema) });

const TrafficWaitSchema = z.object({
  device: z.string().describe('the robot it waits for'),
  node: z.string().describe('the node it waits to enter'),
  why: z.enum(['held', 'near', 'schedule']).describe('`held`: the other robot holds the node; `near`: it holds a node within reach; `schedule`: the checked schedule has it there first'),
  missionId: z.string().optional().describe("the other robot's mission, when it has one"),
  pass: z.number().int().optional().describe('the schedule entry it waits for (`why: schedule`)'),
});

const TrafficDeviceSchema = z.object({
  id: z.string(),
  holds: z.array(z.string()).describe('nodes it holds now: where it stands, and what it is granted ahead'),
  path: z
    .object({
      missionId: z.string(),
      stepId: z.string(),
      nodes: z.array(z.string()).describe("the step's route"),
      reached: z.number().int().describe('index of the node it last reached'),
      granted: z.number().int().describe('index of the last node it may drive to'),
    })
    .optional()
    .describe('`nodes[reached..granted]` is reserved for it; the rest of the route is not yet'),
  waitsFor: TrafficWaitSchema.optional(),
});

export const TrafficSchema = z
  .object({ devices: z.array(TrafficDeviceSchema) })
  .meta({ examples: [{ devices: [{ id: 'amr-1', holds: ['n3', 'n4'], path: { missionId: 'm_1', stepId: 'fetch', nodes: ['n3', 'n4', 'n5'], reached: 0, granted: 1 } }, { id: 'amr-2', holds: ['n5'], waitsFor: { device: 'amr-1', node: 'n4', why: 'held' } }] }] });

// ---- The site ---------------------------------------------------------------------------------

const Point = z.tuple([z.number(), z.number()]);

const ZoneSchema = z.looseObject({
  id: z.string(),
  kind: z.enum(['keep-out', 'slow']),
  polygon: z.array(Point),
  maxSpeed: z.number().optional().describe('m/s, in a slow zone'),
});

const ObstacleSchema = z.object({
  model: z.string(),
  shape: z.discriminatedUnion('kind', [z.object({ kind: z.literal('box'), hx: z.number(), hy: z.number() }), z.object({ kind: z.literal('circle'), r: z.number() })]),
  x: z.number(),
  y: z.number(),
  yaw: z.number(),
  static: z.boolean(),
});

/** A device as site.yaml declares it (its kind decides the other fields). */
const SiteDeviceSchema = z.looseObject({
  id: z.string(),
  kind: z.string(),
  home: z.string().optional(),
  station: z.string().optional(),
  from: z.string().optional(),
  to: z.string().optional(),
  pose: z.looseObject({ x: z.number(), y: z.number() }).optional(),
});

export const SiteViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    mapId: z.string(),
    worldHash: Hash,
    stations: z.array(z.object({ id: z.string(), kind: z.string(), node: z.string(), x: z.number(), y: z.number(), theta: z.number() })),
    nodes: z.array(z.looseObject({ id: z.string(), x: z.number(), y: z.number() })),
    edges: z.array(z.looseObject({ from: z.string(), to: z.string() })),
    zones: z.array(ZoneSchema),
    devices: z.array(SiteDeviceSchema),
    policies: z.looseObject({ approval: z.enum(['always', 'when-pass']) }),
    timeScale: z.number().describe('how many times faster than real time the floor runs (the virtual fleet\'s speed; 1 with real hardware)'),
    world: z.object({
      obstacles: z.array(ObstacleSchema).describe('the world seen from above, as the checker sees it'),
      ignored: z.array(z.object({ path: z.string(), reason: z.string() })).describe('what of the world file the checker did not read'),
    }),
  })
  .describe('Stations (with their node and position), nav graph, zones, devices and policies of the site');

export const IssueCodesSchema = z
  .record(z.enum(Object.keys(ISSUE_CODES) as [IssueCode, ...IssueCode[]]), z.object({ severity: z.enum(['error', 'warning']), when: z.string() }))
  .describe('Every issue code a check report may contain: its severity and when it is raised')
  .meta({ examples: [ISSUE_CODES] });

// ---- Check reports ----------------------------------------------------------------------------

/** One issue of a check report: what is wrong and the hint that says what to change. */
export const IssueSchema = z.looseObject({
  code: z.enum(Object.keys(ISSUE_CODES) as [IssueCode, ...IssueCode[]]),
  severity: z.enum(['error', 'warning']),
  step: z.string().optional(),
  device: z.string().optional(),
  message: z.string(),
  hint: z.string().describe('what to change in the plan'),
});

const REPORT_EXAMPLE = {
  verdict: 'pass',
  planHash: 'a3f1c2d4e5b6a7980123456789abcdef0123456789abcdef0123456789abcdef',
  worldHash: '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
  assignments: { courier: 'amr-1' },
  makespanS: 312.5,
  steps: [{ id: 'fetch', device: 'amr-1', startS: 0, endS: 42.1 }],
  devices: [{ id: 'amr-1', distanceM: 18.4 }],
  issues: [],
};

/** A check report (POST /v1/plans/check's answer); the fields an agent acts on are spelled out. */
export const CheckReportSchema = z
  .looseObject({
    verdict: z.enum(VERDICTS),
    planHash: Hash.describe('approving the mission needs it'),
    worldHash: Hash,
    assignments: z.record(z.string(), z.string()).describe('role → device'),
    makespanS: z.number(),
    steps: z.array(z.looseObject({ id: z.string(), device: z.string().optional(), startS: z.number(), endS: z.number() })),
    devices: z.array(z.looseObject({ id: z.string(), distanceM: z.number() })),
    issues: z.array(IssueSchema),
    moves: z.array(z.looseObject({ id: z.string(), device: z.string() })).optional().describe('idle robots the mission moves out of the way (MAKE_WAY)'),
  })
  .meta({ examples: [REPORT_EXAMPLE] });

/** A plan as the request examples send it (planners/plan-format.md has the format). */
export const PLAN_EXAMPLE = {
  schema: 'phygate.plan/v1',
  name: 'tote-to-shelf',
  goal: 'Bring the tote at cnc-1 to shelf-2',
  roles: { courier: { kind: 'amr' } },
  steps: [
    { id: 'fetch', action: 'navigate', device: '$courier', params: { to: 'cnc-1' } },
    { id: 'load', action: 'arm.transfer', device: 'arm-1', params: { from: 'cnc-1', to: '$courier' }, after: ['fetch'] },
    { id: 'carry', action: 'drop', device: '$courier', params: { at: 'shelf-2' }, after: ['load'] },
  ],
};

// ---- Missions ---------------------------------------------------------------------------------

export const MissionStepViewSchema = z
  .object({
    id: z.string(),
    action: z.string(),
    device: z
      .string()
      .nullable()
      .describe("the device the step was dispatched to; before that, the one the check's report assigned to its role (`$role` resolved); null when no device has the role"),
    status: z.enum(STEP_STATUSES),
    startedAt: Time.nullable().describe('when it was first dispatched'),
    endedAt: Time.nullable().describe('when it succeeded, failed or was cancelled'),
    reason: z.string().nullable().describe('why it failed, was cancelled or is blocked; null otherwise'),
  })
  .describe('One plan step as it runs');

/** What a mission's status owes its reader: who approved it, and why it is where it is. */
const story = {
  approvedBy: z.string().nullable().describe(`who approved it (a token name; \`policy:when-pass\` when the site's policy did)`),
  approvedAt: Time.nullable(),
  reason: z
    .string()
    .nullable()
    .describe('why it failed, was cancelled or is paused (`<status> by <who>` when no reason was given); null in other statuses'),
  reasonStep: z.string().nullable().describe('the step the reason is about (the step that failed), when there is one'),
  endedAt: Time.nullable().describe('when it reached its final status (succeeded, failed, cancelled, rejected)'),
};

/** What the full view and the list line both start with. */
export const missionHead = {
  id: z.string(),
  status: z.enum(MISSION_STATUSES),
  name: z.string().nullable(),
  priority: z.number(),
  planHash: Hash,
  createdAt: Time,
  updatedAt: Time,
};

const MISSION_EXAMPLE = {
  id: 'm_01JD5ZK9',
  status: 'awaiting_approval',
  name: 'brackets-to-shelf',
  priority: 5,
  planHash: 'a3f1c2d4e5b6a7980123456789abcdef0123456789abcdef0123456789abcdef',
  createdAt: '2026-11-24T08:00:00.000Z',
  updatedAt: '2026-11-24T08:00:00.000Z',
  approvedBy: null,
  approvedAt: null,
  reason: null,
  reasonStep: null,
  endedAt: null,
  steps: [{ id: 'fetch', action: 'navigate', device: 'amr-1', status: 'pending', startedAt: null, endedAt: null, reason: null }],
};

// ---- Rehearsals (POST /v1/missions/{id}/rehearse) ---------------------------------------------

const PlaceSchema = z.object({ x: z.number(), y: z.number() }).describe('site coordinates, metres');

export const RehearsalViewSchema = z
  .object({
    id: z.string(),
    status: z.enum(['running', 'succeeded', 'failed']).describe('succeeded: the mission succeeded on the rehearsal fleet and no robots came too close'),
    planHash: z.string().describe('the plan hash it rehearsed; `rehearsal: required` lets only this hash be approved'),
    requestedBy: z.string(),
    startedAt: Time,
    endedAt: Time.nullable(),
    fleet: z.enum(['virtual', 'gazebo']).nullable().describe('what it ran on: virtual devices in a world of their own, or the Gazebo fleet over ROS 2 in its own ROS domain (PHYGATE_REHEARSAL_FLEET=gazebo); null while running'),
    speed: z.number().nullable().describe('how many times faster than real time it ran'),
    outcome: z
      .enum(['succeeded', 'failed', 'cancelled', 'timed_out', 'not_started'])
      .nullable()
      .describe('how the mission ended on the rehearsal fleet; null while running'),
    reason: z.string().nullable().describe("the rehearsal mission's reason when it did not succeed"),
    makespanS: z.number().nullable().describe('simulated seconds from approval to the end in which something on the rehearsal floor was at work (idle moments waiting for messages are left out)'),
    checkMakespanS: z.number().nullable().describe("the check's makespan, to compare with"),
    minSeparation: z
      .object({
        robots: z.tuple([z.string(), z.string()]),
        distanceM: z.number().describe('centre to centre'),
        gapM: z.number().describe('distanceM less the radii of both footprint discs; below 0 they overlap'),
        at: PlaceSchema,
        near: z.string().describe('the nearest node'),
        tS: z.number().describe('simulated seconds into the rehearsal'),
      })
      .nullable()
      .describe('the closest any two robots came'),
    problems: z.array(
      z.object({
        code: z.string().describe('ROBOTS_TOO_CLOSE, STEP_FAILED, REHEARSAL_TIMEOUT (errors), SLOWER_THAN_CHECKED (a warning)'),
        severity: z.enum(['error', 'warning']),
        message: z.string(),
        robots: z.array(z.string()).optional(),
        at: PlaceSchema.optional(),
        near: z.string().optional(),
        step: z.string().optional(),
      }),
    ),
  })
  .describe("The mission's newest rehearsal: its plan run on a simulated fleet before the real one");


export const MissionViewSchema = z
  .object({
    ...missionHead,
    worldHash: Hash,
    createdBy: z.string(),
    ...story,
    steps: z.array(MissionStepViewSchema).describe('in plan order'),
    report: CheckReportSchema.describe("the check report the mission runs by (POST /v1/plans/check's shape): the approval's check once approved, else the submit's"),
    plan: z.looseObject({ name: z.string().optional(), goal: z.string().optional() }).describe('the plan as checked (GET /v1/schemas/plan.json)'),
    rehearsal: RehearsalViewSchema.nullable()
      .optional()
      .describe('its newest rehearsal (POST /v1/missions/{id}/rehearse); null when it was never rehearsed. In the answers of GET /v1/missions/{id}, rehearse and approve'),
  })
  .describe('A mission with its plan, check report and steps')
  .meta({
    examples: [
      {
        ...MISSION_EXAMPLE,
        worldHash: '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
        createdBy: 'manager-agent',
        report: REPORT_EXAMPLE,
        plan: { schema: 'phygate.plan/v1', name: 'brackets-to-shelf', steps: [{ id: 'fetch', action: 'navigate', device: '$courier', params: { to: 'cnc-1' } }] },
      },
    ],
  });

export const MissionSummarySchema = z
  .object({
    ...missionHead,
    verdict: z.enum(VERDICTS),
    makespanS: z.number(),
    ...story,
    steps: z.array(MissionStepViewSchema),
  })
  .describe('One mission in a list: enough to pick one, without the plan and report');

export const MissionListSchema = z
  .object({
    missions: z.array(MissionSummarySchema),
    next: z.string().nullable().describe('`before` for the next page; null on the last'),
  })
  .meta({ examples: [{ missions: [{ ...MISSION_EXAMPLE, verdict: 'pass', makespanS: 312.5 }], next: null }] });

export const MissionEventViewSchema = z.object({
  seq: z.number().int().describe('rising over every mission; page with afterSeq'),
  at: Time,
  type: z.string().describe('`mission.<status>` or `step.<status>`'),
  actor: z.string().describe('who did it: a token name, `executor`, or `stop:<token name>`'),
  data: z.unknown().describe('what came with it: `{step, device?, reason?}` for steps, `{reason?, step?}` for failed, paused and cancelled missions'),
});

export const MissionEventPageSchema = z
  .object({
    events: z.array(MissionEventViewSchema),
    next: z.number().int().nullable().describe('`afterSeq` for the next page when this one was full; null otherwise'),
  })
  .meta({ examples: [{ events: [{ seq: 1, at: '2026-11-24T08:00:00.000Z', type: 'mission.awaiting_approval', actor: 'manager-agent', data: {} }], next: null }] });

// ---- STOP -------------------------------------------------------------------------------------

export const StopRecordSchema = z.object({
  id: z.string(),
  scope: z.string().describe('`all`, `zone:<id>` or `device:<id>`'),
  reason: z.string(),
  devices: z.array(z.string()).describe('the devices in the scope when it was pressed'),
  createdBy: z.string(),
  createdAt: Time,
  releasedBy: z.string().nullable(),
  releasedAt: Time.nullable(),
  releaseNote: z.string().nullable(),
});

export const DeliverySchema = z.object({
  device: z.string(),
  via: z.string().describe('the device port that told it: `vda5050`, `machine`, `ros2`'),
  result: z.enum(['sent', 'unconfirmed', 'failed']).describe('`sent`: the broker confirmed it within a second; `unconfirmed`: not yet; `failed`: not sent'),
  error: z.string().optional(),
});

const STOP_EXAMPLE = {
  id: 's_01JD60A1',
  scope: 'all',
  reason: 'operator pressed STOP',
  devices: ['amr-1', 'cnc-1'],
  createdBy: 'tablet-1',
  createdAt: '2026-11-24T08:03:00.000Z',
  releasedBy: null,
  releasedAt: null,
  releaseNote: null,
};

export const StopPressAnswerSchema = StopRecordSchema.extend({
  told: z.array(DeliverySchema).describe('every device in the scope and what became of its message'),
  notes: z.array(z.string()).describe('what was made of the request: defaults used, fields ignored'),
}).meta({ examples: [{ ...STOP_EXAMPLE, told: [{ device: 'amr-1', via: 'vda5050', result: 'sent' }], notes: ["scope missing: 'all' used"] }] });

export const ActiveStopsSchema = z
  .object({ active: z.boolean().describe('whether any STOP is latched'), stops: z.array(StopRecordSchema) })
  .meta({ examples: [{ active: true, stops: [STOP_EXAMPLE] }] });

export const StopHistorySchema = z.object({ stops: z.array(StopRecordSchema) }).meta({ examples: [{ stops: [STOP_EXAMPLE] }] });

export const StopReleaseAnswerSchema = z
  .object({
    active: z.literal(false),
    released: z.array(StopRecordSchema).describe('the stops this release ended (empty: none was active)'),
    resumed: z.array(DeliverySchema).describe('the devices told the stop is over'),
  })
  .meta({ examples: [{ active: false, released: [{ ...STOP_EXAMPLE, releasedBy: 'tablet-1', releasedAt: '2026-11-24T08:05:00.000Z', releaseNote: 'aisle clear' }], resumed: [] }] });

// ---- Administration ---------------------------------------------------------------------------

export const AuditEntrySchema = z.object({
  seq: z.number().int(),
  at: Time,
  actor: z.string().describe('the token name, or `anonymous`'),
  role: z.string().nullable(),
  method: z.string(),
  path: z.string().describe('without the query string'),
  status: z.number().int(),
  code: z.string().nullable().describe('the error code of a 4xx/5xx answer'),
  requestId: z.string(),
  count: z.number().int().optional().describe('refused requests without a valid token that this row stands for'),
  address: z.string().optional().describe('the client address of such a row'),
  operation: z.string().optional().describe('the use case, e.g. `missions.approve`'),
  prevHash: Hash,
  hash: Hash,
});

export const AuditPageSchema = z
  .object({
    entries: z.array(AuditEntrySchema),
    chain: z.union([
      z.object({ ok: z.literal(true), rows: z.number().int().describe('verified from the first'), pending: z.number().int().describe('after them, not yet verified') }),
      z.object({ ok: z.literal(false), seq: z.number().int().describe('the first row that does not verify'), reason: z.string() }),
    ]),
  })
  .meta({
    examples: [
      {
        entries: [
          {
            seq: 1,
            at: '2026-11-24T08:00:00.000Z',
            actor: 'manager-agent',
            role: 'agent',
            method: 'POST',
            path: '/v1/missions',
            status: 201,
            code: null,
            requestId: 'req-1',
            operation: 'missions.submit',
            prevHash: '0'.repeat(64),
            hash: '5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592',
          },
        ],
        chain: { ok: true, rows: 1, pending: 0 },
      },
    ],
  });

export const TokenRecordSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    createdAt: Time,
    revokedAt: Time.nullable().describe('when it was revoked'),
    expiresAt: Time.nullable().describe('when it stops being accepted; null: never'),
  })
  .meta({ examples: [{ id: 't_01JD5Y', name: 'tablet-1', role: 'operator', createdAt: '2026-11-20T09:00:00.000Z', revokedAt: '2026-11-24T08:00:00.000Z', expiresAt: null }] });

// ---- MCP ----------------------------------------------------------------------------------------

const JsonRpcId = z.union([z.string(), z.number(), z.null()]);

/** A JSON-RPC message to the MCP server: a request (with an id), a notification or an answer. */
export const JsonRpcMessageSchema = z.looseObject({ jsonrpc: z.literal('2.0'), id: JsonRpcId.optional(), method: z.string().optional(), params: z.looseObject({}).optional() });

/** A JSON-RPC answer of the MCP server: a result, or an error with a JSON-RPC code. */
export const JsonRpcAnswerSchema = z
  .union([
    z.looseObject({ jsonrpc: z.literal('2.0'), id: JsonRpcId, result: z.looseObject({}) }),
    z.looseObject({ jsonrpc: z.literal('2.0'), id: JsonRpcId, error: z.looseObject({ code: z.number().int(), message: z.string() }) }),
  ])
  .meta({ examples: [{ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'get_site', inputSchema: { type: 'object' } }] } }] });

export const JsonRpcErrorSchema = z
  .looseObject({ jsonrpc: z.literal('2.0'), id: JsonRpcId, error: z.looseObject({ code: z.number().int(), message: z.string() }) })
  .meta({ examples: [{ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'Not Acceptable: Client must accept both application/json and text/event-stream' } }] });

// ---- Types the clients use --------------------------------------------------------------------

export type Whoami = z.infer<typeof WhoamiSchema>;
export type DeviceState = z.infer<typeof DeviceStateSchema>;
export type Robot = z.infer<typeof RobotSchema>;
export type TrafficWait = z.infer<typeof TrafficWaitSchema>;
export type TrafficDevice = z.infer<typeof TrafficDeviceSchema>;
export type SiteView = z.infer<typeof SiteViewSchema>;
export type SiteDevice = SiteView['devices'][number];
export type Zone = z.infer<typeof ZoneSchema>;
export type Obstacle = z.infer<typeof ObstacleSchema>;
export type Issue = z.infer<typeof IssueSchema>;
export type Report = z.infer<typeof CheckReportSchema>;
export type MissionStatus = (typeof MISSION_STATUSES)[number];
export type StepStatus = (typeof STEP_STATUSES)[number];
export type MissionStep = z.infer<typeof MissionStepViewSchema>;
export type MissionSummary = z.infer<typeof MissionSummarySchema>;
export type Mission = z.infer<typeof MissionViewSchema>;
export type StopRecord = z.infer<typeof StopRecordSchema>;
export type Rehearsal = z.infer<typeof RehearsalViewSchema>;
