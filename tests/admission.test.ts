import { connect, type Socket } from "node:net";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PiClient } from "../src/client/client.js";
import { readFdLimit } from "../src/transport/fd-limit.js";
import { peakRss, startChildServer, type ChildServer } from "./helpers/child-server.js";
import { startHarness, TOKEN, type Harness } from "./helpers/harness.js";

const UPGRADE_HEAD =
  "GET /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

interface RawSocket {
  socket: Socket;
  /** Bytes the server sent, the 101 response included. */
  received(): Buffer;
  /** Resolves when the server (or the network) closed the socket. */
  closed: Promise<void>;
}

function rawSocket(port: number, localAddress: string): RawSocket {
  const socket = connect({ host: "127.0.0.1", port, localAddress });
  const chunks: Buffer[] = [];
  socket.on("data", (d: Buffer) => chunks.push(d));
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { socket, received: () => Buffer.concat(chunks), closed };
}

/** A raw socket past the WebSocket upgrade that says nothing else. */
async function upgraded(port: number, localAddress = "127.0.0.1"): Promise<RawSocket> {
  const raw = rawSocket(port, localAddress);
  raw.socket.write(UPGRADE_HEAD);
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (raw.received().includes("\r\n\r\n")) resolve();
      else raw.socket.once("data", check);
    };
    raw.socket.once("data", check);
    void raw.closed.then(() => reject(new Error("closed before the upgrade completed")));
  });
  expect(raw.received().toString("latin1")).toMatch(/^HTTP\/1\.1 101/);
  return raw;
}

/** Starts one client-to-server text frame announcing `size` bytes, then sends its payload until done or closed. */
async function sendHugeFrame(raw: RawSocket, size: number): Promise<{ sent: number; finished: boolean }> {
  const header = Buffer.alloc(14);
  header[0] = 0x81;
  header[1] = 0x80 | 127;
  header.writeBigUInt64BE(BigInt(size), 2);
  let closed = false;
  void raw.closed.then(() => (closed = true));
  raw.socket.write(header);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  while (!closed && sent < size) {
    sent += chunk.length;
    if (!raw.socket.write(chunk)) {
      await Promise.race([new Promise((r) => raw.socket.once("drain", r)), raw.closed]);
    }
  }
  return { sent, finished: sent >= size && !closed };
}

/** A legitimate client's round trip: connect, hello, a request. */
async function legitRoundTrip(url: string): Promise<void> {
  const c = await PiClient.connect(url, { token: TOKEN });
  expect((await c.request("session.list", {})).sessions).toEqual([]);
  await c.close();
}

describe("unauthenticated sockets, in a server process of their own", () => {
  let server: ChildServer;
  afterAll(async () => {
    await server?.stop();
  });

  it("40 unauthenticated 16 MiB frames are cut off early and do not move the server's memory", async () => {
    // The per-address cap is raised so every one of the 40 sockets gets far enough to send its frame.
    server = await startChildServer({ limits: { maxUnauthenticatedPerAddress: 100 } });
    await legitRoundTrip(server.url);
    const before = peakRss(server.pid);
    const sockets = await Promise.all(Array.from({ length: 40 }, () => upgraded(server.port)));
    const results = await Promise.all(sockets.map((s) => sendHugeFrame(s, 16 * 1024 * 1024)));
    await Promise.all(sockets.map((s) => s.closed));
    const grown = peakRss(server.pid) - before;
    // Buffering the 40 frames would take 640 MiB; the pre-hello cap holds each to 64 KiB.
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    expect(results.every((r) => !r.finished)).toBe(true);
    // No WebSocket close frame: the socket is destroyed, not asked to close.
    for (const s of sockets) expect(s.received().includes(Buffer.from([0x88]))).toBe(false);
    await legitRoundTrip(server.url);
    console.log(
      `40 x 16 MiB pre-hello frames: server peak RSS grew ${(grown / 2 ** 20).toFixed(1)} MiB; ` +
        `client got to send at most ${(Math.max(...results.map((r) => r.sent)) / 2 ** 20).toFixed(1)} MiB per socket`,
    );
  }, 120_000);
});

describe("half-sent upgrades against a server with 256 descriptors", () => {
  let server: ChildServer;
  afterAll(async () => {
    await server?.stop();
  });

  it("do not make the server unreachable to a client from another address; they time out", async () => {
    server = await startChildServer(
      { limits: { maxUnauthenticatedPerAddress: 16, upgradeTimeoutMs: 1000 } },
      ["prlimit", "--nofile=256:256"],
    );
    expect(readFdLimit(server.pid)).toEqual({ soft: 256, hard: 256 });
    const attackers: RawSocket[] = [];
    // More than the server has descriptors, all from one address, none finishing its request head.
    for (let i = 0; i < 400; i++) {
      const raw = rawSocket(server.port, "127.0.0.2");
      raw.socket.write("GET /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n");
      attackers.push(raw);
    }
    await Promise.all(
      attackers.map((a) => new Promise((r) => (a.socket.connecting ? a.socket.once("connect", r) : r(null)))),
    );
    await legitRoundTrip(server.url);
    // Every one of them is closed by the server: past the cap at once, the rest when their time is up.
    await Promise.all(attackers.map((a) => a.closed));
    expect(attackers.every((a) => a.received().length === 0)).toBe(true);
    await legitRoundTrip(server.url);
  }, 120_000);

  it("starts with the open-file soft limit at the hard limit and logs it", async () => {
    const s = await startChildServer({}, ["prlimit", "--nofile=300:2048"]);
    try {
      expect(readFdLimit(s.pid)).toEqual({ soft: 2048, hard: 2048 });
      expect(s.output()).toMatch(/"soft":2048,"hard":2048,"msg":"open-file limit already at the hard limit"/);
    } finally {
      await s.stop();
    }
  }, 60_000);
});

describe("caps and timeouts before hello", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      start: { limits: { helloTimeoutMs: 500, maxUnauthenticatedPerAddress: 4 } },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("terminates a socket that sends no hello in time, even if it never answers the close", async () => {
    // A raw socket never answers a close frame; with a close handshake the server would wait 30 s.
    const raw = await upgraded(h.server.port, "127.0.0.4");
    await raw.closed;
    const frames = raw.received().subarray(raw.received().indexOf("\r\n\r\n") + 4);
    expect(frames[0]).toBe(0x88);
    expect(frames.readUInt16BE(2)).toBe(4408);
  }, 20_000);

  it("refuses a fifth unauthenticated socket from one address; authenticated ones do not count", async () => {
    const held = await Promise.all(Array.from({ length: 4 }, () => upgraded(h.server.port, "127.0.0.5")));
    const fifth = rawSocket(h.server.port, "127.0.0.5");
    fifth.socket.write(UPGRADE_HEAD);
    await fifth.closed;
    expect(fifth.received().length).toBe(0);
    // Another address is not affected.
    await legitRoundTrip(h.server.url);
    for (const s of held) s.socket.destroy();
    await Promise.all(held.map((s) => s.closed));

    const authed: WebSocket[] = [];
    for (let i = 0; i < 4; i++) {
      const ws = new WebSocket(h.server.url.replace("http", "ws") + "/rpc", { localAddress: "127.0.0.6" });
      await new Promise((r) => ws.once("open", r));
      ws.send(JSON.stringify({ v: 1, kind: "request", id: 1, method: "hello", params: { token: TOKEN } }));
      const reply = await new Promise<string>((r) => ws.once("message", (d) => r(String(d))));
      expect(JSON.parse(reply)).toMatchObject({ ok: true });
      authed.push(ws);
    }
    const next = await upgraded(h.server.port, "127.0.0.6");
    expect(next.socket.destroyed).toBe(false);
    next.socket.destroy();
    for (const ws of authed) ws.close();
  }, 30_000);

  it("cuts off a frame over maxPreHelloBytes before hello, but takes it after hello", async () => {
    const ws = new WebSocket(h.server.url.replace("http", "ws") + "/rpc", { localAddress: "127.0.0.7" });
    await new Promise((r) => ws.once("open", r));
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    ws.on("error", () => undefined);
    ws.send("x".repeat(70 * 1024));
    expect(await closed).toBe(1006);

    const c = await PiClient.connect(h.server.url, { token: TOKEN });
    await expect(
      c.request("prompt", { message: "x".repeat(70 * 1024) }, "no-such-session"),
    ).rejects.toMatchObject({ code: "not_found" });
    await c.close();
  }, 20_000);
});
