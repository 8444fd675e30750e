import { createPrivateKey, sign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";

/** A push.apns setting that cannot work: said at start-up (and by doctor), never later. */
export class ApnsConfigError extends Error {
  override name = "ApnsConfigError";
}

/**
 * The .p8 key Apple hands out: PKCS#8 PEM of an EC P-256 private key. Relative paths are read from
 * the data dir, where config.json lives.
 */
export function loadApnsKey(keyPath: string, dataDir: string): KeyObject {
  const file = isAbsolute(keyPath) ? keyPath : resolve(dataDir, keyPath);
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (err) {
    throw new ApnsConfigError(
      `push.apns.keyPath: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new ApnsConfigError(
      `push.apns.keyPath: ${file} is not a PEM private key (expected the AuthKey_<KeyID>.p8 file from Apple)`,
    );
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1")
    throw new ApnsConfigError(
      `push.apns.keyPath: ${file} is not an EC P-256 key (an APNs .p8 key signs ES256)`,
    );
  return key;
}

/** Apple refuses provider tokens older than an hour, and throttles ones renewed more often than every 20 min. */
export const PROVIDER_TOKEN_REFRESH_MS = 50 * 60_000;

const b64u = (v: object): string => Buffer.from(JSON.stringify(v)).toString("base64url");

/**
 * The provider token (ES256 JWT, `{alg, kid}` / `{iss, iat}`) every APNs request carries: one is
 * reused until `refreshMs` old, then replaced, and replaced early when Apple calls it expired.
 */
export class ApnsProviderToken {
  private current: { jwt: string; at: number } | undefined;

  constructor(
    private readonly opts: {
      key: KeyObject;
      keyId: string;
      teamId: string;
      refreshMs?: number;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  get(): string {
    const now = this.now();
    const refresh = this.opts.refreshMs ?? PROVIDER_TOKEN_REFRESH_MS;
    if (!this.current || now - this.current.at >= refresh) this.current = { jwt: this.mint(now), at: now };
    return this.current.jwt;
  }

  /** Apple answered 403 Expired/InvalidProviderToken to `stale`: a new one, unless another caller made it already. */
  renew(stale: string): string {
    if (this.current?.jwt === stale) this.current = undefined;
    return this.get();
  }

  private mint(now: number): string {
    const input = `${b64u({ alg: "ES256", kid: this.opts.keyId })}.${b64u({
      iss: this.opts.teamId,
      iat: Math.floor(now / 1000),
    })}`;
    const sig = sign("sha256", Buffer.from(input), { key: this.opts.key, dsaEncoding: "ieee-p1363" });
    return `${input}.${sig.toString("base64url")}`;
  }
}
