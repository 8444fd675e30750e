import { statSync } from "node:fs";
import { join, relative, isAbsolute } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/**
 * The web app's shell at /app/: static files of the Vite build, no authentication (the app
 * authenticates over /rpc like every client). The Host and Origin guards of the app still apply,
 * so a rebinding page cannot read it under a foreign name.
 */

const IMMUTABLE = "public, max-age=31536000, immutable";
/** Files whose name stays the same across builds: the browser must revalidate them every time. */
const NO_CACHE = "no-cache";

/** Names only the Host guard lets through (IP literals, DNS names): safe to put into a header. */
const SAFE_HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i;

/**
 * The app loads nothing but its own files and talks only to this server. connect-src names the
 * server's own host for WebSockets (ws: and wss: both, since a TLS-terminating proxy in front makes
 * the page https while the server sees http); CSP 3 browsers already count those as 'self', older
 * Safari does not.
 */
export function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host && SAFE_HOST.test(host) ? ` ws://${host} wss://${host}` : "";
  return [
    "default-src 'self'",
    `connect-src 'self'${sockets}`,
    "img-src 'self' data: blob:",
    "style-src 'self'",
    "script-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export function isAppPath(url: string | undefined): boolean {
  const path = (url ?? "").split("?")[0] ?? "";
  return path === "/app" || path.startsWith("/app/");
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** A path the app's router handles (no file extension, not an asset): answered with index.html. */
function looksLikeRoute(rel: string): boolean {
  if (rel.startsWith("assets/")) return false;
  const last = rel.split("/").pop() ?? "";
  return !last.includes(".");
}

export async function registerWebApp(fastify: FastifyInstance, dir: string): Promise<void> {
  // The reply decorator only: the route below decides what each path means.
  // preCompressed: the build writes .br and .gz beside each text file (web/vite.config.ts).
  await fastify.register(fastifyStatic, {
    root: dir,
    serve: false,
    cacheControl: false,
    dotfiles: "ignore",
    preCompressed: true,
  });

  fastify.addHook("onSend", async (req, reply, payload) => {
    if (isAppPath(req.url)) {
      reply.header("content-security-policy", contentSecurityPolicy(req.headers.host));
      reply.header("x-content-type-options", "nosniff");
      reply.header("referrer-policy", "no-referrer");
    }
    return payload;
  });

  fastify.get("/app", (req, reply) => {
    const query = req.url.indexOf("?");
    return reply.redirect(`/app/${query >= 0 ? req.url.slice(query) : ""}`, 301);
  });

  const send = (reply: FastifyReply, rel: string): FastifyReply => {
    reply.header("cache-control", rel.startsWith("assets/") ? IMMUTABLE : NO_CACHE);
    // The body depends on Accept-Encoding (a precompressed copy or the plain file): caches must know.
    reply.header("vary", "accept-encoding");
    return reply.sendFile(rel);
  };

  fastify.get("/app/*", (req: FastifyRequest<{ Params: { "*": string } }>, reply) => {
    if (!isFile(join(dir, "index.html"))) {
      return reply
        .code(404)
        .type("text/plain; charset=utf-8")
        .header("cache-control", NO_CACHE)
        .send(
          `The web app is not built (no ${join(dir, "index.html")}). Run \`npm run build\`, then reload.\n`,
        );
    }
    const rel = req.params["*"];
    const full = join(dir, rel);
    const inside = relative(dir, full);
    const contained = inside !== "" && !inside.startsWith("..") && !isAbsolute(inside);
    if (contained && !inside.split("/").some((s) => s.startsWith(".")) && isFile(full)) {
      return send(reply, inside);
    }
    if (rel === "" || (contained && looksLikeRoute(inside))) return send(reply, "index.html");
    return reply
      .code(404)
      .type("text/plain; charset=utf-8")
      .header("cache-control", NO_CACHE)
      .send("not found\n");
  });
}
