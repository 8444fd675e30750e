import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { ProtocolError } from "../protocol/errors.js";
import type { GitExtra } from "../repos/git.js";
import { githubToken, remoteGit } from "../repos/remote.js";
import { checkRepo, readReposFile, ReposFileError } from "../repos/repos.js";
import type { ServerConfig } from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import type { SessionRecord } from "../store/sessions-index.js";
import { SessionGit } from "./session-git.js";

/**
 * A session made before sessions had repositories of their own: a linked worktree of the user's repo.
 * Told by what the server wrote (sessions/<id>/repo.json), never by the worktree, which the agent
 * controls: a `.git` file the agent makes must not send the server's own git into its repository.
 */
export function isLegacyWorktree(record: SessionRecord): boolean {
  return record.branch !== null && !existsSync(SessionGit.stateFile(dirname(record.piSessionFile)));
}

export interface UsableRepo {
  id: string;
  name: string;
  path: string;
  url?: string;
}

/** The registered repos as sessions use them, and one lock per repo for the server's git on it. */
export class SessionRepos {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly paths: DataPaths,
    private readonly config: () => ServerConfig,
  ) {}

  /** A registered repo that is usable now, or a typed error saying why not. */
  async find(repoId: string): Promise<UsableRepo> {
    let repos;
    try {
      repos = readReposFile(this.paths.repos);
    } catch (err) {
      if (err instanceof ReposFileError) throw new ProtocolError("internal", err.message);
      throw err;
    }
    const entry = repos.find((r) => r.id === repoId);
    if (!entry) throw new ProtocolError("not_found", `no repo "${repoId}" in ${this.paths.repos}`);
    const checked = await checkRepo(entry);
    if (!checked.ok) throw new ProtocolError("conflict", `repo "${repoId}" cannot be used: ${checked.error}`);
    return checked;
  }

  /** Where the registered repo lives now; undefined once it is unregistered or unreadable. */
  userRepoPath(repoId: string): string | undefined {
    try {
      const entry = readReposFile(this.paths.repos).find((r) => r.id === repoId);
      // A clone url's repo has no checkout of the user's: branches stay in the exports repo.
      return entry?.ok && entry.url === undefined ? entry.path : undefined;
    } catch {
      return undefined;
    }
  }

  /** The credential settings the server's git fetches a clone url with. */
  remoteFor(url: string): GitExtra {
    return remoteGit(url, {
      token: githubToken(this.paths.env),
      tokenHosts: this.config().repos?.tokenHosts,
    });
  }

  /** Runs `fn` after every earlier holder of this repo's lock, failed or not. */
  async withLock<T>(repoPath: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(repoPath) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(repoPath, tail);
    try {
      return await next;
    } finally {
      if (this.locks.get(repoPath) === tail) this.locks.delete(repoPath);
    }
  }
}
