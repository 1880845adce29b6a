// `phygate edge --site DIR --device ID …`: on a robot's own computer, the robot's VDA 5050
// vehicle, its certified policy and its ROS 2 base (robots/edge/). Composed here because it needs
// the site folder and its collision world (sim/) as well as robots/.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EdgeRefusedError, startEdge } from '../../robots/edge/edge.ts';
import { startRos2Base } from '../../robots/edge/ros2-base.ts';
import type { MqttLogin } from '../../robots/mqtt.ts';
import { Ros2UnavailableError } from '../../robots/ros2/errors.ts';
import { edgeSiteOf } from '../../sim/policy-gate.ts';
import { openSiteFolder } from '../../sim/site-folder.ts';
import { createCollisionWorld } from '../../sim/world/collision.ts';
import { readConfig } from '../config.ts';

type Out = (line: string) => void;

export const EDGE_USAGE_LINE = 'phygate edge --device ID [--site DIR] [--broker URL] [--policy FILE] [--certificate FILE] [--namespace NS] [--cmd-vel TOPIC] [--odom TOPIC] [--map-frame FRAME] [--map-transform X,Y,THETA]';

export interface EdgeCliHelpers {
  /** A path the user typed, resolved where they stand. */
  userPath: (p: string) => string;
  /** PHYGATE_MQTT_CA_FILE's text. */
  readCa: (path: string) => string;
}

export async function edgeCommand(argv: string[], { userPath, readCa }: EdgeCliHelpers, out: Out, err: Out, signals: NodeJS.EventEmitter = process): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      site: { type: 'string' },
      device: { type: 'string' },
      broker: { type: 'string' },
      policy: { type: 'string' },
      certificate: { type: 'string' },
      namespace: { type: 'string' },
      'cmd-vel': { type: 'string' },
      odom: { type: 'string' },
      'map-frame': { type: 'string' },
      'map-transform': { type: 'string' },
      'data-dir': { type: 'string' },
    },
    strict: true,
  });
  if (values.device === undefined) {
    err(`--device is required: the AMR of the site this computer drives\n\nusage: ${EDGE_USAGE_LINE}`);
    return 2;
  }
  let mapTransform: { x: number; y: number; theta: number } | undefined;
  if (values['map-transform'] !== undefined) {
    const parts = values['map-transform'].split(',').map((p) => Number(p.trim()));
    if (parts.length !== 3 || !parts.every(Number.isFinite)) {
      err(`--map-transform must be X,Y,THETA (metres, metres, radians), not '${values['map-transform']}'`);
      return 2;
    }
    mapTransform = { x: parts[0]!, y: parts[1]!, theta: parts[2]! };
  }
  const config = readConfig();
  const site = await openSiteFolder(values.site !== undefined ? userPath(values.site) : resolve(config.PHYGATE_SITE));
  const device = site.index.device(values.device);
  const ros2 = device?.kind === 'amr' ? device.ros2 : undefined;
  const brokerUrl = values.broker ?? config.PHYGATE_MQTT_URL ?? `mqtt://127.0.0.1:${config.PHYGATE_MQTT_PORT}`;
  const login: MqttLogin = {
    ...(config.PHYGATE_MQTT_USERNAME !== undefined ? { username: config.PHYGATE_MQTT_USERNAME } : {}),
    ...(config.PHYGATE_MQTT_PASSWORD !== undefined ? { password: config.PHYGATE_MQTT_PASSWORD } : {}),
    ...(config.PHYGATE_MQTT_CA_FILE !== undefined ? { ca: readCa(config.PHYGATE_MQTT_CA_FILE) } : {}),
  };
  // The shield looks ahead against the site's walls and machines, as the verification did.
  const world = await createCollisionWorld(site.world.obstacles);
  let edge;
  try {
    edge = await startEdge({
      site: edgeSiteOf(site),
      walls: world,
      deviceId: values.device,
      brokerUrl,
      login,
      interfaceName: config.PHYGATE_VDA_INTERFACE,
      ...(values.policy !== undefined ? { policyFile: userPath(values.policy) } : {}),
      ...(values.certificate !== undefined ? { certificateFile: userPath(values.certificate) } : {}),
      log: err,
      startBase: (now) =>
        startRos2Base({
          namespace: values.namespace ?? ros2?.namespace ?? '/',
          ...(values['cmd-vel'] !== undefined ? { cmdVelTopic: values['cmd-vel'] } : {}),
          odomTopic: values.odom ?? ros2?.odomTopic ?? 'odom',
          ...(ros2 ? { batteryTopic: ros2.batteryTopic } : {}),
          ...((mapTransform ?? ros2?.mapTransform) ? { mapTransform: mapTransform ?? ros2!.mapTransform } : {}),
          ...(values['map-frame'] !== undefined
            ? { localization: { mapFrame: values['map-frame'] } }
            : ros2?.poseSource === 'tf'
              ? { localization: { mapFrame: ros2.frame, tfTopic: ros2.tfTopic, tfStaticTopic: ros2.tfStaticTopic } }
              : {}),
          nodeName: `phygate_edge_${values.device!.replace(/[^A-Za-z0-9_]/g, '_')}`,
          now,
          warn: err,
        }),
    });
  } catch (e) {
    world.free();
    if (e instanceof EdgeRefusedError || e instanceof Ros2UnavailableError) {
      err(`edge refused: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const p = edge.policy.policy;
  out(`phygate edge: ${edge.deviceId} on ${brokerUrl}, driven by policy ${p.metadata.name} ${p.metadata.version} (sha256 ${p.sha256.slice(0, 12)}…) at ${p.metadata.rateHz} Hz, certified by ${edge.policy.certificateFile}`);
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      out(`${signal}: the robot is stopped and goes offline`);
      edge.close().then(done, done);
    };
    signals.once('SIGTERM', () => stop('SIGTERM'));
    signals.once('SIGINT', () => stop('SIGINT'));
  });
  world.free();
  const failure = edge.failure();
  if (failure) err(failure);
  return failure ? 1 : 0;
}
