import { PiClient } from "../client/client.js";
import { CloseCode } from "../protocol/errors.js";
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

/** Where to connect and with what: read again on every call, as a restarted server may listen elsewhere. */
export interface OwnerTarget {
  url: string;
  token: string;
  tlsFingerprint?: string;
}

export function ownerTarget(paths: DataPaths, o: OwnerConnection): OwnerTarget {
  const token = o.token ?? process.env.PI_SERVER_TOKEN;
  if (!token)
    throw new CliError(
      "pass the owner token with --token or PI_SERVER_TOKEN (`pi-server token rotate` makes a new one)",
    );
  if (o.url) return { url: o.url, token };
  const rt = readRuntime(paths.runtime);
  if (!rt || !processAlive(rt.pid))
    throw new CliError(`no server is running on ${paths.root}; start it with \`pi-server serve\``);
  return {
    url: connectableUrl(rt),
    token,
    ...(rt.tlsFingerprint ? { tlsFingerprint: rt.tlsFingerprint } : {}),
  };
}

export function connectTarget(t: OwnerTarget, clientName?: string): Promise<PiClient> {
  return PiClient.connect(t.url, {
    token: t.token,
    tokenInHeader: true,
    ...(t.tlsFingerprint ? { tlsFingerprint: t.tlsFingerprint } : {}),
    ...(clientName ? { clientName } : {}),
  });
}

/** Opens the protocol to the server running on this data dir with the owner token. */
export async function connectOwner(
  paths: DataPaths,
  o: OwnerConnection,
  clientName?: string,
): Promise<PiClient> {
  const target = ownerTarget(paths, o);
  try {
    return await connectTarget(target, clientName);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH/.test(msg))
      throw new CliError(`no server answers at ${target.url}; start it with \`pi-server serve\``);
    throw new CliError(connectFailure(target.url, msg));
  }
}

/** Why a connection was closed, in words, with what to do about it. */
export function connectFailure(url: string, msg: string): string {
  if (msg.includes(`(${CloseCode.unauthorized} `))
    return (
      `the server at ${url} refused the token (mistyped, revoked, or replaced by \`pi-server token rotate\`). ` +
      "Pass the owner token the server printed when it first started with --token or PI_SERVER_TOKEN, " +
      "or make a new one with `pi-server token rotate` (paired devices keep working)"
    );
  if (msg.includes(`(${CloseCode.tooManyAttempts} `))
    return `the server at ${url} refuses this address for a while after too many failed attempts; wait a minute and try again with the right token`;
  return `could not connect to ${url}: ${msg}`;
}
