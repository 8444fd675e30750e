import { ProtocolError } from "../protocol/errors.js";

export interface SlotLimits {
  /** limits.maxSessionsPerWorkspace */
  perWorkspace: number;
  /** limits.maxSessionsGlobal */
  global: number;
}

/**
 * Which sessions are in memory (or being loaded), and in which workspace: the limits count these,
 * not the sessions that exist, so they bite on work, never on history. A slot is taken before a
 * load starts, so parallel creates cannot all pass the check and then all load.
 */
export class SessionSlots {
  private readonly held = new Map<string, string | null>();

  constructor(private readonly limits: () => SlotLimits) {}

  /** Counts the session as loaded in `workspaceId` (null: no workspace, only the global limit). */
  take(sessionId: string, workspaceId: string | null): void {
    if (this.held.has(sessionId)) return;
    const { perWorkspace, global } = this.limits();
    if (this.held.size >= global) {
      throw new ProtocolError(
        "limit_exceeded",
        `maxSessionsGlobal: at most ${global} sessions are loaded at once; wait until one is idle long enough to unload (sessions.idleUnloadMinutes), delete one, or raise limits.maxSessionsGlobal`,
        { limit: "maxSessionsGlobal", max: global, loaded: this.held.size },
      );
    }
    if (workspaceId !== null) {
      const loaded = this.loadedIn(workspaceId);
      if (loaded >= perWorkspace) {
        throw new ProtocolError(
          "limit_exceeded",
          `maxSessionsPerWorkspace: at most ${perWorkspace} sessions of workspace "${workspaceId}" are loaded at once; wait until one is idle long enough to unload (sessions.idleUnloadMinutes), delete one, or raise limits.maxSessionsPerWorkspace`,
          { limit: "maxSessionsPerWorkspace", max: perWorkspace, loaded, workspaceId },
        );
      }
    }
    this.held.set(sessionId, workspaceId);
  }

  release(sessionId: string): void {
    this.held.delete(sessionId);
  }

  loadedIn(workspaceId: string): number {
    let n = 0;
    for (const w of this.held.values()) if (w === workspaceId) n++;
    return n;
  }
}

/**
 * Unloads sessions idle for `idleMs()` (0: never), checking every so often; `idleMs` is read
 * each time, so a changed config applies without a restart.
 */
export function startIdleUnload(
  idleMs: () => number,
  unloadIdle: (idleMs: number) => Promise<void>,
): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let last = 0;
  // A config.json being edited may not parse for a moment: the last good value holds meanwhile.
  const read = (): number => {
    try {
      last = idleMs();
    } catch {
      // keep `last`
    }
    return last;
  };
  const schedule = (): void => {
    if (stopped) return;
    const idle = read();
    // Checked at a quarter of the idle time (a session goes at most 25% late), at least every 10 s
    // (so a changed setting applies soon), never more often than every 20 ms.
    const every = idle > 0 ? Math.min(10_000, Math.max(20, Math.floor(idle / 4))) : 10_000;
    timer = setTimeout(() => {
      const current = read();
      const run = current > 0 ? unloadIdle(current) : Promise.resolve();
      void run.finally(schedule);
    }, every);
    timer.unref();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
