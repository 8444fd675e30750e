import type { Db } from "./db.js";

export type IndexedStatus = "idle" | "running" | "interrupted";
export type IndexedMode = "code" | "chat";
/** Who named the session: the user (never replaced), a generated title, or the server's default. */
export type NameSource = "user" | "auto" | "default";

export interface SessionRecord {
  id: string;
  name: string;
  repoId: string | null;
  worktree: string;
  branch: string | null;
  /** "provider/modelId" */
  model: string | null;
  thinkingLevel: string;
  piSessionFile: string;
  createdAt: number;
  lastActivity: number;
  status: IndexedStatus;
  lastSeq: number;
  /** Every seq up to this one may have been sent; a restart continues above max(lastSeq, seqReserved). */
  seqReserved: number;
  /** Token id of the principal that created the session; null for sessions older than the column. */
  createdBy: string | null;
  mode: IndexedMode;
  /** Appended to pi's system prompt (a chat persona); null for none. */
  systemPrompt: string | null;
  /** The workspace whose settings the session runs with; null for sessions older than workspaces. */
  workspaceId: string | null;
  nameSource: NameSource;
}

interface Row {
  id: string;
  name: string;
  repo_id: string | null;
  worktree: string;
  branch: string | null;
  model: string | null;
  thinking_level: string;
  pi_session_file: string;
  created_at: number;
  last_activity: number;
  status: IndexedStatus;
  last_seq: number;
  seq_reserved: number;
  created_by: string | null;
  mode: IndexedMode;
  system_prompt: string | null;
  workspace_id: string | null;
  name_source: NameSource;
}

function fromRow(r: Row): SessionRecord {
  return {
    id: r.id,
    name: r.name,
    repoId: r.repo_id,
    worktree: r.worktree,
    branch: r.branch,
    model: r.model,
    thinkingLevel: r.thinking_level,
    piSessionFile: r.pi_session_file,
    createdAt: r.created_at,
    lastActivity: r.last_activity,
    status: r.status,
    lastSeq: r.last_seq,
    seqReserved: r.seq_reserved,
    createdBy: r.created_by,
    mode: r.mode,
    systemPrompt: r.system_prompt,
    workspaceId: r.workspace_id,
    nameSource: r.name_source,
  };
}

/** The sessions table of state.db: what exists, where it lives, and its last known state. */
export class SessionsIndex {
  constructor(private readonly db: Db) {}

  insert(
    s: Omit<SessionRecord, "createdBy" | "workspaceId" | "nameSource"> & {
      createdBy?: string | null;
      workspaceId?: string | null;
      nameSource?: NameSource;
    },
  ): void {
    this.db
      .prepare(
        `INSERT INTO sessions (id, name, repo_id, worktree, branch, model, thinking_level, pi_session_file,
           created_at, last_activity, status, last_seq, seq_reserved, created_by, mode, system_prompt,
           workspace_id, name_source)
         VALUES (@id, @name, @repoId, @worktree, @branch, @model, @thinkingLevel, @piSessionFile,
           @createdAt, @lastActivity, @status, @lastSeq, @seqReserved, @createdBy, @mode, @systemPrompt,
           @workspaceId, @nameSource)`,
      )
      .run({ createdBy: null, workspaceId: null, nameSource: "default", ...s });
  }

  get(id: string): SessionRecord | undefined {
    const row = this.db.prepare("SELECT * FROM sessions WHERE id = ?").get(id) as Row | undefined;
    return row && fromRow(row);
  }

  list(): SessionRecord[] {
    const rows = this.db.prepare("SELECT * FROM sessions ORDER BY last_activity DESC, id").all() as Row[];
    return rows.map(fromRow);
  }

  /** Ids of the sessions that run with a workspace (pre-workspace sessions of its repo included). */
  inWorkspace(workspaceId: string, repoId: string | null, isDefault: boolean): string[] {
    const rows = (
      isDefault && repoId !== null
        ? this.db
            .prepare(
              "SELECT id FROM sessions WHERE workspace_id = ? OR (workspace_id IS NULL AND repo_id = ?)",
            )
            .all(workspaceId, repoId)
        : this.db.prepare("SELECT id FROM sessions WHERE workspace_id = ?").all(workspaceId)
    ) as { id: string }[];
    return rows.map((r) => r.id);
  }

  count(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM sessions").get() as { n: number }).n;
  }

  update(
    id: string,
    patch: Partial<
      Pick<
        SessionRecord,
        | "name"
        | "nameSource"
        | "model"
        | "thinkingLevel"
        | "status"
        | "lastActivity"
        | "lastSeq"
        | "seqReserved"
      >
    >,
  ): void {
    const cols: Record<string, string> = {
      name: "name",
      nameSource: "name_source",
      model: "model",
      thinkingLevel: "thinking_level",
      status: "status",
      lastActivity: "last_activity",
      lastSeq: "last_seq",
      seqReserved: "seq_reserved",
    };
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return;
    const sets = entries.map(([k]) => `${cols[k]} = @${k}`).join(", ");
    this.db.prepare(`UPDATE sessions SET ${sets} WHERE id = @id`).run({ ...Object.fromEntries(entries), id });
  }

  /**
   * A generated title: stored unless the user named the session (then false, and nothing changes).
   * Checked in the same statement as the write, so a rename that lands first always wins.
   */
  setAutoTitle(id: string, name: string): boolean {
    return (
      this.db
        .prepare("UPDATE sessions SET name = ?, name_source = 'auto' WHERE id = ? AND name_source != 'user'")
        .run(name, id).changes === 1
    );
  }

  remove(id: string): void {
    this.db.prepare("DELETE FROM sessions WHERE id = ?").run(id);
  }

  /** Sessions that were running when the process died are not running any more. */
  markInterrupted(): string[] {
    const rows = this.db.prepare("SELECT id FROM sessions WHERE status = 'running'").all() as {
      id: string;
    }[];
    this.db.prepare("UPDATE sessions SET status = 'interrupted' WHERE status = 'running'").run();
    return rows.map((r) => r.id);
  }
}
