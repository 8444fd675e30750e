import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PiClient, RpcError } from "../src/client/client.js";
import { startHarness, TOKEN, type Harness } from "./helpers/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ start: { limits: { maxFrameBytes: 64 * 1024, helloTimeoutMs: 1000 } } });
});
afterAll(async () => {
  await h?.close();
});

interface Frame {
  kind: string;
  id: unknown;
  ok?: boolean;
  error?: { code: string; message: string; details?: string; data?: Record<string, unknown> };
  result?: unknown;
}

/** A raw socket that records every frame and how it closed. */
async function raw(headers: Record<string, string> = {}): Promise<{
  ws: WebSocket;
  frames: Frame[];
  next(): Promise<Frame>;
  closed: Promise<{ code: number; reason: string }>;
}> {
  const ws = new WebSocket(h.server.url.replace("http", "ws") + "/rpc", { headers });
  const frames: Frame[] = [];
  const waiters: ((f: Frame) => void)[] = [];
  let read = 0;
  ws.on("message", (d) => {
    const f = JSON.parse(String(d)) as Frame;
    frames.push(f);
    waiters.shift()?.(f);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return {
    ws,
    frames,
    closed,
    next() {
      if (read < frames.length) return Promise.resolve(frames[read++]!);
      return new Promise((resolve) => waiters.push((f) => (read++, resolve(f))));
    },
  };
}

const req = (
  id: unknown,
  method: string,
  params: unknown = {},
  extra: Record<string, unknown> = {},
): string => JSON.stringify({ v: 1, kind: "request", id, method, params, ...extra });

describe("HTTP", () => {
  it("serves /health without auth and / only with a bearer token", async () => {
    expect(await (await fetch(`${h.server.url}/health`)).json()).toEqual({ ok: true });
    const anon = await fetch(`${h.server.url}/`);
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    const wrong = await fetch(`${h.server.url}/`, { headers: { Authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const info = (await (
      await fetch(`${h.server.url}/`, { headers: { Authorization: `Bearer ${TOKEN}` } })
    ).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ name: "pi-server", protocolVersion: 1, piVersion: "0.73.1" });
    expect(info.capabilities).toContain("sessions");
    expect(typeof info.uptimeSeconds).toBe("number");
  });
});

describe("authentication", () => {
  it("accepts the token in hello and in the upgrade header", async () => {
    const a = await PiClient.connect(h.server.url, { token: TOKEN });
    expect(a.connectionId).toMatch(/^[0-9a-f]{16}$/);
    const b = await PiClient.connect(h.server.url, { token: TOKEN, tokenInHeader: true });
    expect((await b.request("session.list", {})).sessions).toBeInstanceOf(Array);
    await Promise.all([a.close(), b.close()]);
  });

  it("answers a wrong hello token with unauthorized and closes", async () => {
    const s = await raw();
    s.ws.send(req(1, "hello", { token: "wrong" }));
    const f = await s.next();
    expect(f).toMatchObject({ id: 1, ok: false, error: { code: "unauthorized" } });
    expect((await s.closed).code).toBe(4401);
  });

  it("answers a wrong header token with unauthorized and closes", async () => {
    const s = await raw({ Authorization: "Bearer wrong" });
    expect(await s.next()).toMatchObject({ id: null, ok: false, error: { code: "unauthorized" } });
    expect((await s.closed).code).toBe(4401);
  });

  it("serves nothing before hello", async () => {
    const s = await raw();
    s.ws.send(req(1, "session.list"));
    expect(await s.next()).toMatchObject({ id: 1, ok: false, error: { code: "unauthorized" } });
    expect((await s.closed).code).toBe(4401);

    const authed = await raw({ Authorization: `Bearer ${TOKEN}` });
    authed.ws.send(req(2, "session.list"));
    expect(await authed.next()).toMatchObject({ id: 2, ok: false, error: { code: "invalid_request" } });
    authed.ws.close();
  });

  it("closes a socket that says no hello in time", async () => {
    const s = await raw();
    expect((await s.closed).code).toBe(4408);
  });

  it("refuses a second hello", async () => {
    const client = await PiClient.connect(h.server.url, { token: TOKEN });
    await expect(client.request("hello", { token: TOKEN })).rejects.toMatchObject({
      code: "invalid_request",
    });
    await client.close();
  });
});

describe("malformed frames get typed errors and the socket stays usable", () => {
  it("covers parse_error, invalid_request, unknown_method, not_found, limit_exceeded", async () => {
    const s = await raw({ Authorization: `Bearer ${TOKEN}` });
    s.ws.send(req(0, "hello"));
    expect(await s.next()).toMatchObject({ id: 0, ok: true });

    s.ws.send("{not json");
    expect(await s.next()).toMatchObject({ id: null, ok: false, error: { code: "parse_error" } });

    s.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await s.next()).toMatchObject({ id: null, error: { code: "parse_error" } });

    s.ws.send(JSON.stringify({ v: 2, kind: "request", id: 5, method: "session.list" }));
    expect(await s.next()).toMatchObject({ id: 5, error: { code: "invalid_request" } });

    s.ws.send(JSON.stringify([1, 2]));
    expect(await s.next()).toMatchObject({ id: null, error: { code: "invalid_request" } });

    s.ws.send(req(6, "no.such.method"));
    expect(await s.next()).toMatchObject({ id: 6, error: { code: "unknown_method" } });

    s.ws.send(req(7, "session.create", { repoId: 42 }));
    const bad = await s.next();
    expect(bad).toMatchObject({ id: 7, error: { code: "invalid_request" } });
    expect(bad.error?.message).toContain("/repoId");
    // details is text for people, data the same issues as structure.
    expect(bad.error?.details).toContain("/repoId");
    expect(bad.error?.data).toMatchObject({ issues: [{ path: "/repoId" }] });

    // Unknown keys are ignored (clients lag servers); the known ones are still checked.
    s.ws.send(req(8, "session.list", { type: "session.list", bogus: true }));
    expect(await s.next()).toMatchObject({ id: 8, ok: true });

    s.ws.send(req(9, "prompt", { message: "hi" }));
    expect((await s.next()).error).toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("sessionId"),
    });

    s.ws.send(req(10, "prompt", { message: "hi" }, { sessionId: "nope" }));
    expect(await s.next()).toMatchObject({ id: 10, error: { code: "not_found" } });

    s.ws.send(req(11, "session.attach", { sessionId: "nope" }));
    expect(await s.next()).toMatchObject({ id: 11, error: { code: "not_found" } });

    s.ws.send(req(12, "session.create", { repoId: "missing-repo" }));
    expect(await s.next()).toMatchObject({ id: 12, error: { code: "not_found" } });

    s.ws.send(req(13, "session.create", { model: "fake/no-such-model" }));
    expect(await s.next()).toMatchObject({ id: 13, error: { code: "not_found" } });

    s.ws.send(req(14, "session.create", { model: "no-slash" }));
    expect(await s.next()).toMatchObject({ id: 14, error: { code: "invalid_request" } });

    s.ws.send(req(15, "prompt", { message: "x".repeat(70 * 1024) }, { sessionId: "nope" }));
    expect(await s.next()).toMatchObject({ id: null, error: { code: "limit_exceeded" } });

    s.ws.send(req(16, "session.list"));
    expect(await s.next()).toMatchObject({ id: 16, ok: true });
    expect(s.ws.readyState).toBe(WebSocket.OPEN);
    s.ws.close();
  });

  it("closes with 1009 on a frame past the hard cap", async () => {
    const s = await raw({ Authorization: `Bearer ${TOKEN}` });
    s.ws.send("x".repeat(200 * 1024));
    expect((await s.closed).code).toBe(1009);
  });

  it("reports errors to the typed client as RpcError", async () => {
    const client = await PiClient.connect(h.server.url, { token: TOKEN });
    const err = await client.request("get_state", {}, "missing").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe("not_found");
    await client.close();
  });
});
