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
  `CREATE TABLE rules (
     id TEXT PRIMARY KEY,
     tool TEXT NOT NULL,
     match TEXT,
     decision TEXT NOT NULL CHECK (decision IN ('allow', 'ask', 'deny')),
     scope TEXT NOT NULL CHECK (scope IN ('session', 'workspace', 'global')),
     session_id TEXT,
     workspace TEXT,
     expires_at INTEGER,
     created_at INTEGER NOT NULL,
     created_by TEXT NOT NULL,
     note TEXT
   );
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     session_id TEXT,
     tool_call_id TEXT,
     tool TEXT NOT NULL,
     summary TEXT NOT NULL,
     layer TEXT NOT NULL,
     rule_id TEXT,
     decision TEXT NOT NULL CHECK (decision IN ('allow', 'ask', 'deny')),
     decided_by TEXT NOT NULL,
     reason TEXT,
     request_id TEXT
   );
   CREATE INDEX audit_by_session ON audit (session_id, id);
   CREATE TABLE permission_requests (
     id TEXT PRIMARY KEY,
     session_id TEXT NOT NULL,
     tool_call_id TEXT NOT NULL,
     tool TEXT NOT NULL,
     input TEXT NOT NULL,
     summary TEXT NOT NULL,
     reason TEXT NOT NULL,
     options TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'resolved')),
     decision TEXT,
     resolved_by TEXT,
     resolved_at INTEGER
   );
   CREATE INDEX permission_requests_pending ON permission_requests (status, session_id);`,
  `CREATE TABLE pairing_tokens (
     id TEXT PRIMARY KEY,
     hash TEXT NOT NULL UNIQUE,
     device_name TEXT,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER
   );
   ALTER TABLE tokens ADD COLUMN last_address TEXT;`,
  `ALTER TABLE sessions ADD COLUMN seq_reserved INTEGER NOT NULL DEFAULT 0;`,
  // created_by: the token id that created the session (NULL for sessions older than this column).
  // role: what a device token may do beyond using sessions ('admin': rules, every audit entry, any session).
  `ALTER TABLE sessions ADD COLUMN created_by TEXT;
   ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));`,
  `ALTER TABLE sessions ADD COLUMN mode TEXT NOT NULL DEFAULT 'code';
   ALTER TABLE sessions ADD COLUMN system_prompt TEXT;`,
  // message: what the user said with an answer (a denial's words for the model).
  `ALTER TABLE permission_requests ADD COLUMN message TEXT;`,
  // A workspace: a repo (or none: scratch directories) and the settings its sessions start with.
  // JSON columns: skills (null = every skill), read_only_mounts (an array of absolute paths).
  `CREATE TABLE workspaces (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     repo_id TEXT,
     is_default INTEGER NOT NULL DEFAULT 0,
     model TEXT,
     thinking_level TEXT,
     system_prompt TEXT,
     skills TEXT,
     runtime TEXT CHECK (runtime IN ('host', 'sandbox')),
     network TEXT CHECK (network IN ('off', 'on')),
     read_only_mounts TEXT NOT NULL DEFAULT '[]',
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE UNIQUE INDEX workspaces_default_per_repo ON workspaces (repo_id) WHERE is_default = 1;
   ALTER TABLE sessions ADD COLUMN workspace_id TEXT;`,
  // name_source: who named the session ('user' names are never replaced by a generated title).
  // search_docs/search_fts: the text of user and assistant messages, full-text indexed; a deleted
  // session's rows go with it. search_progress: how many of a session's pi entries are indexed.
  // usage: tokens and cost of every LLM call, kept when the session is deleted (the money was spent).
  // budget_allowances: a budget raised by a "continue" answer, per session or per day.
  `ALTER TABLE sessions ADD COLUMN name_source TEXT NOT NULL DEFAULT 'default'
     CHECK (name_source IN ('user', 'auto', 'default'));
   CREATE TABLE search_docs (
     id INTEGER PRIMARY KEY,
     session_id TEXT NOT NULL,
     entry_id TEXT NOT NULL,
     role TEXT NOT NULL,
     at INTEGER NOT NULL,
     text TEXT NOT NULL,
     UNIQUE (session_id, entry_id)
   );
   CREATE VIRTUAL TABLE search_fts USING fts5(
     text, content = 'search_docs', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
   );
   CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
     INSERT INTO search_fts (rowid, text) VALUES (new.id, new.text);
   END;
   CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
     INSERT INTO search_fts (search_fts, rowid, text) VALUES ('delete', old.id, old.text);
   END;
   CREATE TABLE search_progress (
     session_id TEXT PRIMARY KEY,
     entries INTEGER NOT NULL,
     file_size INTEGER NOT NULL DEFAULT -1
   );
   CREATE TRIGGER sessions_ad_search AFTER DELETE ON sessions BEGIN
     DELETE FROM search_docs WHERE session_id = old.id;
     DELETE FROM search_progress WHERE session_id = old.id;
   END;
   CREATE TABLE usage (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     day TEXT NOT NULL,
     session_id TEXT NOT NULL,
     repo_id TEXT,
     model TEXT NOT NULL,
     purpose TEXT NOT NULL CHECK (purpose IN ('turn', 'title')),
     input INTEGER NOT NULL,
     output INTEGER NOT NULL,
     cache_read INTEGER NOT NULL,
     cache_write INTEGER NOT NULL,
     cost_usd REAL NOT NULL
   );
   CREATE INDEX usage_by_session ON usage (session_id);
   CREATE INDEX usage_by_day ON usage (day);
   CREATE INDEX usage_by_at ON usage (at);
   CREATE TABLE budget_allowances (
     scope TEXT NOT NULL CHECK (scope IN ('session', 'day')),
     key TEXT NOT NULL,
     usd REAL NOT NULL,
     PRIMARY KEY (scope, key)
   );`,
  // Web Push subscriptions, each of the device token that registered it (revoking it drops them).
  `CREATE TABLE push_subscriptions (
     id TEXT PRIMARY KEY,
     token_id TEXT NOT NULL,
     endpoint TEXT NOT NULL UNIQUE,
     p256dh TEXT NOT NULL,
     auth TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     last_success_at INTEGER,
     failures INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX push_subscriptions_token ON push_subscriptions (token_id);`,
  // checkpoints: the commits the server made at the end of a session's turns.
  `CREATE TABLE checkpoints (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     session_id TEXT NOT NULL,
     commit_sha TEXT NOT NULL,
     turn INTEGER NOT NULL,
     entry_id TEXT,
     message TEXT NOT NULL,
     files TEXT NOT NULL,
     files_changed INTEGER NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE INDEX checkpoints_by_session ON checkpoints (session_id, id);`,
  // A notification's Approve/Deny: a single-use token (stored as its SHA-256) bound to one request,
  // the hash of that exact tool call, and the device it was sent to.
  `CREATE TABLE push_action_tokens (
     token_hash TEXT PRIMARY KEY,
     request_id TEXT NOT NULL,
     call_sha256 TEXT NOT NULL,
     token_id TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER
   );
   CREATE INDEX push_action_tokens_request ON push_action_tokens (request_id);`,
  // APNs device tokens of the iOS app, each of the paired device's token that registered it.
  `CREATE TABLE apns_registrations (
     id TEXT PRIMARY KEY,
     token_id TEXT NOT NULL,
     device_token TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL,
     last_success_at INTEGER,
     failures INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX apns_registrations_token ON apns_registrations (token_id);`,
  // Per paired device: which kinds of notification it is sent, and its quiet hours.
  `CREATE TABLE push_preferences (
     token_id TEXT PRIMARY KEY,
     permission INTEGER NOT NULL DEFAULT 1,
     turn_ended INTEGER NOT NULL DEFAULT 1,
     turn_failed INTEGER NOT NULL DEFAULT 1,
     interrupted INTEGER NOT NULL DEFAULT 1,
     quiet_start TEXT,
     quiet_end TEXT,
     quiet_time_zone TEXT,
     updated_at INTEGER NOT NULL
   );`,
];

/** The standalone binary loads the SQLite addon from where it unpacked it (src/binary/main.ts). */
function sqliteOptions(): Database.Options | undefined {
  const addon = (globalThis as { __piServerSqliteAddon?: object }).__piServerSqliteAddon;
  return addon ? { nativeBinding: addon as unknown as string } : undefined;
}

export function openDb(file: string): Db {
  const fresh = !existsSync(file);
  const db = new Database(file, sqliteOptions());
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
