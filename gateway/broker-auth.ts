// Who may use the embedded broker, and on which topics: the access control gateway/broker.ts
// applies. Each device of the site has its own credentials (issued by `phygate device
// credentials`, kept hashed in the store and read at every CONNECT, so a new or rotated one works
// without a restart); the gateway's are made at start and live only in this process's memory,
// as do those it hands the virtual fleet it runs.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SiteIndex } from '../planners/site.ts';
import { machineTopic } from '../robots/machine/topics.ts';
import { vehicleTopic } from '../robots/vda5050/topics.ts';
import type { BrokerAuth, DeviceTopics, Principal } from './broker.ts';
import type { DeviceCredentialStore } from './store/device-credentials.ts';

/** The gateway's username: ':' is in no device id, so no device can be named so. */
export const GATEWAY_USERNAME = 'phygate:gateway';

export interface MqttCredentials {
  username: string;
  password: string;
}

/**
 * The topics each device of the site may use. An AMR over VDA 5050
 * (`{interface}/v2/{manufacturer}/{serialNumber}/…`) publishes its state, connection, factsheet
 * and visualization and subscribes to its order and instantActions; a machine, conveyor or arm
 * (`phygate/v1/{site}/{deviceId}/…`) publishes its state and connection and subscribes to its
 * command.
 */
export function deviceTopics(site: SiteIndex, interfaceName: string): Map<string, DeviceTopics> {
  const topics = new Map<string, DeviceTopics>();
  for (const d of site.site.devices) {
    if (d.kind === 'amr') {
      const t = (name: Parameters<typeof vehicleTopic>[2]) => vehicleTopic(interfaceName, d.vda5050, name);
      topics.set(d.id, {
        publish: new Set([t('state'), t('connection'), t('factsheet'), t('visualization')]),
        subscribe: new Set([t('order'), t('instantActions')]),
      });
    } else {
      const t = (channel: 'command' | 'state' | 'connection') => machineTopic(site.site.id, d.id, channel);
      topics.set(d.id, { publish: new Set([t('state'), t('connection')]), subscribe: new Set([t('command')]) });
    }
  }
  return topics;
}

const digest = (s: string | Buffer) => createHash('sha256').update(s).digest();

/** Equal in constant time for equal lengths; sha256 first, so the lengths always are. */
function sameSecret(given: Buffer, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

export class MqttAccess implements BrokerAuth {
  /** The gateway's own credentials; never printed, never stored. */
  readonly gateway: MqttCredentials;
  readonly #gatewayDigest: Buffer;
  readonly #topics: Map<string, DeviceTopics>;
  readonly #site: SiteIndex;
  readonly #store: DeviceCredentialStore | undefined;
  /** Device id → sha256 of a password handed out in this process (the virtual fleet's). */
  readonly #inProcess = new Map<string, Buffer>();

  constructor(opts: { site: SiteIndex; interfaceName: string; store?: DeviceCredentialStore }) {
    this.#site = opts.site;
    this.#topics = deviceTopics(opts.site, opts.interfaceName);
    this.#store = opts.store;
    const password = randomBytes(32).toString('base64url');
    this.gateway = { username: GATEWAY_USERNAME, password };
    this.#gatewayDigest = digest(password);
  }

  /**
   * Credentials for a device that run in this process (the virtual fleet), valid until it ends;
   * the device's stored ones, if any, stay valid too.
   */
  inProcessCredentials(deviceId: string): MqttCredentials {
    if (!this.#site.device(deviceId)) throw new Error(`no device '${deviceId}' in site '${this.#site.site.id}'`);
    const password = randomBytes(32).toString('base64url');
    this.#inProcess.set(deviceId, digest(password));
    return { username: deviceId, password };
  }

  async authenticate(username: string | undefined, password: Buffer | undefined): Promise<Principal | undefined> {
    if (username === undefined || password === undefined) return undefined;
    if (username === GATEWAY_USERNAME) return sameSecret(password, this.#gatewayDigest) ? { kind: 'gateway' } : undefined;
    if (!this.#topics.has(username)) return undefined;
    const own = this.#inProcess.get(username);
    if (own && sameSecret(password, own)) return { kind: 'device', deviceId: username };
    const deviceId = await this.#store?.verify(username, password);
    // The stored row names its device; it must still be a device of this site.
    return deviceId !== undefined && this.#topics.has(deviceId) ? { kind: 'device', deviceId } : undefined;
  }

  topics(deviceId: string): DeviceTopics | undefined {
    return this.#topics.get(deviceId);
  }
}
