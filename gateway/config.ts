// Configuration comes from the environment, checked once at start so a typo fails loudly.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { closest } from '../planners/suggest.ts';

const REPO = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The site folder used when PHYGATE_SITE is not set: the demo hall in this repository. */
export const DEFAULT_SITE_DIR = resolve(REPO, 'launch/sites/demo');

const flag = z.enum(['0', '1', 'true', 'false']).transform((v) => v === '1' || v === 'true');

export const ConfigSchema = z.object({
  PHYGATE_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  PHYGATE_HOST: z.string().min(1).default('127.0.0.1'),
  PHYGATE_DATA_DIR: z.string().min(1).default('var'),
  PHYGATE_SITE: z.string().min(1).default(DEFAULT_SITE_DIR),
  PHYGATE_ADMIN_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  PHYGATE_MQTT_URL: z.string().url().optional().describe('an external broker; unset: the embedded one'),
  PHYGATE_MQTT_PORT: z.coerce.number().int().min(0).max(65535).default(1883).describe('port of the embedded broker'),
  PHYGATE_MQTT_HOST: z.string().min(1).default('127.0.0.1').describe('address the embedded broker listens on'),
  PHYGATE_MQTT_AUTH: z.enum(['on', 'off']).default('on').describe("the embedded broker's logins and topic rules; 'off' only when it listens on loopback"),
  PHYGATE_MQTT_TLS_CERT: z.string().min(1).optional().describe('PEM certificate: the embedded broker speaks MQTT over TLS only'),
  PHYGATE_MQTT_TLS_KEY: z.string().min(1).optional().describe('PEM key of PHYGATE_MQTT_TLS_CERT'),
  PHYGATE_MQTT_MAX_PACKET: z.coerce.number().int().min(1024).max(268_435_455).default(256 * 1024).describe('largest MQTT packet the embedded broker takes, in bytes'),
  PHYGATE_MQTT_MAX_CONNECTIONS: z.coerce.number().int().positive().default(256).describe('connections the embedded broker holds at once'),
  PHYGATE_MQTT_MAX_SUBSCRIPTIONS: z.coerce.number().int().positive().default(32).describe('subscriptions one client of the embedded broker may hold'),
  PHYGATE_MQTT_USERNAME: z.string().min(1).optional(),
  PHYGATE_MQTT_PASSWORD: z.string().min(1).optional(),
  PHYGATE_MQTT_CA_FILE: z.string().min(1).optional(),
  PHYGATE_MQTT_CERT_FILE: z.string().min(1).optional(),
  PHYGATE_MQTT_KEY_FILE: z.string().min(1).optional(),
  PHYGATE_MQTT_TLS_INSECURE: flag.default(false).describe('accept a broker certificate that does not verify'),
  PHYGATE_VDA_INTERFACE: z.string().regex(/^[A-Za-z0-9_-]+$/).default('uagv'),
  PHYGATE_VIRTUAL_FLEET: flag.default(true),
  PHYGATE_ROS2: z.enum(['off', 'on']).default('off').describe("'on': drive the site's devices with a ros2 block over ROS 2 (needs ROS 2 sourced and rclnodejs installed)"),
  PHYGATE_STATE_CLOCK_SKEW_S: z.coerce.number().min(0).max(86_400).default(30).describe("a VDA 5050 state or visualization stamped further than this from the gateway's clock is dropped; 0: no check"),
  PHYGATE_OFFLINE_GRACE_S: z.coerce.number().positive().max(3600).default(60).describe('how long a step waits for its device to come back'),
  PHYGATE_COMMAND_TTL_S: z.coerce.number().positive().max(3600).default(10).describe('how long an order or machine command may take to reach its device; after that it is never sent'),
  PHYGATE_FLEET_SPEED: z.coerce.number().positive().max(1000).default(1).describe('time scale of the virtual fleet'),
  PHYGATE_REHEARSAL_SPEED: z.coerce.number().positive().max(200).default(20).describe('time scale of a rehearsal on the virtual fleet (POST /v1/missions/{id}/rehearse)'),
  PHYGATE_REHEARSAL_FLEET: z.enum(['virtual', 'gazebo']).default('virtual').describe("what a rehearsal runs on: 'virtual' devices in a world of their own, or 'gazebo': the robots of a Gazebo simulation over ROS 2 (needs PHYGATE_REHEARSAL_SITE and PHYGATE_REHEARSAL_ROS_DOMAIN, ROS 2 sourced and rclnodejs)"),
  PHYGATE_REHEARSAL_SITE: z.string().min(1).optional().describe('the companion site folder `phygate launch gazebo --out DIR` writes (DIR/site): its devices\' ros2 blocks name the Gazebo robots'),
  PHYGATE_REHEARSAL_ROS_DOMAIN: z.coerce.number().int().min(0).max(232).optional().describe("the ROS domain (ROS_DOMAIN_ID) the Gazebo simulation runs in; never the floor's"),
  PHYGATE_RATE_LIMIT: z.coerce.number().int().positive().default(600).describe('requests per token per minute'),
  PHYGATE_RATE_LIMIT_ANONYMOUS: z.coerce.number().int().positive().default(60).describe('requests without a valid token per client address per minute'),
  PHYGATE_EVENT_STREAMS_PER_TOKEN: z.coerce.number().int().positive().default(8).describe('open event streams per token'),
  PHYGATE_EVENT_STREAMS: z.coerce.number().int().positive().default(256).describe('open event streams in all'),
  PHYGATE_TLS_CERT: z.string().min(1).optional().describe('PEM certificate (chain) file: serve HTTPS'),
  PHYGATE_TLS_KEY: z.string().min(1).optional().describe("PEM file of the certificate's private key"),
  PHYGATE_BODY_LIMIT: z.coerce.number().int().positive().default(256 * 1024),
  PHYGATE_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  PHYGATE_CHECK_WORKERS: z.coerce
    .number()
    .int()
    .min(1)
    .max(256)
    .default(() => Math.max(1, availableParallelism() - 1))
    .describe('worker threads plan checks run in; default: one per CPU but one, which the event loop keeps'),
  PHYGATE_CHECK_NICE: z.coerce
    .number()
    .int()
    .min(0)
    .max(19)
    .default(19)
    .describe("CPU niceness of the check workers: 19, the lowest priority, lets STOP and the devices' traffic go first; 0 gives checks an equal share, for a machine that runs several gateways at once"),
  PHYGATE_CHECK_BUDGET_MS: z.coerce.number().int().min(1).max(3_600_000).default(10_000).describe('how long one plan check may run before it is stopped (503 CHECK_TIMEOUT)'),
  PHYGATE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Variables that are not the gateway's settings but are read by its tools: the benchmarks and the tests. */
const TOOL_VARIABLES = /^PHYGATE_(BENCH|TEST|PROPERTY|FUZZ)_|^PHYGATE_VDA5050_SCHEMAS$/;

/**
 * Warnings for PHYGATE_* variables that nothing reads (a typo such as PHYGATE_PROT would
 * otherwise leave the default in place without a word), each with the closest known name.
 */
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = Object.keys(ConfigSchema.shape);
  return Object.keys(env)
    .filter((k) => k.startsWith('PHYGATE_') && !known.includes(k) && !TOOL_VARIABLES.test(k))
    .sort()
    .map((k) => {
      const near = closest(k, known, 1);
      return `${k} is not a phygate setting and is ignored${near.length > 0 ? `; did you mean ${near[0]}?` : ''} (the settings: README, "Configuration")`;
    });
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('PHYGATE_') && v !== ''));
  const r = ConfigSchema.safeParse(picked);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  // Half a TLS configuration would serve plain HTTP while the operator thinks it is HTTPS.
  if ((r.data.PHYGATE_TLS_CERT === undefined) !== (r.data.PHYGATE_TLS_KEY === undefined)) {
    throw new ConfigError('PHYGATE_TLS_CERT and PHYGATE_TLS_KEY: set both (HTTPS) or neither (plain HTTP)');
  }
  return r.data;
}
