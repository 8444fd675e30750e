import type { AddressInfo } from "node:net";
import type { Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type PerMessageDeflateOptions, WebSocket, WebSocketServer } from "ws";
import type { SessionEvent } from "../src/protocol/events.js";
import { outboundEvent } from "../src/sessions/frames.js";
import type { OutboundEvent } from "../src/sessions/live-session.js";
import { perMessageDeflate } from "../src/transport/compression.js";
import { compressInline, INLINE_DEFLATE_MAX_BYTES } from "../src/transport/inline-deflate.js";
import { newTransportStats, SendQueue } from "../src/transport/send-queue.js";

/**
 * The send queue and the server's compression over real sockets: a ws server with the shipped
 * permessage-deflate options and a ws client that inflates what it gets.
 */
interface Pair {
  server: WebSocket;
  client: WebSocket;
  queue: SendQueue;
  inline: boolean;
  /** Every message the client has received, parsed. */
  frames: Frame[];
  /** Resolves once the client holds `n` messages. */
  received(n: number): Promise<Frame[]>;
}

interface Frame {
  seq: number;
  firstSeq?: number;
  type: string;
  payload: { assistantMessageEvent?: { delta?: string } };
  text?: string;
}

const open: { wss: WebSocketServer; client: WebSocket }[] = [];
afterEach(async () => {
  for (const { wss, client } of open.splice(0)) {
    client.terminate();
    for (const ws of wss.clients) ws.terminate();
    await new Promise((r) => wss.close(r));
  }
});

async function pair(clientDeflate: boolean | PerMessageDeflateOptions): Promise<Pair> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate });
  await new Promise((r) => wss.once("listening", r));
  const accepted = new Promise<WebSocket>((r) => wss.once("connection", r));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {
    perMessageDeflate: clientDeflate,
  });
  open.push({ wss, client });
  const frames: Frame[] = [];
  const waiting: { n: number; resolve: (f: Frame[]) => void }[] = [];
  client.on("message", (data) => {
    const text = String(data);
    frames.push(
      text.startsWith("{") ? (JSON.parse(text) as Frame) : { seq: 0, type: "raw", payload: {}, text },
    );
    for (const w of waiting.splice(0)) {
      if (frames.length >= w.n) w.resolve(frames);
      else waiting.push(w);
    }
  });
  await new Promise((r) => client.once("open", r));
  const server = await accepted;
  const inline = compressInline(server);
  const queue = new SendQueue(server, 8 * 1024 * 1024, 1024 * 1024, newTransportStats(), () => undefined);
  return {
    server,
    client,
    queue,
    inline,
    frames,
    received: (n) =>
      frames.length >= n ? Promise.resolve(frames) : new Promise((resolve) => waiting.push({ n, resolve })),
  };
}

const delta = (seq: number, text: string): OutboundEvent =>
  outboundEvent("s1", "e1", seq, {
    type: "message_update",
    payload: { assistantMessageEvent: { type: "text_delta", contentIndex: 0, delta: text } },
  } as unknown as SessionEvent);

const other = (seq: number): OutboundEvent =>
  outboundEvent("s1", "e1", seq, { type: "turn_end", payload: {} } as unknown as SessionEvent);

const send = (p: Pair, e: OutboundEvent): void => p.queue.send(e.data, e);

/** Bytes the server's socket has taken (written or buffered in it), not counting ws's own queue. */
const socketBytes = (ws: WebSocket): number => {
  const s = (ws as unknown as { _socket: Socket })._socket;
  return s.bytesWritten + s.writableLength;
};

const nextLoopTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("compression of a connection that negotiated permessage-deflate", () => {
  it("compresses a frame before send returns: nothing waits for the thread pool", async () => {
    const p = await pair(true);
    expect(p.inline).toBe(true);
    const before = socketBytes(p.server);
    send(p, delta(1, "hello"));
    // ws's own compression hands the frame to zlib's thread pool and writes it a loop turn later.
    expect(socketBytes(p.server)).toBeGreaterThan(before);
    const [f] = await p.received(1);
    expect(f?.payload.assistantMessageEvent?.delta).toBe("hello");
  });

  it("keeps the shared window across small and large messages (the large one through the pool)", async () => {
    const p = await pair(true);
    const big = "x".repeat(INLINE_DEFLATE_MAX_BYTES * 3);
    const texts = ["a small one", big, "after the big one", big.slice(1), "the end the end the end"];
    for (const t of texts) p.server.send(t);
    const got = await p.received(texts.length);
    expect(got.map((f) => f.text)).toEqual(texts);
  });

  it("resets its context after each message when the client asks for server_no_context_takeover", async () => {
    const p = await pair({ serverNoContextTakeover: true });
    const ext = (p.server as unknown as { _extensions: Record<string, { params: object }> })._extensions;
    expect(ext["permessage-deflate"]?.params).toMatchObject({ server_no_context_takeover: true });
    const texts = ["same words same words", "same words same words", "same words again"];
    for (const t of texts) p.server.send(t);
    expect((await p.received(3)).map((f) => f.text)).toEqual(texts);
  });

  it("is left to ws when the client did not offer it", async () => {
    const p = await pair(false);
    expect(p.inline).toBe(false);
    send(p, delta(1, "plain"));
    expect((await p.received(1))[0]?.payload.assistantMessageEvent?.delta).toBe("plain");
  });
});

describe("send queue of a compressing connection", () => {
  it("sends a burst's first delta at once and merges the rest of the burst into one frame", async () => {
    const p = await pair(true);
    const before = socketBytes(p.server);
    send(p, delta(1, "a"));
    const afterFirst = socketBytes(p.server);
    expect(afterFirst).toBeGreaterThan(before);
    for (let seq = 2; seq <= 6; seq++) send(p, delta(seq, String.fromCharCode(96 + seq)));
    // The rest of the burst waits for the loop's check phase, where it leaves as one frame.
    expect(socketBytes(p.server)).toBe(afterFirst);
    const frames = await p.received(2);
    expect(frames.map((f) => [f.firstSeq ?? f.seq, f.seq])).toEqual([
      [1, 1],
      [2, 6],
    ]);
    expect(frames.map((f) => f.payload.assistantMessageEvent?.delta).join("")).toBe("abcdef");
  });

  it("never holds a delta that comes in a later turn of the event loop (an LLM's pace)", async () => {
    const p = await pair(true);
    for (let seq = 1; seq <= 4; seq++) {
      const before = socketBytes(p.server);
      send(p, delta(seq, `t${seq}`));
      expect(socketBytes(p.server), `delta ${seq}`).toBeGreaterThan(before);
      await nextLoopTurn();
    }
    const frames = await p.received(4);
    expect(frames.map((f) => f.firstSeq ?? f.seq)).toEqual([1, 2, 3, 4]);
  });

  it("sends what a burst holds, then the next other event, in order and at once", async () => {
    const p = await pair(true);
    send(p, delta(1, "a"));
    send(p, delta(2, "b"));
    send(p, delta(3, "c"));
    const before = socketBytes(p.server);
    send(p, other(4));
    expect(socketBytes(p.server)).toBeGreaterThan(before);
    const frames = await p.received(3);
    expect(frames.map((f) => [f.type, f.firstSeq ?? f.seq, f.seq])).toEqual([
      ["message_update", 1, 1],
      ["message_update", 2, 3],
      ["turn_end", 4, 4],
    ]);
  });

  it("merges nothing on a connection without compression (Pi Mobile gets every delta as it was)", async () => {
    const p = await pair(false);
    for (let seq = 1; seq <= 5; seq++) send(p, delta(seq, `${seq}`));
    const frames = await p.received(5);
    expect(frames.map((f) => [f.firstSeq ?? f.seq, f.seq])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
  });
});
