import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { brotliCompressSync, brotliDecompressSync, gzipSync } from "node:zlib";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/server.js";
import { TOKEN, tmp } from "./helpers/harness.js";

/** The web app's shell at /app/, from a build directory made here (the real one is Vite's). */

const INDEX =
  '<!doctype html><html><head><script type="module" src="/app/assets/index-abc123.js"></script></head></html>\n';
let web: string;
let dataDir: string;
let server: RunningServer;
let missing: RunningServer;

async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers, redirect: "manual" });
}

/** fetch cannot send a foreign Host header; node:http can. */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; csp: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      const csp = String(res.headers["content-security-policy"] ?? "");
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, csp }));
    });
    req.on("error", reject);
    req.end();
  });
}

function cspOf(res: Response): Map<string, string> {
  const csp = res.headers.get("content-security-policy") ?? "";
  return new Map(
    csp.split(";").map((d) => {
      const [name = "", ...rest] = d.trim().split(/\s+/);
      return [name, rest.join(" ")];
    }),
  );
}

beforeAll(async () => {
  web = tmp("web");
  mkdirSync(join(web, "assets"));
  writeFileSync(join(web, "index.html"), INDEX);
  const appJs = "console.log('app');\n";
  writeFileSync(join(web, "assets", "index-abc123.js"), appJs);
  writeFileSync(join(web, "assets", "index-abc123.js.br"), brotliCompressSync(appJs));
  writeFileSync(join(web, "assets", "index-abc123.js.gz"), gzipSync(appJs));
  writeFileSync(join(web, "sw.js"), "self.addEventListener('fetch', () => {});\n");
  writeFileSync(join(web, "manifest.webmanifest"), '{"name":"pi"}\n');
  writeFileSync(join(web, ".secret"), "dotfile\n");
  dataDir = tmp("data");
  const common = { port: 0, host: "127.0.0.1", envToken: TOKEN, logLevel: "silent" };
  server = await startServer({ ...common, dataDir, webDir: web });
  missing = await startServer({ ...common, dataDir: tmp("data"), webDir: join(web, "does-not-exist") });
});

afterAll(async () => {
  await server.close();
  await missing.close();
  rmSync(web, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(missing.dataDir, { recursive: true, force: true });
});

describe("/app/", () => {
  it("serves index.html without authentication, not cached, with the CSP", async () => {
    const res = await get(`${server.url}/app/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(await res.text()).toBe(INDEX);
    const csp = cspOf(res);
    const host = new URL(server.url).host;
    expect(csp.get("default-src")).toBe("'self'");
    expect(csp.get("connect-src")).toBe(`'self' ws://${host} wss://${host}`);
    expect(csp.get("img-src")).toBe("'self' data: blob:");
    expect(csp.get("style-src")).toBe("'self'");
    expect(csp.get("script-src")).toBe("'self'");
    expect(csp.get("object-src")).toBe("'none'");
    expect(csp.get("base-uri")).toBe("'none'");
    expect(csp.get("frame-ancestors")).toBe("'none'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("caches hashed assets forever, and revalidates the service worker and the manifest", async () => {
    const asset = await get(`${server.url}/app/assets/index-abc123.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toMatch(/javascript/);
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(cspOf(asset).get("script-src")).toBe("'self'");
    for (const name of ["sw.js", "manifest.webmanifest", "index.html"]) {
      const res = await get(`${server.url}/app/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get("cache-control"), name).toBe("no-cache");
    }
  });

  it("sends the build's precompressed copy to a browser that accepts it, and the plain file otherwise", async () => {
    const raw = (encoding: string): Promise<{ headers: Record<string, unknown>; body: Buffer }> =>
      new Promise((resolve, reject) => {
        const req = request(
          `${server.url}/app/assets/index-abc123.js`,
          { headers: { "accept-encoding": encoding } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (d: Buffer) => chunks.push(d));
            res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          },
        );
        req.on("error", reject);
        req.end();
      });
    const br = await raw("gzip, deflate, br");
    expect(br.headers["content-encoding"]).toBe("br");
    expect(br.headers["content-type"]).toMatch(/javascript/);
    expect(br.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(String(br.headers.vary)).toMatch(/accept-encoding/i);
    expect(brotliDecompressSync(br.body).toString()).toBe("console.log('app');\n");
    const gz = await raw("gzip");
    expect(gz.headers["content-encoding"]).toBe("gzip");
    const plain = await raw("identity");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body.toString()).toBe("console.log('app');\n");
  });

  it("redirects /app to /app/ and answers client routes with index.html", async () => {
    const res = await get(`${server.url}/app`);
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("/app/");
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    for (const route of ["/app/sessions/abc", "/app/settings"]) {
      const r = await get(`${server.url}${route}`);
      expect(r.status, route).toBe(200);
      expect(await r.text()).toBe(INDEX);
    }
  });

  it("answers 404 for missing files, dotfiles and paths out of the build", async () => {
    for (const path of [
      "/app/assets/nope.js",
      "/app/missing.png",
      "/app/.secret",
      "/app/..%2f..%2fetc%2fpasswd",
    ]) {
      const r = await get(`${server.url}${path}`);
      expect(r.status, path).toBe(404);
      expect(await r.text()).not.toContain("dotfile");
    }
  });

  it("keeps GET / as the authenticated server info", async () => {
    expect((await get(`${server.url}/`)).status).toBe(401);
    const res = await get(`${server.url}/`, { authorization: `Bearer ${TOKEN}` });
    expect(((await res.json()) as { name: string }).name).toBe("pi-server");
  });

  it("still refuses foreign Hosts and Origins", async () => {
    const port = new URL(server.url).port;
    const rebinding = await rawGet(`${server.url}/app/`, { host: `evil.example:${port}` });
    expect(rebinding.status).toBe(403);
    expect(rebinding.body).not.toContain("<html");
    expect((await rawGet(`${server.url}/app/`, { host: `localhost:${port}` })).status).toBe(200);
    // A name the Host guard lets through (*.ts.net) carrying a directive of its own is not echoed.
    const injected = await rawGet(`${server.url}/app/`, { host: "x; script-src * .ts.net" });
    expect(injected.status).toBe(200);
    expect(injected.csp).toContain("connect-src 'self';");
    expect(injected.csp).not.toContain("*");
    const crossSite = await get(`${server.url}/app/`, { origin: "https://evil.example" });
    expect(crossSite.status).toBe(403);
  });

  it("says how to build the app when dist-web is missing, and keeps running", async () => {
    const res = await get(`${missing.url}/app/`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toContain("npm run build");
    expect((await get(`${missing.url}/health`)).status).toBe(200);
  });
});
