/**
 * The invite and the byte-exact strings that signatures cover. Kept free of Node built-ins so the browser app
 * verifies invites and hello answers with the very same functions the server signs with.
 */
import { Type, type Static } from "typebox";

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

/** The string a server signs to answer `hello {nonce}`; domain-separated from invites. */
export function helloChallenge(nonce: string, serverId: string): string {
  return `pi-server hello v1\n${serverId}\n${nonce}`;
}
