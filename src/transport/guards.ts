import { isIP } from "node:net";
import { hostname } from "node:os";

export interface GuardOptions {
  allowedHosts: string[];
  allowedOrigins: string[];
}

function hostOnly(hostHeader: string): string {
  if (hostHeader.startsWith("[")) return hostHeader.slice(1, hostHeader.indexOf("]"));
  const colon = hostHeader.lastIndexOf(":");
  return (
    colon > 0 && hostHeader.indexOf(":") === colon ? hostHeader.slice(0, colon) : hostHeader
  ).toLowerCase();
}

/**
 * DNS rebinding: a hostile page makes its own domain resolve to this machine, so its requests carry
 * that domain in Host. IP literals, this machine's names, Tailscale names and configured names are
 * what a real client uses.
 */
export function hostAllowed(hostHeader: string | undefined, opts: GuardOptions): boolean {
  if (!hostHeader) return false;
  const host = hostOnly(hostHeader);
  if (isIP(host)) return true;
  const me = hostname().toLowerCase();
  const names = new Set(["localhost", me, `${me}.local`, ...opts.allowedHosts.map((h) => h.toLowerCase())]);
  if (names.has(host)) return true;
  if (host.endsWith(".localhost")) return true;
  return host.endsWith(".ts.net");
}

/**
 * Cross-site WebSocket hijacking: browsers send Origin and let any page open a socket. A request
 * with an Origin must come from the server's own origin (its web app) or a configured one.
 * Requests without Origin come from non-browser clients, which a web page cannot impersonate.
 */
export function originAllowed(
  origin: string | undefined,
  hostHeader: string | undefined,
  opts: GuardOptions,
): boolean {
  if (origin === undefined) return true;
  if (opts.allowedOrigins.includes(origin)) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  return hostHeader !== undefined && url.host.toLowerCase() === hostHeader.toLowerCase();
}

/** Counts failed authentications per address; past the limit the address waits out the window. */
export class AuthThrottle {
  private readonly failures = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly max = 10,
    private readonly windowMs = 60_000,
  ) {}

  blocked(address: string, now = Date.now()): boolean {
    const entry = this.failures.get(address);
    if (!entry) return false;
    if (entry.resetAt <= now) {
      this.failures.delete(address);
      return false;
    }
    return entry.count >= this.max;
  }

  fail(address: string, now = Date.now()): void {
    const entry = this.failures.get(address);
    if (!entry || entry.resetAt <= now) {
      if (this.failures.size > 10_000) this.prune(now);
      this.failures.set(address, { count: 1, resetAt: now + this.windowMs });
    } else entry.count++;
  }

  private prune(now: number): void {
    for (const [k, v] of this.failures) if (v.resetAt <= now) this.failures.delete(k);
  }
}
