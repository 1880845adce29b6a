// The gateway's persistent state, opened once per process.
import { openDatabase, type Database } from './database.ts';
import { MissionStore } from './missions.ts';
import { TokenStore } from './tokens.ts';

export interface Store {
  db: Database;
  missions: MissionStore;
  tokens: TokenStore;
  close(): void;
}

export function openStore(dataDir: string): Store {
  const db = openDatabase(dataDir);
  return {
    db,
    missions: new MissionStore(db),
    tokens: new TokenStore(db),
    close: () => db.close(),
  };
}
