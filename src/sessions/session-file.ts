import { posix } from "node:path";
import { ProtocolError } from "../protocol/errors.js";
import { RuntimeError, type ToolRuntime } from "../runtime/index.js";
import { DEFAULT_PATH } from "../runtime/env.js";

/**
 * Resolves the file inside the session's runtime (the sandbox: what the agent sees, nothing of the
 * host beyond it) and refuses anything whose real path leaves the worktree — a symlink to /etc or,
 * with the host runtime, to ~/.ssh. Prints "<size>\n<real path>".
 */
const RESOLVE_SCRIPT = `f=$1
w=$(realpath -e -- "$2") || exit 1
[ -e "$f" ] || exit 10
r=$(realpath -e -- "$f") || exit 10
case "$r" in "$w"/*) ;; *) exit 13 ;; esac
[ -f "$r" ] || exit 11
[ -r "$r" ] || exit 12
printf '%s\\n%s' "$(stat -c %s -- "$r")" "$r"`;

export interface FileInput {
  runtime: Pick<ToolRuntime, "exec" | "readFile">;
  worktree: string;
  path: string;
  maxBytes: number;
  /** limits.toolFileBytes: the runtime reads no file larger than this. */
  fileLimit: number;
}

export interface FileOutput {
  path: string;
  size: number;
  truncated: boolean;
  encoding: "utf8" | "base64";
  content: string;
}

/** A path relative to the worktree that stays inside it by its spelling alone. */
export function checkRelativePath(path: string): string {
  if (path.includes("\0")) throw new ProtocolError("invalid_request", "path contains a NUL byte");
  if (path.startsWith("/")) {
    throw new ProtocolError(
      "invalid_request",
      `path must be relative to the worktree, got ${JSON.stringify(path)}`,
    );
  }
  const norm = posix.normalize(path);
  if (norm === ".." || norm.startsWith("../") || path.split("/").includes("..")) {
    throw new ProtocolError("invalid_request", `path must not contain "..": ${JSON.stringify(path)}`);
  }
  if (norm === "." || norm === "")
    throw new ProtocolError("invalid_request", "path names the worktree itself");
  return norm;
}

/** Text when the bytes are UTF-8 without NULs; a cut in the middle of a character is forgiven. */
function asText(bytes: Buffer, cut: boolean): string | undefined {
  if (bytes.includes(0)) return undefined;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (let drop = 0; drop <= (cut ? 3 : 0) && drop <= bytes.length; drop++) {
    try {
      return decoder.decode(bytes.subarray(0, bytes.length - drop));
    } catch {
      // try without the last byte(s) of a character the cut split
    }
  }
  return undefined;
}

async function resolve(input: FileInput, rel: string): Promise<{ size: number; real: string }> {
  const chunks: Buffer[] = [];
  const quoted = `'${RESOLVE_SCRIPT.replace(/'/g, "'\\''")}'`;
  const arg = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
  const { exitCode } = await input.runtime.exec(
    // The system's sh and realpath, whatever PATH the agent's environment has.
    `/usr/bin/env PATH=${DEFAULT_PATH} sh -c ${quoted} sh ${arg(posix.join(input.worktree, rel))} ${arg(input.worktree)} 2>/dev/null`,
    { cwd: input.worktree, onData: (d) => chunks.push(d), maxOutputBytes: 64 * 1024, timeout: 60 },
  );
  const out = Buffer.concat(chunks).toString("utf8");
  if (exitCode === 10) throw new ProtocolError("not_found", `no file ${rel} in the worktree`);
  if (exitCode === 11) throw new ProtocolError("invalid_request", `${rel} is not a regular file`);
  if (exitCode === 12) throw new ProtocolError("forbidden", `${rel} cannot be read`);
  if (exitCode === 13) throw new ProtocolError("invalid_request", `${rel} leads out of the worktree`);
  const nl = out.indexOf("\n");
  if (exitCode !== 0 || nl < 0) throw new ProtocolError("internal", `could not look up ${rel}`);
  return { size: Number(out.slice(0, nl)), real: out.slice(nl + 1) };
}

/** One file of the session's worktree, read through its runtime. */
export async function sessionFile(input: FileInput): Promise<FileOutput> {
  const rel = checkRelativePath(input.path);
  const { size, real } = await resolve(input, rel);
  if (size > input.fileLimit) {
    throw new ProtocolError(
      "limit_exceeded",
      `${rel} is ${size} bytes, more than the ${input.fileLimit} the server reads (limits.toolFileBytes)`,
      { size, limit: input.fileLimit },
    );
  }
  let bytes: Buffer;
  try {
    bytes = await input.runtime.readFile(real);
  } catch (err) {
    if (!(err instanceof RuntimeError)) throw err;
    if (err.code === "not_found") throw new ProtocolError("not_found", `no file ${rel} in the worktree`);
    if (err.code === "too_large") throw new ProtocolError("limit_exceeded", `${rel} is too large to read`);
    if (err.code === "not_regular")
      throw new ProtocolError("invalid_request", `${rel} is not a regular file`);
    throw new ProtocolError("internal", `could not read ${rel}: ${err.message}`);
  }
  const truncated = bytes.length > input.maxBytes;
  const shown = truncated ? bytes.subarray(0, input.maxBytes) : bytes;
  const text = asText(shown, truncated);
  return {
    path: rel,
    size: Math.max(size, bytes.length),
    truncated,
    ...(text === undefined
      ? { encoding: "base64" as const, content: shown.toString("base64") }
      : { encoding: "utf8" as const, content: text }),
  };
}
