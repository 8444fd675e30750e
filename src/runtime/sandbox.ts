import { lstatSync, readlinkSync } from "node:fs";
import { capture, ProcessRuntime } from "./process.js";
import {
  type ExecOptions,
  type ExecResult,
  RuntimeError,
  type RuntimeLimits,
  type ToolRuntime,
} from "./runtime.js";

/** What one session's sandbox may see. Everything not named here does not exist inside it. */
export interface SandboxSpec {
  /** The session's worktree: the only place a tool may write that outlives the call. */
  worktree: string;
  /** Extra paths mounted read-only at the same place (the repo's shared git objects, config extras). */
  readOnly: string[];
  /** Extra paths mounted read-write (config `sandbox.readWritePaths`). */
  readWrite: string[];
  /** Read-only mounts at another path than their source: `[source, target]` (skill directories). */
  readOnlyAt?: Array<[string, string]>;
  /** Whether the sandbox shares the host's network; off, only its own loopback exists. */
  network: boolean;
  /** HOME inside the sandbox: an empty tmpfs at this path. */
  home: string;
  env: Record<string, string>;
  /** The bubblewrap binary (config `sandbox.bwrap`; default: `bwrap` on the server's PATH). */
  bwrap?: string;
}

/** Size of the sandbox's /tmp and HOME, each. */
const TMPFS_BYTES = 1024 * 1024 * 1024;

/** Top-level system directories: bound read-only, or re-created as the symlinks they are (merged /usr). */
const SYSTEM_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/**
 * The parts of /etc programs need to run. Not the whole of it: /etc/shadow, ssh host keys and
 * whatever else an administrator keeps there are not for the agent.
 */
const ETC_ENTRIES = [
  "alternatives",
  "bash.bashrc",
  "ca-certificates",
  "ca-certificates.conf",
  "debian_version",
  "environment",
  "gai.conf",
  "gitconfig",
  "group",
  "host.conf",
  "hostname",
  "hosts",
  "inputrc",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "locale.alias",
  "localtime",
  "magic",
  "magic.mime",
  "mime.types",
  "nsswitch.conf",
  "os-release",
  "passwd",
  "perl",
  "pki",
  "profile",
  "protocols",
  "python3",
  "resolv.conf",
  "services",
  "shells",
  "ssl",
  "terminfo",
  "timezone",
  "xattr.conf",
];

function systemMounts(): string[] {
  const args: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isSymbolicLink()) args.push("--symlink", readlinkSync(dir), dir);
    else if (st.isDirectory()) args.push("--ro-bind", dir, dir);
  }
  for (const name of ETC_ENTRIES) args.push("--ro-bind-try", `/etc/${name}`, `/etc/${name}`);
  return args;
}

/**
 * bubblewrap's arguments for one tool call. Every namespace is new (a PID namespace of its own, so
 * the server's /proc and every other process are out of sight, and all the call's processes die
 * with it), no capability survives, the filesystem is an empty tmpfs with the system dirs read-only
 * and the worktree read-write, and the environment is exactly `spec.env`.
 */
export function bwrapArgs(spec: SandboxSpec, cwd: string): string[] {
  const uid = String(process.getuid?.() ?? 0);
  const gid = String(process.getgid?.() ?? 0);
  const args = [
    "--die-with-parent",
    "--new-session",
    "--unshare-all",
    "--unshare-user",
    "--uid",
    uid,
    "--gid",
    gid,
    "--cap-drop",
    "ALL",
    "--hostname",
    "sandbox",
    ...(spec.network ? ["--share-net"] : []),
    ...systemMounts(),
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    // Sized: a tmpfs lives in the host's memory, and by default may take half of it.
    "--size",
    String(TMPFS_BYTES),
    "--tmpfs",
    "/tmp",
    "--size",
    String(TMPFS_BYTES),
    "--tmpfs",
    spec.home,
  ];
  for (const p of spec.readOnly) args.push("--ro-bind-try", p, p);
  for (const p of spec.readWrite) args.push("--bind-try", p, p);
  for (const [src, dest] of spec.readOnlyAt ?? []) args.push("--ro-bind-try", src, dest);
  // The root is bwrap's own tmpfs (where /etc's allowlisted entries hang): read-only, so a write
  // outside the worktree, /tmp and HOME fails instead of vanishing with the call.
  args.push("--bind", spec.worktree, spec.worktree, "--remount-ro", "/", "--chdir", cwd, "--clearenv");
  for (const [k, v] of Object.entries(spec.env)) args.push("--setenv", k, v);
  return args;
}

const READ_SCRIPT = `f=$1
[ -e "$f" ] || { echo "no such file: $f" >&2; exit 10; }
[ -f "$f" ] || { echo "not a regular file: $f" >&2; exit 11; }
[ -r "$f" ] || { echo "permission denied: $f" >&2; exit 12; }
exec head -c "$2" -- "$f"`;

const ACCESS_SCRIPT = `f=$1
[ -e "$f" ] || { echo "no such file: $f" >&2; exit 10; }
[ -f "$f" ] || { echo "not a regular file: $f" >&2; exit 11; }
[ -r "$f" ] || { echo "permission denied: $f" >&2; exit 12; }
if [ "$2" = w ]; then [ -w "$f" ] || { echo "not writable: $f" >&2; exit 12; }; fi`;

const WRITE_SCRIPT = `f=$1
if [ -e "$f" ] && [ ! -f "$f" ]; then echo "not a regular file: $f" >&2; exit 11; fi
cat > "$f"`;

const MKDIR_SCRIPT = `mkdir -p -- "$1"`;

/** File operations get this long; they touch one file, so only a FIFO or a stuck disk takes longer. */
const FILE_OP_TIMEOUT_S = 60;

function fileError(exitCode: number | null, stderr: string, path: string): RuntimeError {
  const why = stderr || `exit ${exitCode}`;
  if (exitCode === 10) return new RuntimeError("not_found", `ENOENT: no such file or directory, ${path}`);
  if (exitCode === 11) return new RuntimeError("not_regular", `${path} is not a regular file`);
  if (exitCode === 12) return new RuntimeError("denied", `permission denied: ${path}`);
  return new RuntimeError("failed", why);
}

export class SandboxRuntime extends ProcessRuntime implements ToolRuntime {
  readonly kind = "sandbox" as const;

  constructor(
    private readonly spec: SandboxSpec,
    limits: RuntimeLimits,
  ) {
    super(limits);
  }

  private argv(cwd: string, ...command: string[]): string[] {
    return [this.spec.bwrap ?? "bwrap", ...bwrapArgs(this.spec, cwd), "--", ...command];
  }

  exec(command: string, opts: ExecOptions): Promise<ExecResult> {
    // bwrap itself gets no environment; the tool's is set inside with --setenv.
    return this.run(this.argv(opts.cwd, "/bin/bash", "-c", command), {}, undefined, opts);
  }

  private fileOp(script: string, args: string[], stdin?: string, maxBytes = 64 * 1024) {
    return capture(this.argv(this.spec.worktree, "/bin/sh", "-c", script, "sh", ...args), {
      env: {},
      stdin,
      maxBytes,
      timeout: FILE_OP_TIMEOUT_S,
      groups: this.groups,
    });
  }

  async readFile(path: string): Promise<Buffer> {
    const max = this.limits.toolFileBytes;
    const r = await this.fileOp(READ_SCRIPT, [path, String(max + 1)], undefined, max);
    if (r.truncated || r.stdout.length > max) {
      throw new RuntimeError("too_large", `${path} is larger than ${max} bytes (limits.toolFileBytes)`);
    }
    if (r.exitCode !== 0) throw fileError(r.exitCode, r.stderr, path);
    return r.stdout;
  }

  async access(path: string, write: boolean): Promise<void> {
    const r = await this.fileOp(ACCESS_SCRIPT, [path, write ? "w" : "r"]);
    if (r.exitCode !== 0) throw fileError(r.exitCode, r.stderr, path);
  }

  async writeFile(path: string, content: string): Promise<void> {
    const r = await this.fileOp(WRITE_SCRIPT, [path], content);
    if (r.exitCode !== 0) throw fileError(r.exitCode, r.stderr, path);
  }

  async mkdir(path: string): Promise<void> {
    const r = await this.fileOp(MKDIR_SCRIPT, [path]);
    if (r.exitCode !== 0) throw fileError(r.exitCode, r.stderr, path);
  }
}

/** Whether bubblewrap can build a sandbox on this machine; the reason and the fix when not. */
export async function probeSandbox(bwrap = "bwrap"): Promise<{ ok: true } | { ok: false; reason: string }> {
  const spec: SandboxSpec = {
    worktree: "/tmp",
    readOnly: [],
    readWrite: [],
    network: false,
    home: "/tmp",
    env: { PATH: "/usr/bin:/bin" },
  };
  try {
    const r = await capture([bwrap, ...bwrapArgs(spec, "/"), "--", "/bin/sh", "-c", "echo ok"], {
      env: {},
      maxBytes: 1024,
      timeout: 20,
      groups: new Set(),
    });
    if (r.exitCode === 0 && r.stdout.toString().trim() === "ok") return { ok: true };
    return {
      ok: false,
      reason: `bubblewrap (bwrap) could not create a sandbox: ${r.stderr || `exit ${r.exitCode}`}. Unprivileged user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1, or an AppArmor policy for bwrap)`,
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      return {
        ok: false,
        reason: `bubblewrap (${bwrap}) is not installed; install it (Debian/Ubuntu: apt-get install bubblewrap, Fedora: dnf install bubblewrap)`,
      };
    }
    return { ok: false, reason: `bubblewrap (bwrap) could not start: ${(err as Error).message}` };
  }
}
