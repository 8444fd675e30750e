import type { FastifyInstance } from "fastify";
import { Type, type Static } from "typebox";
import { ProtocolError, errorBody as protocolErrorBody } from "../protocol/errors.js";
import { checker, formatIssues } from "../protocol/validate.js";

export const PushActionBody = Type.Object(
  {
    token: Type.String({ minLength: 20, maxLength: 200 }),
    requestId: Type.String({ minLength: 1, maxLength: 100 }),
    action: Type.Union([Type.Literal("allow"), Type.Literal("deny")]),
  },
  { additionalProperties: false },
);
export type PushActionBody = Static<typeof PushActionBody>;

const check = checker(PushActionBody);

const STATUS: Record<string, number> = {
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  invalid_request: 400,
};

/**
 * POST /push/action: a notification's Approve or Deny. No bearer token: the single-use action token
 * is the credential, so the route is rate-limited like /pair.
 */
export function registerPushActionRoute(
  fastify: FastifyInstance,
  opts: { rateLimit: number; answer: (body: PushActionBody) => unknown },
): void {
  fastify.post(
    "/push/action",
    {
      config: {
        rateLimit: {
          max: opts.rateLimit,
          timeWindow: 60_000,
          errorResponseBuilder: (_req: unknown, ctx: { ttl: number }) => ({
            statusCode: 429,
            message: `too many notification answers; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
          }),
        },
      },
    },
    async (req, reply) => {
      const body = check(req.body);
      if (!body.ok) {
        return reply
          .code(400)
          .send({ error: protocolErrorBody("invalid_request", formatIssues(body.issues)) });
      }
      try {
        return opts.answer(body.value);
      } catch (err) {
        if (err instanceof ProtocolError) {
          return reply
            .code(STATUS[err.code] ?? 400)
            .send({ error: protocolErrorBody(err.code, err.message) });
        }
        throw err;
      }
    },
  );
}
