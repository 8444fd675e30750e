import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import dotenv from "dotenv";
import { pino, type Logger } from "pino";
import { PROTOCOL_VERSION } from "./protocol/envelope.js";
import { CloseCode } from "./protocol/errors.js";
import type { ServerInfo } from "./protocol/types.js";
import { SessionService } from "./sessions/service.js";
import { loadPi } from "./sessions/pi.js";
import { loadConfig, resolveLimits, type Limits } from "./store/config.js";
import { openDb } from "./store/db.js";
import { dataPaths, prepareDataDir } from "./store/paths.js";
import { SessionsIndex } from "./store/sessions-index.js";
import { generateToken, TokenStore } from "./store/tokens.js";
import { createAuthenticator } from "./transport/auth.js";
import { buildApp } from "./transport/app.js";
import { createHandlers } from "./transport/handlers.js";

export const SERVER_VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

export const CAPABILITIES = ["sessions", "worktrees", "replay", "images", "thinking", "models"];

export interface StartOptions {
  dataDir: string;
  /** Defaults: config.json, then 3141 / 0.0.0.0. Tests pass 0 and 127.0.0.1. */
  port?: number;
  host?: string;
  /** Accepted as an owner token in addition to the stored ones (PI_SERVER_TOKEN). */
  envToken?: string;
  logLevel?: string;
  limits?: Partial<Limits>;
  heartbeatMs?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  dataDir: string;
  /** Set only on the start that created the owner token: it is shown once and stored hashed. */
  generatedToken: string | undefined;
  log: Logger;
  close(): Promise<void>;
}

export function createLogger(level = "info"): Logger {
  return pino({
    level,
    redact: {
      paths: ["req.headers.authorization", "token", "*.token", "params.token"],
      censor: "[redacted]",
    },
  });
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const log = createLogger(opts.logLevel);
  const paths = dataPaths(opts.dataDir);
  for (const r of prepareDataDir(paths)) {
    log.warn({ path: r.path, from: r.from.toString(8), to: r.to.toString(8) }, "fixed permissions");
  }
  // Provider keys for pi; variables already set in the environment win.
  dotenv.config({ path: paths.env, quiet: true });
  const config = loadConfig(paths.config);
  const limits = resolveLimits(config, opts.limits);

  const db = openDb(paths.db);
  const tokens = new TokenStore(db);
  let generatedToken: string | undefined;
  if (!tokens.hasOwner() && !opts.envToken) {
    generatedToken = generateToken();
    tokens.add("owner", "owner", generatedToken);
  }

  const pi = await loadPi(paths);
  const sessions = new SessionService({
    paths,
    pi,
    index: new SessionsIndex(db),
    config: () => loadConfig(paths.config),
    limits,
    log,
  });
  const startedAt = Date.now();
  const info = (): ServerInfo => ({
    name: "pi-server",
    version: SERVER_VERSION,
    piVersion: pi.version,
    protocolVersion: PROTOCOL_VERSION,
    capabilities: CAPABILITIES,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
  });
  const { fastify, connections } = await buildApp({
    handlers: createHandlers({ sessions, reposFile: paths.repos }),
    auth: createAuthenticator(tokens, opts.envToken),
    info,
    log,
    connection: {
      maxFrameBytes: limits.maxFrameBytes,
      helloTimeoutMs: limits.helloTimeoutMs,
      heartbeatMs: opts.heartbeatMs ?? 30_000,
      maxBufferedBytes: 64 * 1024 * 1024,
    },
  });
  await fastify.listen({
    port: opts.port ?? config.port ?? 3141,
    host: opts.host ?? config.host ?? "0.0.0.0",
  });
  const address = fastify.server.address() as AddressInfo;
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    host: address.address,
    dataDir: paths.root,
    generatedToken,
    log,
    close() {
      closing ??= (async () => {
        for (const c of connections) c.close(CloseCode.goingAway, "server shutting down");
        await sessions.close();
        await fastify.close();
        db.close();
      })();
      return closing;
    },
  };
}
