import { PiClient } from "../client/client.js";
import type { DataPaths } from "../store/paths.js";
import { processAlive, readRuntime, type RuntimeInfo } from "../store/runtime.js";
import { CliError } from "./context.js";

/** How a command reaches the server: the data dir's running server unless a url is given. */
export interface OwnerConnection {
  url?: string;
  token?: string;
}

/** A URL a client on this machine can open: a wildcard bind is reached through loopback. */
export function connectableUrl(rt: RuntimeInfo): string {
  const host =
    rt.host === "0.0.0.0"
      ? "127.0.0.1"
      : rt.host === "::"
        ? "[::1]"
        : rt.host.includes(":")
          ? `[${rt.host}]`
          : rt.host;
  return `${rt.scheme}://${host}:${rt.port}`;
}

/** Opens the protocol to the server running on this data dir with the owner token. */
export async function connectOwner(paths: DataPaths, o: OwnerConnection): Promise<PiClient> {
  const token = o.token ?? process.env.PI_SERVER_TOKEN;
  if (!token)
    throw new CliError(
      "pass the owner token with --token or PI_SERVER_TOKEN (`pi-server token rotate` makes a new one)",
    );
  let url = o.url;
  let tlsFingerprint: string | undefined;
  if (!url) {
    const rt = readRuntime(paths.runtime);
    if (!rt || !processAlive(rt.pid))
      throw new CliError(`no server is running on ${paths.root}; start it with \`pi-server serve\``);
    url = connectableUrl(rt);
    tlsFingerprint = rt.tlsFingerprint;
  }
  try {
    return await PiClient.connect(url, {
      token,
      tokenInHeader: true,
      ...(tlsFingerprint ? { tlsFingerprint } : {}),
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH/.test(msg))
      throw new CliError(`no server answers at ${url}; start it with \`pi-server serve\``);
    throw new CliError(`could not connect to ${url}: ${msg}`);
  }
}
