import type { Db } from "./db.js";
import type { RuleRecord } from "./rules.js";

/** Which part of the policy decided, or how a question was settled. */
export type AuditLayer =
  "builtin" | "rule" | "heuristic" | "profile" | "user" | "timeout" | "cancel" | "error" | "rules";

export interface AuditRecord {
  id: number;
  at: number;
  sessionId: string | null;
  toolCallId: string | null;
  tool: string;
  summary: string;
  layer: AuditLayer;
  ruleId: string | null;
  decision: "allow" | "ask" | "deny";
  /** "policy" for automatic decisions; the answering principal, "timeout", "abort", "shutdown", "restart". */
  by: string;
  reason: string | null;
  requestId: string | null;
}

interface Row {
  id: number;
  at: number;
  session_id: string | null;
  tool_call_id: string | null;
  tool: string;
  summary: string;
  layer: AuditLayer;
  rule_id: string | null;
  decision: AuditRecord["decision"];
  decided_by: string;
  reason: string | null;
  request_id: string | null;
}

function fromRow(r: Row): AuditRecord {
  return {
    id: r.id,
    at: r.at,
    sessionId: r.session_id,
    toolCallId: r.tool_call_id,
    tool: r.tool,
    summary: r.summary,
    layer: r.layer,
    ruleId: r.rule_id,
    decision: r.decision,
    by: r.decided_by,
    reason: r.reason,
    requestId: r.request_id,
  };
}

/** Rows kept; older ones are dropped as new ones arrive. */
const KEEP = 100_000;
const PRUNE_EVERY = 1000;

/** Every policy decision, newest first when listed. */
export class AuditLog {
  private appended = 0;

  constructor(private readonly db: Db) {}

  append(entry: Omit<AuditRecord, "id" | "at"> & { at?: number }): number {
    const info = this.db
      .prepare(
        `INSERT INTO audit (at, session_id, tool_call_id, tool, summary, layer, rule_id, decision, decided_by, reason, request_id)
         VALUES (@at, @sessionId, @toolCallId, @tool, @summary, @layer, @ruleId, @decision, @by, @reason, @requestId)`,
      )
      .run({ at: Date.now(), ...entry });
    if (++this.appended % PRUNE_EVERY === 0) {
      this.db.prepare("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?").run(KEEP);
    }
    return Number(info.lastInsertRowid);
  }

  /** Records a rule being added or removed, and by whom: changing the policy is itself audited. */
  ruleChanged(rule: RuleRecord, change: "added" | "removed", by: string): number {
    const scope = rule.scope === "global" ? "global" : `${rule.scope} ${rule.sessionId ?? rule.workspace}`;
    const match = rule.match === null ? "" : ` ${JSON.stringify(rule.match)}`;
    return this.append({
      sessionId: rule.sessionId,
      toolCallId: null,
      tool: rule.tool,
      summary: `rule ${change}: ${rule.decision} ${rule.tool}${match} (${scope})`,
      layer: "rules",
      ruleId: rule.id,
      decision: rule.decision,
      by,
      reason: rule.note,
      requestId: null,
    });
  }

  /** A session's entries for these tool calls, oldest first (the last one per call is its outcome). */
  forToolCalls(sessionId: string, toolCallIds: string[]): AuditRecord[] {
    if (toolCallIds.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT * FROM audit WHERE session_id = ? AND tool_call_id IN (SELECT value FROM json_each(?))
         ORDER BY id`,
      )
      .all(sessionId, JSON.stringify(toolCallIds)) as Row[];
    return rows.map(fromRow);
  }

  /**
   * Newest first; `before` is an entry id from a previous page. With `createdBy`, only entries of
   * sessions that token created.
   */
  list(opts: { sessionId?: string; limit: number; before?: number; createdBy?: string }): AuditRecord[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM audit
         WHERE (@sessionId IS NULL OR session_id = @sessionId) AND (@before IS NULL OR id < @before)
           AND (@createdBy IS NULL OR session_id IN (SELECT id FROM sessions WHERE created_by = @createdBy))
         ORDER BY id DESC LIMIT @limit`,
      )
      .all({
        sessionId: opts.sessionId ?? null,
        before: opts.before ?? null,
        limit: opts.limit,
        createdBy: opts.createdBy ?? null,
      }) as Row[];
    return rows.map(fromRow);
  }
}
