import { randomBytes } from "node:crypto";
import type { Db } from "./db.js";

export type RuleDecision = "allow" | "ask" | "deny";
export type RuleScope = "session" | "workspace" | "global";

export interface RuleRecord {
  id: string;
  /** A tool name, or "*". */
  tool: string;
  /** Command pattern or path glob; null matches every call of the tool. */
  match: string | null;
  decision: RuleDecision;
  scope: RuleScope;
  /** Set for scope "session". */
  sessionId: string | null;
  /** The repo id, set for scope "workspace". */
  workspace: string | null;
  expiresAt: number | null;
  createdAt: number;
  createdBy: string;
  note: string | null;
}

export type NewRuleRecord = Omit<RuleRecord, "id" | "createdAt"> & { createdAt?: number };

interface Row {
  id: string;
  tool: string;
  match: string | null;
  decision: RuleDecision;
  scope: RuleScope;
  session_id: string | null;
  workspace: string | null;
  expires_at: number | null;
  created_at: number;
  created_by: string;
  note: string | null;
}

function fromRow(r: Row): RuleRecord {
  return {
    id: r.id,
    tool: r.tool,
    match: r.match,
    decision: r.decision,
    scope: r.scope,
    sessionId: r.session_id,
    workspace: r.workspace,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
    createdBy: r.created_by,
    note: r.note,
  };
}

/** Permission rules in state.db. Expired rules are ignored and dropped when listed. */
export class RulesStore {
  constructor(private readonly db: Db) {}

  add(rule: NewRuleRecord): RuleRecord {
    const { createdAt = Date.now(), ...rest } = rule;
    const record: RuleRecord = { id: `r_${randomBytes(6).toString("hex")}`, ...rest, createdAt };
    this.db
      .prepare(
        `INSERT INTO rules (id, tool, match, decision, scope, session_id, workspace, expires_at, created_at, created_by, note)
         VALUES (@id, @tool, @match, @decision, @scope, @sessionId, @workspace, @expiresAt, @createdAt, @createdBy, @note)`,
      )
      .run(record);
    return record;
  }

  get(id: string): RuleRecord | undefined {
    const row = this.db.prepare("SELECT * FROM rules WHERE id = ?").get(id) as Row | undefined;
    return row && fromRow(row);
  }

  list(now = Date.now()): RuleRecord[] {
    this.db.prepare("DELETE FROM rules WHERE expires_at IS NOT NULL AND expires_at <= ?").run(now);
    return (this.db.prepare("SELECT * FROM rules ORDER BY created_at, id").all() as Row[]).map(fromRow);
  }

  /** Unexpired rules that apply to one session: global ones, its workspace's, and its own. */
  applicable(sessionId: string, workspace: string | null, now = Date.now()): RuleRecord[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM rules
         WHERE (expires_at IS NULL OR expires_at > @now)
           AND (scope = 'global'
             OR (scope = 'workspace' AND workspace IS NOT NULL AND workspace = @workspace)
             OR (scope = 'session' AND session_id = @sessionId))`,
      )
      .all({ now, sessionId, workspace }) as Row[];
    return rows.map(fromRow);
  }

  remove(id: string): RuleRecord | undefined {
    const rule = this.get(id);
    if (rule) this.db.prepare("DELETE FROM rules WHERE id = ?").run(id);
    return rule;
  }

  removeForSession(sessionId: string): number {
    return this.db.prepare("DELETE FROM rules WHERE scope = 'session' AND session_id = ?").run(sessionId)
      .changes;
  }
}
