import websocket from "@fastify/websocket";
import Fastify, { type FastifyInstance, LogController, type RawServerDefault } from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { ServerInfo } from "../protocol/types.js";
import { type Authenticator, bearerToken } from "./auth.js";
import { RpcConnection, type ConnectionOptions } from "./connection.js";
import type { Handlers } from "./handlers.js";

export interface AppDeps {
  handlers: Handlers;
  auth: Authenticator;
  info: () => ServerInfo;
  log: Logger;
  connection: ConnectionOptions;
}

export interface App {
  fastify: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;
  connections: Set<RpcConnection>;
}

/** HTTP routes and the /rpc WebSocket. */
export async function buildApp(deps: AppDeps): Promise<App> {
  const fastify = Fastify({
    loggerInstance: deps.log,
    logController: new LogController({ disableRequestLogging: (req) => req.url === "/health" }),
    bodyLimit: 1024 * 1024,
  });
  const connections = new Set<RpcConnection>();
  await fastify.register(websocket, {
    // Frames between maxFrameBytes and this hard cap get a typed `limit_exceeded` answer; past it
    // ws closes the socket with 1009.
    options: { maxPayload: deps.connection.maxFrameBytes * 2 },
  });

  fastify.get("/health", async () => ({ ok: true }));

  fastify.get("/", async (req, reply) => {
    if (!deps.auth.verify(bearerToken(req.headers.authorization))) {
      return reply
        .code(401)
        .send({ error: { code: "unauthorized", message: "Authorization: Bearer <token> required" } });
    }
    return deps.info();
  });

  fastify.get("/rpc", { websocket: true }, (socket, req) => {
    const header = req.headers.authorization;
    const conn = new RpcConnection(
      socket,
      { handlers: deps.handlers, auth: deps.auth, info: deps.info, log: deps.log, options: deps.connection },
      header === undefined ? undefined : (bearerToken(header) ?? ""),
    );
    connections.add(conn);
    socket.on("close", () => connections.delete(conn));
  });

  fastify.setNotFoundHandler((_req, reply) => {
    void reply.code(404).send({ error: { code: "not_found", message: "no such route" } });
  });

  return { fastify, connections };
}
