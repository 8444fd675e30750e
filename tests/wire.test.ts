import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import type { AnyEvent } from "../src/client/client.js";
import { type Harness, recordEvents, startHarness, TOKEN } from "./helpers/harness.js";

type Delta = { type: string; delta?: string };

function delta(e: AnyEvent): Delta | undefined {
  if (e.type !== "message_update") return undefined;
  const d = e.payload.assistantMessageEvent as Delta;
  return d.type === "text_delta" ? d : undefined;
}

function streamedText(events: AnyEvent[]): string {
  return events.map((e) => delta(e)?.delta ?? "").join("");
}

/** The seq range a frame stands for: a merged delta covers firstSeq … seq. */
function range(e: AnyEvent): [number, number] {
  const first = (e as { firstSeq?: number }).firstSeq;
  return [first ?? e.seq, e.seq];
}

/** Every seq from the first frame's on, exactly once, in order. */
function expectContiguous(events: AnyEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    const prev = events[i - 1] as AnyEvent;
    const cur = events[i] as AnyEvent;
    expect(range(cur)[0], `frame after seq ${prev.seq} (${cur.type})`).toBe(prev.seq + 1);
  }
}

const words = Array.from({ length: 80 }, (_, i) => `w${i} `).join("");

/** Upgrades with or without a permessage-deflate offer, then says hello; resolves with the socket. */
async function rawSocket(url: string, offerDeflate: boolean): Promise<WebSocket & { agreed: string }> {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}/rpc`, { perMessageDeflate: offerDeflate });
  let agreed = "";
  ws.once("upgrade", (res) => (agreed = String(res.headers["sec-websocket-extensions"] ?? "")));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return Object.assign(ws, { agreed });
}

/** The parts of the answers these tests read. */
interface Answer {
  ok: boolean;
  error: { code: string };
  result: { session: { id: string }; resume: { sessions: Record<string, unknown> } };
}

function request(
  ws: WebSocket,
  id: number,
  method: string,
  params: object,
  sessionId?: string,
): Promise<Answer> {
  return new Promise((resolve) => {
    const onMessage = (data: Buffer): void => {
      const frame = JSON.parse(data.toString()) as { kind: string; id?: number };
      if (frame.kind === "response" && frame.id === id) {
        ws.off("message", onMessage);
        resolve(frame as unknown as Answer);
      }
    };
    ws.on("message", onMessage);
    ws.send(JSON.stringify({ v: 1, kind: "request", id, method, params, ...(sessionId && { sessionId }) }));
  });
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe("permessage-deflate", () => {
  it("is negotiated when the client offers it, with the server's window and no client context", async () => {
    const ws = await rawSocket(h.server.url, true);
    try {
      expect(ws.extensions).toBe("permessage-deflate");
      expect(ws.agreed).toContain("server_max_window_bits=11");
      expect(ws.agreed).toContain("client_no_context_takeover");
      const hello = await request(ws, 1, "hello", { token: TOKEN });
      expect(hello.ok).toBe(true);
      // A whole turn over the compressed socket decodes to the same text.
      const created = await request(ws, 2, "session.create", {});
      const sessionId = created.result.session.id as string;
      const events: AnyEvent[] = [];
      const idle = new Promise<void>((resolve) => {
        ws.on("message", (data: Buffer) => {
          const f = JSON.parse(data.toString()) as AnyEvent & { kind: string };
          if (f.kind !== "event") return;
          events.push(f);
          if (f.type === "session_status" && f.payload.status === "idle") resolve();
        });
      });
      h.llm.enqueue({ kind: "text", text: words, chunkSize: 3 });
      expect((await request(ws, 3, "prompt", { message: "talk" }, sessionId)).ok).toBe(true);
      await idle;
      expect(streamedText(events)).toBe(words);
    } finally {
      ws.terminate();
    }
  });

  it("is not used when the client does not offer it (Pi Mobile)", async () => {
    const ws = await rawSocket(h.server.url, false);
    try {
      expect(ws.extensions).toBe("");
      expect(ws.agreed).toBe("");
      expect((await request(ws, 1, "hello", { token: TOKEN })).ok).toBe(true);
    } finally {
      ws.terminate();
    }
  });
});

describe("coalesceMs", () => {
  it("is validated at hello and at session.attach", async () => {
    for (const bad of [-1, 251, 12.5, "50"]) {
      const ws = await rawSocket(h.server.url, false);
      try {
        const r = await request(ws, 1, "hello", { token: TOKEN, coalesceMs: bad });
        expect(r.ok, `hello coalesceMs ${JSON.stringify(bad)}`).toBe(false);
        expect(r.error.code).toBe("invalid_request");
      } finally {
        ws.terminate();
      }
    }
    const c = await h.connect();
    const { session } = await c.request("session.create", {});
    for (const bad of [-5, 1000]) {
      await expect(
        c.request("session.attach", { sessionId: session.id, coalesceMs: bad }),
      ).rejects.toMatchObject({ code: "invalid_request" });
    }
    await c.request("session.attach", { sessionId: session.id, coalesceMs: 250 });
    await c.request("session.attach", { sessionId: session.id, coalesceMs: 0 });
    await c.close();
  });

  it("merges deltas into fewer frames with the exact text and every seq once; *_end flushes first", async () => {
    const plain = await h.connect();
    const { session } = await plain.request("session.create", {});
    const windowed = await h.connect({ coalesceMs: 250 });
    await windowed.request("session.attach", { sessionId: session.id });
    const attached = await h.connect();
    await attached.request("session.attach", { sessionId: session.id, coalesceMs: 200 });
    const clients = [plain, windowed, attached];
    const recorded = clients.map((c) => recordEvents(c, session.id));
    const idle = clients.map((c) =>
      c.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle", 60_000),
    );
    h.llm.enqueue({ kind: "text", text: words, chunkSize: 2, delayMs: 2 });
    await plain.request("prompt", { message: "talk" }, session.id);
    await Promise.all(idle);

    const [all, merged, perAttach] = recorded as [AnyEvent[], AnyEvent[], AnyEvent[]];
    const deltaFrames = (events: AnyEvent[]): number => events.filter((e) => delta(e)).length;
    expect(streamedText(all)).toBe(words);
    for (const events of [merged, perAttach]) {
      expect(streamedText(events)).toBe(words);
      expect(deltaFrames(events)).toBeLessThan(deltaFrames(all));
      expectContiguous(events);
      expect(events.at(-1)?.seq).toBe(all.at(-1)?.seq);
      // The block's end comes right after its last delta, never before a held one.
      const end = events.findIndex(
        (e) => e.type === "message_update" && e.payload.assistantMessageEvent.type === "text_end",
      );
      expect(end).toBeGreaterThan(0);
      expect(delta(events[end - 1] as AnyEvent)).toBeDefined();
      expect(events.slice(end).some((e) => delta(e))).toBe(false);
    }
  });

  it("resumes exactly with sinceSeq: after a drop with deltas held, and from inside a merged frame", async () => {
    // One frame per delta for the reference (no deflate: a busy compressor would merge deltas too).
    const plain = await h.connect({ perMessageDeflate: false });
    const { session } = await plain.request("session.create", {});
    const all = recordEvents(plain, session.id);
    const ended = plain.waitForEvent(
      session.id,
      "session_status",
      (e) => e.payload.status === "idle",
      60_000,
    );

    // Dropped right after its first merged frame: whatever its window still held is lost with it.
    const dropped = await h.connect({ coalesceMs: 250 });
    await dropped.request("session.attach", { sessionId: session.id });
    const before: AnyEvent[] = [];
    const firstMerged = new Promise<AnyEvent>((resolve) => {
      dropped.onEvent((e) => {
        if (e.sessionId !== session.id) return;
        before.push(e);
        if ((e as { firstSeq?: number }).firstSeq !== undefined) {
          dropped.ws.terminate();
          resolve(e);
        }
      });
    });
    h.llm.enqueue({ kind: "text", text: words.repeat(3), chunkSize: 3, delayMs: 3 });
    await plain.request("prompt", { message: "talk" }, session.id);
    const mergedFrame = await firstMerged;

    const after = await h.connect({ coalesceMs: 250 });
    const rest = recordEvents(after, session.id);
    const restIdle = after.waitForEvent(
      session.id,
      "session_status",
      (e) => e.payload.status === "idle",
      60_000,
    );
    const r = await after.request("session.attach", { sessionId: session.id, sinceSeq: before.at(-1)!.seq });
    expect(r.replay).toBe("ok");
    await Promise.all([ended, restIdle]);
    expectContiguous([...before, ...rest]);
    expect(streamedText([...before, ...rest])).toBe(streamedText(all));
    expect(streamedText(all)).toBe(words.repeat(3));

    // A seq inside the merged frame's range: the replay starts right after it, not at the frame's end.
    const [first, last] = range(mergedFrame);
    expect(last).toBeGreaterThan(first);
    const inside = first;
    const late = await h.connect({ coalesceMs: 250 });
    const replayed = recordEvents(late, session.id);
    const lateIdle = late.waitForEvent(
      session.id,
      "session_status",
      (e) => e.payload.status === "idle",
      60_000,
    );
    const rr = await late.request("session.attach", { sessionId: session.id, sinceSeq: inside });
    expect(rr.replay).toBe("ok");
    // The session is idle already: the replay ends with the idle status it emitted.
    await lateIdle;
    expect(range(replayed[0] as AnyEvent)[0]).toBe(inside + 1);
    expectContiguous(replayed);
    expect(streamedText(replayed)).toBe(streamedText(all.filter((e) => e.seq > inside)));
  });

  it("keeps an attachment's window across hello.resume", async () => {
    const owner = await h.connect();
    const { session } = await owner.request("session.create", {});
    const phone = await h.connect();
    await phone.request("session.attach", { sessionId: session.id, coalesceMs: 250 });
    const seq = (await phone.request("get_state", {}, session.id)).seq;
    const connectionId = phone.connectionId;
    phone.ws.terminate();

    const ws = await rawSocket(h.server.url, false);
    try {
      const hello = await request(ws, 1, "hello", {
        token: TOKEN,
        resume: { connectionId, lastSeqBySession: { [session.id]: seq } },
      });
      expect(hello.result.resume.sessions[session.id]).toMatchObject({ ok: true, replay: "ok" });
      const events: AnyEvent[] = [];
      const idle = new Promise<void>((resolve) => {
        ws.on("message", (data: Buffer) => {
          const f = JSON.parse(data.toString()) as AnyEvent & { kind: string };
          if (f.kind !== "event" || f.sessionId !== session.id) return;
          events.push(f);
          if (f.type === "session_status" && f.payload.status === "idle") resolve();
        });
      });
      h.llm.enqueue({ kind: "text", text: words, chunkSize: 2, delayMs: 2 });
      await owner.request("prompt", { message: "talk" }, session.id);
      await idle;
      expect(streamedText(events)).toBe(words);
      expect(events.some((e) => (e as { firstSeq?: number }).firstSeq !== undefined)).toBe(true);
      expectContiguous(events);
    } finally {
      ws.terminate();
    }
  });
});
