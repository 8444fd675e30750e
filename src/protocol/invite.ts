import { createHash, createPublicKey, verify as cryptoVerify } from "node:crypto";
import { Compile } from "typebox/compile";
import { canonicalJson, Invite, type SignedInvite } from "./invite-format.js";

export { canonicalJson, helloChallenge, Invite, type SignedInvite } from "./invite-format.js";

/** The server id is derived from the key, so pinning the id pins the key. */
export function serverIdOf(publicKeyRaw: Buffer): string {
  return createHash("sha256").update(publicKeyRaw).digest("hex").slice(0, 32);
}

const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

const checkInvite = Compile(Invite);

export function verifyEd25519(
  publicKeyB64url: string,
  message: Buffer | string,
  signatureB64url: string,
): boolean {
  try {
    const raw = Buffer.from(publicKeyB64url, "base64url");
    if (raw.length !== 32) return false;
    const key = createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
      format: "der",
      type: "spki",
    });
    const sig = Buffer.from(signatureB64url, "base64url");
    if (sig.length !== 64) return false;
    return cryptoVerify(null, typeof message === "string" ? Buffer.from(message) : message, key, sig);
  } catch {
    return false;
  }
}

/** Checks the signature, that the key matches serverId, and (when `now` is given) expiry. */
export function verifyInvite(
  signed: SignedInvite,
  now?: number,
): { ok: true } | { ok: false; reason: string } {
  const { invite, signature } = signed;
  if (!checkInvite.Check(invite) || typeof signature !== "string") {
    return { ok: false, reason: "malformed invite" };
  }
  if (serverIdOf(Buffer.from(invite.publicKey, "base64url")) !== invite.serverId) {
    return { ok: false, reason: "serverId does not match publicKey" };
  }
  if (!verifyEd25519(invite.publicKey, canonicalJson(invite), signature))
    return { ok: false, reason: "bad signature" };
  if (now !== undefined && invite.expiresAt <= now) return { ok: false, reason: "invite expired" };
  return { ok: true };
}

export function encodeInvite(signed: SignedInvite): string {
  return Buffer.from(JSON.stringify(signed)).toString("base64url");
}

export function decodeInvite(text: string): SignedInvite {
  return JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as SignedInvite;
}
