import { spawn } from "node:child_process";
import type { ExecOptions, RuntimeLimits } from "./runtime.js";

export interface RunOptions {
  env: Record<string, string>;
  cwd?: string;
  onData: (data: Buffer) => void;
  signal?: AbortSignal;
  /** Seconds. */
  timeout?: number;
  stdin?: Buffer | string;
  /** Output (stdout + stderr) past which the process group is killed and the run rejects. */
  maxOutputBytes: number;
  /** Process groups started for the session, so that killAll() reaches what is still running. */
  groups: Set<number>;
}

/** Kills a whole process group; a group that is already gone is fine. */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // already gone
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Forgets groups that have no process left, so a long session's set stays small. */
export function pruneGroups(groups: Set<number>): void {
  for (const g of groups) if (!groupAlive(g)) groups.delete(g);
}

/**
 * Runs argv in a process group of its own. Abort, timeout and the output cap kill the whole group
 * with SIGKILL: a tool that ignores signals cannot keep a turn (or the server's memory) hostage.
 */
export function runProcess(argv: string[], opts: RunOptions): Promise<{ exitCode: number | null }> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new Error("aborted"));
      return;
    }
    const [file, ...args] = argv as [string, ...string[]];
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true,
      stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const pgid = child.pid;
    if (pgid !== undefined) {
      pruneGroups(opts.groups);
      opts.groups.add(pgid);
    }
    let settled = false;
    let outputBytes = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, exitCode: number | null = null): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (err && pgid !== undefined) killGroup(pgid);
      if (err) reject(err);
      else resolve({ exitCode });
    };
    const onAbort = (): void => finish(new Error("aborted"));
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    if (opts.timeout !== undefined && opts.timeout > 0) {
      timer = setTimeout(() => finish(new Error(`timeout:${opts.timeout}`)), opts.timeout * 1000);
    }
    const onData = (data: Buffer): void => {
      if (settled) return;
      outputBytes += data.length;
      if (outputBytes > opts.maxOutputBytes) {
        finish(
          new Error(
            `the command wrote more than ${opts.maxOutputBytes} bytes of output and was stopped (limits.toolOutputBytes)`,
          ),
        );
        return;
      }
      opts.onData(data);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    if (opts.stdin !== undefined && child.stdin) {
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.stdin);
    }
    child.on("error", (err) => finish(err));
    // 'close' waits for every holder of the pipes; a backgrounded process keeping them open must not
    // hold the tool call, so the run ends shortly after the main process exits.
    child.on("exit", (code, signal) => {
      const exitCode = code ?? (signal ? null : 0);
      const drain = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(undefined, exitCode);
      }, 200);
      child.on("close", () => {
        clearTimeout(drain);
        finish(undefined, exitCode);
      });
    });
  });
}

export interface Captured {
  exitCode: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs argv to completion and keeps its output apart; stdout beyond maxBytes kills it (exit null, truncated). */
export async function capture(
  argv: string[],
  opts: {
    env: Record<string, string>;
    cwd?: string;
    stdin?: Buffer | string;
    maxBytes: number;
    timeout: number;
    groups: Set<number>;
  },
): Promise<Captured & { truncated: boolean }> {
  const out: Buffer[] = [];
  let outBytes = 0;
  let err = "";
  let truncated = false;
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  const pgid = child.pid;
  if (pgid !== undefined) opts.groups.add(pgid);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (pgid !== undefined) killGroup(pgid);
      reject(new Error(`timed out after ${opts.timeout} s`));
    }, opts.timeout * 1000);
    child.stdout?.on("data", (d: Buffer) => {
      if (truncated) return;
      outBytes += d.length;
      out.push(d);
      if (outBytes > opts.maxBytes) {
        truncated = true;
        if (pgid !== undefined) killGroup(pgid);
      }
    });
    child.stderr?.on("data", (d: Buffer) => {
      if (err.length < 4096) err += d.toString("utf8");
    });
    if (opts.stdin !== undefined && child.stdin) {
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.stdin);
    }
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (pgid !== undefined) opts.groups.delete(pgid);
      resolve({ exitCode: code, stdout: Buffer.concat(out), stderr: err.trim(), truncated });
    });
  });
}

/** What both runtimes share: the session's process groups, and how one command is run and killed. */
export abstract class ProcessRuntime {
  protected readonly groups = new Set<number>();

  constructor(protected readonly limits: RuntimeLimits) {}

  protected run(argv: string[], env: Record<string, string>, cwd: string | undefined, opts: ExecOptions) {
    return runProcess(argv, {
      env,
      cwd,
      onData: opts.onData,
      signal: opts.signal,
      timeout: opts.timeout,
      stdin: opts.stdin,
      maxOutputBytes: opts.maxOutputBytes ?? this.limits.toolOutputBytes,
      groups: this.groups,
    });
  }

  killAll(): void {
    for (const g of this.groups) killGroup(g);
    this.groups.clear();
  }
}
