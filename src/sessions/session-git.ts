import { closeSync, openSync, readFileSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { importBundle } from "../repos/session-repo.js";
import { writeJsonAtomic } from "../store/atomic.js";
import { DEFAULT_PATH } from "../runtime/env.js";
import type { ToolRuntime } from "../runtime/index.js";

function isBundle(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(16);
    readSync(fd, head, 0, 16, 0);
    return head.toString("latin1") === "# v2 git bundle\n";
  } finally {
    closeSync(fd);
  }
}

/** Stored beside the session's history: what the branch started from and what was last exported. */
export interface RepoState {
  base: string;
  exportedHead?: string;
  /** HEAD when the last checkpoint was taken (or the session began): a turn that moved it changed something. */
  checkpointHead?: string;
}

export interface SessionGitDeps {
  runtime: ToolRuntime;
  worktree: string;
  /** sessions/<id>/: the state file; the bundle is written here, outside the sandbox's reach. */
  sessionDir: string;
  mirror: string;
  /** Where exported branches are kept (repos/exports/<id>.git). */
  exportsRepo: string;
  /** The user's repository, while it is still registered. */
  userRepo: () => string | undefined;
  branch: string;
  log: Logger;
}

/**
 * git as the server runs it inside a session's sandbox: found on the system PATH (never the agent's:
 * a `node_modules/.bin/git` the agent wrote must not answer for git), without hooks or fsmonitor.
 */
export const SANDBOX_GIT = `/usr/bin/env PATH=${DEFAULT_PATH} git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c gc.auto=0`;
const QUIET_GIT = SANDBOX_GIT;

function quote(v: string): string {
  return `'${v.replace(/'/g, "'\\''")}'`;
}

/** `bash -c` of a script with `$G` set to the server's sandboxed git, its arguments as $1…. */
export function scriptCommand(body: string, args: string[]): string {
  const script = `set -e\nG=${quote(QUIET_GIT)}\n${body}`;
  return `bash -c ${quote(script)} git-script ${args.map(quote).join(" ")}`;
}

/**
 * The server's git work on a session's repository. That repository is the agent's (its config and
 * hooks may be hostile), so every command that reads it runs in the session's runtime, and only
 * data — porcelain text, a bundle — comes out.
 */
export class SessionGit {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: SessionGitDeps) {}

  static stateFile(sessionDir: string): string {
    return join(sessionDir, "repo.json");
  }

  static writeState(sessionDir: string, state: RepoState): void {
    writeJsonAtomic(SessionGit.stateFile(sessionDir), state);
  }

  /** What the server wrote when it made the session's repository; undefined when it wrote nothing. */
  static readState(sessionDir: string): RepoState | undefined {
    try {
      return JSON.parse(readFileSync(SessionGit.stateFile(sessionDir), "utf8")) as RepoState;
    } catch {
      return undefined;
    }
  }

  private readState(): RepoState | undefined {
    return SessionGit.readState(this.deps.sessionDir);
  }

  /** Runs a command in the session's runtime; its stdout when it exits 0. */
  private async run(command: string, maxOutputBytes = 4 * 1024 * 1024): Promise<string> {
    const chunks: Buffer[] = [];
    const { exitCode } = await this.deps.runtime.exec(command, {
      cwd: this.deps.worktree,
      onData: (d) => chunks.push(d),
      maxOutputBytes,
      timeout: 120,
    });
    const out = Buffer.concat(chunks).toString("utf8");
    if (exitCode !== 0)
      throw new Error(`${command.split(" ").slice(-3).join(" ")} failed: ${out.trim().slice(0, 500)}`);
    return out;
  }

  /** Uncommitted changes, untracked files included, as `git status --porcelain` lines. */
  async changes(): Promise<string[]> {
    const out = await this.run(`${QUIET_GIT} status --porcelain --untracked-files=all 2>&1`);
    return out.split("\n").filter((l) => l.length > 0);
  }

  /**
   * Commits everything uncommitted (untracked files too) on the session's current branch, inside
   * the sandbox, with the server's identity and no hooks or signing; returns the new commit, or
   * undefined when there was nothing to commit.
   */
  async commitAll(message: string): Promise<string | undefined> {
    if ((await this.changes()).length === 0) return undefined;
    const id = "-c user.name=pi-server -c user.email=pi-server@localhost -c commit.gpgsign=false";
    const quoted = `'${message.replace(/'/g, "'\\''")}'`;
    await this.run(`${QUIET_GIT} add -A 2>&1 && ${QUIET_GIT} ${id} commit --no-verify -q -m ${quoted} 2>&1`);
    return (await this.run(`${QUIET_GIT} rev-parse HEAD 2>/dev/null`)).trim();
  }

  /**
   * Runs a bash script in the session's runtime (cwd: the worktree) with `$G` set to the server's
   * sandboxed git and the script's arguments as $1…; its stdout when it exits 0.
   */
  script(body: string, args: string[], maxOutputBytes = 4 * 1024 * 1024): Promise<string> {
    // stderr is kept aside and said only when the script fails, so warnings never mix with its output.
    const call = scriptCommand(body, args);
    return this.run(
      `e=$(mktemp) && { ${call} 2>"$e" || { s=$?; head -c 2000 "$e"; rm -f "$e"; exit $s; }; } && rm -f "$e"`,
      maxOutputBytes,
    );
  }

  /**
   * A script's stdout (a bundle, say) written into `file` a chunk at a time: the file is the
   * server's, outside the sandbox, and the agent never had its path.
   */
  async scriptToFile(
    body: string,
    args: string[],
    file: string,
    maxBytes = 1024 * 1024 * 1024,
  ): Promise<void> {
    const fd = openSync(file, "w", 0o600);
    let exitCode: number | null;
    try {
      ({ exitCode } = await this.deps.runtime.exec(`${scriptCommand(body, args)} 2>/dev/null`, {
        cwd: this.deps.worktree,
        onData: (d) => writeSync(fd, d),
        maxOutputBytes: maxBytes,
        timeout: 600,
      }));
    } finally {
      closeSync(fd);
    }
    if (exitCode !== 0) throw new Error(`the script in the session's sandbox failed with exit ${exitCode}`);
  }

  /** Resolves when no export or other queued work is running or waiting. */
  async settled(): Promise<void> {
    await this.chain;
  }

  /** Work on the session's repository, in order with exports and everything else queued here. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Serialised: one export at a time per session, in order. */
  export(): Promise<boolean> {
    return this.serial(() => this.exportOnce());
  }

  state(): RepoState | undefined {
    return this.readState();
  }

  updateState(patch: Partial<RepoState>): void {
    const state = this.readState();
    if (state) SessionGit.writeState(this.deps.sessionDir, { ...state, ...patch });
  }

  /**
   * Moves the session's HEAD into the mirror as its branch and fetches that into the user's repo.
   * Returns whether anything moved. Called after every turn and before the session is deleted.
   */
  private async exportOnce(): Promise<boolean> {
    const state = this.readState();
    if (!state) return false;
    let head: string;
    try {
      head = (await this.run(`${QUIET_GIT} rev-parse --verify -q 'HEAD^{commit}' 2>/dev/null`)).trim();
    } catch {
      return false; // no commit on HEAD (the agent emptied the repo): nothing to export
    }
    if (!/^[0-9a-f]{40,64}$/.test(head) || head === state.exportedHead) return false;
    const publish = (bundle: string | undefined): Promise<void> =>
      importBundle(
        this.deps.exportsRepo,
        this.deps.mirror,
        this.deps.userRepo(),
        bundle,
        this.deps.branch,
        state.base,
      );
    if (head === state.base) await publish(undefined);
    else {
      const bundle = join(this.deps.sessionDir, "export.bundle");
      // Written by the server from the sandbox's stdout, a chunk at a time (a bundle can be large):
      // the agent never had a path to this file.
      const fd = openSync(bundle, "w", 0o600);
      try {
        let exitCode: number | null;
        try {
          ({ exitCode } = await this.deps.runtime.exec(
            `${QUIET_GIT} bundle create -q - HEAD ^${state.base} 2>/dev/null`,
            {
              cwd: this.deps.worktree,
              onData: (d) => writeSync(fd, d),
              maxOutputBytes: 1024 * 1024 * 1024,
              timeout: 600,
            },
          ));
        } finally {
          closeSync(fd);
        }
        if (exitCode !== 0) throw new Error(`git bundle failed with exit ${exitCode}`);
        // git reads a path that is not a bundle as a repository (a gitfile, even): only a bundle passes.
        if (!isBundle(bundle))
          throw new Error("the session's export is not a git bundle; it was not imported");
        await publish(bundle);
      } finally {
        rmSync(bundle, { force: true });
      }
    }
    SessionGit.writeState(this.deps.sessionDir, { ...state, exportedHead: head });
    return true;
  }
}
