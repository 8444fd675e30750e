import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { coveredSeqs, type Harness, recordEvents, startHarness, TOKEN } from "./helpers/harness.js";
import { seededRandom } from "./helpers/random.js";

const SEED = 20240605;
const FRAMES = 3000;
const MAX_FRAME = 64 * 1024;
const CODES = new Set([
  "parse_error",
  "invalid_request",
  "unknown_method",
  "unauthorized",
  "not_found",
  "conflict",
  "limit_exceeded",
  "forbidden",
  "internal",
]);

const METHODS = [
  "hello",
  "session.list",
  "session.attach",
  "prompt",
  "get_state",
  "get_messages",
  "abort",
  "nope",
  "__proto__",
  "constructor",
  "rules.add",
  "session.create",
];

/** One hostile frame: text, or a Buffer sent as a binary frame. */
function frame(rand: () => number, id: number): string | Buffer {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  switch (Math.floor(rand() * 11)) {
    case 0:
      return pick(["{", "nul", "[1,2", '{"v":1,', "\u0000\u0001", "", "{}}", '"str"']);
    case 1:
      return JSON.stringify({ v: pick([0, 2, "1", null]), kind: "request", id, method: "session.list" });
    case 2:
      return JSON.stringify({ v: 1, kind: pick(["response", "event", 5]), id, method: "hello" });
    case 3:
      return JSON.stringify({
        v: 1,
        kind: "request",
        id: pick([id, {}, [], -0.5, "x".repeat(200)]),
        method: pick(METHODS),
      });
    case 4:
      return JSON.stringify({
        v: 1,
        kind: "request",
        id,
        method: pick(METHODS),
        params: { message: "m".repeat(Math.floor(rand() * MAX_FRAME * 1.5)) },
      });
    case 5: {
      const d = 5 + Math.floor(rand() * 5000);
      return "[".repeat(d) + "]".repeat(d);
    }
    case 6:
      return Buffer.from([1, 2, 3, Math.floor(rand() * 255)]);
    case 7:
      return JSON.stringify({ v: 1, kind: "request", id, method: "x".repeat(1 + Math.floor(rand() * 100)) });
    case 8:
      return JSON.stringify({
        v: 1,
        kind: "request",
        id,
        method: pick(METHODS),
        sessionId: pick(["nope", "", "a".repeat(65)]),
        params: pick([{}, { sinceSeq: -1 }, { sessionId: 5 }, { level: "all" }, null, [1], "s"]),
      });
    case 9:
      return JSON.stringify({
        v: 1,
        kind: "request",
        id,
        method: "get_messages",
        sessionId: "zzz",
        params: { limit: pick([0, 1, 1e9, "5"]), before: pick([-1, 2.5, 3]) },
      });
    default:
      return JSON.stringify({
        v: 1,
        kind: "request",
        id,
        method: "session.attach",
        params: {
          sessionId: "x",
          sinceSeq: Math.floor(rand() * 1e6),
          epoch: "e".repeat(Math.floor(rand() * 80)),
          extra: 1,
        },
      });
  }
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ start: { limits: { maxFrameBytes: MAX_FRAME, maxRequestsPerSecond: 200 } } });
});
afterAll(async () => {
  await h.close();
});

describe("hostile input", () => {
  it(`survives ${FRAMES} seeded random frames while another client's turn streams every event`, async () => {
    const good = await h.connect();
    const { session } = await good.request("session.create", {});
    const events = recordEvents(good, session.id);
    const text = Array.from({ length: 300 }, (_, i) => `t${i} `).join("");
    h.llm.enqueue({ kind: "text", text, chunkSize: 3, delayMs: 5 });
    const idle = good.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle", 240_000);
    await good.request("prompt", { message: "stream while under attack" }, session.id);

    const rand = seededRandom(SEED);
    let sent = 0;
    let answered = 0;
    let closedSockets = 0;
    const badCodes: string[] = [];
    const url = `${h.server.url.replace(/^http/, "ws")}/rpc`;
    const worker = async (): Promise<void> => {
      while (sent < FRAMES) {
        const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
        let responses = 0;
        let closed = false;
        ws.on("message", (d) => {
          const f = JSON.parse(String(d)) as { kind: string; ok?: boolean; error?: { code: string } };
          if (f.kind !== "response") return;
          responses++;
          if (f.ok === false && !CODES.has(f.error!.code)) badCodes.push(f.error!.code);
        });
        ws.on("error", () => undefined);
        const gone = new Promise<void>((r) => ws.on("close", () => ((closed = true), r())));
        await new Promise((r) => (ws.once("open", r), ws.once("close", r)));
        let mine = 0;
        if (rand() < 0.6 && !closed) {
          ws.send(
            JSON.stringify({ v: 1, kind: "request", id: 0, method: "hello", params: { token: TOKEN } }),
          );
          mine++;
        }
        const batch = 20 + Math.floor(rand() * 200);
        for (let i = 0; i < batch && sent < FRAMES && !closed; i++) {
          const f = frame(rand, i + 1);
          ws.send(f, { binary: Buffer.isBuffer(f) });
          sent++;
          mine++;
        }
        // Every frame gets an answer, or the socket is closed.
        const end = Date.now() + 60_000;
        while (!closed && responses < mine && Date.now() < end) await delay(20);
        expect(closed || responses === mine, `answered ${responses} of ${mine}`).toBe(true);
        answered += responses;
        if (closed) closedSockets++;
        else {
          ws.close();
          await gone;
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    await idle;

    expect(badCodes).toEqual([]);
    const seqs = coveredSeqs(events);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1);
    const streamed = events
      .map((e) =>
        e.type === "message_update" && e.payload.assistantMessageEvent.type === "text_delta"
          ? e.payload.assistantMessageEvent.delta
          : "",
      )
      .join("");
    expect(streamed).toBe(text);
    expect(events.at(-1)!.type).toBe("session_status");
    // Still serving.
    expect((await good.request("session.list", {})).sessions.length).toBeGreaterThan(0);
    console.log("fuzz", JSON.stringify({ sent, answered, closedSockets, stats: h.server.transportStats }));
  }, 300_000);
});
