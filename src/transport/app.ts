import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import rateLimit from "@fastify/rate-limit";
import websocket from "@fastify/websocket";
import Fastify, {
  type FastifyInstance,
  type FastifyRequest,
  LogController,
  type RawServerDefault,
} from "fastify";
import type { WebSocket } from "ws";
import type { Logger } from "pino";
import { Type } from "typebox";
import type { Identity } from "../pairing/identity.js";
import type { PairingService } from "../pairing/pairing.js";
import {
  CloseCode,
  type ErrorBody,
  type ErrorCode,
  type ErrorData,
  errorBody as protocolErrorBody,
  ProtocolError,
} from "../protocol/errors.js";
import type { ServerInfo } from "../protocol/types.js";
import { checker, formatIssues } from "../protocol/validate.js";
import { type AdmissionOptions, ConnectionAdmission } from "./admission.js";
import { perMessageDeflate } from "./compression.js";
import { compressInline } from "./inline-deflate.js";
import { lazyCompilers } from "./lazy-compilers.js";
import { type Authenticator, bearerToken } from "./auth.js";
import { RpcConnection, type ConnectionOptions } from "./connection.js";
import { AuthThrottle, type GuardOptions, hostAllowed, originAllowed } from "./guards.js";
import type { Handlers } from "./handlers.js";
import { ResumeRegistry } from "./resume.js";
import { registerWebApp } from "./web-app.js";
import { registerPushActionRoute, type PushActionBody } from "./push-action-route.js";
import { type MetricsRouteDeps, registerMetricsRoute } from "./metrics.js";
import type { LiveSession } from "../sessions/live-session.js";
import type { NativeCalls } from "../sessions/native-calls.js";
import { newTransportStats, type TransportStats } from "./send-queue.js";

export interface AppDeps {
  handlers: Handlers;
  auth: Authenticator;
  info: () => ServerInfo;
  identity: Identity;
  pairing: PairingService;
  guards: GuardOptions;
  log: Logger;
  connection: ConnectionOptions;
  admission: AdmissionOptions;
  https?: { key: string; cert: string };
  /** POST /pair attempts allowed per address per minute. */
  pairRateLimit?: number;
  openSession: (sessionId: string) => Promise<LiveSession>;
  nativeCalls: NativeCalls;
  /** How long a dropped connection's attachments are kept for hello.resume. */
  resumeWindowSec: number;
  /** The web app's build (index.html, assets/), served at /app/; may not exist yet. */
  webDir: string;
  /** POST /push/action: a notification's Approve/Deny, with its action token. */
  pushAction?: (body: PushActionBody) => unknown;
  /** GET /metrics; without it the route does not exist. */
  metrics?: Omit<MetricsRouteDeps, "auth" | "throttle">;
}

export interface App {
  fastify: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;
  connections: Set<RpcConnection>;
  /** Closes every open connection authenticated with one of these tokens. */
  revoke(tokenIds: string[]): void;
  /** Send-queue counters over every connection. */
  stats: TransportStats;
  /** From now on new /rpc sockets are closed with 1001 at once (shutdown). */
  stopAccepting(): void;
  /** Caps on sockets that have not authenticated yet. */
  admission: ConnectionAdmission;
  /** Connections accepted, and bytes written to their sockets, since start (metrics). */
  traffic(): { opened: number; bytesSent: number; queuedBytes: number; authenticated: number };
}

const PairBody = Type.Object(
  {
    pairingToken: Type.String({ minLength: 1, maxLength: 512 }),
    deviceName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);
const checkPairBody = checker(PairBody);

function errorBody(code: ErrorCode, message: string, data?: ErrorData): { error: ErrorBody } {
  return { error: protocolErrorBody(code, message, data) };
}

/** HTTP routes and the /rpc WebSocket. */
export async function buildApp(deps: AppDeps): Promise<App> {
  const headWait = deps.admission.upgradeTimeoutMs;
  // Node's defaults (60 s for headers, 300 s per request) let a slow sender hold a descriptor for
  // minutes; a 64 KiB body needs far less than this.
  const requestTimeout = Math.max(headWait, 30_000);
  const httpTimeouts = {
    headersTimeout: headWait,
    requestTimeout,
    connectionsCheckingInterval: Math.min(1000, headWait),
  };
  const fastify = Fastify({
    loggerInstance: deps.log,
    // /d/<token>/… carries a device token in its path (Pi Mobile links): Fastify's request lines would
    // log it, so those requests are logged by the route itself, without the path.
    logController: new LogController({
      disableRequestLogging: (req) => req.url === "/health" || (req.url ?? "").startsWith("/d/"),
    }),
    bodyLimit: 64 * 1024,
    schemaController: { compilersFactory: lazyCompilers },
    // Shutdown must not wait on a client that keeps a socket open.
    forceCloseConnections: true,
    requestTimeout,
    http: httpTimeouts,
    ...(deps.https ? { https: { ...deps.https, ...httpTimeouts, handshakeTimeout: headWait } } : {}),
  }) as unknown as FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;
  const connections = new Set<RpcConnection>();
  const throttle = new AuthThrottle();
  const stats = newTransportStats();
  const resume = new ResumeRegistry(deps.resumeWindowSec, () => connections);
  let accepting = true;
  // Read when metrics are scraped: the sockets count their own bytes, so sending costs nothing more.
  const sockets = new Map<RpcConnection, Socket>();
  let opened = 0;
  let closedBytes = 0;
  const admission = new ConnectionAdmission(deps.admission, deps.log);
  admission.install(fastify.server);

  // Before anything else, WebSocket upgrades included: refuse foreign Hosts (DNS rebinding) and
  // foreign Origins (cross-site requests from a page in the user's own browser).
  fastify.addHook("onRequest", async (req, reply) => {
    const host = req.headers.host;
    let refusal: string | undefined;
    if (!hostAllowed(host, deps.guards)) refusal = `host ${JSON.stringify(host ?? "")} is not allowed`;
    else if (!originAllowed(req.headers.origin, host, deps.guards)) {
      refusal = `origin ${req.headers.origin} is not allowed`;
    }
    if (refusal === undefined) return;
    if (req.headers.upgrade !== undefined) {
      // An upgrade socket is no longer an HTTP connection Fastify would close on shutdown: answer
      // and end it here.
      const body = JSON.stringify(errorBody("unauthorized", refusal));
      reply.hijack();
      req.raw.socket.end(
        `HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return reply;
    }
    return reply.code(403).send(errorBody("unauthorized", refusal));
  });

  await fastify.register(rateLimit, { global: false });
  await fastify.register(websocket, {
    // Frames between maxFrameBytes and this hard cap get a typed `limit_exceeded` answer; past it
    // ws closes the socket with 1009.
    options: { maxPayload: deps.connection.maxFrameBytes * 2, perMessageDeflate },
  });

  fastify.get("/health", async () => ({ ok: true }));
  if (deps.pushAction)
    registerPushActionRoute(fastify as unknown as FastifyInstance, {
      // A person answers a few notifications a minute; guessing tokens takes far more than this allows.
      rateLimit: (deps.pairRateLimit ?? 10) * 3,
      answer: deps.pushAction,
    });
  await registerWebApp(fastify as unknown as FastifyInstance, deps.webDir);
  if (deps.metrics) {
    registerMetricsRoute(fastify as unknown as FastifyInstance, {
      ...deps.metrics,
      auth: deps.auth,
      throttle,
    });
  }

  fastify.get("/", async (req, reply) => {
    const presented = bearerToken(req.headers.authorization);
    if (deps.auth.verify(presented, req.ip)) return deps.info();
    // A browser opening the page sends no token: that is no guess, and it is not counted.
    if (presented === undefined) {
      return reply.code(401).send(errorBody("unauthorized", "Authorization: Bearer <token> required"));
    }
    if (throttle.blocked(req.ip)) {
      return reply
        .code(429)
        .send(errorBody("limit_exceeded", "too many failed authentications; wait a minute"));
    }
    throttle.fail(req.ip);
    req.log.info({ address: req.ip }, "authentication failed: invalid token");
    return reply.code(401).send(errorBody("unauthorized", "invalid token"));
  });

  fastify.post(
    "/pair",
    {
      config: {
        rateLimit: {
          max: deps.pairRateLimit ?? 10,
          timeWindow: 60_000,
          // Thrown to the error handler below, which shapes it like every other error.
          errorResponseBuilder: (_req, ctx) => ({
            statusCode: 429,
            message: `too many pairing attempts; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
          }),
        },
      },
    },
    async (req, reply) => {
      const body = checkPairBody(req.body);
      if (!body.ok) {
        return reply.code(400).send(errorBody("invalid_request", formatIssues(body.issues)));
      }
      try {
        const result = deps.pairing.pair(body.value.pairingToken, body.value.deviceName);
        deps.log.info(
          { deviceId: result.deviceId, device: result.deviceName, address: req.ip },
          "device paired",
        );
        return result;
      } catch (err) {
        if (err instanceof ProtocolError) {
          const status = err.code === "invalid_request" ? 400 : 401;
          return reply.code(status).send(errorBody(err.code, err.message, err.data));
        }
        throw err;
      }
    },
  );

  const openRpc = (socket: WebSocket, req: FastifyRequest, pathToken?: string): void => {
    if (!accepting) {
      socket.close(CloseCode.goingAway, "server shutting down");
      return;
    }
    const header = req.headers.authorization;
    const presented = pathToken ?? (header === undefined ? undefined : (bearerToken(header) ?? ""));
    compressInline(socket);
    const conn = new RpcConnection(
      socket,
      {
        handlers: deps.handlers,
        auth: deps.auth,
        info: deps.info,
        identity: deps.identity,
        throttle,
        log: deps.log,
        options: deps.connection,
        stats,
        resume,
        openSession: deps.openSession,
        nativeCalls: deps.nativeCalls,
      },
      presented,
      req.ip,
      req.raw.socket,
      () => admission.authenticated(req.raw.socket),
    );
    connections.add(conn);
    opened++;
    const raw = req.raw.socket;
    sockets.set(conn, raw);
    socket.on("close", () => {
      connections.delete(conn);
      sockets.delete(conn);
      closedBytes += raw.bytesWritten;
    });
  };
  fastify.get("/rpc", { websocket: true }, (socket, req) => openRpc(socket, req));
  // For clients that can only store a URL: the path's token authenticates like a bearer header.
  fastify.get<{ Params: { token: string } }>("/d/:token/rpc", { websocket: true }, (socket, req) => {
    req.log.info({ address: req.ip }, "connection by device link");
    openRpc(socket, req, req.params.token);
  });

  // Fastify's own errors (bad content type, unparsable body, …) in the server's error shape.
  fastify.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      req.log.error({ err }, "request failed");
      return reply.code(500).send(errorBody("internal", "internal error"));
    }
    const code = status === 429 ? "limit_exceeded" : status === 401 ? "unauthorized" : "invalid_request";
    return reply.code(status).send(errorBody(code, err.message));
  });

  fastify.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send(errorBody("not_found", "no such route"));
  });

  return {
    fastify,
    connections,
    stats,
    admission,
    stopAccepting() {
      accepting = false;
    },
    traffic() {
      let bytesSent = closedBytes;
      for (const s of sockets.values()) bytesSent += s.bytesWritten;
      let queuedBytes = 0;
      let authenticated = 0;
      for (const c of connections) {
        queuedBytes += c.queuedBytes;
        if (c.principalId !== undefined) authenticated++;
      }
      return { opened, bytesSent, queuedBytes, authenticated };
    },
    revoke(tokenIds) {
      const ids = new Set(tokenIds);
      let closed = 0;
      for (const c of connections) {
        if (c.principalId !== undefined && ids.has(c.principalId)) {
          c.close(CloseCode.unauthorized, "token revoked");
          closed++;
        }
      }
      deps.log.info({ tokens: [...ids], closed }, "tokens revoked; their connections closed");
    },
  };
}
