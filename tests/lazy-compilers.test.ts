import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { lazyCompilers } from "../src/transport/lazy-compilers.js";

describe("Fastify's schema compilers, loaded on first use", () => {
  it("validate a body and serialise a response where a route declares schemas", async () => {
    const app = Fastify({ schemaController: { compilersFactory: lazyCompilers } });
    app.post(
      "/echo",
      {
        schema: {
          body: { type: "object", required: ["n"], properties: { n: { type: "integer" } } },
          response: { 200: { type: "object", properties: { n: { type: "integer" } } } },
        },
      },
      async (req) => ({ n: (req.body as { n: number }).n, secret: "left out by the serializer" }),
    );
    try {
      const bad = await app.inject({ method: "POST", url: "/echo", payload: { n: "x" } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ code: "FST_ERR_VALIDATION" });
      const good = await app.inject({ method: "POST", url: "/echo", payload: { n: 3 } });
      expect(good.statusCode).toBe(200);
      expect(good.json()).toEqual({ n: 3 });
    } finally {
      await app.close();
    }
  });
});
