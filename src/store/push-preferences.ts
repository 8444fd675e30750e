import type { PushPreferences } from "../protocol/push.js";
import type { Db } from "./db.js";

interface Row {
  permission: number;
  turn_ended: number;
  turn_failed: number;
  interrupted: number;
  quiet_start: string | null;
  quiet_end: string | null;
  quiet_time_zone: string | null;
}

/** What a device that never chose is sent: everything, at any hour. */
export const DEFAULT_PUSH_PREFERENCES: PushPreferences = {
  kinds: { permission: true, turnEnded: true, turnFailed: true, interrupted: true },
  quietHours: null,
};

const fromRow = (r: Row): PushPreferences => ({
  kinds: {
    permission: r.permission === 1,
    turnEnded: r.turn_ended === 1,
    turnFailed: r.turn_failed === 1,
    interrupted: r.interrupted === 1,
  },
  quietHours:
    r.quiet_start !== null && r.quiet_end !== null
      ? {
          start: r.quiet_start,
          end: r.quiet_end,
          ...(r.quiet_time_zone !== null && { timeZone: r.quiet_time_zone }),
        }
      : null,
});

/** Notification preferences in state.db, one row per paired device's token id (none: the defaults). */
export class PushPreferencesStore {
  constructor(private readonly db: Db) {}

  get(tokenId: string): PushPreferences {
    const row = this.db.prepare("SELECT * FROM push_preferences WHERE token_id = ?").get(tokenId) as
      Row | undefined;
    return row ? fromRow(row) : structuredClone(DEFAULT_PUSH_PREFERENCES);
  }

  put(tokenId: string, p: PushPreferences): void {
    const b = (v: boolean): number => (v ? 1 : 0);
    this.db
      .prepare(
        `INSERT INTO push_preferences (token_id, permission, turn_ended, turn_failed, interrupted,
           quiet_start, quiet_end, quiet_time_zone, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(token_id) DO UPDATE SET permission = excluded.permission,
           turn_ended = excluded.turn_ended, turn_failed = excluded.turn_failed,
           interrupted = excluded.interrupted, quiet_start = excluded.quiet_start,
           quiet_end = excluded.quiet_end, quiet_time_zone = excluded.quiet_time_zone,
           updated_at = excluded.updated_at`,
      )
      .run(
        tokenId,
        b(p.kinds.permission),
        b(p.kinds.turnEnded),
        b(p.kinds.turnFailed),
        b(p.kinds.interrupted),
        p.quietHours?.start ?? null,
        p.quietHours?.end ?? null,
        p.quietHours?.timeZone ?? null,
        Date.now(),
      );
  }

  removeForTokens(tokenIds: readonly string[]): void {
    const del = this.db.prepare("DELETE FROM push_preferences WHERE token_id = ?");
    this.db.transaction(() => tokenIds.forEach((t) => del.run(t)))();
  }
}
