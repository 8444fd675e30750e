import Database from "better-sqlite3";
import { chmodSync, existsSync } from "node:fs";

export type Db = Database.Database;

/** Each entry moves the schema one version up; PRAGMA user_version records how far we are. */
const MIGRATIONS: string[] = [
  `CREATE TABLE tokens (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL CHECK (kind IN ('owner', 'device')),
     name TEXT NOT NULL,
     hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     last_used_at INTEGER
   );
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     repo_id TEXT,
     worktree TEXT NOT NULL,
     branch TEXT,
     model TEXT,
     thinking_level TEXT NOT NULL,
     pi_session_file TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_activity INTEGER NOT NULL,
     status TEXT NOT NULL,
     last_seq INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX sessions_by_activity ON sessions (last_activity DESC);`,
];

export function openDb(file: string): Db {
  const fresh = !existsSync(file);
  const db = new Database(file);
  if (fresh) chmodSync(file, 0o600);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `state.db has schema version ${current}, newer than this pi-server understands (${MIGRATIONS.length}); upgrade pi-server`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    const sql = MIGRATIONS[v] as string;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
