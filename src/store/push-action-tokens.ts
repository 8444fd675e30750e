import { createHash } from "node:crypto";
import type { Db } from "./db.js";

export interface ActionTokenRow {
  requestId: string;
  callSha256: string;
  tokenId: string;
  expiresAt: number;
}

const hash = (token: string): string => createHash("sha256").update(token).digest("hex");

/** Notification action tokens in state.db, only as hashes: the table alone answers nothing. */
export class PushActionTokensStore {
  constructor(private readonly db: Db) {}

  add(token: string, row: ActionTokenRow): void {
    this.db
      .prepare(
        `INSERT INTO push_action_tokens (token_hash, request_id, call_sha256, token_id, expires_at)
         VALUES (?, ?, ?, ?, ?)`,
      )
      .run(hash(token), row.requestId, row.callSha256, row.tokenId, row.expiresAt);
  }

  /**
   * Uses a token up: the row if it existed, was unused and unexpired (a second use gets undefined).
   * The lookup is by hash, so no token is compared byte by byte.
   */
  consume(token: string, now: number): ActionTokenRow | undefined {
    const h = hash(token);
    return this.db.transaction(() => {
      const r = this.db
        .prepare(
          "SELECT request_id, call_sha256, token_id, expires_at FROM push_action_tokens WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
        )
        .get(h, now) as
        { request_id: string; call_sha256: string; token_id: string; expires_at: number } | undefined;
      if (!r) return undefined;
      this.db.prepare("UPDATE push_action_tokens SET used_at = ? WHERE token_hash = ?").run(now, h);
      return {
        requestId: r.request_id,
        callSha256: r.call_sha256,
        tokenId: r.token_id,
        expiresAt: r.expires_at,
      };
    })();
  }

  /** Tokens past their expiry, used or not, are of no more use. */
  prune(now: number): void {
    this.db.prepare("DELETE FROM push_action_tokens WHERE expires_at <= ?").run(now);
  }

  forgetDevices(tokenIds: readonly string[]): void {
    const del = this.db.prepare("DELETE FROM push_action_tokens WHERE token_id = ?");
    this.db.transaction(() => tokenIds.forEach((t) => del.run(t)))();
  }
}
