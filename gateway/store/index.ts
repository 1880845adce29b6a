// The gateway's persistent state, opened once per process.
import { AuditStore } from './audit.ts';
import { openDatabase, type Database } from './database.ts';
import { MissionStore } from './missions.ts';
import { OutboxStore } from './outbox.ts';
import { StopStore } from './stops.ts';
import { TokenStore } from './tokens.ts';
import { TrafficStore } from './traffic.ts';

export interface Store {
  db: Database;
  audit: AuditStore;
  missions: MissionStore;
  outbox: OutboxStore;
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
    missions: new MissionStore(db),
    outbox: new OutboxStore(db),
    stops: new StopStore(db),
    tokens: new TokenStore(db),
    traffic: new TrafficStore(db),
    close: () => db.close(),
  };
}
