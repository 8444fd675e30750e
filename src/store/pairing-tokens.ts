import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Db } from "./db.js";
import { generateToken, hashToken } from "./tokens.js";

export type ConsumeResult =
  { ok: true; deviceName: string | null } | { ok: false; reason: "invalid" | "expired" | "used" };

interface Row {
  id: string;
  hash: string;
  device_name: string | null;
  expires_at: number;
  used_at: number | null;
}

/** Single-use pairing secrets, stored hashed, each with an expiry. */
export class PairingTokens {
  constructor(private readonly db: Db) {}

  create(ttlMs: number, deviceName?: string, now = Date.now()): { token: string; expiresAt: number } {
    // Expired and used secrets are of no use to anyone after a day; keep the table small.
    this.db.prepare("DELETE FROM pairing_tokens WHERE expires_at < ?").run(now - 86_400_000);
    const token = generateToken();
    const expiresAt = now + ttlMs;
    this.db
      .prepare(
        "INSERT INTO pairing_tokens (id, hash, device_name, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run(
        randomBytes(8).toString("hex"),
        hashToken(token).toString("hex"),
        deviceName ?? null,
        now,
        expiresAt,
      );
    return { token, expiresAt };
  }

  /** Compares against every stored hash in constant time, then marks the match used atomically. */
  consume(token: string, now = Date.now()): ConsumeResult {
    const presented = hashToken(token);
    return this.db.transaction((): ConsumeResult => {
      const rows = this.db
        .prepare("SELECT id, hash, device_name, expires_at, used_at FROM pairing_tokens")
        .all() as Row[];
      let found: Row | undefined;
      for (const row of rows) {
        const stored = Buffer.from(row.hash, "hex");
        if (timingSafeEqual(stored, presented) && !found) found = row;
      }
      if (!found) return { ok: false, reason: "invalid" };
      if (found.used_at !== null) return { ok: false, reason: "used" };
      if (found.expires_at <= now) return { ok: false, reason: "expired" };
      const changed = this.db
        .prepare("UPDATE pairing_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL")
        .run(now, found.id).changes;
      if (changed !== 1) return { ok: false, reason: "used" };
      return { ok: true, deviceName: found.device_name };
    })();
  }
}
