import { existsSync } from "node:fs";
import { loadConfig, type ServerConfig } from "../store/config.js";
import { openDb, type Db } from "../store/db.js";
import { dataPaths, prepareDataDir, resolveDataDir, type DataPaths } from "../store/paths.js";

export const DATA_DIR_OPTION = ["--data-dir <path>", "data directory (env PI_SERVER_DATA_DIR)"] as const;

export class CliError extends Error {
  override name = "CliError";
}

/**
 * The data dir a command works on. Only `serve` and `init` make one (`create`): any other command
 * given a mistyped --data-dir says so instead of leaving a fresh data dir with keys behind.
 */
export function cliPaths(dataDir: string | undefined, opts: { create?: boolean } = {}): DataPaths {
  const paths = dataPaths(resolveDataDir(dataDir));
  if (!opts.create && !existsSync(paths.root)) {
    throw new CliError(
      `no data dir at ${paths.root}: start the server once (\`pi-server serve\`) or run \`pi-server init\`, or pass the right --data-dir`,
    );
  }
  prepareDataDir(paths);
  return paths;
}

export function cliConfig(paths: DataPaths): ServerConfig {
  return loadConfig(paths.config);
}

/** Opens state.db for the length of `fn`; SQLite's WAL lets a running server keep using it meanwhile. */
export function withDb<T>(paths: DataPaths, fn: (db: Db) => T): T {
  const db = openDb(paths.db);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

export function print(line = ""): void {
  process.stdout.write(line + "\n");
}

/** "90s", "5m", "1h", "2d" or plain milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new CliError(`not a duration: ${JSON.stringify(text)} (use e.g. 90s, 5m, 1h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? "ms"] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86_400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86_400)}d ago`;
}
