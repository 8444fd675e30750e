import { execFile } from "node:child_process";

export class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`git ${args.join(" ")} failed: ${stderr.trim() || `exit ${exitCode}`}`);
    this.name = "GitError";
  }
}

/**
 * Settings that would make git run a program named by repository config: the server's own git
 * never runs hooks, an fsmonitor, or background maintenance, whatever a repo's config says.
 */
export const INERT_GIT = [
  "-c",
  "core.hooksPath=/dev/null",
  "-c",
  "core.fsmonitor=false",
  "-c",
  "core.untrackedCache=false",
  "-c",
  "gc.auto=0",
  "-c",
  "maintenance.auto=false",
  "-c",
  "fetch.recurseSubmodules=false",
  "-c",
  "protocol.ext.allow=never",
];

/** The server's own variables (provider keys, tokens) are not git's business. */
export function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" };
  for (const name of ["PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "XDG_CONFIG_HOME"]) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return env;
}

/** What a fetch from a remote adds: `-c` settings before the command, variables for that process only. */
export interface GitExtra {
  config?: string[];
  env?: Record<string, string>;
}

export function git(cwd: string, args: string[], timeoutMs = 60_000, extra: GitExtra = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      [...INERT_GIT, ...(extra.config ?? []), "-C", cwd, ...args],
      {
        env: { ...gitEnv(), ...extra.env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: timeoutMs,
      },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof err.code === "number" ? err.code : null;
          reject(new GitError(args, String(stderr || err.message), code));
        } else resolve(String(stdout));
      },
    );
  });
}

/** The repository's top-level directory, or undefined when `path` is not inside a git work tree. */
export async function repoTopLevel(path: string): Promise<string | undefined> {
  try {
    return (await git(path, ["rev-parse", "--show-toplevel"])).trim();
  } catch {
    return undefined;
  }
}

export async function hasCommits(repo: string): Promise<boolean> {
  try {
    await git(repo, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
    return true;
  } catch {
    return false;
  }
}

export async function deleteBranch(repo: string, branch: string): Promise<void> {
  await git(repo, ["branch", "-D", branch]);
}

/** The user's git identity (global config), for the agent's commits; undefined when none is set. */
export async function globalGitIdentity(): Promise<{ name: string; email: string } | undefined> {
  const get = (key: string): Promise<string> =>
    git(process.cwd(), ["config", "--global", "--get", key]).then(
      (v) => v.trim(),
      () => "",
    );
  const [name, email] = await Promise.all([get("user.name"), get("user.email")]);
  return name && email ? { name, email } : undefined;
}
