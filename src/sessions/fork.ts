import { chmodSync, cpSync, existsSync, lstatSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { ProtocolError } from "../protocol/errors.js";
import type { ForkPoint } from "../protocol/history.js";
import { createForkRepo, FORK_SNAPSHOT_REF, SNAPSHOT_REF } from "../repos/fork-repo.js";
import type { ToolRuntime } from "../runtime/index.js";
import type { Sdk } from "./pi.js";
import { type RepoState, scriptCommand, type SessionGit } from "./session-git.js";
import type { SeedTarget } from "./session-seed.js";
import { contentText } from "./message-text.js";

/**
 * Forking: pi's own branching (SessionManager.createBranchedSession) makes the new history; the new
 * worktree is a copy of the source's as it is now. The copy is taken in the source's sandbox as a
 * snapshot commit whose parent is the source's HEAD, made in a throwaway repository on the sandbox's
 * /tmp that borrows the source's objects, so the source's index, refs and objects stay as they were.
 */

/** The server's identity, over the agent's (the sandbox's environment names the user as author). */
const AS_SERVER =
  "GIT_AUTHOR_NAME=pi-server GIT_AUTHOR_EMAIL=pi-server@localhost GIT_COMMITTER_NAME=pi-server GIT_COMMITTER_EMAIL=pi-server@localhost";
const IDENTITY = "-c commit.gpgsign=false";

/** $1: the session's base. Writes to stdout a bundle of SNAPSHOT_REF: the worktree (ignored files aside) on top of HEAD. */
const SNAPSHOT_SCRIPT = `base=$1
src=$($G rev-parse --absolute-git-dir)
head=$($G rev-parse --verify -q 'HEAD^{commit}')
T=$(mktemp -d)
$G init -q --bare --template= "$T/s.git"
mkdir -p "$T/s.git/objects/info" "$T/s.git/info"
printf '%s\\n' "$src/objects" > "$T/s.git/objects/info/alternates"
if [ -f "$src/info/exclude" ]; then cp -- "$src/info/exclude" "$T/s.git/info/exclude"; fi
export GIT_DIR="$T/s.git" GIT_WORK_TREE="$PWD" GIT_INDEX_FILE="$T/index"
if [ -f "$src/index" ]; then cp -- "$src/index" "$GIT_INDEX_FILE"; else $G read-tree "$head"; fi
$G add -A
tree=$($G write-tree)
snap=$(${AS_SERVER} $G ${IDENTITY} commit-tree "$tree" -p "$head" -m snapshot)
$G update-ref ${SNAPSHOT_REF} "$snap"
$G bundle create -q - ${SNAPSHOT_REF} "^$base"
rm -rf "$T"`;

/** $1: the snapshot. Index and worktree become the snapshot, then the index goes back to HEAD. */
const CHECKOUT_SCRIPT = `$G read-tree -u --reset "$1"
$G reset -q
$G update-ref -d ${FORK_SNAPSHOT_REF}`;

const PREVIEW_CHARS = 200;

type Manager = ReturnType<Sdk["SessionManager"]["open"]>;
type Entry = ReturnType<Manager["getBranch"]>[number];

type UserEntry = Extract<Entry, { type: "message" }> & { message: { role: "user"; content: unknown } };

function isUserMessage(e: Entry): e is UserEntry {
  return e.type === "message" && e.message.role === "user";
}

/** pi's history of a session, read from its file (opening it writes nothing to a current-version file). */
export function openHistory(sdk: Sdk, file: string, worktree: string): Manager {
  return sdk.SessionManager.open(file, dirname(file), worktree);
}

/** The user messages of the conversation's branch, oldest first. */
export function forkPoints(manager: Manager): ForkPoint[] {
  return manager
    .getBranch()
    .filter(isUserMessage)
    .map((e, i) => {
      const text = contentText(e.message.content);
      return {
        entryId: e.id,
        text: text.length > PREVIEW_CHARS ? text.slice(0, PREVIEW_CHARS) : text,
        truncated: text.length > PREVIEW_CHARS,
        turn: i + 1,
        timestamp: Number.isNaN(Date.parse(e.timestamp)) ? null : new Date(e.timestamp).toISOString(),
      };
    });
}

/** Where the fork's history ends: null for an empty one. */
export interface ForkPlan {
  leaf: string | null;
  /** Forking before a user message: its text, to edit and send again. */
  text?: string;
}

export function planFork(manager: Manager, entryId?: string, position?: "before" | "at"): ForkPlan {
  if (entryId === undefined) return { leaf: manager.getLeafId() };
  const entry = manager.getEntry(entryId);
  if (!entry) throw new ProtocolError("not_found", `no entry ${entryId} in the session's history`);
  const at = position ?? (isUserMessage(entry) ? "before" : "at");
  if (at === "at") return { leaf: entry.id };
  if (!isUserMessage(entry)) {
    throw new ProtocolError(
      "invalid_request",
      `entry ${entryId} is not a user message: fork before one (get_fork_points lists them) or pass position "at"`,
    );
  }
  return { leaf: entry.parentId, text: contentText(entry.message.content) };
}

/**
 * Writes the fork's history at `file`: the source's branch up to plan.leaf, by pi's own
 * createBranchedSession (new session id, parentSession = the source's file). The source's file is
 * only read. An empty plan writes nothing: pi starts the file with the first turn.
 */
export function writeForkHistory(
  sdk: Sdk,
  sourceFile: string,
  file: string,
  worktree: string,
  plan: ForkPlan,
): void {
  if (plan.leaf === null || !existsSync(sourceFile)) return;
  const manager = sdk.SessionManager.open(sourceFile, dirname(file), worktree);
  const written = manager.createBranchedSession(plan.leaf);
  // pi writes a history only once it holds an answer; one without stays empty here too.
  if (!written || !existsSync(written)) return;
  renameSync(written, file);
  chmodSync(file, 0o600);
}

/** The fork's repository: the source's snapshot, checked and fetched, checked out in the fork's sandbox. */
export async function forkRepo(
  source: SessionGit,
  target: SeedTarget,
  sessionDir: string,
): Promise<RepoState> {
  const state = source.state();
  if (!state) throw new ProtocolError("internal", "the source session has no recorded base commit");
  const bundle = join(sessionDir, "fork.bundle");
  try {
    try {
      await source.scriptToFile(SNAPSHOT_SCRIPT, [state.base], bundle);
    } catch (err) {
      throw new ProtocolError("conflict", `could not copy the source's worktree: ${(err as Error).message}`);
    }
    const { head, snapshot } = await createForkRepo({
      mirror: target.mirror,
      exportsRepo: target.exportsRepo,
      worktree: target.worktree,
      branch: target.branch,
      bundle,
      base: state.base,
    });
    await checkout(target.runtime, target.worktree, snapshot);
    return { base: state.base, checkpointHead: head };
  } finally {
    rmSync(bundle, { force: true });
  }
}

async function checkout(runtime: ToolRuntime, worktree: string, snapshot: string): Promise<void> {
  const chunks: Buffer[] = [];
  const { exitCode } = await runtime.exec(`${scriptCommand(CHECKOUT_SCRIPT, [snapshot])} 2>&1`, {
    cwd: worktree,
    onData: (d) => chunks.push(d),
    maxOutputBytes: 1024 * 1024,
    timeout: 600,
  });
  if (exitCode !== 0) {
    const out = Buffer.concat(chunks).toString("utf8").trim().slice(0, 500);
    throw new Error(`checking out the fork's worktree failed: ${out}`);
  }
}

/**
 * A scratch session's files, copied as they are: symlinks stay symlinks (never followed), and what
 * is neither a file, a directory nor a symlink (a FIFO, a socket) is left out.
 */
export function copyScratch(from: string, to: string): void {
  cpSync(from, to, {
    recursive: true,
    verbatimSymlinks: true,
    force: false,
    errorOnExist: false,
    filter: (src) => {
      const st = lstatSync(src, { throwIfNoEntry: false });
      return st !== undefined && (st.isFile() || st.isDirectory() || st.isSymbolicLink());
    },
  });
}
