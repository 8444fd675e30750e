import { createHash, createPublicKey, verify as cryptoVerify } from "node:crypto";
import { Type, type Static } from "typebox";
import { Compile } from "typebox/compile";

/** What a phone learns from the QR code: where the server is, who it is, and a one-time secret. */
export const Invite = Type.Object(
  {
    v: Type.Literal(1),
    serverId: Type.String(),
    /** Ed25519 public key, raw 32 bytes, base64url. */
    publicKey: Type.String(),
    hosts: Type.Array(Type.String()),
    port: Type.Integer(),
    scheme: Type.Union([Type.Literal("http"), Type.Literal("https")]),
    /** SHA-256 of the server's TLS certificate (DER), hex, when it serves TLS. */
    tlsFingerprint: Type.Optional(Type.String()),
    pairingToken: Type.String(),
    /** ms since the epoch */
    expiresAt: Type.Integer(),
  },
  { additionalProperties: false },
);
export type Invite = Static<typeof Invite>;
const checkInvite = Compile(Invite);

export interface SignedInvite {
  invite: Invite;
  /** Ed25519 signature over canonicalJson(invite), base64url. */
  signature: string;
}

/** JSON with object keys sorted at every level, so signer and verifier hash the same bytes. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The server id is derived from the key, so pinning the id pins the key. */
export function serverIdOf(publicKeyRaw: Buffer): string {
  return createHash("sha256").update(publicKeyRaw).digest("hex").slice(0, 32);
}

const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

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

/** The string a server signs to answer `hello {nonce}`; domain-separated from invites. */
export function helloChallenge(nonce: string, serverId: string): string {
  return `pi-server hello v1\n${serverId}\n${nonce}`;
}

export function encodeInvite(signed: SignedInvite): string {
  return Buffer.from(JSON.stringify(signed)).toString("base64url");
}

export function decodeInvite(text: string): SignedInvite {
  return JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as SignedInvite;
}
