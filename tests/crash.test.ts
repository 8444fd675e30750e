import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AnyEvent, PiClient } from "../src/client/client.js";
import { serveDataDir } from "./helpers/child-server.js";
import { fakeModelsJson, startFakeLlm, type FakeLlm } from "./helpers/fake-llm.js";
import type { FakeStep } from "./helpers/fake-llm.js";
import { recordEvents, tmp, TOKEN } from "./helpers/harness.js";

/** Sends a prompt and resolves once the session is idle again. */
async function runTurn(
  x: { llm: FakeLlm },
  c: PiClient,
  sessionId: string,
  message: string,
  ...steps: FakeStep[]
) {
  x.llm.enqueue(...steps);
  const idle = c.waitForEvent(sessionId, "session_status", (e) => e.payload.status === "idle", 60_000);
  await c.request("prompt", { message }, sessionId);
  await idle;
}

const serve = (dataDir: string) => serveDataDir(dataDir);

let llm: FakeLlm;
let dataDir: string;
beforeAll(async () => {
  llm = await startFakeLlm();
  dataDir = tmp("crash");
  writeFileSync(join(dataDir, "models.json"), JSON.stringify(fakeModelsJson(llm)));
  writeFileSync(join(dataDir, "config.json"), JSON.stringify({ defaultModel: "fake/fake-model" }));
  writeFileSync(join(dataDir, "settings.json"), JSON.stringify({ retry: { enabled: false } }));
  writeFileSync(join(dataDir, "repos.json"), JSON.stringify({ repos: [] }));
});
afterAll(async () => {
  await llm.close();
});

describe("crash and shutdown safety", () => {
  it("after kill -9 mid-stream: listed, history intact, interrupted on attach, seq moves on, next prompt works", async () => {
    const first = serve(dataDir);
    const c = await PiClient.connect(await first.ready, { token: TOKEN });
    const { session } = await c.request("session.create", { name: "crashy" });
    await runTurn({ llm }, c, session.id, "first", { kind: "text", text: "answer one" });
    const history = (await c.request("get_messages", {}, session.id)).messages;
    const seen = recordEvents(c, session.id);
    llm.enqueue({ kind: "text", text: "z".repeat(5000), chunkSize: 5, delayMs: 20 });
    let deltas = 0;
    const streaming = new Promise<void>((resolve) =>
      c.onEvent((e) => {
        if (e.type === "message_update" && ++deltas === 10) resolve();
      }),
    );
    await c.request("prompt", { message: "a long story" }, session.id);
    await streaming;
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    const lastSeen = seen.at(-1)!.seq;

    const second = serve(dataDir);
    const url = await second.ready;
    try {
      const c2 = await PiClient.connect(url, { token: TOKEN });
      const listed = (await c2.request("session.list", {})).sessions.find((s) => s.id === session.id);
      expect(listed).toMatchObject({ name: "crashy", status: "interrupted" });
      const events: AnyEvent[] = recordEvents(c2, session.id);
      const status = c2.waitForEvent(session.id, "session_status");
      const r = await c2.request("session.attach", { sessionId: session.id, sinceSeq: lastSeen });
      // Events after lastSeen died with the process: the seq jumped past them, so the verdict is gap.
      expect(r.replay).toBe("gap");
      expect(r.seq).toBeGreaterThan(lastSeen);
      expect(r.epoch).not.toBe((seen[0] as unknown as { epoch: string }).epoch);
      expect((await status).payload.status).toBe("interrupted");
      const after = (await c2.request("get_messages", {}, session.id)).messages;
      expect(after.slice(0, history.length)).toEqual(history);
      await runTurn({ llm }, c2, session.id, "again", { kind: "text", text: "back" });
      expect(events.every((e) => e.seq > lastSeen)).toBe(true);
      expect((await c2.request("get_state", {}, session.id)).status).toBe("idle");
      await c2.close();
    } finally {
      second.child.kill("SIGKILL");
      await second.exited;
    }
    const db = new Database(join(dataDir, "state.db"), { readonly: true });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
    expect(JSON.parse(readFileSync(join(dataDir, "config.json"), "utf8"))).toMatchObject({
      defaultModel: "fake/fake-model",
    });
  }, 120_000);

  it("SIGTERM: server_shutdown, the running turn ends interrupted, close 1001, exit 0", async () => {
    const proc = serve(dataDir);
    const c = await PiClient.connect(await proc.ready, { token: TOKEN });
    const { session } = await c.request("session.create", {});
    llm.enqueue({ kind: "hang", text: "thinking forever" });
    const started = c.waitForEvent(session.id, "message_update");
    await c.request("prompt", { message: "hang" }, session.id);
    await started;
    const shutdown = c.waitForEvent(session.id, "server_shutdown");
    const interrupted = c.waitForEvent(
      session.id,
      "session_status",
      (e) => e.payload.status === "interrupted",
    );
    const closed = new Promise<number>((r) => c.onClose((code) => r(code)));
    const t0 = Date.now();
    proc.child.kill("SIGTERM");
    const s = await shutdown;
    const i = await interrupted;
    expect(i.seq).toBeGreaterThan(s.seq);
    expect(await closed).toBe(1001);
    expect((await proc.exited).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);

    const again = serve(dataDir);
    try {
      const c2 = await PiClient.connect(await again.ready, { token: TOKEN });
      const listed = (await c2.request("session.list", {})).sessions.find((x) => x.id === session.id);
      expect(listed?.status).toBe("interrupted");
      const r = await c2.request("session.attach", { sessionId: session.id, sinceSeq: i.seq });
      // A clean stop knows its last seq: nothing was lost, the reopened session just says it was interrupted.
      expect(r.replay).toBe("ok");
      await c2.close();
    } finally {
      again.child.kill("SIGTERM");
      await again.exited;
    }
  }, 120_000);
});
