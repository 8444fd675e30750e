import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { serverIdOf } from "../protocol/invite.js";
import { writeFileAtomic } from "../store/atomic.js";

export interface Identity {
  serverId: string;
  /** raw Ed25519 public key, base64url */
  publicKey: string;
  sign(message: string | Buffer): string;
}

/** The server's Ed25519 key pair, made on first start; the private key never leaves identity/ (0600). */
export function loadIdentity(dir: string): Identity {
  const privPath = join(dir, "server.key");
  let privateKey: KeyObject;
  if (existsSync(privPath)) {
    privateKey = createPrivateKey(readFileSync(privPath));
  } else {
    const pair = generateKeyPairSync("ed25519");
    privateKey = pair.privateKey;
    writeFileAtomic(privPath, privateKey.export({ type: "pkcs8", format: "pem" }).toString());
    writeFileAtomic(
      join(dir, "server.pub"),
      pair.publicKey.export({ type: "spki", format: "pem" }).toString(),
      0o600,
    );
  }
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  const raw = spki.subarray(spki.length - 32);
  return {
    serverId: serverIdOf(raw),
    publicKey: raw.toString("base64url"),
    sign: (message) =>
      sign(null, typeof message === "string" ? Buffer.from(message) : message, privateKey).toString(
        "base64url",
      ),
  };
}
