import type { ToolRuntime } from "../runtime/index.js";
import type { NameSource } from "../store/sessions-index.js";
import type { RepoState } from "./session-git.js";

/** Where a new session's repository goes, and what may work on it. */
export interface SeedTarget {
  id: string;
  worktree: string;
  branch: string;
  /** The registered repo's mirror, whose objects the new repository borrows. */
  mirror: string;
  exportsRepo: string;
  /** The new session's own runtime: what reads or writes the new worktree's content runs there. */
  runtime: ToolRuntime;
}

/**
 * What a new session starts from when it is not a fresh one (a fork, an import): session.create's
 * one path, with its limits, checks and clean-up, fills in these parts instead of its defaults.
 */
export interface SessionSeed {
  nameSource?: NameSource;
  /** Makes the session's repository at target.worktree (instead of a clone at the user's HEAD). */
  repo?(target: SeedTarget): Promise<RepoState>;
  /** Fills the directory of a session without a repository. */
  files?(worktree: string): void;
  /** Writes the session's pi history before the session loads it. */
  history?(file: string, worktree: string): void | Promise<void>;
}
