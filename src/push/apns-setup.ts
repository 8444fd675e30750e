import type { Logger } from "pino";
import type { ServerConfig } from "../store/config.js";
import type { ApnsRegistrationsStore } from "../store/apns-registrations.js";
import { ApnsChannel } from "./apns.js";
import { APNS_ORIGINS, ApnsClient } from "./apns-client.js";
import { ApnsProviderToken, loadApnsKey } from "./apns-jwt.js";

/** Where APNs requests go instead of Apple (a test's own server), and how often the JWT is renewed. */
export interface ApnsConnectOptions {
  /** e.g. https://127.0.0.1:8443; default Apple's host for push.apns.environment. */
  origin?: string;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer;
  /** Provider-token lifetime before a new one is signed (default 50 min). */
  tokenRefreshMs?: number;
  backoffMs?: number[];
}

/**
 * The APNs channel config.json's push.apns describes, or undefined without one. The key is read
 * here, at start-up, so a bad path or key is an ApnsConfigError now rather than a failed push later.
 */
export function apnsChannelFromConfig(opts: {
  config: ServerConfig;
  dataDir: string;
  store: ApnsRegistrationsStore;
  log: Logger;
  tokenAlive: (tokenId: string) => boolean;
  connect?: ApnsConnectOptions;
}): ApnsChannel | undefined {
  const apns = opts.config.push?.apns;
  if (!apns) return undefined;
  const key = loadApnsKey(apns.keyPath, opts.dataDir);
  const c = opts.connect ?? {};
  const log = opts.log.child({ channel: "apns" });
  return new ApnsChannel({
    store: opts.store,
    client: new ApnsClient({
      origin: c.origin ?? APNS_ORIGINS[apns.environment ?? "production"],
      log,
      ...(c.ca !== undefined && { ca: c.ca }),
    }),
    providerToken: new ApnsProviderToken({
      key,
      keyId: apns.keyId,
      teamId: apns.teamId,
      ...(c.tokenRefreshMs !== undefined && { refreshMs: c.tokenRefreshMs }),
    }),
    bundleId: apns.bundleId,
    log,
    alive: (r) => opts.tokenAlive(r.tokenId),
    ...(c.backoffMs && { backoffMs: c.backoffMs }),
  });
}
