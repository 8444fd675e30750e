import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { addRule, listRules, removeRule, type RuleView } from "../policy/admin.js";
import { AuditLog, type AuditRecord } from "../store/audit.js";
import type { RuleDecision, RuleScope } from "../store/rules.js";
import { RulesStore } from "../store/rules.js";
import { SessionsIndex } from "../store/sessions-index.js";
import { ProtocolError } from "../protocol/errors.js";
import { escapeControl } from "./terminal.js";
import { CliError, cliPaths, DATA_DIR_OPTION, parseDuration, print, withDb } from "./context.js";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

function ruleLine(r: RuleView): string {
  const f = escapeControl;
  const scope =
    r.scope === "global"
      ? "global"
      : `${r.scope}:${f((r.scope === "session" ? r.sessionId : r.workspace) ?? "")}`;
  const expires = r.expiresAt === null ? "" : `  expires ${new Date(r.expiresAt).toISOString()}`;
  const note = r.note ? `  # ${f(r.note)}` : "";
  return `${r.id}\t${r.builtIn ? "built-in" : r.decision}\t${f(r.tool)}\t${f(r.match ?? "*")}\t${scope}${expires}${note}`;
}

function auditLine(e: AuditRecord): string {
  const rule = e.ruleId ? ` ${e.ruleId}` : "";
  const f = escapeControl;
  return `#${e.id}\t${new Date(e.at).toISOString()}\t${f(e.sessionId ?? "-")}\t${f(e.tool)}\t${e.decision} (${e.layer}${f(rule)})\t${f(e.by)}\t${f(e.summary)}`;
}

/** `pi-server rules list|add|remove` and `pi-server audit`, working on state.db directly. */
/** An unknown session or rule, said with the command that lists the right ids. */
function hinted<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof ProtocolError) || err.code !== "not_found") throw err;
    const list = err.message.startsWith("no session")
      ? "sessions"
      : err.message.startsWith("no rule")
        ? "rules"
        : "";
    throw new CliError(list ? `${err.message} (\`pi-server ${list} list\` shows the ids)` : err.message);
  }
}

export function registerPolicyCommands(program: Command): void {
  const rules = program
    .command("rules")
    .description("permission rules: which tool calls run, ask first, or are refused (see docs/policy.md)");

  rules
    .command("list")
    .description("built-in hard-deny entries and stored rules")
    .option("--session <id>", "only the rules that apply to this session")
    .option("--json", "print JSON")
    .option(...DATA_DIR_OPTION)
    .action((o: { session?: string; json?: boolean; dataDir?: string }) => {
      const list = withDb(cliPaths(o.dataDir), (db) =>
        hinted(() =>
          listRules(
            { rules: new RulesStore(db), sessions: new SessionsIndex(db) },
            o.session === undefined ? {} : { sessionId: o.session },
          ),
        ),
      );
      if (o.json) print(JSON.stringify({ rules: list }, null, 2));
      else for (const r of list) print(ruleLine(r));
    });

  rules
    .command("add <decision> <tool> [match]")
    .description(
      'store a rule: decision allow|ask|deny, tool a tool name or "*", match a command pattern (bash, e.g. "git push *") or a path glob (e.g. "src/**")',
    )
    .option("--scope <scope>", "global, workspace or session", "global")
    .option("--workspace <repoId>", "the repo a workspace rule applies to")
    .option("--session <id>", "the session a session rule applies to")
    .option("--expires <duration>", "drop the rule after this long (e.g. 30m, 8h, 7d)")
    .option("--note <text>", "why the rule exists")
    .option("--json", "print JSON")
    .option(...DATA_DIR_OPTION)
    .action(
      (
        decision: string,
        tool: string,
        match: string | undefined,
        o: {
          scope: string;
          workspace?: string;
          session?: string;
          expires?: string;
          note?: string;
          json?: boolean;
          dataDir?: string;
        },
      ) => {
        if (o.expires !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(o.expires))
          throw new CliError(
            `--expires ${o.expires}: give a unit, e.g. ${o.expires.trim()}m, ${o.expires.trim()}h or ${o.expires.trim()}d`,
          );
        if (o.scope === "workspace" && o.workspace === undefined && o.session === undefined)
          throw new CliError("--scope workspace needs --workspace <repoId> (see `pi-server repos list`)");
        if (o.scope === "session" && o.session === undefined)
          throw new CliError("--scope session needs --session <id> (see `pi-server sessions list`)");
        const expiresAt = o.expires === undefined ? undefined : Date.now() + parseDuration(o.expires);
        const rule = withDb(cliPaths(o.dataDir), (db) => {
          const added = hinted(() =>
            addRule(
              { rules: new RulesStore(db), sessions: new SessionsIndex(db) },
              {
                tool,
                decision: decision as RuleDecision,
                scope: o.scope as RuleScope,
                ...(match !== undefined && { match }),
                ...(o.workspace !== undefined && { workspace: o.workspace }),
                ...(o.session !== undefined && { sessionId: o.session }),
                ...(expiresAt !== undefined && { expiresAt }),
                ...(o.note !== undefined && { note: o.note }),
              },
              "cli",
            ),
          );
          new AuditLog(db).ruleChanged(added, "added", "cli");
          return added;
        });
        print(o.json ? JSON.stringify({ rule }, null, 2) : `added ${ruleLine(rule)}`);
      },
    );

  rules
    .command("remove <id>")
    .description("delete a stored rule (built-in entries cannot be removed)")
    .option(...DATA_DIR_OPTION)
    .action((id: string, o: { dataDir?: string }) => {
      const removed = withDb(cliPaths(o.dataDir), (db) => {
        const rule = hinted(() =>
          removeRule({ rules: new RulesStore(db), sessions: new SessionsIndex(db) }, id),
        );
        new AuditLog(db).ruleChanged(rule, "removed", "cli");
        return rule;
      });
      print(`removed ${ruleLine(removed)}`);
    });

  program
    .command("audit")
    .description("policy decisions on tool calls, newest first")
    .option("--session <id>", "only this session's")
    .option("--limit <n>", "how many (default 50)", positiveInt)
    .option("--before <id>", "entries older than this one (for paging)", positiveInt)
    .option("--json", "print JSON")
    .option(...DATA_DIR_OPTION)
    .action((o: { session?: string; limit?: number; before?: number; json?: boolean; dataDir?: string }) => {
      const entries = withDb(cliPaths(o.dataDir), (db) =>
        new AuditLog(db).list({
          limit: o.limit ?? 50,
          ...(o.session !== undefined && { sessionId: o.session }),
          ...(o.before !== undefined && { before: o.before }),
        }),
      );
      if (o.json) print(JSON.stringify({ entries }, null, 2));
      else if (entries.length === 0) print("no decisions recorded");
      else for (const e of entries) print(auditLine(e));
    });
}
