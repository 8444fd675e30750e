import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";

export interface FdLimit {
  soft: number | "unlimited";
  hard: number | "unlimited";
}

/** Reads "Max open files" from /proc/<pid>/limits (Linux); undefined elsewhere. */
export function readFdLimit(pid: number | "self" = "self"): FdLimit | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/limits`, "utf8");
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
  if (!m) return undefined;
  const num = (v: string): number | "unlimited" => (v === "unlimited" ? v : Number(v));
  return { soft: num(m[1]!), hard: num(m[2]!) };
}

/**
 * Every socket costs a file descriptor, and the usual soft limit (1024) is far below the hard
 * one. Node itself raises the soft limit at start on Linux and macOS; where it did not (an
 * embedding, another runtime), util-linux's `prlimit` does, since Node cannot call setrlimit.
 * Whatever happens is logged: the operator should know the real ceiling.
 */
export function raiseFdLimit(log: Logger): FdLimit | undefined {
  const before = readFdLimit();
  if (!before) {
    log.info("open-file limit unknown on this platform; left as it is");
    return undefined;
  }
  if (before.soft === before.hard) {
    log.info({ soft: before.soft, hard: before.hard }, "open-file limit already at the hard limit");
    return before;
  }
  try {
    execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${before.hard}:${before.hard}`], {
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 5000,
    });
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "prlimit not installed" : String(err);
    log.warn(
      { soft: before.soft, hard: before.hard, why },
      "could not raise the open-file limit; unauthenticated connection caps still apply",
    );
    return before;
  }
  const after = readFdLimit() ?? before;
  log.info({ from: before.soft, to: after.soft }, "raised the open-file soft limit to the hard limit");
  return after;
}
