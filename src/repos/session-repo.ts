import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { git, type GitExtra } from "./git.js";

/**
 * Sessions never work in the user's repository. Each registered repo has a bare mirror in the data
 * dir (`repos/<id>.git`) that only the server writes; each session gets a repository of its own
 * that borrows the mirror's objects (git alternates, read-only inside the sandbox). Hooks, config
 * and refs the agent touches are the session's; the user's repo changes only when the server
 * fetches the session's branch into it.
 */

/** Whether the mirror holds a commit to start sessions from (a clone url's first fetch worked). */
export async function mirrorReady(mirror: string): Promise<boolean> {
  if (!existsSync(mirror)) return false;
  try {
    await git(mirror, ["rev-parse", "--verify", "--quiet", `${USER_HEAD}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

export function mirrorPath(reposDir: string, repoId: string): string {
  return join(reposDir, `${repoId}.git`);
}

/** The ref in the mirror that holds the user's HEAD as of the last sync. */
const USER_HEAD = "refs/pi-server/user-head";

/**
 * Brings the mirror up to date with the user's repo (or the clone url, with `remote`'s credential
 * settings); returns the commit the source's HEAD is on.
 */
export async function syncMirror(mirror: string, userRepo: string, remote?: GitExtra): Promise<string> {
  mkdirSync(dirname(mirror), { recursive: true, mode: 0o700 });
  // The data dir's modes: the mirror's dirs 0700, its files 0600.
  await git(dirname(mirror), ["init", "-q", "--bare", "--template=", "--shared=0600", mirror]);
  await git(
    mirror,
    [
      "fetch",
      "-q",
      "--no-write-fetch-head",
      // A url is data here, never an option ("--upload-pack=…").
      "--end-of-options",
      userRepo,
      "+refs/heads/*:refs/heads/*",
      // Session branches flow the other way; the user's copy never overwrites the server's.
      "^refs/heads/pi/*",
      "+refs/tags/*:refs/tags/*",
      `+HEAD:${USER_HEAD}`,
    ],
    remote ? 600_000 : 60_000,
    remote,
  );
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
 * Where session branches land before they reach the user's repo: a bare repo of its own that borrows
 * the mirror's objects. It is never mounted into a sandbox, so one session cannot read what another
 * exported (the mirror, which every session of the repo reads, holds only the user's history).
 */
export function exportsPath(reposDir: string, repoId: string): string {
  return join(reposDir, "exports", `${repoId}.git`);
}

export async function ensureExportsRepo(exportsRepo: string, mirror: string): Promise<void> {
  mkdirSync(dirname(exportsRepo), { recursive: true, mode: 0o700 });
  await git(dirname(exportsRepo), ["init", "-q", "--bare", "--template=", "--shared=0600", exportsRepo]);
  const alternates = join(exportsRepo, "objects", "info", "alternates");
  mkdirSync(dirname(alternates), { recursive: true, mode: 0o700 });
  writeFileSync(alternates, `${join(mirror, "objects")}\n`, { mode: 0o600 });
}

/** Code points HFS+ ignores in names, so ".g\u200cit" is ".git" there. */
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/** A path component git itself would treat as its own directory on some file system. */
function isDotGit(component: string): boolean {
  const c = component
    .replace(HFS_IGNORED, "")
    .split(":")[0]!
    .toLowerCase()
    .replace(/[. ]+$/, "");
  return c === ".git" || c === "git~1";
}

/** New commits an export may bring at once; a branch rewritten past this is refused. */
const MAX_EXPORT_COMMITS = 1000;

/**
 * Every path of every commit the export brings (not of the objects it adds: git lists an object
 * once, under whichever name it meets first, so a tree shared between "x/" and ".GIT/" would hide).
 */
export async function reservedPath(repo: string, tip: string, base: string): Promise<string | undefined> {
  const commits = (await git(repo, ["rev-list", `--max-count=${MAX_EXPORT_COMMITS + 1}`, tip, `^${base}`]))
    .split("\n")
    .filter(Boolean);
  if (commits.length > MAX_EXPORT_COMMITS) return `more than ${MAX_EXPORT_COMMITS} new commits`;
  for (const commit of commits) {
    const paths = await git(repo, ["ls-tree", "-r", "-t", "-z", "--name-only", commit], 600_000);
    for (const path of paths.split("\0")) if (path.split("/").some(isDotGit)) return path;
  }
  return undefined;
}

/**
 * Takes a bundle the session made (data, not a repository: nothing in it can run) as `branch`, then
 * fetches that branch into the user's repo. A tree holding a `.git` directory under any spelling is
 * refused: checked out on a case-insensitive file system it would be a repository of its own.
 */
export async function importBundle(
  exportsRepo: string,
  mirror: string,
  userRepo: string | undefined,
  bundle: string | undefined,
  branch: string,
  base: string,
): Promise<void> {
  await ensureExportsRepo(exportsRepo, mirror);
  const incoming = `refs/pi-server/incoming/${branch}`;
  // No bundle: the branch is still at its base, which the mirror already has.
  if (bundle === undefined) await git(exportsRepo, ["update-ref", incoming, base]);
  else
    await git(
      exportsRepo,
      ["fetch", "-q", "--no-tags", "--no-write-fetch-head", bundle, `+HEAD:${incoming}`],
      600_000,
    );
  try {
    const reserved = await reservedPath(exportsRepo, incoming, base);
    if (reserved) {
      throw new Error(`the session's branch holds a path git reserves (${reserved}); it was not exported`);
    }
    await git(exportsRepo, ["update-ref", `refs/heads/${branch}`, incoming]);
  } finally {
    await git(exportsRepo, ["update-ref", "-d", incoming]).catch(() => undefined);
  }
  if (userRepo === undefined) return;
  await git(
    userRepo,
    [
      "fetch",
      "-q",
      "--no-tags",
      "--no-write-fetch-head",
      exportsRepo,
      `+refs/heads/${branch}:refs/heads/${branch}`,
    ],
    600_000,
  );
}

/** Deletes the session's branch where the server put it and in the user's repo; one not there is fine. */
export async function deleteSessionBranch(
  exportsRepo: string,
  userRepo: string | undefined,
  branch: string,
): Promise<void> {
  for (const repo of userRepo ? [exportsRepo, userRepo] : [exportsRepo]) {
    if (!existsSync(repo)) continue;
    await git(repo, ["update-ref", "-d", `refs/heads/${branch}`]).catch(() => undefined);
  }
}
