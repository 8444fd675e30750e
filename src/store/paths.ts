import { chmodSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** `--data-dir` > `PI_SERVER_DATA_DIR` > `$XDG_DATA_HOME/pi-server` > `~/.local/share/pi-server`. */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.PI_SERVER_DATA_DIR) return resolve(env.PI_SERVER_DATA_DIR);
  if (env.XDG_DATA_HOME) return resolve(env.XDG_DATA_HOME, "pi-server");
  return join(homedir(), ".local", "share", "pi-server");
}

export interface DataPaths {
  root: string;
  config: string;
  env: string;
  auth: string;
  models: string;
  repos: string;
  identity: string;
  skills: string;
  sessions: string;
  /** The server's own bare mirror of each registered repo; sessions branch from it. */
  mirrors: string;
  db: string;
  /** Written while the server runs: pid, address, scheme; read by `pi-server status` and `pair`. */
  runtime: string;
  /** The login shell's PATH and chosen variables for the agent's tools (`pi-server env init`). */
  hostEnv: string;
}

export function dataPaths(root: string): DataPaths {
  return {
    root,
    config: join(root, "config.json"),
    env: join(root, ".env"),
    auth: join(root, "auth.json"),
    models: join(root, "models.json"),
    repos: join(root, "repos.json"),
    identity: join(root, "identity"),
    skills: join(root, "skills"),
    sessions: join(root, "sessions"),
    mirrors: join(root, "repos"),
    db: join(root, "state.db"),
    runtime: join(root, "server.json"),
    hostEnv: join(root, "host-env.json"),
  };
}

export interface ModeRepair {
  path: string;
  from: number;
  to: number;
}

/**
 * Creates the data dir layout with 0700 dirs, and tightens the modes of what is already there
 * (dirs 0700, files 0600). Worktrees under sessions/ belong to the user's repos and keep theirs.
 */
export function prepareDataDir(paths: DataPaths): ModeRepair[] {
  const repairs: ModeRepair[] = [];
  for (const dir of [paths.root, paths.identity, paths.skills, paths.sessions]) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  const fix = (path: string, want: number): void => {
    const mode = statSync(path).mode & 0o777;
    if (mode !== want) {
      chmodSync(path, want);
      repairs.push({ path, from: mode, to: want });
    }
  };
  /** The dir itself 0700, its files 0600, and its subdirs 0700 (their contents are not walked). */
  const fixDir = (dir: string): string[] => {
    fix(dir, 0o700);
    const subdirs: string[] = [];
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st?.isFile()) fix(p, 0o600);
      else if (st?.isDirectory()) subdirs.push(p);
    }
    return subdirs;
  };
  for (const dir of fixDir(paths.root)) {
    if (dir === paths.identity) fixDir(dir);
    else if (dir === paths.sessions) {
      // sessions/<id>/ holds the history file (0600) and the worktree, which keeps git's modes.
      for (const sessionDir of fixDir(dir)) fixDir(sessionDir);
    } else fix(dir, 0o700);
  }
  return repairs;
}
