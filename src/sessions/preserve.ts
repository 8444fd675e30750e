import { existsSync, mkdirSync, readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { SessionRecord } from "../store/sessions-index.js";
import type { SessionGit } from "./session-git.js";

export interface Preserved {
  committed: { branch: string; commit: string; files: number } | null;
  filesKept: string | null;
}

/**
 * Before a session's worktree goes, what the agent left is saved: in a scratch or chat directory by
 * moving its files next to the pi history; in a session repository as a commit on its branch
 * (commitLeftovers). A client that cannot say `force` (the Pi Mobile app) then deletes without
 * losing work.
 */
export function keepScratchFiles(worktree: string, keepDir: string): Preserved {
  if (!existsSync(worktree) || readdirSync(worktree).length === 0)
    return { committed: null, filesKept: null };
  mkdirSync(keepDir, { recursive: true, mode: 0o700 });
  const dest = join(keepDir, "files");
  renameSync(worktree, dest);
  return { committed: null, filesKept: dest };
}

/** Uncommitted work of a session repository, committed inside its sandbox. */
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
