import { dirname } from "node:path";
import { git } from "./git.js";
import { ensureExportsRepo, reservedPath } from "./session-repo.js";

/** The ref the snapshot bundle of a fork carries (the snapshot's first parent is the source's HEAD). */
export const SNAPSHOT_REF = "refs/heads/snapshot";
/** Where the new repository keeps the snapshot until its worktree is checked out from it. */
export const FORK_SNAPSHOT_REF = "refs/pi-server/fork-snapshot";

const SHA = /^[0-9a-f]{40,64}$/;

/**
 * A fork's repository, made from a bundle the source session wrote in its sandbox (data: nothing in
 * it can run). The bundle is checked like an export (no path git reserves, bounded commits) in the
 * exports repo, which the server alone reads; then a new repository borrowing the mirror's objects
 * fetches it and gets `branch` at the source's HEAD. Only refs are written here: the worktree is
 * checked out from FORK_SNAPSHOT_REF inside the new session's sandbox.
 */
export async function createForkRepo(input: {
  mirror: string;
  exportsRepo: string;
  worktree: string;
  branch: string;
  bundle: string;
  base: string;
}): Promise<{ head: string; snapshot: string }> {
  const { mirror, exportsRepo, worktree, branch, bundle, base } = input;
  await ensureExportsRepo(exportsRepo, mirror);
  const incoming = `refs/pi-server/incoming/fork/${branch}`;
  try {
    await git(
      exportsRepo,
      ["fetch", "-q", "--no-tags", "--no-write-fetch-head", bundle, `+${SNAPSHOT_REF}:${incoming}`],
      600_000,
    );
    const reserved = await reservedPath(exportsRepo, incoming, base);
    if (reserved) throw new Error(`the source's worktree holds a path git reserves (${reserved})`);
    const snapshot = (await git(exportsRepo, ["rev-parse", "--verify", `${incoming}^{commit}`])).trim();
    const head = (await git(exportsRepo, ["rev-parse", "--verify", `${incoming}^1^{commit}`])).trim();
    if (!SHA.test(snapshot) || !SHA.test(head)) throw new Error("the source's snapshot is unreadable");
    await git(dirname(worktree), [
      "clone",
      "-q",
      "--shared",
      "--no-checkout",
      "--template=",
      mirror,
      worktree,
    ]);
    await git(
      worktree,
      ["fetch", "-q", "--no-tags", "--no-write-fetch-head", exportsRepo, `+${incoming}:${FORK_SNAPSHOT_REF}`],
      600_000,
    );
    await git(worktree, ["update-ref", `refs/heads/${branch}`, head]);
    await git(worktree, ["symbolic-ref", "HEAD", `refs/heads/${branch}`]);
    return { head, snapshot };
  } finally {
    await git(exportsRepo, ["update-ref", "-d", incoming]).catch(() => undefined);
  }
}
