// The gateway's persistent state, opened once per process.
import { AuditStore } from './audit.ts';
import { openDatabase, type Database } from './database.ts';
export { StoreOpenError } from './database.ts';
import { DeviceCredentialStore } from './device-credentials.ts';
import { MissionStore } from './missions.ts';
import { OutboxStore } from './outbox.ts';
import { RehearsalStore } from './rehearsals.ts';
import { StopStore } from './stops.ts';
import { TokenStore } from './tokens.ts';
import { TrafficStore } from './traffic.ts';

export interface Store {
  db: Database;
  audit: AuditStore;
  /** MQTT credentials of the site's devices (hashed). */
  deviceCredentials: DeviceCredentialStore;
  missions: MissionStore;
  outbox: OutboxStore;
  /** Missions' plans run on a simulated fleet first (gateway/rehearsal/). */
  rehearsals: RehearsalStore;
  stops: StopStore;
  tokens: TokenStore;
  traffic: TrafficStore;
  close(): void;
}

export function openStore(dataDir: string): Store {
  const db = openDatabase(dataDir);
  return {
    db,
    audit: new AuditStore(db),
    deviceCredentials: new DeviceCredentialStore(db),
    missions: new MissionStore(db),
    outbox: new OutboxStore(db),
    rehearsals: new RehearsalStore(db),
    stops: new StopStore(db),
    tokens: new TokenStore(db),
    traffic: new TrafficStore(db),
    close: () => db.close(),
  };
}
