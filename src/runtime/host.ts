import { constants } from "node:fs";
import { access, mkdir, open, stat, writeFile } from "node:fs/promises";
import { ProcessRuntime } from "./process.js";
import {
  type ExecOptions,
  type ExecResult,
  RuntimeError,
  type RuntimeLimits,
  type ToolRuntime,
} from "./runtime.js";

async function regularFile(path: string): Promise<number> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new RuntimeError("not_found", `ENOENT: no such file or directory, ${path}`);
    }
    throw new RuntimeError("failed", (err as Error).message);
  }
  if (!st.isFile()) throw new RuntimeError("not_regular", `${path} is not a regular file`);
  return st.size;
}

/**
 * Tools run as the server's own user, unconfined: every file the user can reach, the network, and
 * processes that may outlive the call. Only the environment allowlist and the tool limits still
 * apply. Chosen explicitly with `"runtime": "host"`, and warned about at every start.
 */
export class HostRuntime extends ProcessRuntime implements ToolRuntime {
  readonly kind = "host" as const;

  constructor(
    private readonly env: Record<string, string>,
    limits: RuntimeLimits,
  ) {
    super(limits);
  }

  exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    return this.run(["/bin/bash", "-c", command], this.env, opts.cwd, opts);
  }

  async readFile(path: string): Promise<Buffer> {
    const max = this.limits.toolFileBytes;
    const size = await regularFile(path);
    if (size > max) {
      throw new RuntimeError("too_large", `${path} is larger than ${max} bytes (limits.toolFileBytes)`);
    }
    // Read at most max + 1 bytes even if the file grows meanwhile.
    const fh = await open(path, "r");
    try {
      const buf = Buffer.alloc(max + 1);
      let n = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
        if (n > max) {
          throw new RuntimeError("too_large", `${path} is larger than ${max} bytes (limits.toolFileBytes)`);
        }
      }
      return buf.subarray(0, n);
    } finally {
      await fh.close();
    }
  }

  async access(path: string, write: boolean): Promise<void> {
    await regularFile(path);
    try {
      await access(path, write ? constants.R_OK | constants.W_OK : constants.R_OK);
    } catch {
      throw new RuntimeError("denied", `permission denied: ${path}`);
    }
  }

  async writeFile(path: string, content: string): Promise<void> {
    const st = await stat(path).catch(() => undefined);
    if (st && !st.isFile()) throw new RuntimeError("not_regular", `${path} is not a regular file`);
    await writeFile(path, content, "utf8");
  }

  async mkdir(path: string): Promise<void> {
    await mkdir(path, { recursive: true });
  }
}
