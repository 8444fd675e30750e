import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { errorBody } from "../protocol/errors.js";
import { hashToken } from "../store/tokens.js";
import { type Authenticator, bearerToken } from "./auth.js";
import type { AuthThrottle } from "./guards.js";

export interface MetricsRouteDeps {
  auth: Authenticator;
  throttle: AuthThrottle;
  render(): Promise<string>;
  contentType: string;
  /** SHA-256 (hex) of the scrape-only token from config.json `metrics.tokenSha256`, read per scrape. */
  scrapeTokenHash(): string | undefined;
}

function scrapeTokenMatches(token: string, hashHex: string | undefined): boolean {
  if (!hashHex || !/^[0-9a-f]{64}$/i.test(hashHex)) return false;
  return timingSafeEqual(hashToken(token), Buffer.from(hashHex, "hex"));
}

/**
 * GET /metrics for Prometheus: the owner token or the scrape-only token, never a device token (a
 * phone has no business reading the server's internals). Failed guesses count like everywhere else.
 */
export function registerMetricsRoute(fastify: FastifyInstance, deps: MetricsRouteDeps): void {
  fastify.get("/metrics", async (req, reply) => {
    const presented = bearerToken(req.headers.authorization);
    if (presented === undefined) {
      return reply
        .code(401)
        .send({ error: errorBody("unauthorized", "Authorization: Bearer <token> required") });
    }
    const ok =
      presented.length <= 512 &&
      (scrapeTokenMatches(presented, deps.scrapeTokenHash()) ||
        deps.auth.verify(presented, req.ip)?.kind === "owner");
    if (!ok) {
      if (deps.throttle.blocked(req.ip)) {
        return reply
          .code(429)
          .send({ error: errorBody("limit_exceeded", "too many failed authentications; wait a minute") });
      }
      deps.throttle.fail(req.ip);
      return reply.code(401).send({ error: errorBody("unauthorized", "invalid token") });
    }
    const text = await deps.render();
    return reply.header("content-type", deps.contentType).header("cache-control", "no-store").send(text);
  });
}
