import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Db } from "./db.js";

export type TokenKind = "owner" | "device";

export interface TokenMatch {
  id: string;
  kind: TokenKind;
  name: string;
}

export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** 256 bits of randomness, URL-safe so it survives query strings and QR codes. */
export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

interface TokenRow {
  id: string;
  kind: TokenKind;
  name: string;
  hash: string;
}

/** Tokens are stored only as SHA-256 hashes and compared in constant time. */
export class TokenStore {
  constructor(private readonly db: Db) {}

  hasOwner(): boolean {
    return this.db.prepare("SELECT 1 FROM tokens WHERE kind = 'owner' LIMIT 1").get() !== undefined;
  }

  add(kind: TokenKind, name: string, token: string): string {
    const id = randomBytes(8).toString("hex");
    this.db
      .prepare("INSERT INTO tokens (id, kind, name, hash, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(id, kind, name, hashToken(token).toString("hex"), Date.now());
    return id;
  }

  /** Compares against every stored hash so the time taken does not depend on which one matches. */
  verify(token: string): TokenMatch | undefined {
    const presented = hashToken(token);
    const rows = this.db.prepare("SELECT id, kind, name, hash FROM tokens").all() as TokenRow[];
    let found: TokenRow | undefined;
    for (const row of rows) {
      const stored = Buffer.from(row.hash, "hex");
      if (stored.length === presented.length && timingSafeEqual(stored, presented) && !found) found = row;
    }
    if (!found) return undefined;
    this.db.prepare("UPDATE tokens SET last_used_at = ? WHERE id = ?").run(Date.now(), found.id);
    return { id: found.id, kind: found.kind, name: found.name };
  }
}
