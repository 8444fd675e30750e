import { existsSync, mkdirSync, readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { git, uncommittedChanges } from "../repos/git.js";
import type { SessionRecord } from "../store/sessions-index.js";
import type { SessionGit } from "./session-git.js";

export interface Preserved {
  committed: { branch: string; commit: string; files: number } | null;
  filesKept: string | null;
}

/**
 * Before a session's worktree goes, what the agent left uncommitted is saved: on a git worktree as a
 * commit on the session's branch, in a scratch or chat directory by moving its files next to the pi
 * history. A client that cannot say `force` (the Pi Mobile app) then deletes without losing work.
 */
export async function preserveChanges(
  worktree: string,
  branch: string | null,
  sessionId: string,
  keepDir: string,
): Promise<Preserved> {
  if (!existsSync(worktree)) return { committed: null, filesKept: null };
  if (!branch) {
    if (readdirSync(worktree).length === 0) return { committed: null, filesKept: null };
    mkdirSync(keepDir, { recursive: true, mode: 0o700 });
    const dest = join(keepDir, "files");
    renameSync(worktree, dest);
    return { committed: null, filesKept: dest };
  }
  const changes = await uncommittedChanges(worktree);
  if (changes.length === 0) return { committed: null, filesKept: null };
  // The repo's own hooks, signing and identity settings must not run or block the server's commit.
  const cfg = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "user.name=pi-server",
    "-c",
    "user.email=pi-server@localhost",
  ];
  await git(worktree, [...cfg, "add", "-A"]);
  await git(worktree, [
    ...cfg,
    "commit",
    "--no-verify",
    "-q",
    "-m",
    `pi-server: uncommitted changes of session ${sessionId}, saved when it was deleted`,
  ]);
  const commit = (await git(worktree, ["rev-parse", "HEAD"])).trim();
  return { committed: { branch, commit, files: changes.length }, filesKept: null };
}

/** The same for a session that works in a repository of its own: the commit is made in its sandbox. */
export async function commitLeftovers(g: SessionGit, record: SessionRecord): Promise<Preserved> {
  const files = (await g.changes()).length;
  if (files === 0 || !record.branch) return { committed: null, filesKept: null };
  const commit = await g.commitAll(
    `pi-server: uncommitted changes of session ${record.id}, saved when it was deleted`,
  );
  return commit
    ? { committed: { branch: record.branch, commit, files }, filesKept: null }
    : { committed: null, filesKept: null };
}
