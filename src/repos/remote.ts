import { readFileSync } from "node:fs";
import dotenv from "dotenv";
import type { GitExtra } from "./git.js";

/** The variable the credential helper reads; set in the environment of one git process only. */
const TOKEN_VAR = "PI_SERVER_GIT_TOKEN";

/**
 * Answers git's "get" with the token from TOKEN_VAR and ignores "store"/"erase": git never learns
 * where to keep it, so it is written nowhere. `!` helpers run through the shell; the token is not
 * in the command line (argv is visible to every user of the machine), only in the environment.
 */
const HELPER = `!f() { test "$1" = get || exit 0; echo username=x-access-token; echo "password=$${TOKEN_VAR}"; }; f`;

export class RemoteUrlError extends Error {
  override name = "RemoteUrlError";
}

const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/].*$|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\/.+$/;

function isLoopback(hostname: string): boolean {
  return (
    hostname === "localhost" || hostname === "[::1]" || hostname === "::1" || hostname.startsWith("127.")
  );
}

/**
 * Checks a clone url: https, http, ssh and git urls and scp-like `user@host:path`. Local paths and
 * file:// are `path` entries; ext:: and friends run programs; a url with a password in it would
 * put the password in repos.json.
 */
export function checkCloneUrl(url: string): void {
  if (url.startsWith("-")) throw new RemoteUrlError(`clone url ${url} starts with "-"`);
  if (/\s/.test(url)) throw new RemoteUrlError("a clone url has no spaces");
  if (SCP_LIKE.test(url)) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RemoteUrlError(
      `${url} is not a clone url (https://, http://, ssh://, git:// or user@host:path)`,
    );
  }
  if (!["https:", "http:", "ssh:", "git:"].includes(parsed.protocol)) {
    throw new RemoteUrlError(
      `clone urls are https://, http://, ssh:// or git://, not ${parsed.protocol}; a local repository is added by path`,
    );
  }
  if (parsed.password || (parsed.username && parsed.protocol.startsWith("http"))) {
    throw new RemoteUrlError(
      "the url carries credentials, which would be stored in repos.json; put the token in the data dir's .env as GITHUB_TOKEN instead",
    );
  }
  if (!parsed.hostname) throw new RemoteUrlError(`${url} names no host`);
}

/** GITHUB_TOKEN: the server's environment (it loaded .env at start), else the data dir's .env now. */
export function githubToken(envFile: string): string | undefined {
  if (process.env.GITHUB_TOKEN) return process.env.GITHUB_TOKEN;
  try {
    return dotenv.parse(readFileSync(envFile, "utf8")).GITHUB_TOKEN || undefined;
  } catch {
    return undefined;
  }
}

/**
 * How the server's git fetches `url`: no system or global git config (the user's credential
 * helpers could store the token; their url rewrites could send the fetch elsewhere), and the token
 * offered only to `url`'s own origin, when that origin is one of `tokenHosts` and the transport is
 * https (plain http only on loopback).
 */
export function remoteGit(url: string, o: { token?: string; tokenHosts?: string[] }): GitExtra {
  const env: Record<string, string> = { GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };
  const config = ["-c", "credential.helper=", "-c", "credential.interactive=false", "-c", "core.askPass="];
  if (!o.token || SCP_LIKE.test(url)) return { config, env };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { config, env };
  }
  const hosts = o.tokenHosts ?? ["github.com"];
  const transportOk =
    parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopback(parsed.hostname));
  if (!transportOk || !hosts.includes(parsed.host)) return { config, env };
  config.push("-c", `credential.${parsed.protocol}//${parsed.host}.helper=${HELPER}`);
  env[TOKEN_VAR] = o.token;
  return { config, env };
}

/** A repo id from a clone url: its last path component without ".git". */
export function nameFromUrl(url: string): string {
  const tail = url.replace(/\/+$/, "").split(/[/:]/).pop() ?? "";
  return tail.replace(/\.git$/, "") || "repo";
}
