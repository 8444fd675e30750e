import { chmodSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import webpush from "web-push";
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
  const keys = webpush.generateVAPIDKeys();
  writeFileAtomic(file, JSON.stringify(keys) + "\n");
  return keys;
}
