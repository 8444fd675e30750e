import type { Db } from "./db.js";

export type UsagePurpose = "turn" | "title";
export type UsageGroup = "session" | "repo" | "day";

/** The tokens and cost of one LLM call, as the provider reported them. */
export interface UsageEntry {
  at: number;
  sessionId: string;
  repoId: string | null;
  /** "provider/modelId" */
  model: string;
  purpose: UsagePurpose;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  costUsd: number;
}

export interface UsageTotals {
  calls: number;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  costUsd: number;
}

export interface UsageRow extends UsageTotals {
  /** The session id, the repo id ("" for sessions without a repo) or the day (YYYY-MM-DD). */
  key: string;
  /** groupBy session: the session's name; null once it is deleted. */
  name?: string | null;
  /** groupBy session: its repo. */
  repoId?: string | null;
}

/** The server's local calendar day, the one daily budgets and `groupBy: day` count in. */
export function localDay(at: number): string {
  const d = new Date(at);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const TOTALS = `COUNT(*) AS calls, COALESCE(SUM(input), 0) AS input, COALESCE(SUM(output), 0) AS output,
  COALESCE(SUM(cache_read), 0) AS cacheRead, COALESCE(SUM(cache_write), 0) AS cacheWrite,
  COALESCE(SUM(cost_usd), 0) AS costUsd`;

/** What every LLM call cost, in state.db; rows outlive their session (the money was spent). */
export class UsageStore {
  constructor(private readonly db: Db) {}

  record(e: UsageEntry): void {
    this.db
      .prepare(
        `INSERT INTO usage (at, day, session_id, repo_id, model, purpose, input, output, cache_read, cache_write, cost_usd)
         VALUES (@at, @day, @sessionId, @repoId, @model, @purpose, @input, @output, @cacheRead, @cacheWrite, @costUsd)`,
      )
      .run({ ...e, day: localDay(e.at) });
  }

  /** USD a session has spent, ever. */
  sessionSpend(sessionId: string): number {
    return (
      this.db
        .prepare("SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM usage WHERE session_id = ?")
        .get(sessionId) as { usd: number }
    ).usd;
  }

  /** USD every session together spent on a local day. */
  daySpend(day: string): number {
    return (
      this.db.prepare("SELECT COALESCE(SUM(cost_usd), 0) AS usd FROM usage WHERE day = ?").get(day) as {
        usd: number;
      }
    ).usd;
  }

  /** Totals and one row per group, most expensive first (days: newest first). */
  summary(opts: { since?: number; until?: number; groupBy: UsageGroup }): {
    rows: UsageRow[];
    total: UsageTotals;
  } {
    const where = "WHERE (@since IS NULL OR u.at >= @since) AND (@until IS NULL OR u.at < @until)";
    const args = { since: opts.since ?? null, until: opts.until ?? null };
    const total = this.db.prepare(`SELECT ${TOTALS} FROM usage u ${where}`).get(args) as UsageTotals;
    let sql: string;
    if (opts.groupBy === "session") {
      sql = `SELECT u.session_id AS key, s.name AS name, MAX(u.repo_id) AS repoId, ${TOTALS}
             FROM usage u LEFT JOIN sessions s ON s.id = u.session_id ${where}
             GROUP BY u.session_id ORDER BY costUsd DESC, key`;
    } else if (opts.groupBy === "repo") {
      sql = `SELECT COALESCE(u.repo_id, '') AS key, ${TOTALS} FROM usage u ${where}
             GROUP BY COALESCE(u.repo_id, '') ORDER BY costUsd DESC, key`;
    } else {
      sql = `SELECT u.day AS key, ${TOTALS} FROM usage u ${where} GROUP BY u.day ORDER BY key DESC`;
    }
    return { rows: this.db.prepare(sql).all(args) as UsageRow[], total };
  }

  /** A budget raised by "continue" answers; undefined while it is the configured one. */
  allowance(scope: "session" | "day", key: string): number | undefined {
    const row = this.db
      .prepare("SELECT usd FROM budget_allowances WHERE scope = ? AND key = ?")
      .get(scope, key) as { usd: number } | undefined;
    return row?.usd;
  }

  setAllowance(scope: "session" | "day", key: string, usd: number): void {
    this.db
      .prepare(
        `INSERT INTO budget_allowances (scope, key, usd) VALUES (?, ?, ?)
         ON CONFLICT (scope, key) DO UPDATE SET usd = excluded.usd`,
      )
      .run(scope, key, usd);
  }
}
