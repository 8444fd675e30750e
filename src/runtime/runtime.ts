/**
 * Where the agent's tools run. One small interface: run a command, read or write a file, for one
 * session. The default implementation is a bubblewrap sandbox; "host" runs them as the server's own
 * user, unconfined, and exists only as an explicit choice.
 */

export type RuntimeKind = "sandbox" | "host";

export interface ExecOptions {
  cwd: string;
  /** Every chunk of stdout and stderr, interleaved as the command writes them. */
  onData: (data: Buffer) => void;
  signal?: AbortSignal;
  /** Seconds; the command and everything it started is killed when it runs out. */
  timeout?: number;
  /** Bytes fed to the command's stdin (default: none, stdin is /dev/null). */
  stdin?: Buffer | string;
  /** Overrides limits.toolOutputBytes for the server's own commands (a bundle of the session's branch). */
  maxOutputBytes?: number;
}

export interface ExecResult {
  exitCode: number | null;
}

export interface ToolRuntime {
  readonly kind: RuntimeKind;
  /** Runs `command` with bash. Rejects with Error("aborted") or Error("timeout:<s>") as pi's tools expect. */
  exec(command: string, opts: ExecOptions): Promise<ExecResult>;
  /** A regular file's bytes; refuses devices, FIFOs, directories and files over the size limit. */
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, content: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  /** Throws unless `path` is a regular file that can be read (and written, with `write`). */
  access(path: string, write: boolean): Promise<void>;
  /** Kills every process the session's tools started that is still running. */
  killAll(): void;
}

export interface RuntimeLimits {
  /** Largest file `read`/`edit` load. */
  toolFileBytes: number;
  /** Output of one command past which it is killed. */
  toolOutputBytes: number;
}

/** A tool operation refused by the runtime itself (not by the command it ran). */
export class RuntimeError extends Error {
  constructor(
    readonly code: "not_regular" | "too_large" | "not_found" | "denied" | "failed" | "unavailable",
    message: string,
  ) {
    super(message);
    this.name = "RuntimeError";
  }
}
