import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { PiClient } from "../src/client/client.js";
import { makeRepo, runTurn, startHarness, textOf, type Harness } from "./helpers/harness.js";

let h: Harness;
let other: string;
/** Creates (and so is attached to) every session of these tests. */
let client: PiClient;

beforeAll(async () => {
  other = makeRepo({ "OTHER.md": "other\n" });
  h = await startHarness({
    repos: {},
    config: { sessions: { idleUnloadMinutes: 0 } },
    start: { limits: { maxSessionsPerWorkspace: 3, maxSessionsGlobal: 4 } },
  });
  writeFileSync(
    join(h.dataDir, "repos.json"),
    JSON.stringify({
      repos: [
        { id: "demo", name: "demo", path: h.repo },
        { id: "other", name: "other", path: other },
      ],
    }),
  );
  client = await h.connect();
});
afterAll(async () => {
  await h?.close();
});

function setIdleUnloadMinutes(minutes: number): void {
  const file = join(h.dataDir, "config.json");
  const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify({ ...config, sessions: { idleUnloadMinutes: minutes } }));
}

async function loaded(client: PiClient, id: string): Promise<boolean> {
  const { sessions } = await client.request("session.list", {});
  return sessions.find((s) => s.id === id)?.loaded ?? false;
}

describe("loaded-session limits", () => {
  let ids: string[] = [];

  it("three parallel sessions on one repo change files only in their own worktrees", async () => {
    const created = await Promise.all(
      [0, 1, 2].map(() => client.request("session.create", { repoId: "demo" })),
    );
    ids = created.map((c) => c.session.id);
    h.llm.setResponder((req) => {
      const last = req.body.messages[req.body.messages.length - 1];
      if (last?.role === "tool") return { kind: "text", text: "written" };
      const text = JSON.stringify(last?.content ?? "");
      const n = /turn-(\d)/.exec(text)?.[1] ?? "x";
      return {
        kind: "tool_call",
        name: "write",
        args: { path: `own-${n}.txt`, content: `from session ${n}\n` },
      };
    });
    try {
      await Promise.all(
        created.map(async (c, i) => {
          const ended = client.waitForEvent(c.session.id, "agent_end", () => true, 60_000);
          await client.request("prompt", { message: `turn-${i}` }, c.session.id);
          await ended;
        }),
      );
    } finally {
      h.llm.setResponder(undefined);
    }
    created.forEach((c, i) => {
      expect(readFileSync(join(c.session.worktree, `own-${i}.txt`), "utf8")).toBe(`from session ${i}\n`);
      created.forEach((other, j) => {
        if (j !== i) expect(existsSync(join(other.session.worktree, `own-${i}.txt`))).toBe(false);
      });
    });
    expect(execFileSync("git", ["status", "--porcelain"], { cwd: h.repo, encoding: "utf8" })).toBe("");
  });

  it("past maxSessionsPerWorkspace and maxSessionsGlobal, session.create says which limit", async () => {
    await expect(client.request("session.create", { repoId: "demo" })).rejects.toMatchObject({
      code: "limit_exceeded",
      message: expect.stringContaining("maxSessionsPerWorkspace"),
      data: { limit: "maxSessionsPerWorkspace", max: 3, loaded: 3, workspaceId: "demo" },
    });
    const fourth = await client.request("session.create", { repoId: "other" });
    ids.push(fourth.session.id);
    await expect(client.request("session.create", { repoId: "other" })).rejects.toMatchObject({
      code: "limit_exceeded",
      message: expect.stringContaining("maxSessionsGlobal"),
      data: { limit: "maxSessionsGlobal", max: 4, loaded: 4 },
    });
    // Scratch sessions count against the global limit too.
    await expect(client.request("session.create", {})).rejects.toMatchObject({
      data: { limit: "maxSessionsGlobal" },
    });
    const { workspaces } = await client.request("workspaces.list", {});
    expect(workspaces.find((w) => w.id === "demo")?.loadedSessions).toBe(3);
  });

  it("idle sessions unload, free their slot, and come back on attach, resume and prompt with history and seq", async () => {
    // A session with a turn still running is never unloaded, attached or not.
    const busyClient = await h.connect();
    const busy = ids[3] as string;
    await busyClient.request("session.attach", { sessionId: busy });
    h.llm.enqueue({ kind: "hang" });
    const started = busyClient.waitForEvent(busy, "agent_start");
    await busyClient.request("prompt", { message: "take your time" }, busy);
    await started;
    await busyClient.request("session.detach", { sessionId: busy });
    await client.request("session.detach", { sessionId: busy });

    const first = ids[0] as string;
    const before = (await client.request("session.list", {})).sessions.find((s) => s.id === first);
    const { messages: history } = await client.request("get_messages", {}, first);
    // Every connection that holds the demo sessions lets go of them.
    for (const id of ids.slice(0, 3)) await client.request("session.detach", { sessionId: id });
    setIdleUnloadMinutes(0.002);
    await vi.waitFor(
      async () => {
        for (const id of ids.slice(0, 3)) expect(await loaded(client, id)).toBe(false);
      },
      { timeout: 30_000, interval: 50 },
    );
    expect(await loaded(client, busy)).toBe(true);

    // The slot is free: a new session on the full workspace is accepted.
    setIdleUnloadMinutes(0);
    const fresh = await client.request("session.create", { repoId: "demo" });
    expect(fresh.session.loaded).toBe(true);

    // Reloading the unloaded ones: loaded now are the busy one and the fresh one.
    const resumed = await client.request("session.resume", { sessionId: first });
    expect(resumed.session.loaded).toBe(true);
    expect(resumed.seq).toBe(before?.seq);
    const att = await client.request("session.attach", { sessionId: first, sinceSeq: resumed.seq });
    expect(att.replay).toBe("ok");
    const { messages } = await client.request("get_messages", {}, first);
    expect(messages.map(textOf)).toEqual(history.map(textOf));

    // Busy, fresh, first and second fill the global limit: the third cannot come back.
    const second = ids[1] as string;
    const third = ids[2] as string;
    await client.request("session.attach", { sessionId: second });
    await expect(client.request("session.attach", { sessionId: third })).rejects.toMatchObject({
      code: "limit_exceeded",
      data: { limit: "maxSessionsGlobal", max: 4 },
    });
    await expect(client.request("get_state", {}, third)).rejects.toMatchObject({ code: "limit_exceeded" });

    // A prompt to a reloaded session continues its seq and history.
    const seqs: number[] = [];
    client.onEvent((e) => {
      if (e.sessionId === first) seqs.push(e.seq);
    });
    await runTurn(h, client, first, "again", { kind: "text", text: "back" });
    expect(Math.min(...seqs)).toBe((before?.seq ?? 0) + 1);
    const after = await client.request("get_messages", {}, first);
    expect(after.messages.length).toBe(history.length + 2);

    await busyClient.request("abort", {}, busy);
  });
});
