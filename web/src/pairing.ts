/** Reading an invite link and trading its one-time secret for a device token (docs/security.md). */
import { canonicalJson } from "../../src/protocol/invite-format.js";
import type { Invite, SignedInvite } from "../../src/protocol/invite-format.js";
import { fromBase64url, serverIdOf, verifyEd25519 } from "./crypto.js";
import type { ServerRecord } from "./storage.js";

export type InviteCheck =
  { ok: true; signed: SignedInvite } | { ok: false; reason: string; spent?: "used" | "expired" };

/** The invite can no longer pair anything: only a new one (`pi-server pair`) helps. */
export class InviteSpent extends Error {
  constructor(readonly spent: "used" | "expired") {
    super(spent === "used" ? "This invite was already used." : "This invite has expired.");
    this.name = "InviteSpent";
  }
}

function looksLikeInvite(v: unknown): v is Invite {
  const i = v as Record<string, unknown>;
  return (
    typeof i === "object" &&
    i !== null &&
    i.v === 1 &&
    typeof i.serverId === "string" &&
    typeof i.publicKey === "string" &&
    Array.isArray(i.hosts) &&
    i.hosts.every((h) => typeof h === "string") &&
    typeof i.port === "number" &&
    (i.scheme === "http" || i.scheme === "https") &&
    typeof i.pairingToken === "string" &&
    typeof i.expiresAt === "number"
  );
}

/** Decodes and verifies `#pair=<base64url>`: shape, key ↔ id, signature, expiry. */
export async function checkInvite(encoded: string, now = Date.now()): Promise<InviteCheck> {
  let signed: SignedInvite;
  try {
    signed = JSON.parse(new TextDecoder().decode(fromBase64url(encoded))) as SignedInvite;
  } catch {
    return { ok: false, reason: "This link does not hold a readable invite." };
  }
  if (!looksLikeInvite(signed?.invite) || typeof signed.signature !== "string")
    return { ok: false, reason: "This link does not hold a pi-server invite." };
  const { invite } = signed;
  if ((await serverIdOf(invite.publicKey)) !== invite.serverId)
    return { ok: false, reason: "The invite's server id does not belong to its key." };
  if (!(await verifyEd25519(invite.publicKey, canonicalJson(invite), signed.signature)))
    return { ok: false, reason: "The invite's signature is not valid: it was changed or forged." };
  if (invite.expiresAt <= now) return { ok: false, reason: "This invite has expired.", spent: "expired" };
  return { ok: true, signed };
}

/**
 * Where to reach the server. The page itself came from the server when it was opened from the
 * link, and a browser only lets this origin's pages talk to it, so the page's origin wins when it
 * is one of the invite's addresses.
 */
export function serverUrlFor(invite: Invite, loc: Location = location): string {
  const port = loc.port || (loc.protocol === "https:" ? "443" : "80");
  if (invite.hosts.includes(loc.hostname) && String(invite.port) === port) return loc.origin;
  return `${invite.scheme}://${invite.hosts[0] ?? loc.hostname}:${invite.port}`;
}

interface PairAnswer {
  deviceId: string;
  deviceName: string;
  token: string;
  serverId: string;
  publicKey: string;
}

export async function pairWith(signed: SignedInvite, deviceName: string): Promise<ServerRecord> {
  const { invite } = signed;
  const url = serverUrlFor(invite);
  let res: Response;
  try {
    res = await fetch(`${url}/pair`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ pairingToken: invite.pairingToken, deviceName }),
    });
  } catch {
    throw new Error(`Could not reach the server at ${url}.`);
  }
  const body = (await res.json().catch(() => ({}))) as Partial<PairAnswer> & {
    error?: { message?: string; data?: { reason?: string } };
  };
  if (!res.ok) {
    const reason = body.error?.data?.reason;
    if (reason === "used" || reason === "expired") throw new InviteSpent(reason);
    throw new Error(body.error?.message ?? `Pairing failed (HTTP ${res.status}).`);
  }
  // The answer must come from the key the signed invite named, or it is not the server we meant.
  if (body.serverId !== invite.serverId || body.publicKey !== invite.publicKey || !body.token)
    throw new Error("The server that answered is not the one in the invite.");
  return {
    serverId: invite.serverId,
    publicKey: invite.publicKey,
    url,
    token: body.token,
    deviceId: body.deviceId ?? "",
    deviceName: body.deviceName ?? deviceName,
    label: invite.hosts[0] ?? url,
    pairedAt: Date.now(),
  };
}
