import type { Db } from "./db.js";

/** A commit the server made of a session's worktree when one of its turns ended. */
export interface CheckpointRecord {
  id: number;
  sessionId: string;
  commit: string;
  /** User messages in the conversation when the turn ended (the turn's ordinal). */
  turn: number;
  /** pi's history entry the turn ended on: where a revert of the conversation forks. */
  entryId: string | null;
  message: string;
  /** The changed paths (at most MAX_LISTED_FILES of them). */
  files: string[];
  filesChanged: number;
  createdAt: number;
}

/** A checkpoint names this many of its paths; filesChanged counts them all. */
export const MAX_LISTED_FILES = 200;

interface Row {
  id: number;
  session_id: string;
  commit_sha: string;
  turn: number;
  entry_id: string | null;
  message: string;
  files: string;
  files_changed: number;
  created_at: number;
}

function fromRow(r: Row): CheckpointRecord {
  let files: string[] = [];
  try {
    const parsed = JSON.parse(r.files) as unknown;
    if (Array.isArray(parsed)) files = parsed.filter((f): f is string => typeof f === "string");
  } catch {
    // a row written by hand; its paths are unknown
  }
  return {
    id: r.id,
    sessionId: r.session_id,
    commit: r.commit_sha,
    turn: r.turn,
    entryId: r.entry_id,
    message: r.message,
    files,
    filesChanged: r.files_changed,
    createdAt: r.created_at,
  };
}

/** The checkpoints table of state.db. */
export class CheckpointStore {
  constructor(private readonly db: Db) {}

  add(c: Omit<CheckpointRecord, "id">): CheckpointRecord {
    const files = c.files.slice(0, MAX_LISTED_FILES);
    const info = this.db
      .prepare(
        `INSERT INTO checkpoints (session_id, commit_sha, turn, entry_id, message, files, files_changed, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        c.sessionId,
        c.commit,
        c.turn,
        c.entryId,
        c.message,
        JSON.stringify(files),
        c.filesChanged,
        c.createdAt,
      );
    return { ...c, files, id: Number(info.lastInsertRowid) };
  }

  /** Oldest first. */
  list(sessionId: string): CheckpointRecord[] {
    const rows = this.db
      .prepare("SELECT * FROM checkpoints WHERE session_id = ? ORDER BY id")
      .all(sessionId) as Row[];
    return rows.map(fromRow);
  }

  get(sessionId: string, id: number): CheckpointRecord | undefined {
    const row = this.db
      .prepare("SELECT * FROM checkpoints WHERE session_id = ? AND id = ?")
      .get(sessionId, id) as Row | undefined;
    return row && fromRow(row);
  }

  removeSession(sessionId: string): void {
    this.db.prepare("DELETE FROM checkpoints WHERE session_id = ?").run(sessionId);
  }
}
