import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Db } from "./db.js";

export type TokenKind = "owner" | "device";
/** A device's role: "user" uses sessions and answers approvals; "admin" may also do what the owner does with rules, audit and sessions. */
export type DeviceRole = "user" | "admin";

export interface TokenMatch {
  id: string;
  kind: TokenKind;
  name: string;
}

export interface DeviceRecord {
  id: string;
  name: string;
  createdAt: number;
  lastSeenAt: number | null;
  lastAddress: string | null;
  role: DeviceRole;
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
  verify(token: string, address?: string): TokenMatch | undefined {
    const presented = hashToken(token);
    const rows = this.db.prepare("SELECT id, kind, name, hash FROM tokens").all() as TokenRow[];
    let found: TokenRow | undefined;
    for (const row of rows) {
      const stored = Buffer.from(row.hash, "hex");
      if (stored.length === presented.length && timingSafeEqual(stored, presented) && !found) found = row;
    }
    if (!found) return undefined;
    this.db
      .prepare("UPDATE tokens SET last_used_at = ?, last_address = COALESCE(?, last_address) WHERE id = ?")
      .run(Date.now(), address ?? null, found.id);
    return { id: found.id, kind: found.kind, name: found.name };
  }

  exists(id: string): boolean {
    return this.db.prepare("SELECT 1 FROM tokens WHERE id = ?").get(id) !== undefined;
  }

  devices(): DeviceRecord[] {
    const rows = this.db
      .prepare(
        "SELECT id, name, created_at, last_used_at, last_address, role FROM tokens WHERE kind = 'device' ORDER BY created_at",
      )
      .all() as {
      id: string;
      name: string;
      created_at: number;
      last_used_at: number | null;
      last_address: string | null;
      role: DeviceRole;
    }[];
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      createdAt: r.created_at,
      lastSeenAt: r.last_used_at,
      lastAddress: r.last_address,
      role: r.role,
    }));
  }

  /** The role stored for a token now (read per call, so a grant or its withdrawal applies at once). */
  role(id: string): DeviceRole | undefined {
    const row = this.db.prepare("SELECT role FROM tokens WHERE id = ?").get(id) as
      { role: DeviceRole } | undefined;
    return row?.role;
  }

  /** Sets the role of a device by id or name; returns the ids changed. */
  grantDevice(idOrName: string, role: DeviceRole): string[] {
    const rows = this.db
      .prepare("SELECT id FROM tokens WHERE kind = 'device' AND (id = ? OR name = ?)")
      .all(idOrName, idOrName) as { id: string }[];
    const set = this.db.prepare("UPDATE tokens SET role = ? WHERE id = ?");
    this.db.transaction(() => rows.forEach((r) => set.run(role, r.id)))();
    return rows.map((r) => r.id);
  }

  /** Revokes a device by id or by name; returns the ids removed. */
  revokeDevice(idOrName: string): string[] {
    const rows = this.db
      .prepare("SELECT id FROM tokens WHERE kind = 'device' AND (id = ? OR name = ?)")
      .all(idOrName, idOrName) as { id: string }[];
    const del = this.db.prepare("DELETE FROM tokens WHERE id = ?");
    this.db.transaction(() => rows.forEach((r) => del.run(r.id)))();
    return rows.map((r) => r.id);
  }

  /** Replaces every owner token with a new one (and, with `allDevices`, revokes every device). */
  rotateOwner(allDevices: boolean): string {
    const token = generateToken();
    this.db.transaction(() => {
      this.db
        .prepare(`DELETE FROM tokens WHERE kind = 'owner'${allDevices ? " OR kind = 'device'" : ""}`)
        .run();
      this.add("owner", "owner", token);
    })();
    return token;
  }

  ownerCreatedAt(): number | undefined {
    const row = this.db.prepare("SELECT MAX(created_at) AS t FROM tokens WHERE kind = 'owner'").get() as {
      t: number | null;
    };
    return row.t ?? undefined;
  }
}
