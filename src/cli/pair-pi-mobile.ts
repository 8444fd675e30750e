import { defaultHosts } from "../pairing/hosts.js";
import type { RuntimeInfo } from "../store/runtime.js";
import { generateToken, TokenStore } from "../store/tokens.js";
import type { ServerConfig } from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import { print, withDb } from "./context.js";

/**
 * The Pi Mobile app stores only a server URL and sends no token. This makes a device like any other
 * (only its hash is stored, `pi-server token revoke` ends it) and prints a URL whose path carries the
 * token: the app appends /rpc to it, and /d/<token>/rpc authenticates like a bearer header.
 */
export function pairPiMobile(o: {
  paths: DataPaths;
  config: ServerConfig;
  runtime: RuntimeInfo | undefined;
  host?: string[];
  name?: string;
  json?: boolean;
  tls: boolean;
}): void {
  const token = generateToken();
  const name = o.name ?? `Pi Mobile ${new Date().toISOString().slice(0, 16).replace("T", " ")}`;
  withDb(o.paths, (db) => new TokenStore(db).add("device", name, token));
  const host = (o.host ?? defaultHosts())[0] ?? "127.0.0.1";
  const port = o.runtime?.port ?? o.config.port ?? 3141;
  const scheme = (o.runtime?.scheme ?? (o.tls ? "https" : "http")) === "https" ? "wss" : "ws";
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const url = `${scheme}://${hostPart}:${port}/d/${token}`;
  if (o.json) {
    print(JSON.stringify({ url }));
    return;
  }
  print(`Device "${name}" created. In Pi Mobile, enter this server URL (the app adds /rpc):`);
  print(`  ${url}`);
  print("The URL is the device's secret: anyone who has it can use this server. Shown once.");
  print(`Revoke it with: pi-server token revoke "${name}"`);
  if (scheme === "wss")
    print("Note: with a self-signed certificate the app must trust it first (see docs/pi-mobile.md).");
}
