// MQTT credentials of the site's devices. The password is random (32 bytes, base64url), shown
// once when issued; only scrypt(password, salt) with a salt of its own is stored. Issuing again
// replaces the old one, which stops working at once (the broker reads the store at every CONNECT).
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { Database } from './database.ts';

export interface DeviceCredential {
  deviceId: string;
  /** The device's id: what a robot puts in its MQTT CONNECT. */
  username: string;
  /** The secret itself; not recoverable later. */
  password: string;
}

export interface DeviceCredentialRecord {
  deviceId: string;
  username: string;
  createdAt: string;
}

interface Row {
  device: string;
  salt: Buffer;
  hash: Buffer;
}

const KEY_LENGTH = 32;
/** scrypt's cost: the password has 256 random bits, so the hash guards a copied file, not a weak secret. */
const SCRYPT = { N: 16_384, r: 8, p: 1 } as const;

/** scrypt off the main thread (libuv's pool): a flood of CONNECTs must not stall STOP. */
function derive(password: string | Buffer, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, KEY_LENGTH, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))));
}

export class DeviceCredentialStore {
  readonly #upsert;
  readonly #byUsername;
  readonly #list;

  constructor(db: Database) {
    this.#upsert = db.prepare<[string, string, Buffer, Buffer, string]>(
      `INSERT INTO device_credentials (device, username, salt, hash, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (device) DO UPDATE SET username = excluded.username, salt = excluded.salt, hash = excluded.hash, created_at = excluded.created_at`,
    );
    this.#byUsername = db.prepare<[string], Row>('SELECT device, salt, hash FROM device_credentials WHERE username = ?');
    this.#list = db.prepare<[], { device: string; username: string; created_at: string }>(
      'SELECT device, username, created_at FROM device_credentials ORDER BY device',
    );
  }

  /** A new password for `deviceId` (its username is its id), replacing the one it had. */
  async issue(deviceId: string): Promise<DeviceCredential> {
    const password = randomBytes(32).toString('base64url');
    const salt = randomBytes(16);
    const hash = await derive(password, salt);
    this.#upsert.run(deviceId, deviceId, salt, hash, new Date().toISOString());
    return { deviceId, username: deviceId, password };
  }

  /** The device these credentials belong to, or undefined. */
  async verify(username: string, password: string | Buffer): Promise<string | undefined> {
    const row = this.#byUsername.get(username);
    if (!row) return undefined;
    const key = await derive(password, row.salt);
    return key.length === row.hash.length && timingSafeEqual(key, row.hash) ? row.device : undefined;
  }

  /** Every device with credentials; never the hashes. */
  list(): DeviceCredentialRecord[] {
    return this.#list.all().map((r) => ({ deviceId: r.device, username: r.username, createdAt: r.created_at }));
  }
}
