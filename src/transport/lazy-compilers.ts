import { createRequire } from "node:module";
import type { ValidatorFactory } from "@fastify/ajv-compiler";
import type { SerializerFactory } from "@fastify/fast-json-stringify-compiler";

/**
 * Fastify's schema compilers (ajv, fast-json-stringify), loaded the first time a route with a schema
 * needs one. Fastify requires both when the instance is created, which costs about 120 ms of every
 * start (npm run bench, start-up), yet no route of ours declares a schema: frames and bodies are
 * checked with the protocol's TypeBox checkers. They resolve from Fastify's own dependencies, so
 * the versions are the ones Fastify ships with.
 */
function fromFastify(pkg: string): unknown {
  // Resolved only when called: the single-file binary (scripts/build-binary.ts) has no
  // node_modules to resolve from, and no route of its ever asks.
  return createRequire(createRequire(import.meta.url).resolve("fastify"))(pkg);
}

function lazy<F extends (...args: never[]) => unknown>(pkg: string): F {
  let build: F | undefined;
  return ((...args: Parameters<F>) => {
    build ??= (fromFastify(pkg) as () => F)();
    return build(...args);
  }) as F;
}

export const lazyCompilers = {
  buildValidator: lazy<ValidatorFactory>("@fastify/ajv-compiler"),
  buildSerializer: lazy<SerializerFactory>("@fastify/fast-json-stringify-compiler"),
};
