import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { git } from "./git.js";

/**
 * Sessions never work in the user's repository. Each registered repo has a bare mirror in the data
 * dir (`repos/<id>.git`) that only the server writes; each session gets a repository of its own
 * that borrows the mirror's objects (git alternates, read-only inside the sandbox). Hooks, config
 * and refs the agent touches are the session's; the user's repo changes only when the server
 * fetches the session's branch into it.
 */

export function mirrorPath(reposDir: string, repoId: string): string {
  return join(reposDir, `${repoId}.git`);
}

/** The ref in the mirror that holds the user's HEAD as of the last sync. */
const USER_HEAD = "refs/pi-server/user-head";

/** Brings the mirror up to date with the user's repo; returns the commit the user's HEAD is on. */
export async function syncMirror(mirror: string, userRepo: string): Promise<string> {
  mkdirSync(dirname(mirror), { recursive: true, mode: 0o700 });
  // The data dir's modes: the mirror's dirs 0700, its files 0600.
  await git(dirname(mirror), ["init", "-q", "--bare", "--template=", "--shared=0600", mirror]);
  await git(mirror, [
    "fetch",
    "-q",
    "--no-write-fetch-head",
    userRepo,
    "+refs/heads/*:refs/heads/*",
    // Session branches flow the other way; the user's copy never overwrites the server's.
    "^refs/heads/pi/*",
    "+refs/tags/*:refs/tags/*",
    `+HEAD:${USER_HEAD}`,
  ]);
  return (await git(mirror, ["rev-parse", "--verify", `${USER_HEAD}^{commit}`])).trim();
}

/** The session's own repository at `worktree`, on a new branch at `base`. */
export async function createSessionRepo(
  mirror: string,
  worktree: string,
  branch: string,
  base: string,
): Promise<void> {
  await git(dirname(worktree), ["clone", "-q", "--shared", "--no-checkout", "--template=", mirror, worktree]);
  await git(worktree, ["checkout", "-q", "-b", branch, base]);
}

/**
 * Takes a bundle the session made (data, not a repository: nothing in it can run) into the
 * mirror as `branch`, then fetches that branch into the user's repo.
 */
export async function importBundle(
  mirror: string,
  userRepo: string | undefined,
  bundle: string,
  branch: string,
): Promise<void> {
  await git(mirror, [
    "-c",
    "transfer.fsckObjects=true",
    "fetch",
    "-q",
    "--no-write-fetch-head",
    bundle,
    `+HEAD:refs/heads/${branch}`,
  ]);
  if (userRepo === undefined) return;
  await git(userRepo, [
    "fetch",
    "-q",
    "--no-write-fetch-head",
    mirror,
    `+refs/heads/${branch}:refs/heads/${branch}`,
  ]);
}

/** Deletes the session's branch from the mirror and the user's repo; a branch that is not there is fine. */
export async function deleteSessionBranch(
  mirror: string,
  userRepo: string | undefined,
  branch: string,
): Promise<void> {
  for (const repo of userRepo ? [mirror, userRepo] : [mirror]) {
    await git(repo, ["update-ref", "-d", `refs/heads/${branch}`]).catch(() => undefined);
  }
}
