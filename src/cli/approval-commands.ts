import type { Command } from "commander";
import { PermissionRequestsStore, type PermissionRecord } from "../store/permission-requests.js";
import { processAlive, readRuntime } from "../store/runtime.js";
import { escapeControl } from "./terminal.js";
import { ago, CliError, cliPaths, DATA_DIR_OPTION, print, withDb } from "./context.js";
import type { DataPaths } from "../store/paths.js";

const MAX_MESSAGE = 2000;

function requestLine(r: PermissionRecord): string {
  const f = escapeControl;
  const left = Math.max(0, Math.round((r.expiresAt - Date.now()) / 1000));
  return `${r.id}\t${f(r.sessionId)}\t${f(r.tool)}\t${f(r.summary)}\tasked ${ago(r.createdAt)}, ${left}s left`;
}

/**
 * Records an answer in state.db, where the running server picks it up (within half a second) and
 * releases the call. The row's pending → resolved update is atomic: whichever answer comes first,
 * here or on a device, is the only one.
 */
function answer(paths: DataPaths, id: string, decision: string, message?: string): PermissionRecord {
  const rt = readRuntime(paths.runtime);
  if (!rt || !processAlive(rt.pid))
    throw new CliError("no server is running on this data dir; start it and answer then (the request waits)");
  return withDb(paths, (db) => {
    const store = new PermissionRequestsStore(db);
    const r = store.get(id);
    if (!r || r.status !== "pending")
      throw new CliError(
        `no pending permission request ${id}; it was answered, expired or cancelled (\`pi-server approvals list\` shows the waiting ones)`,
      );
    if (!r.options.includes(decision))
      throw new CliError(`${decision} is not an option of ${id} (options: ${r.options.join(", ")})`);
    if (!store.resolve(id, decision, "cli", Date.now(), message))
      throw new CliError(`permission request ${id} was answered elsewhere first`);
    return r;
  });
}

/** `pi-server approvals list|allow|deny`: the questions the agent waits on, answered from a terminal. */
export function registerApprovalCommands(program: Command): void {
  const approvals = program
    .command("approvals")
    .description("permission requests waiting for an answer; answer them from here (see docs/policy.md)");

  approvals
    .command("list")
    .description("pending permission requests, oldest first")
    .option("--json", "print JSON")
    .option(...DATA_DIR_OPTION)
    .action((o: { json?: boolean; dataDir?: string }) => {
      const pending = withDb(cliPaths(o.dataDir), (db) => new PermissionRequestsStore(db).pending());
      if (o.json) print(JSON.stringify({ requests: pending }, null, 2));
      else if (pending.length === 0) print("nothing is waiting for an answer");
      else for (const r of pending) print(requestLine(r));
    });

  approvals
    .command("allow <id>")
    .description("let the waiting call run")
    .option("--turn", "and calls like it for the rest of the agent's run")
    .option("--session", "and calls like it in this session (stores a rule)")
    .option("--always", "and calls like it in this repository (stores a rule)")
    .option(...DATA_DIR_OPTION)
    .action((id: string, o: { turn?: boolean; session?: boolean; always?: boolean; dataDir?: string }) => {
      if ([o.turn, o.session, o.always].filter(Boolean).length > 1)
        throw new CliError("choose one of --turn, --session, --always");
      const decision = o.always
        ? "allow_always"
        : o.session
          ? "allow_session"
          : o.turn
            ? "allow_turn"
            : "allow_once";
      const r = answer(cliPaths(o.dataDir), id, decision);
      print(`${decision}: ${escapeControl(r.summary)}`);
    });

  approvals
    .command("deny <id>")
    .description("refuse the waiting call; the model reads why")
    .option("--message <text>", "what the model reads with the denial (why, what to do instead)")
    .option("--always", "and calls like it in this repository (stores a rule)")
    .option(...DATA_DIR_OPTION)
    .action((id: string, o: { message?: string; always?: boolean; dataDir?: string }) => {
      if (o.message !== undefined && (o.message.trim() === "" || o.message.length > MAX_MESSAGE))
        throw new CliError(`--message must be 1 to ${MAX_MESSAGE} characters`);
      const decision = o.always ? "deny_always" : "deny_once";
      const r = answer(cliPaths(o.dataDir), id, decision, o.message);
      print(`${decision}: ${escapeControl(r.summary)}`);
    });
}
