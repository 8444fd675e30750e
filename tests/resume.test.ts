import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnyEvent } from "../src/client/client.js";
import type { PiClient } from "../src/client/client.js";
import type { FakeStep } from "./helpers/fake-llm.js";
import { coveredSeqs, type Harness, recordEvents, startHarness } from "./helpers/harness.js";
import { seededRandom } from "./helpers/random.js";

/** Like the harness's runTurn, but resolves once the session is idle again (the last event of a turn). */
async function runTurn(
  x: Pick<Harness, "llm">,
  client: PiClient,
  sessionId: string,
  message: string,
  ...steps: FakeStep[]
): Promise<void> {
  x.llm.enqueue(...steps);
  const idle = client.waitForEvent(sessionId, "session_status", (e) => e.payload.status === "idle", 60_000);
  await client.request("prompt", { message }, sessionId);
  await idle;
}

function streamedText(events: AnyEvent[]): string {
  return events
    .map((e) =>
      e.type === "message_update" && e.payload.assistantMessageEvent.type === "text_delta"
        ? (e.payload.assistantMessageEvent.delta ?? "")
        : "",
    )
    .join("");
}

function expectContiguous(seqs: number[]): void {
  for (let i = 1; i < seqs.length; i++) expect(seqs[i], `after seq ${seqs[i - 1]}`).toBe(seqs[i - 1]! + 1);
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe("resume with sinceSeq", () => {
  it("a client dropped at random points sees exactly what an always-connected client sees", async () => {
    const watcher = await h.connect();
    const { session } = await watcher.request("session.create", { repoId: "demo" });
    const all = recordEvents(watcher, session.id);
    const text = Array.from({ length: 120 }, (_, i) => `word${i} `).join("");
    h.llm.enqueue({ kind: "text", text, chunkSize: 7, delayMs: 5 });
    const ended = watcher.waitForEvent(
      session.id,
      "session_status",
      (e) => e.payload.status === "idle",
      60_000,
    );
    await watcher.request("prompt", { message: "talk" }, session.id);

    const rand = seededRandom(5);
    const seen: AnyEvent[] = [];
    let epoch: string | undefined;
    let drops = 0;
    for (;;) {
      const c = await h.connect();
      const last = seen.at(-1)?.seq ?? 0;
      const gotAll = new Promise<void>((resolve) => {
        const dropAfter = 3 + Math.floor(rand() * 25);
        let n = 0;
        let dropped = false;
        c.onEvent((e) => {
          // Frames already read from the socket may still be parsed after terminate(): a client that
          // dropped processes none of them (the next attach replays them).
          if (e.sessionId !== session.id || dropped) return;
          seen.push(e);
          if (e.type === "session_status" && e.payload.status === "idle") resolve();
          else if (++n === dropAfter) {
            drops++;
            dropped = true;
            c.ws.terminate();
            resolve();
          }
        });
      });
      const r = await c.request("session.attach", {
        sessionId: session.id,
        sinceSeq: last,
        ...(epoch ? { epoch } : {}),
      });
      expect(r.replay).toBe("ok");
      epoch = r.epoch;
      await gotAll;
      if (
        seen.at(-1)?.type === "session_status" &&
        (seen.at(-1) as AnyEvent & { payload: { status: string } }).payload.status === "idle"
      )
        break;
      if (c.closed === undefined) await new Promise((r2) => c.onClose(() => r2(undefined)));
    }
    await ended;
    expect(drops).toBeGreaterThan(2);
    const created = all[0]!.seq - 1;
    const seqs = coveredSeqs(seen);
    expectContiguous(seqs);
    expect(seqs).toEqual(coveredSeqs(all).filter((s) => s > created));
    expect(new Set(seen.map((e) => (e as unknown as { epoch: string }).epoch))).toEqual(new Set([epoch]));
    expect(streamedText(seen)).toBe(text);
    expect(streamedText(all)).toBe(text);
    const state = await watcher.request("get_state", {}, session.id);
    expect(state.epoch).toBe(epoch);
    expect(state.seq).toBe(all.at(-1)!.seq);
  });

  it("answers gap with the current epoch and seq when sinceSeq is older than the ring or from the future", async () => {
    const small = await startHarness({ start: { limits: { replayBufferEvents: 5 } } });
    try {
      const c = await small.connect();
      const { session } = await c.request("session.create", {});
      await runTurn(small, c, session.id, "hi", { kind: "text", text: "a fairly long answer", chunkSize: 2 });
      const seq = (await c.request("get_state", {}, session.id)).seq;
      const gap = await c.request("session.attach", { sessionId: session.id, sinceSeq: 0 });
      expect(gap).toMatchObject({ replay: "gap", replayed: 0, seq });
      expect(gap.epoch).toMatch(/^[0-9a-f]+$/);
      const future = await c.request("session.attach", { sessionId: session.id, sinceSeq: seq + 10 });
      expect(future.replay).toBe("gap");
      const ok = await c.request("session.attach", { sessionId: session.id, sinceSeq: seq - 5 });
      expect(ok).toMatchObject({ replay: "ok", replayed: 5 });
    } finally {
      await small.close();
    }
    const byBytes = await startHarness({ start: { limits: { replayBufferBytes: 2000 } } });
    try {
      const c = await byBytes.connect();
      const { session } = await c.request("session.create", {});
      await runTurn(byBytes, c, session.id, "hi", { kind: "text", text: "x".repeat(3000), chunkSize: 100 });
      const r = await c.request("session.attach", { sessionId: session.id, sinceSeq: 0 });
      expect(r.replay).toBe("gap");
    } finally {
      await byBytes.close();
    }
  });

  it("lifecycle level skips deltas but keeps every *_end and status event", async () => {
    const a = await h.connect();
    const { session } = await a.request("session.create", {});
    const full = recordEvents(a, session.id);
    const b = await h.connect();
    const lite = recordEvents(b, session.id);
    await b.request("session.attach", { sessionId: session.id, level: "lifecycle" });
    const liteIdle = b.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle");
    const fullIdle = a.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle");
    await runTurn(h, a, session.id, "hi", { kind: "text", text: "some streamed words", chunkSize: 3 });
    const [, idle] = await Promise.all([liteIdle, fullIdle]);
    const skipped = new Set(["message_update", "tool_execution_update"]);
    expect(full.some((e) => e.type === "message_update")).toBe(true);
    // Compared up to the turn's idle status: a generated title may follow at any time after it.
    const upToIdle = (e: { seq: number }) => e.seq <= idle.seq;
    expect(lite.filter(upToIdle).map((e) => e.seq)).toEqual(
      full.filter((e) => upToIdle(e) && !skipped.has(e.type)).map((e) => e.seq),
    );
    expect(lite.map((e) => e.type)).toContain("message_end");
    expect(lite.map((e) => e.type)).toContain("agent_end");
  });
});

describe("idempotent sends and paging", () => {
  it("a resent prompt with the same clientTurnId returns the first answer with duplicate: true", async () => {
    const c = await h.connect();
    const { session } = await c.request("session.create", {});
    const before = h.llm.requests.length;
    h.llm.enqueue({ kind: "text", text: "once" });
    const ended = c.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle");
    const first = await c.request("prompt", { message: "go", clientTurnId: "turn-1" }, session.id);
    const again = await c.request("prompt", { message: "go", clientTurnId: "turn-1" }, session.id);
    expect(first).toEqual({ accepted: true, queued: false });
    expect(again).toEqual({ accepted: true, queued: false, duplicate: true });
    await ended;
    // Even after the turn ended the id is remembered.
    const late = await c.request("prompt", { message: "go", clientTurnId: "turn-1" }, session.id);
    expect(late.duplicate).toBe(true);
    expect(h.llm.requests.length - before).toBe(1);
    const msgs = (await c.request("get_messages", {}, session.id)).messages;
    expect(msgs.filter((m) => (m as { role: string }).role === "user")).toHaveLength(1);
  });

  it("get_messages pages with limit and before", async () => {
    const c = await h.connect();
    const { session } = await c.request("session.create", {});
    for (let i = 0; i < 3; i++) await runTurn(h, c, session.id, `q${i}`, { kind: "text", text: `a${i}` });
    const all = await c.request("get_messages", {}, session.id);
    expect(all).toMatchObject({ total: 6, start: 0, nextBefore: null });
    const last = await c.request("get_messages", { limit: 4 }, session.id);
    expect(last).toMatchObject({ total: 6, start: 2, nextBefore: 2 });
    expect(last.messages).toEqual(all.messages.slice(2));
    const prev = await c.request("get_messages", { limit: 4, before: last.nextBefore! }, session.id);
    expect(prev).toMatchObject({ start: 0, nextBefore: null });
    expect(prev.messages).toEqual(all.messages.slice(0, 2));
  });

  it.each([0, 250])(
    "a client that opens a session mid-message gets what streamed before it, then the rest once (coalesceMs %i)",
    async (coalesceMs) => {
      const c = await h.connect();
      const { session } = await c.request("session.create", {});
      const text = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
      h.llm.enqueue({ kind: "text", text, chunkSize: 4, delayMs: 30 });
      const firstDelta = c.waitForEvent(session.id, "message_update");
      const ended = c.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle", 60_000);
      await c.request("prompt", { message: "stream" }, session.id);
      await firstDelta;

      // A second device opens the session now: attach, then the history, as the web app does.
      // With a delta window, deltas held when get_messages answers are sent before its response.
      const late = await h.connect({ coalesceMs });
      const seen: AnyEvent[] = [];
      late.onEvent((e) => seen.push(e));
      await late.request("session.attach", { sessionId: session.id });
      // Some deltas stream (and, with a window, are held) between the attach and get_messages.
      await new Promise((r) => setTimeout(r, 100));
      const history = await late.request("get_messages", {}, session.id);
      const partial = history.streaming as { role: string; content: { type: string; text?: string }[] };
      expect(partial.role).toBe("assistant");
      const before = partial.content.map((b) => b.text ?? "").join("");
      expect(text.startsWith(before) && before.length > 0).toBe(true);
      await ended;

      const rest = seen
        .filter((e) => e.sessionId === session.id && e.seq > history.seq && e.type === "message_update")
        .map(
          (e) =>
            (e.payload as { assistantMessageEvent: { type: string; delta?: string } }).assistantMessageEvent,
        )
        .filter((d) => d.type === "text_delta")
        .map((d) => d.delta)
        .join("");
      expect(before + rest).toBe(text);
      const done = await late.request("get_messages", {}, session.id);
      expect(done.streaming).toBeUndefined();
    },
  );
});
