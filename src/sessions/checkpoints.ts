import { ProtocolError } from "../protocol/errors.js";
import type { Checkpoint } from "../protocol/history.js";
import type { CheckpointRecord, CheckpointStore } from "../store/checkpoints.js";
import type { SessionGit } from "./session-git.js";

/**
 * Checkpoints: at the end of every turn that changed the worktree, the server commits it on the
 * session's current branch, inside the session's sandbox (the repository is the agent's: hooks and
 * signing are off, the identity is the server's). A turn in which the agent made commits of its own
 * is a checkpoint too, at the commit it ended on.
 */

/** The server's identity, over the agent's (the sandbox's environment names the user as author). */
const AS_SERVER =
  "GIT_AUTHOR_NAME=pi-server GIT_AUTHOR_EMAIL=pi-server@localhost GIT_COMMITTER_NAME=pi-server GIT_COMMITTER_EMAIL=pi-server@localhost";
const IDENTITY = "-c commit.gpgsign=false";

/** $1: HEAD at the last checkpoint; $2: the commit message. Prints "<head> <count>\n" then the paths, NUL-separated. */
const CHECKPOINT_SCRIPT = `prev=$1; msg=$2
if [ -n "$($G status --porcelain --untracked-files=all)" ]; then
  $G add -A
  ${AS_SERVER} $G ${IDENTITY} commit --no-verify -q -m "$msg"
fi
head=$($G rev-parse --verify -q 'HEAD^{commit}') || exit 0
[ "$head" = "$prev" ] && exit 0
$G cat-file -e "$prev^{commit}" 2>/dev/null || prev=$($G hash-object -t tree /dev/null)
n=$($G diff --no-ext-diff --name-only -z "$prev" "$head" | tr -cd '\\0' | wc -c)
printf '%s %s\\n' "$head" "$n"
$G diff --no-ext-diff --name-only -z "$prev" "$head" | head -c 65536`;

/**
 * $1: the checkpoint's commit; $2: the revert's message; $3: the message for uncommitted work.
 * Uncommitted work is committed first; then index and worktree become the checkpoint's tree (files
 * it does not have are removed; ignored files stay) and that is committed. Prints
 * "<head before> <saved or -> <head after>".
 */
const REVERT_SCRIPT = `target=$1; msg=$2; savemsg=$3
$G cat-file -e "$target^{commit}" || { echo "the checkpoint's commit is no longer in the session's repository" >&2; exit 3; }
before=$($G rev-parse --verify -q 'HEAD^{commit}')
saved=-
if [ -n "$($G status --porcelain --untracked-files=all)" ]; then
  $G add -A
  ${AS_SERVER} $G ${IDENTITY} commit --no-verify -q -m "$savemsg"
  saved=$($G rev-parse HEAD)
fi
$G read-tree -u --reset "$target"
$G diff --cached --quiet HEAD -- || ${AS_SERVER} $G ${IDENTITY} commit --no-verify -q -m "$msg"
printf '%s %s %s\\n' "$before" "$saved" "$($G rev-parse HEAD)"`;

/** $1, $2: commits. Prints "<$2> <count>\n" then the paths that differ, NUL-separated. */
const NAMES_SCRIPT = `n=$($G diff --no-ext-diff --name-only -z "$1" "$2" | tr -cd '\\0' | wc -c)
printf '%s %s\\n' "$2" "$n"
$G diff --no-ext-diff --name-only -z "$1" "$2" | head -c 65536`;

const SHA = /^[0-9a-f]{40,64}$/;
/** A checkpoint's message is the first line of the turn's prompt, cut here. */
const SUBJECT_CHARS = 72;

export function commitSubject(prompt: string, turn: number): string {
  const line = (prompt.split(/\r?\n/).find((l) => l.trim().length > 0) ?? "").trim();
  // Controls would garble `git log` in a terminal.
  // eslint-disable-next-line no-control-regex
  const clean = line.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
  if (clean.length === 0) return `Turn ${turn}`;
  return clean.length > SUBJECT_CHARS ? `${clean.slice(0, SUBJECT_CHARS - 1)}…` : clean;
}

function parseNames(rest: string): string[] {
  return rest.split("\0").filter((p, i, all) => p.length > 0 && (i < all.length - 1 || rest.endsWith("\0")));
}

/** "<head> <count>\n<paths>" as the scripts print it; undefined for no output. */
function parseHeadAndNames(out: string): { head: string; count: number; files: string[] } | undefined {
  const nl = out.indexOf("\n");
  if (nl < 0) return undefined;
  const [head, count] = out.slice(0, nl).split(" ");
  if (!head || !SHA.test(head)) return undefined;
  return { head, count: Number(count) || 0, files: parseNames(out.slice(nl + 1)) };
}

export function checkpointView(c: CheckpointRecord): Checkpoint {
  return {
    id: c.id,
    commit: c.commit,
    turn: c.turn,
    entryId: c.entryId,
    message: c.message,
    createdAt: new Date(c.createdAt).toISOString(),
    filesChanged: c.filesChanged,
    files: c.files,
  };
}

export interface TurnPoint {
  sessionId: string;
  /** User messages in the conversation. */
  turn: number;
  /** pi's history entry the conversation is at. */
  entryId: string | null;
}

/** Commits what the turn changed; the checkpoint made, or undefined when the turn changed nothing. */
export function takeCheckpoint(
  g: SessionGit,
  store: CheckpointStore,
  at: TurnPoint & { prompt: string },
): Promise<CheckpointRecord | undefined> {
  return g.serial(async () => {
    const state = g.state();
    if (!state) return undefined;
    const subject = commitSubject(at.prompt, at.turn);
    const message = `${subject}\n\npi-server checkpoint of session ${at.sessionId}, turn ${at.turn}.`;
    const out = await g.script(CHECKPOINT_SCRIPT, [state.checkpointHead ?? state.base, message]);
    const made = parseHeadAndNames(out);
    if (!made) return undefined;
    g.updateState({ checkpointHead: made.head });
    return store.add({
      sessionId: at.sessionId,
      commit: made.head,
      turn: at.turn,
      entryId: at.entryId,
      message: subject,
      files: made.files,
      filesChanged: made.count,
      createdAt: Date.now(),
    });
  });
}

export interface Reverted {
  commit: string;
  saved: string | null;
}

/** Puts the worktree back to `target` as new commits; both are recorded as checkpoints. */
export function revertTo(
  g: SessionGit,
  store: CheckpointStore,
  target: CheckpointRecord,
  at: TurnPoint,
): Promise<Reverted> {
  return g.serial(async () => {
    const subject = commitSubject(`Revert to checkpoint ${target.id}: ${target.message}`, at.turn);
    const savedSubject = `Uncommitted changes before the revert to checkpoint ${target.id}`;
    let out: string;
    try {
      out = await g.script(REVERT_SCRIPT, [target.commit, subject, savedSubject]);
    } catch (err) {
      throw new ProtocolError("conflict", `could not revert: ${(err as Error).message}`);
    }
    const [before, savedRaw, after] = out.trim().split(" ");
    if (!after || !SHA.test(after)) throw new ProtocolError("internal", "the revert's result is unreadable");
    const saved = savedRaw && SHA.test(savedRaw) ? savedRaw : null;
    const record = async (from: string | undefined, to: string, message: string): Promise<void> => {
      if (!from || from === to) return;
      const names = parseHeadAndNames(await g.script(NAMES_SCRIPT, [from, to]));
      store.add({
        sessionId: at.sessionId,
        commit: to,
        turn: at.turn,
        entryId: at.entryId,
        message,
        files: names?.files ?? [],
        filesChanged: names?.count ?? 0,
        createdAt: Date.now(),
      });
    };
    if (saved) await record(before, saved, savedSubject);
    await record(saved ?? before, after, subject);
    g.updateState({ checkpointHead: after });
    return { commit: after, saved };
  });
}
