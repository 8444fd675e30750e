import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import type { ResultOf } from "../protocol/methods.js";
import { SearchStore } from "../store/search.js";
import { UsageStore } from "../store/usage.js";
import { usageSummary } from "../transport/insight-handlers.js";
import { escapeControl } from "./terminal.js";
import { cliConfig, cliPaths, DATA_DIR_OPTION, parseDuration, print, withDb } from "./context.js";

type Group = "session" | "repo" | "day";

function group(value: string): Group {
  if (value === "session" || value === "repo" || value === "day") return value;
  throw new InvalidArgumentError("must be session, repo or day");
}

/** "7d" / "12h" back from now, or an ISO date / date-time as usage.summary takes it. */
function since(text: string): string {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)$/.test(text.trim())) {
    return new Date(Date.now() - parseDuration(text)).toISOString();
  }
  return text;
}

function money(usd: number): string {
  return `$${usd.toFixed(4)}`;
}

function table(r: ResultOf<"usage.summary">): string[] {
  const f = escapeControl;
  const head = r.groupBy === "session" ? "session\tname" : r.groupBy;
  const lines = [`${head}\tcalls\tinput\toutput\tcache read\tcache write\tcost`];
  for (const row of r.rows) {
    const key =
      r.groupBy === "session" ? `${f(row.key)}\t${f(row.name ?? "(deleted)")}` : f(row.key || "(no repo)");
    lines.push(
      `${key}\t${row.calls}\t${row.input}\t${row.output}\t${row.cacheRead}\t${row.cacheWrite}\t${money(row.costUsd)}`,
    );
  }
  const t = r.total;
  lines.push(
    `total${r.groupBy === "session" ? "\t" : ""}\t${t.calls}\t${t.input}\t${t.output}\t${t.cacheRead}\t${t.cacheWrite}\t${money(t.costUsd)}`,
  );
  const b = r.budgets;
  const perSession = b.perSessionUsd === null ? "none" : money(b.perSessionUsd);
  const daily = b.todayLimitUsd === null ? "none" : money(b.todayLimitUsd);
  lines.push("", `budgets: per session ${perSession}; today ${money(b.todayUsd)} of ${daily}`);
  return lines;
}

/**
 * `pi-server usage`: reads state.db directly, like `rules` and `audit` (SQLite's WAL lets the
 * running server go on writing), so it works with the server stopped and needs no token.
 */
export function registerUsageCommand(program: Command): void {
  program
    .command("usage")
    .description("tokens and cost of the agent's LLM calls, per session, repo or day")
    .option("--since <when>", "from this ISO date / date-time, or this long ago (7d, 12h)")
    .option("--until <when>", "up to this ISO date / date-time (exclusive)")
    .option("--by <group>", "session, repo or day (default session)", group)
    .option("--json", "print JSON (usage.summary's result)")
    .option(...DATA_DIR_OPTION)
    .action((o: { since?: string; until?: string; by?: Group; json?: boolean; dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const config = cliConfig(paths);
      const result = withDb(paths, (db) =>
        usageSummary(
          { usage: new UsageStore(db), search: new SearchStore(db), config: () => config },
          {
            groupBy: o.by ?? "session",
            ...(o.since !== undefined && { since: since(o.since) }),
            ...(o.until !== undefined && { until: o.until }),
          },
        ),
      );
      if (o.json) print(JSON.stringify(result, null, 2));
      else for (const line of table(result)) print(line);
    });
}
