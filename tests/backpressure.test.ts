import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { coveredSeqs, type Harness, recordEvents, startHarness, TOKEN } from "./helpers/harness.js";

const QUEUE_LIMIT = 64 * 1024;

async function until(cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await delay(50);
  }
}

/** A raw socket that says hello and attaches, answering nothing else. */
async function rawAttached(url: string, sessionId: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/rpc`);
  await new Promise((r, j) => {
    ws.once("open", r);
    ws.once("error", j);
  });
  const answers = new Map<number, unknown>();
  ws.on("message", (d) => {
    const f = JSON.parse(String(d)) as { kind: string; id: number };
    if (f.kind === "response") answers.set(f.id, f);
  });
  ws.send(JSON.stringify({ v: 1, kind: "request", id: 1, method: "hello", params: { token: TOKEN } }));
  await until(() => answers.has(1), 30_000);
  ws.send(JSON.stringify({ v: 1, kind: "request", id: 2, method: "session.attach", params: { sessionId } }));
  await until(() => answers.has(2), 30_000);
  return ws;
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ start: { limits: { sendQueueBytes: QUEUE_LIMIT } } });
});
afterAll(async () => {
  await h.close();
});

describe("backpressure", () => {
  it("closes a client that never reads with 4409, its queue never past the limit; others finish", async () => {
    // Uncompressed: a compressing reader keeps up only as fast as zlib's round trips, and a flood of
    // 4 KiB deltas outruns them past this test's 64 KiB queue limit (the default limit is 8 MiB).
    const watcher = await h.connect({ perMessageDeflate: false });
    const { session } = await watcher.request("session.create", {});
    const events = recordEvents(watcher, session.id);
    const stuck = await rawAttached(h.server.url, session.id);
    let closeCode: number | undefined;
    stuck.on("close", (code) => (closeCode = code));
    // The client stops reading: the kernel buffers fill, then the server's queue would grow forever.
    (stuck as unknown as { _socket: { pause(): void } })._socket.pause();

    const text = "y".repeat(16 * 1024 * 1024);
    h.llm.enqueue({ kind: "text", text, chunkSize: 4096 });
    const idle = watcher.waitForEvent(
      session.id,
      "session_status",
      (e) => e.payload.status === "idle",
      240_000,
    );
    await watcher.request("prompt", { message: "flood" }, session.id);
    await until(() => h.server.transportStats.slowConsumerCloses >= 1);
    await idle;

    const stats = h.server.transportStats;
    expect(stats.peakQueuedBytes).toBeLessThanOrEqual(QUEUE_LIMIT);
    expect(stats.peakQueuedBytes).toBeGreaterThan(0);
    // The watcher that reads got every event, in order, the whole text.
    const seqs = coveredSeqs(events);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
    const streamed = events
      .map((e) =>
        e.type === "message_update" && e.payload.assistantMessageEvent.type === "text_delta"
          ? e.payload.assistantMessageEvent.delta
          : "",
      )
      .join("");
    expect(streamed.length).toBe(text.length);
    (stuck as unknown as { _socket: { resume(): void } })._socket.resume();
    await until(() => closeCode !== undefined, 30_000);
    expect([4409, 1006]).toContain(closeCode);
    console.log("backpressure stats", JSON.stringify(stats));
  }, 300_000);
});
