import type { Db } from "./db.js";

export type PermissionStatus = "pending" | "resolved";

export interface PermissionRecord {
  id: string;
  sessionId: string;
  toolCallId: string;
  tool: string;
  input: unknown;
  summary: string;
  reason: string;
  options: string[];
  createdAt: number;
  expiresAt: number;
  status: PermissionStatus;
  decision: string | null;
  resolvedBy: string | null;
  resolvedAt: number | null;
  /** What the user said with the answer (a denial's message to the model). */
  message: string | null;
}

interface Row {
  id: string;
  session_id: string;
  tool_call_id: string;
  tool: string;
  input: string;
  summary: string;
  reason: string;
  options: string;
  created_at: number;
  expires_at: number;
  status: PermissionStatus;
  decision: string | null;
  resolved_by: string | null;
  resolved_at: number | null;
  message: string | null;
}

function fromRow(r: Row): PermissionRecord {
  return {
    id: r.id,
    sessionId: r.session_id,
    toolCallId: r.tool_call_id,
    tool: r.tool,
    input: JSON.parse(r.input) as unknown,
    summary: r.summary,
    reason: r.reason,
    options: JSON.parse(r.options) as string[],
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    status: r.status,
    decision: r.decision,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolved_at,
    message: r.message,
  };
}

/** Permission requests in state.db: pending ones are what clients are being asked right now. */
export class PermissionRequestsStore {
  constructor(private readonly db: Db) {}

  insert(r: Omit<PermissionRecord, "status" | "decision" | "resolvedBy" | "resolvedAt" | "message">): void {
    this.db
      .prepare(
        `INSERT INTO permission_requests (id, session_id, tool_call_id, tool, input, summary, reason, options,
           created_at, expires_at, status)
         VALUES (@id, @sessionId, @toolCallId, @tool, @input, @summary, @reason, @options, @createdAt, @expiresAt, 'pending')`,
      )
      .run({ ...r, input: JSON.stringify(r.input ?? null), options: JSON.stringify(r.options) });
  }

  get(id: string): PermissionRecord | undefined {
    const row = this.db.prepare("SELECT * FROM permission_requests WHERE id = ?").get(id) as Row | undefined;
    return row && fromRow(row);
  }

  /** Marks a pending request resolved; false when it was not pending (someone else got there first). */
  resolve(id: string, decision: string, by: string, at = Date.now(), message?: string): boolean {
    const info = this.db
      .prepare(
        `UPDATE permission_requests SET status = 'resolved', decision = ?, resolved_by = ?, resolved_at = ?, message = ?
         WHERE id = ? AND status = 'pending'`,
      )
      .run(decision, by, at, message ?? null, id);
    return info.changes === 1;
  }

  pending(sessionId?: string): PermissionRecord[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM permission_requests WHERE status = 'pending' AND (@sessionId IS NULL OR session_id = @sessionId)
         ORDER BY created_at, id`,
      )
      .all({ sessionId: sessionId ?? null }) as Row[];
    return rows.map(fromRow);
  }

  /** The last answer (allow_* or deny_*) given to a call of a session since `since`. */
  answered(sessionId: string, toolCallId: string, tool: string, since: number): PermissionRecord | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM permission_requests WHERE session_id = ? AND tool_call_id = ? AND tool = ?
           AND status = 'resolved' AND created_at >= ? AND (decision LIKE 'allow\\_%' ESCAPE '\\' OR decision LIKE 'deny\\_%' ESCAPE '\\')
         ORDER BY resolved_at DESC LIMIT 1`,
      )
      .get(sessionId, toolCallId, tool, since) as Row | undefined;
    return row && fromRow(row);
  }

  /** After a crash nobody is waiting for these any more: they are cancelled, and returned for the audit. */
  cancelAllPending(by: string, at = Date.now()): PermissionRecord[] {
    return this.db.transaction(() => {
      const stale = this.pending();
      for (const r of stale) this.resolve(r.id, "cancelled", by, at);
      return stale;
    })();
  }

  /** Forgets answered requests resolved before `before`; the audit log keeps what they decided. */
  prune(before: number): number {
    return this.db
      .prepare("DELETE FROM permission_requests WHERE status = 'resolved' AND resolved_at < ?")
      .run(before).changes;
  }

  removeForSession(sessionId: string): void {
    this.db.prepare("DELETE FROM permission_requests WHERE session_id = ?").run(sessionId);
  }
}
