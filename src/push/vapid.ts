import { createECDH } from "node:crypto";
import { chmodSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../store/atomic.js";

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

/**
 * The server's VAPID key pair (P-256, base64url), made on first start and kept in identity/ (0600).
 * Browsers bind a subscription to the public key: a new pair would orphan every subscription.
 */
export function loadVapidKeys(identityDir: string): VapidKeys {
  const file = join(identityDir, "vapid.json");
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o777) !== 0o600) chmodSync(file, 0o600);
    const keys = JSON.parse(readFileSync(file, "utf8")) as Partial<VapidKeys>;
    if (typeof keys.publicKey !== "string" || typeof keys.privateKey !== "string")
      throw new Error(`${file} is not a VAPID key pair; move it away and restart to make a new one`);
    return { publicKey: keys.publicKey, privateKey: keys.privateKey };
  }
  const keys = generateVapidKeys();
  writeFileAtomic(file, JSON.stringify(keys) + "\n");
  return keys;
}

/**
 * What web-push's generateVAPIDKeys makes (a P-256 pair: the 65-byte uncompressed public point and
 * the 32-byte private scalar, base64url), with node:crypto alone: web-push is loaded only when a
 * notification is sent, not on every start.
 */
export function generateVapidKeys(): VapidKeys {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  return {
    publicKey: padStart(ecdh.getPublicKey(), 65).toString("base64url"),
    privateKey: padStart(ecdh.getPrivateKey(), 32).toString("base64url"),
  };
}

/** OpenSSL drops leading zero bytes of the scalar now and then; VAPID wants the fixed length. */
function padStart(b: Buffer, length: number): Buffer {
  return b.length >= length ? b : Buffer.concat([Buffer.alloc(length - b.length), b]);
}
