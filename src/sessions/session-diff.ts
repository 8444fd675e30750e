import { ProtocolError } from "../protocol/errors.js";
import type { DiffFile } from "../protocol/types.js";
import { DEFAULT_PATH } from "../runtime/env.js";
import type { ToolRuntime } from "../runtime/index.js";

/**
 * git on the server's behalf inside the session's sandbox: no hooks, no fsmonitor, no untracked
 * cache, and output options the agent's config cannot bend (prefixes, colour, relative paths).
 * External diff drivers and textconv are refused by flags below; clean filters the
 * agent declares still run, but only in the sandbox, as the agent.
 */
const GIT =
  // The system's git, whatever PATH the agent's environment has (a `git` it wrote must not answer).
  `/usr/bin/env PATH=${DEFAULT_PATH} git` +
  " -c core.hooksPath=/dev/null -c core.fsmonitor=false -c core.untrackedCache=false -c gc.auto=0" +
  " -c diff.noprefix=false -c diff.mnemonicPrefix=false -c diff.relative=false -c color.ui=false" +
  " -c core.quotePath=true";

/**
 * Runs inside the sandbox with cwd = the worktree. Untracked files are made visible to `git diff`
 * as intent-to-add entries of a copy of the index on the sandbox's own /tmp, so the agent's index
 * is never touched. A scratch directory has no repository: a throwaway one in /tmp stands in,
 * diffed against the empty tree, so every file shows as added.
 *
 * Output: a line "<numstat bytes> <name-status bytes>", those two -z sections, then the patch cut
 * at $2 + 1 bytes (the extra byte tells the server it was cut).
 */
const DIFF_SCRIPT = `set -e
base=$1; max=$2; scratch=$3
G="${GIT}"
if [ "$scratch" = 1 ]; then
  export GIT_DIR=/tmp/pi-diff.git GIT_WORK_TREE="$PWD"
  $G init -q
  base=$($G hash-object -t tree /dev/null)
  idx=
else
  idx=$($G rev-parse --git-path index)
fi
export GIT_INDEX_FILE=/tmp/pi-diff.index
if [ -n "$idx" ] && [ -f "$idx" ]; then cp -- "$idx" "$GIT_INDEX_FILE"
elif [ "$scratch" != 1 ]; then $G read-tree "$base"; fi
$G ls-files -z --others --exclude-standard | xargs -0 -r $G add -N --
$G diff --no-ext-diff --no-textconv -M -z --numstat "$base" > /tmp/pi-diff.numstat
$G diff --no-ext-diff --no-textconv -M -z --name-status "$base" > /tmp/pi-diff.status
printf '%d %d\\n' "$(($(wc -c < /tmp/pi-diff.numstat)))" "$(($(wc -c < /tmp/pi-diff.status)))"
cat /tmp/pi-diff.numstat /tmp/pi-diff.status
$G diff --no-ext-diff --no-textconv -M "$base" | head -c $((max + 1))`;

/** The summary lists at most this many files (the patch has its own cap). */
const MAX_FILES = 10_000;
/** Room for the summaries on top of the patch; more changed paths than this is refused. */
const SUMMARY_BYTES = 16 * 1024 * 1024;

export interface DiffInput {
  runtime: Pick<ToolRuntime, "exec">;
  worktree: string;
  /** The commit the session started from; undefined for a scratch directory (no repository). */
  base: string | undefined;
  maxBytes: number;
}

export interface DiffOutput {
  base: string | null;
  diff: string;
  truncated: boolean;
  files: DiffFile[];
}

const STATUS: Record<string, DiffFile["status"]> = {
  A: "added",
  C: "added",
  D: "deleted",
  M: "modified",
  T: "modified",
  R: "renamed",
};

/** `git diff -z --name-status`: "X\0path\0" or "R<score>\0old\0new\0". */
function parseStatus(raw: string): { status: DiffFile["status"]; path: string; oldPath?: string }[] {
  const parts = raw.split("\0");
  const out: { status: DiffFile["status"]; path: string; oldPath?: string }[] = [];
  for (let i = 0; i + 1 < parts.length;) {
    const code = parts[i] ?? "";
    const letter = code.charAt(0);
    if (letter === "R" || letter === "C") {
      const oldPath = parts[i + 1] ?? "";
      const path = parts[i + 2] ?? "";
      out.push(letter === "R" ? { status: "renamed", path, oldPath } : { status: "added", path });
      i += 3;
    } else {
      out.push({ status: STATUS[letter] ?? "modified", path: parts[i + 1] ?? "" });
      i += 2;
    }
  }
  return out;
}

/** `git diff -z --numstat`: "a\td\tpath\0" or, for a rename, "a\td\t\0old\0new\0"; binary is "-\t-". */
function parseNumstat(raw: string): Map<string, { additions: number; deletions: number; binary: boolean }> {
  const parts = raw.split("\0");
  const out = new Map<string, { additions: number; deletions: number; binary: boolean }>();
  for (let i = 0; i < parts.length; i++) {
    const rec = parts[i] ?? "";
    const m = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(rec);
    if (!m) continue;
    let path = m[3] ?? "";
    if (path === "") {
      path = parts[i + 2] ?? "";
      i += 2;
    }
    const binary = m[1] === "-";
    out.set(path, { additions: binary ? 0 : Number(m[1]), deletions: binary ? 0 : Number(m[2]), binary });
  }
  return out;
}

/** The session's changes since it started, untracked files included, read only through its runtime. */
export async function sessionDiff(input: DiffInput): Promise<DiffOutput> {
  const { runtime, worktree, base, maxBytes } = input;
  if (base !== undefined && !/^[0-9a-f]{40,64}$/.test(base)) {
    throw new ProtocolError("internal", "the session's base commit is unreadable");
  }
  const chunks: Buffer[] = [];
  const stderr = "2>/tmp/pi-diff.err || { cat /tmp/pi-diff.err; exit 1; }";
  const quoted = `'${DIFF_SCRIPT.replace(/'/g, "'\\''")}'`;
  let exitCode: number | null;
  try {
    ({ exitCode } = await runtime.exec(
      `bash -c ${quoted} diff ${base ?? "-"} ${maxBytes} ${base === undefined ? 1 : 0} ${stderr}`,
      {
        cwd: worktree,
        onData: (d) => chunks.push(d),
        maxOutputBytes: maxBytes + SUMMARY_BYTES,
        timeout: 120,
      },
    ));
  } catch (err) {
    throw new ProtocolError("limit_exceeded", `the diff could not be made: ${(err as Error).message}`);
  }
  const out = Buffer.concat(chunks);
  if (exitCode !== 0) {
    throw new ProtocolError(
      "conflict",
      "git could not diff the worktree",
      undefined,
      out.toString("utf8").slice(0, 2000),
    );
  }
  const nl = out.indexOf(0x0a);
  const header = /^(\d+) (\d+)$/.exec(out.subarray(0, nl).toString("latin1").trim());
  if (nl < 0 || !header) throw new ProtocolError("internal", "unexpected output from git diff");
  const numstatEnd = nl + 1 + Number(header[1]);
  const statusEnd = numstatEnd + Number(header[2]);
  const numstat = parseNumstat(out.subarray(nl + 1, numstatEnd).toString("utf8"));
  const statuses = parseStatus(out.subarray(numstatEnd, statusEnd).toString("utf8"));
  let patch = out.subarray(statusEnd);
  const truncated = patch.length > maxBytes || statuses.length > MAX_FILES;
  if (patch.length > maxBytes) patch = patch.subarray(0, maxBytes);
  const files = statuses.slice(0, MAX_FILES).map((s): DiffFile => {
    const n = numstat.get(s.path) ?? { additions: 0, deletions: 0, binary: false };
    return { ...s, ...n };
  });
  return { base: base ?? null, diff: patch.toString("utf8"), truncated, files };
}
