import { hostname, networkInterfaces } from "node:os";

/** Tailscale hands out addresses from 100.64.0.0/10 (CGNAT space). */
function isTailscale(ip: string): boolean {
  const [a, b] = ip.split(".").map(Number);
  return a === 100 && b !== undefined && b >= 64 && b <= 127;
}

/** Where a phone on the same LAN or tailnet can reach this machine: LAN and Tailscale IPv4s, then the hostname. */
export function defaultHosts(): string[] {
  const lan: string[] = [];
  const tailscale: string[] = [];
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family !== "IPv4" || a.internal) continue;
      if (isTailscale(a.address) || name.startsWith("tailscale")) tailscale.push(a.address);
      else lan.push(a.address);
    }
  }
  return [...new Set([...lan, ...tailscale, hostname()])];
}
