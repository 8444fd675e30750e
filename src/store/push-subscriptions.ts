import { randomBytes } from "node:crypto";
import type { Db } from "./db.js";

export interface PushSubscriptionRecord {
  id: string;
  tokenId: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  createdAt: number;
}

interface Row {
  id: string;
  token_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  created_at: number;
}

const fromRow = (r: Row): PushSubscriptionRecord => ({
  id: r.id,
  tokenId: r.token_id,
  endpoint: r.endpoint,
  p256dh: r.p256dh,
  auth: r.auth,
  createdAt: r.created_at,
});

/** Web Push subscriptions in state.db; the endpoint is a capability URL, so it never leaves the server. */
export class PushSubscriptionsStore {
  constructor(private readonly db: Db) {}

  /** Adds or, for an endpoint already known, moves it to this token with fresh keys. */
  upsert(tokenId: string, s: { endpoint: string; p256dh: string; auth: string }): PushSubscriptionRecord {
    const existing = this.db
      .prepare("SELECT * FROM push_subscriptions WHERE endpoint = ?")
      .get(s.endpoint) as Row | undefined;
    const id = existing?.id ?? `ps_${randomBytes(8).toString("hex")}`;
    const now = Date.now();
    this.db
      .prepare(
        `INSERT INTO push_subscriptions (id, token_id, endpoint, p256dh, auth, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(endpoint) DO UPDATE SET token_id = excluded.token_id, p256dh = excluded.p256dh,
           auth = excluded.auth, failures = 0`,
      )
      .run(id, tokenId, s.endpoint, s.p256dh, s.auth, now);
    return {
      id,
      tokenId,
      endpoint: s.endpoint,
      p256dh: s.p256dh,
      auth: s.auth,
      createdAt: existing?.created_at ?? now,
    };
  }

  list(): PushSubscriptionRecord[] {
    return (this.db.prepare("SELECT * FROM push_subscriptions ORDER BY created_at").all() as Row[]).map(
      fromRow,
    );
  }

  removeEndpoint(tokenId: string, endpoint: string): boolean {
    return (
      this.db
        .prepare("DELETE FROM push_subscriptions WHERE token_id = ? AND endpoint = ?")
        .run(tokenId, endpoint).changes === 1
    );
  }

  remove(id: string): void {
    this.db.prepare("DELETE FROM push_subscriptions WHERE id = ?").run(id);
  }

  removeForTokens(tokenIds: readonly string[]): void {
    const del = this.db.prepare("DELETE FROM push_subscriptions WHERE token_id = ?");
    this.db.transaction(() => tokenIds.forEach((t) => del.run(t)))();
  }

  delivered(id: string, ok: boolean): void {
    if (ok)
      this.db
        .prepare("UPDATE push_subscriptions SET last_success_at = ?, failures = 0 WHERE id = ?")
        .run(Date.now(), id);
    else this.db.prepare("UPDATE push_subscriptions SET failures = failures + 1 WHERE id = ?").run(id);
  }
}
