import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { processAlive } from "./runtime.js";

export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
  constructor(
    readonly pid: number,
    dataDir: string,
  ) {
    super(
      `another pi-server (pid ${pid}) is already running on the data dir ${dataDir}; stop it first (\`pi-server status --data-dir ${dataDir}\` says where it listens), or use another --data-dir`,
    );
  }
}

export interface DataDirLock {
  release(): void;
}

/**
 * One server per data dir: two would both write state.db, the session files and server.json. The
 * lock is a file holding the owner's pid, made with O_EXCL; one left by a process that died (kill -9)
 * is taken over.
 */
export function lockDataDir(root: string): DataDirLock {
  const file = join(root, "server.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) throw new DataDirLockedError(pid, root);
      rmSync(file, { force: true });
    }
  }
  throw new DataDirLockedError(0, root);
}
