/**
 * What the web-app tests need around the real server: the built app served at /app/, a proxy
 * whose connections a test can cut (a phone losing its network), invites from the real pairing
 * service, and Debian's Chromium.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { loadIdentity } from "../../src/pairing/identity.js";
import { inviteLinks, PairingService } from "../../src/pairing/pairing.js";
import { openDb } from "../../src/store/db.js";
import { PairingTokens } from "../../src/store/pairing-tokens.js";
import { TokenStore } from "../../src/store/tokens.js";
import type { Harness } from "./harness.js";

export const DIST_WEB = fileURLToPath(new URL("../../dist-web", import.meta.url));
export const CHROMIUM = "/usr/bin/chromium";
/** The policy the server sends with the app; the app must work under it. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".webmanifest": "application/manifest+json",
  ".map": "application/json",
};

export interface WebFront {
  /** http://127.0.0.1:<port>, the origin the browser sees. */
  url: string;
  port: number;
  /** Destroys every open connection, as a dropped network would. */
  cut(): void;
  /** While on, new WebSocket upgrades are dropped: the server looks unreachable to the page. */
  refuse(on: boolean): void;
  close(): Promise<void>;
}

function serveApp(path: string, res: http.ServerResponse): void {
  const rel = normalize(decodeURIComponent(path.replace(/^\/app\/?/, "")) || "index.html");
  const file = join(DIST_WEB, rel);
  if (!file.startsWith(DIST_WEB) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404).end("not found");
    return;
  }
  res.writeHead(200, {
    "content-type": TYPES[extname(file)] ?? "application/octet-stream",
    "content-security-policy": CSP,
    "cache-control": "no-cache",
  });
  res.end(readFileSync(file));
}

/**
 * Serves dist-web/ at /app/ and passes everything else (POST /pair, the /rpc upgrade) to the real
 * server unchanged — the Host header included, so the server's same-origin check sees the origin
 * the browser is on.
 */
export async function startWebFront(h: Harness): Promise<WebFront> {
  const target = h.server;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    if (req.method === "GET" && (path === "/app" || path.startsWith("/app/"))) return serveApp(path, res);
    const up = http.request(
      { host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  let refusing = false;
  server.on("upgrade", (req, socket, head) => {
    if (refusing) return socket.destroy();
    const up = net.connect(target.port, target.host, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      up.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length) up.write(head);
      socket.pipe(up).pipe(socket);
    });
    sockets.add(up);
    up.on("close", () => {
      sockets.delete(up);
      socket.destroy();
    });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
    socket.on("close", () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cut() {
      for (const s of sockets) s.destroy();
    },
    refuse(on) {
      refusing = on;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fresh invite link from the server's own pairing service, naming the front's address. */
export function makeInviteLink(
  h: Harness,
  front: Pick<WebFront, "port">,
  ttlMs = 5 * 60_000,
  deviceName?: string,
): string {
  const db = openDb(join(h.dataDir, "state.db"));
  try {
    const identity = loadIdentity(join(h.dataDir, "identity"));
    const signed = new PairingService(identity, new PairingTokens(db), new TokenStore(db)).createInvite({
      hosts: ["127.0.0.1"],
      port: front.port,
      scheme: "http",
      ttlMs,
      ...(deviceName ? { deviceName } : {}),
    });
    return inviteLinks(signed, deviceName).web;
  } finally {
    db.close();
  }
}

/** The real server's own /app/ route (its CSP and headers), for tests that need no cut connections. */
export function serverApp(h: Harness): Pick<WebFront, "url" | "port"> {
  return { url: `http://127.0.0.1:${h.server.port}`, port: h.server.port };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
}

/** A phone-sized context (390 × 844) that fails the test on any page error or CSP violation. */
export async function phone(
  browser: Browser,
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    hasTouch: true,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (process.env.PI_SERVER_WEB_DEBUG) process.stderr.write(`[browser ${msg.type()}] ${msg.text()}\n`);
    if (msg.type() === "error" && /Content Security Policy|Refused to/.test(msg.text()))
      problems.push(msg.text());
  });
  return { context, page, problems };
}
