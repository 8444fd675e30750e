import { ProtocolError } from "../protocol/errors.js";
import type { ParamsOf, ResultOf } from "../protocol/methods.js";
import type { ServerConfig } from "../store/config.js";
import { SearchQueryError, type SearchStore } from "../store/search.js";
import { localDay, type UsageStore } from "../store/usage.js";

export interface InsightDeps {
  search: SearchStore;
  usage: UsageStore;
  config: () => ServerConfig;
}

const DEFAULT_HITS = 20;

/** "2026-12-01" is that day's local midnight; anything else must be an ISO date-time. */
export function parseWhen(text: string, key: string): number {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const ms = day ? new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])).getTime() : Date.parse(text);
  if (!Number.isFinite(ms) || (day && localDay(ms) !== text)) {
    throw new ProtocolError(
      "invalid_request",
      `${key} must be an ISO date (2026-12-01) or date-time (2026-12-01T08:00:00Z), got ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

export function usageSummary(
  deps: InsightDeps,
  params: ParamsOf<"usage.summary">,
): ResultOf<"usage.summary"> {
  const since = params.since === undefined ? undefined : parseWhen(params.since, "since");
  const until = params.until === undefined ? undefined : parseWhen(params.until, "until");
  if (since !== undefined && until !== undefined && until <= since) {
    throw new ProtocolError("invalid_request", "until must be after since");
  }
  const groupBy = params.groupBy ?? "session";
  const { rows, total } = deps.usage.summary({ since, until, groupBy });
  let budgets: ServerConfig["budgets"];
  try {
    budgets = deps.config().budgets;
  } catch (err) {
    throw new ProtocolError("internal", `config.json could not be read: ${(err as Error).message}`);
  }
  const today = localDay(Date.now());
  const daily = budgets?.dailyUsd ?? null;
  return {
    groupBy,
    rows,
    total,
    budgets: {
      perSessionUsd: budgets?.perSessionUsd ?? null,
      dailyUsd: daily,
      todayUsd: deps.usage.daySpend(today),
      todayLimitUsd: daily === null ? null : (deps.usage.allowance("day", today) ?? daily),
    },
  };
}

export function insightHandlers(deps: InsightDeps): {
  "sessions.search": (params: ParamsOf<"sessions.search">) => ResultOf<"sessions.search">;
  "usage.summary": (params: ParamsOf<"usage.summary">) => ResultOf<"usage.summary">;
} {
  return {
    "sessions.search": (params) => {
      try {
        const hits = deps.search.search(params.query, params.limit ?? DEFAULT_HITS);
        return { hits: hits.map(({ at, ...h }) => ({ ...h, timestamp: at })) };
      } catch (err) {
        if (err instanceof SearchQueryError) throw new ProtocolError("invalid_request", err.message);
        // FTS5 refusing an expression is the query's fault; the quoting above should prevent it.
        if ((err as { code?: string }).code === "SQLITE_ERROR" && /fts5/i.test((err as Error).message)) {
          throw new ProtocolError(
            "invalid_request",
            `the query cannot be searched: ${(err as Error).message}`,
          );
        }
        throw err;
      }
    },
    "usage.summary": (params) => usageSummary(deps, params),
  };
}
