import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnyEvent, PiClient } from "../src/client/client.js";
import { coveredSeqs, type Harness, recordEvents, startHarness } from "./helpers/harness.js";

// A two-character delta's event is ~190 characters of frame plus EVENT_OVERHEAD_BYTES (200).
const PER_SESSION = 128 * 1024;
const TOTAL = 160 * 1024;

let h: Harness;

function withServer(limits: Record<string, number>): void {
  beforeAll(async () => {
    h = await startHarness({ start: { limits } });
  });
  afterAll(async () => {
    await h.close();
  });
}

/** One turn of `deltas` two-character deltas (each a ~190-byte event); resolves at idle with its events. */
async function stream(client: PiClient, sessionId: string, deltas: number): Promise<AnyEvent[]> {
  const events = recordEvents(client, sessionId);
  const idle = client.waitForEvent(sessionId, "session_status", (e) => e.payload.status === "idle", 60_000);
  h.llm.enqueue({ kind: "text", text: "ab".repeat(deltas), chunkSize: 2 });
  await client.request("prompt", { message: "talk" }, sessionId);
  await idle;
  return events;
}

async function attachFrom(
  sessionId: string,
  sinceSeq: number,
): Promise<{ replay: string; events: AnyEvent[] }> {
  const c = await h.connect();
  const events = recordEvents(c, sessionId);
  const r = await c.request("session.attach", { sessionId, sinceSeq });
  // Replayed events follow the response; get_state's answer comes after every one of them.
  await c.request("get_state", {}, sessionId);
  await c.close();
  return { replay: r.replay, events };
}

describe("replay ring, per session", () => {
  withServer({ replayBufferBytes: PER_SESSION });

  it("keeps at most replayBufferBytes per session: older resumes get gap, newer ones replay exactly", async () => {
    const c = await h.connect();
    const { session } = await c.request("session.create", {});
    const events = await stream(c, session.id, 1500);
    const last = events.at(-1)!.seq;
    expect((await attachFrom(session.id, 0)).replay).toBe("gap");
    const recent = await attachFrom(session.id, last - 20);
    expect(recent.replay).toBe("ok");
    // Frames may merge consecutive deltas (a compressing connection's send queue): compare the seqs
    // they cover, which must be exactly the last 20 the live client saw.
    expect(coveredSeqs(recent.events)).toEqual(coveredSeqs(events).slice(-20));
  });
});

describe("replay ring, all sessions together", () => {
  withServer({ replayBufferBytes: PER_SESSION, replayTotalBytes: TOTAL });

  it("keeps at most replayTotalBytes over every session: the largest ring gives way, and says gap", async () => {
    const a = await h.connect();
    const { session: first } = await a.request("session.create", {});
    // About 110 KB of events as the ring counts them: under both bounds while it is the only session.
    const firstEvents = await stream(a, first.id, 280);
    const early = firstEvents[5]!.seq;
    expect((await attachFrom(first.id, early)).replay).toBe("ok");

    // A second session fills the budget; the first, above its half share, makes room.
    const { session } = await a.request("session.create", {});
    await stream(a, session.id, 400);
    expect((await attachFrom(first.id, early)).replay).toBe("gap");
    const last = firstEvents.at(-1)!.seq;
    const tail = await attachFrom(first.id, last - 3);
    expect(tail.replay).toBe("ok");
    expect(coveredSeqs(tail.events)).toEqual([last - 2, last - 1, last]);
  });
});
