import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import type { ServerConfig } from "../store/config.js";
import { writeFileAtomic } from "../store/atomic.js";

export interface TlsMaterial {
  key: string;
  cert: string;
  /** SHA-256 of the certificate (DER), lowercase hex: what a client pins. */
  fingerprint: string;
}

export function certFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256.replace(/:/g, "").toLowerCase();
}

export class TlsConfigError extends Error {
  override name = "TlsConfigError";
}

/**
 * `off`: plain HTTP. `manual`: the user's cert and key files. `self-signed`: a certificate made once
 * for this machine's names and addresses and kept in identity/; clients pin its fingerprint, which
 * every invite carries, so no CA is involved.
 */
export async function loadTls(
  config: ServerConfig,
  identityDir: string,
  names: string[],
): Promise<TlsMaterial | undefined> {
  const mode = config.tls?.mode ?? "off";
  if (mode === "off") return undefined;
  if (mode === "manual") {
    const { certFile, keyFile } = config.tls ?? {};
    if (!certFile || !keyFile) throw new TlsConfigError("tls.mode manual needs tls.certFile and tls.keyFile");
    const cert = readFileSync(certFile, "utf8");
    const key = readFileSync(keyFile, "utf8");
    return { cert, key, fingerprint: certFingerprint(cert) };
  }
  const certPath = join(identityDir, "tls.crt");
  const keyPath = join(identityDir, "tls.key");
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, "utf8");
    return { cert, key: readFileSync(keyPath, "utf8"), fingerprint: certFingerprint(cert) };
  }
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 10);
  const altNames = [...new Set(["localhost", "127.0.0.1", "::1", ...names])].map((n) =>
    isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n },
  );
  // Only a TLS start without a certificate of its own makes one: the module is loaded here.
  const { default: selfsigned } = await import("selfsigned");
  const pems = await selfsigned.generate([{ name: "commonName", value: "pi-server" }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notAfterDate: notAfter,
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames },
    ],
  });
  writeFileAtomic(keyPath, pems.private);
  writeFileAtomic(certPath, pems.cert);
  return { cert: pems.cert, key: pems.private, fingerprint: certFingerprint(pems.cert) };
}
