/**
 * Ed25519 verification for invites and hello answers. WebCrypto has Ed25519 in current browsers,
 * but only in a secure context: a phone opening http://192.168.1.20:3141/app/ has no
 * crypto.subtle at all, so a small audited pure-JS implementation stands in there.
 */
import type { Verify } from "../../src/client/core.js";

export function fromBase64url(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

async function webCryptoVerify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", pub as BufferSource, { name: "Ed25519" }, false, [
    "verify",
  ]);
  return crypto.subtle.verify({ name: "Ed25519" }, key, sig as BufferSource, msg as BufferSource);
}

async function fallbackVerify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
  const [ed, { sha512 }] = await Promise.all([import("@noble/ed25519"), import("@noble/hashes/sha2.js")]);
  ed.hashes.sha512 = sha512;
  return ed.verify(sig, msg, pub);
}

let webCryptoWorks: boolean | undefined;

/** Never throws: a malformed key or signature is simply not valid. */
export const verifyEd25519: Verify = async (publicKey, message, signature) => {
  try {
    const pub = fromBase64url(publicKey);
    const sig = fromBase64url(signature);
    if (pub.length !== 32 || sig.length !== 64) return false;
    const msg = new TextEncoder().encode(message);
    if (webCryptoWorks !== false && globalThis.crypto?.subtle) {
      try {
        const ok = await webCryptoVerify(pub, msg, sig);
        webCryptoWorks = true;
        return ok;
      } catch {
        // The browser lacks Ed25519 in WebCrypto (older Safari, Firefox): use the fallback from now on.
        webCryptoWorks = false;
      }
    }
    return await fallbackVerify(pub, msg, sig);
  } catch {
    return false;
  }
};

/** SHA-256 of the server id derivation, for checking that an invite's id belongs to its key. */
export async function serverIdOf(publicKey: string): Promise<string> {
  const raw = fromBase64url(publicKey);
  let digest: Uint8Array;
  if (globalThis.crypto?.subtle) {
    digest = new Uint8Array(await crypto.subtle.digest("SHA-256", raw as BufferSource));
  } else {
    const { sha256 } = await import("@noble/hashes/sha2.js");
    digest = sha256(raw);
  }
  return [...digest]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("")
    .slice(0, 32);
}
