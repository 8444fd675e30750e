import { existsSync } from "node:fs";
import type { Command } from "commander";
import { RpcError, type PiClient } from "../client/client.js";
import type { SessionInfo } from "../protocol/types.js";
import { git } from "../repos/git.js";
import { readReposFile } from "../repos/repos.js";
import type { DataPaths } from "../store/paths.js";
import { escapeControl } from "./terminal.js";
import { connectOwner, type OwnerConnection } from "./owner-client.js";
import { ago, CliError, cliPaths, DATA_DIR_OPTION, parseDuration, print } from "./context.js";

export interface ConnOptions extends OwnerConnection {
  dataDir?: string;
  json?: boolean;
}

export async function withServer<T>(
  o: ConnOptions,
  fn: (c: PiClient, paths: DataPaths) => Promise<T>,
): Promise<T> {
  const paths = cliPaths(o.dataDir);
  const client = await connectOwner(paths, o);
  try {
    return await fn(client, paths);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(err instanceof Error ? err.message : String(err));
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** A session's status as the web app shows it: one with pending approvals is waiting for the user. */
function statusText(s: SessionInfo, waiting: number): string {
  const status = waiting > 0 ? `waiting for approval${waiting > 1 ? ` (${waiting})` : ""}` : s.status;
  return status + (s.loaded ? "" : " (unloaded)");
}

/** Pending permission requests by session id. */
async function waitingBySession(c: PiClient): Promise<Map<string, number>> {
  const { requests } = await c.request("permission.list", {});
  const out = new Map<string, number>();
  for (const r of requests) out.set(r.sessionId, (out.get(r.sessionId) ?? 0) + 1);
  return out;
}

function table(sessions: SessionInfo[], waiting: Map<string, number>): void {
  if (sessions.length === 0) return print("no sessions");
  const rows = sessions.map((s) => [
    s.id,
    s.repoId ?? s.mode,
    statusText(s, waiting.get(s.id) ?? 0),
    ago(Date.parse(s.lastActivityAt)),
    s.branch ?? "-",
    s.name,
  ]);
  const head = ["ID", "REPO", "STATUS", "ACTIVE", "BRANCH", "NAME"];
  // Piped into another program: one tab-separated line per session, nothing padded.
  if (!process.stdout.isTTY) {
    for (const r of [head, ...rows]) print(r.map((c) => escapeControl(c).replace(/\t/g, " ")).join("\t"));
    return;
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  for (const r of [head, ...rows])
    print(
      r
        .map((c, i) => (i === r.length - 1 ? escapeControl(c) : escapeControl(c).padEnd(widths[i] ?? 0)))
        .join("  "),
    );
}

/**
 * Why prune must keep a session, or undefined when nothing of it would be lost: the branch in the
 * user's repo has no commit that no other branch holds, and its worktree has no uncommitted change.
 */
async function keepReason(s: SessionInfo, repoPaths: Map<string, string>): Promise<string | undefined> {
  if (s.loaded && s.status !== "idle") return `it is ${s.status}`;
  if (existsSync(s.worktree)) {
    const dirty = await git(s.worktree, ["status", "--porcelain"]).catch(() => "");
    if (dirty.trim() !== "") return "its worktree has uncommitted changes";
  }
  if (!s.branch || !s.repoId) return undefined;
  const repo = repoPaths.get(s.repoId);
  if (!repo || !existsSync(repo)) return `its repo ${s.repoId} is not registered here`;
  const ref = `refs/heads/${s.branch}`;
  const has = await git(repo, ["rev-parse", "-q", "--verify", ref]).then(
    () => true,
    () => false,
  );
  if (!has) {
    // Never exported: what the session repo holds beyond the commit it started from is all there is.
    if (!existsSync(s.worktree)) return undefined;
    const extra = await git(s.worktree, ["rev-list", "--count", "HEAD", "--not", "--remotes"]).catch(
      () => "1",
    );
    return Number(extra.trim()) > 0 ? `${s.branch} has commits only its session repo holds` : undefined;
  }
  const unmerged = await git(repo, [
    "rev-list",
    "--count",
    ref,
    "--not",
    // --branches takes its exclusions without the refs/heads/ prefix.
    "--exclude=pi/*",
    "--branches",
  ]);
  const n = Number(unmerged.trim());
  return n > 0
    ? `${s.branch} has ${n} commit${n === 1 ? "" : "s"} not merged into another branch`
    : undefined;
}

const ID_HELP = "the session's id (`pi-server sessions list` shows them)";

function noSession(id: string): string {
  return `no session ${escapeControl(id)} (\`pi-server sessions list\` shows the ids)`;
}

export function connOpts(cmd: Command): Command {
  return cmd
    .option("--json", "print JSON")
    .option("--url <url>", "server URL (default: the server running on the data dir)")
    .option("--token <token>", "owner token (env PI_SERVER_TOKEN)")
    .option(...DATA_DIR_OPTION);
}

/** `pi-server sessions list|show|delete|prune`, over the protocol of the running server. */
export function registerSessionCommands(program: Command): void {
  const sessions = program.command("sessions").description("the server's sessions, their repos and branches");

  connOpts(sessions.command("list").description("every session, newest activity first")).action(
    (o: ConnOptions) =>
      withServer(o, async (c) => {
        const { sessions: all } = await c.request("session.list", {});
        const waiting = await waitingBySession(c);
        if (o.json)
          print(
            JSON.stringify(
              { sessions: all.map((s) => ({ ...s, waitingApprovals: waiting.get(s.id) ?? 0 })) },
              null,
              2,
            ),
          );
        else table(all, waiting);
      }),
  );

  connOpts(sessions.command("show").argument("<id>", ID_HELP).description("one session in full")).action(
    (id: string, o: ConnOptions) =>
      withServer(o, async (c) => {
        const { sessions: all } = await c.request("session.list", {});
        const s = all.find((x) => x.id === id);
        if (!s) throw new CliError(noSession(id));
        if (o.json) return print(JSON.stringify({ session: s }, null, 2));
        for (const [k, v] of Object.entries(s))
          if (k !== "sessionId") print(`${k.padEnd(15)} ${escapeControl(String(v))}`);
      }),
  );

  connOpts(
    sessions
      .command("delete")
      .argument("<id>", ID_HELP)
      .description(
        "stop the session and remove its session repo and its branch pi/<id> (--keep-branch keeps the branch, with uncommitted changes committed to it)",
      )
      .option("--keep-branch", "keep pi/<id> in the user's repo"),
  ).action((id: string, o: ConnOptions & { keepBranch?: boolean }) =>
    withServer(o, async (c) => {
      const r = await c
        .request("session.delete", { sessionId: id, deleteBranch: o.keepBranch !== true })
        .catch((err: unknown) => {
          if (err instanceof RpcError && err.code === "not_found") throw new CliError(noSession(id));
          throw err;
        });
      if (o.json) return print(JSON.stringify(r, null, 2));
      const safe = escapeControl;
      if (r.branchKept) {
        print(`deleted ${safe(id)}; its branch ${safe(r.branchKept)} is kept in your repository`);
        if (r.committed)
          print(
            `  uncommitted changes were saved as ${r.committed.commit.slice(0, 12)} on ${safe(r.committed.branch)}`,
          );
        print(`  merge it, or remove it when done: git branch -D ${safe(r.branchKept)}`);
      } else print(`deleted ${safe(id)}`);
      print("`pi-server sessions list` shows the others");
    }),
  );

  connOpts(
    sessions
      .command("prune")
      .description("delete idle sessions older than --older-than whose branch holds nothing unmerged")
      .option("--older-than <duration>", "last activity at least this long ago (e.g. 7d, 12h)", "7d")
      .option("--dry-run", "list what would be deleted and why others are kept; delete nothing"),
  ).action((o: ConnOptions & { olderThan: string; dryRun?: boolean }) =>
    withServer(o, async (c, paths) => {
      const cutoff = Date.now() - parseDuration(o.olderThan);
      const repoPaths = new Map(readReposFile(paths.repos).map((r) => [r.id, r.path]));
      const { sessions: all } = await c.request("session.list", {});
      const deleted: string[] = [];
      const kept: { id: string; reason: string }[] = [];
      for (const s of all) {
        if (Date.parse(s.lastActivityAt) > cutoff) continue;
        const reason = await keepReason(s, repoPaths);
        if (reason) kept.push({ id: s.id, reason });
        else {
          if (!o.dryRun) await c.request("session.delete", { sessionId: s.id, deleteBranch: true });
          deleted.push(s.id);
        }
      }
      if (o.json) return print(JSON.stringify({ dryRun: o.dryRun === true, deleted, kept }, null, 2));
      const verb = o.dryRun ? "would delete" : "deleted";
      for (const id of deleted) print(`${verb} ${id}`);
      for (const k of kept) print(`kept ${k.id}: ${escapeControl(k.reason)}`);
      if (deleted.length + kept.length === 0) print(`no session idle for ${o.olderThan}`);
    }),
  );
}
