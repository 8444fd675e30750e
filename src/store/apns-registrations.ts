import { randomBytes } from "node:crypto";
import type { Db } from "./db.js";

export interface ApnsRegistration {
  id: string;
  tokenId: string;
  /** Lowercase hex, as Apple's `didRegisterForRemoteNotificationsWithDeviceToken` bytes. */
  deviceToken: string;
  createdAt: number;
}

interface Row {
  id: string;
  token_id: string;
  device_token: string;
  created_at: number;
}

const fromRow = (r: Row): ApnsRegistration => ({
  id: r.id,
  tokenId: r.token_id,
  deviceToken: r.device_token,
  createdAt: r.created_at,
});

/** The iOS app's APNs device tokens in state.db; logs name a registration by its id, never its token. */
export class ApnsRegistrationsStore {
  constructor(private readonly db: Db) {}

  /** Adds a device token or, when it is known, moves it to this paired device. */
  upsert(tokenId: string, deviceToken: string): ApnsRegistration {
    const existing = this.db
      .prepare("SELECT * FROM apns_registrations WHERE device_token = ?")
      .get(deviceToken) as Row | undefined;
    const id = existing?.id ?? `ap_${randomBytes(8).toString("hex")}`;
    const createdAt = existing?.created_at ?? Date.now();
    this.db
      .prepare(
        `INSERT INTO apns_registrations (id, token_id, device_token, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(device_token) DO UPDATE SET token_id = excluded.token_id, failures = 0`,
      )
      .run(id, tokenId, deviceToken, createdAt);
    return { id, tokenId, deviceToken, createdAt };
  }

  list(): ApnsRegistration[] {
    return (this.db.prepare("SELECT * FROM apns_registrations ORDER BY created_at").all() as Row[]).map(
      fromRow,
    );
  }

  removeDeviceToken(tokenId: string, deviceToken: string): boolean {
    return (
      this.db
        .prepare("DELETE FROM apns_registrations WHERE token_id = ? AND device_token = ?")
        .run(tokenId, deviceToken).changes === 1
    );
  }

  remove(id: string): void {
    this.db.prepare("DELETE FROM apns_registrations WHERE id = ?").run(id);
  }

  removeForTokens(tokenIds: readonly string[]): void {
    const del = this.db.prepare("DELETE FROM apns_registrations WHERE token_id = ?");
    this.db.transaction(() => tokenIds.forEach((t) => del.run(t)))();
  }

  delivered(id: string, ok: boolean): void {
    if (ok)
      this.db
        .prepare("UPDATE apns_registrations SET last_success_at = ?, failures = 0 WHERE id = ?")
        .run(Date.now(), id);
    else this.db.prepare("UPDATE apns_registrations SET failures = failures + 1 WHERE id = ?").run(id);
  }
}
