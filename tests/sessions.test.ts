import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RpcError } from "../src/client/client.js";
import {
  makeRepo,
  recordEvents,
  runTurn,
  startHarness,
  textOf,
  tmp,
  type Harness,
} from "./helpers/harness.js";

let h: Harness;
let plainDir: string;
let emptyRepo: string;
beforeAll(async () => {
  plainDir = tmp("plain");
  emptyRepo = tmp("empty-repo");
  execFileSync("git", ["init", "-q"], { cwd: emptyRepo });
  h = await startHarness({
    start: { limits: { maxSessions: 6 } },
  });
  const good = h.repo;
  writeFileSync(
    join(h.dataDir, "repos.json"),
    JSON.stringify({
      repos: [
        { id: "demo", name: "Demo", path: good },
        { id: "other", name: "Other", path: makeRepo({ "src/a.ts": "export const a = 1;\n" }) },
        { id: "ghost", name: "Ghost", path: "/nonexistent/repo" },
        { id: "plain", name: "Plain", path: plainDir },
        { id: "empty", name: "Empty", path: emptyRepo },
        { id: "demo", name: "Dup", path: good },
        { id: "rel", name: "Relative", path: "relative/path" },
        { name: "no id", path: good },
      ],
    }),
  );
});
afterAll(async () => {
  await h?.close();
});

const git = (cwd: string, ...args: string[]): string => execFileSync("git", args, { cwd, encoding: "utf8" });

describe("repos", () => {
  it("reports each bad entry with its reason without hiding the good ones", async () => {
    const client = await h.connect();
    const { repos } = await client.request("repos.list", {});
    const byId = (id: string, i = 0) => repos.filter((r) => r.id === id)[i];
    expect(byId("demo")).toMatchObject({ ok: true, name: "Demo" });
    expect(byId("other")).toMatchObject({ ok: true });
    expect(byId("ghost")).toMatchObject({ ok: false, error: expect.stringContaining("does not exist") });
    expect(byId("plain")).toMatchObject({
      ok: false,
      error: expect.stringContaining("not a git repository"),
    });
    expect(byId("empty")).toMatchObject({ ok: false, error: expect.stringContaining("no commits") });
    expect(byId("demo", 1)).toMatchObject({ ok: false, error: expect.stringContaining("duplicate id") });
    expect(byId("rel")).toMatchObject({ ok: false, error: expect.stringContaining("absolute") });
    expect(repos.find((r) => r.name === "no id")).toMatchObject({
      ok: false,
      error: expect.stringContaining('"id"'),
    });

    await expect(client.request("session.create", { repoId: "plain" })).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringContaining("not a git repository"),
    });
    await expect(client.request("session.create", { repoId: "empty" })).rejects.toMatchObject({
      code: "conflict",
    });
  });

  it("answers internal with the file's problem when repos.json is unreadable", async () => {
    const file = join(h.dataDir, "repos.json");
    const good = readFileSync(file, "utf8");
    writeFileSync(file, "{ nope");
    const client = await h.connect();
    await expect(client.request("repos.list", {})).rejects.toMatchObject({
      code: "internal",
      message: expect.stringContaining("not valid JSON"),
    });
    writeFileSync(file, good);
    expect((await client.request("repos.list", {})).repos.length).toBe(8);
  });
});

describe("session lifecycle", () => {
  it("survives a restart: listed, re-attached from its pi file with history, model and growing seq", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "other", name: "persist me" });
    await client.request("set_model", { provider: "fake", modelId: "fake-model-2" }, session.id);
    await runTurn(h, client, session.id, "pick a number", { kind: "text", text: "remember the number 42" });
    const before = await client.request("get_messages", {}, session.id);
    const seqBefore = (await client.request("get_state", {}, session.id)).seq;
    expect(existsSync(session.piSessionFile)).toBe(true);

    const shutdown = client.waitForEvent(session.id, "server_shutdown");
    await h.restart();
    // The attached client was told, with one more seq.
    expect((await shutdown).seq).toBe(seqBefore + 1);
    const again = await h.connect();
    const listed = (await again.request("session.list", {})).sessions.find((s) => s.id === session.id);
    expect(listed).toMatchObject({
      name: "persist me",
      model: "fake/fake-model-2",
      loaded: false,
      status: "idle",
    });

    const attached = await again.request("session.attach", { sessionId: session.id });
    expect(attached.session).toMatchObject({
      loaded: true,
      model: "fake/fake-model-2",
      branch: `pi/${session.id}`,
    });
    expect(attached.seq).toBe(seqBefore + 1);
    const after = await again.request("get_messages", {}, session.id);
    expect(after.messages).toEqual(before.messages);

    const events = recordEvents(again, session.id);
    await runTurn(h, again, session.id, "which number?", { kind: "text", text: "it was 42" });
    expect(events[0]!.seq).toBe(seqBefore + 2);
    const sent = h.llm.requests.at(-1)!.body;
    expect(sent.model).toBe("fake-model-2");
    expect(JSON.stringify(sent.messages)).toContain("remember the number 42");
    expect(textOf((await again.request("get_messages", {}, session.id)).messages.at(-1))).toBe("it was 42");
  });

  it("deletes without force by committing uncommitted changes to the branch; keeps branch and history", async () => {
    const client = await h.connect();
    const watcher = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    await watcher.request("session.attach", { sessionId: session.id });
    await runTurn(h, client, session.id, "hi", { kind: "text", text: "hello" });
    // The turn's end (its checkpoint) is over before anything else changes the worktree.
    await client.request("session.checkpoints", { sessionId: session.id });
    writeFileSync(join(session.worktree, "wip.txt"), "work in progress\n");
    writeFileSync(join(session.worktree, "README.md"), "# changed\n");

    // Deleting the branch too would lose them: that still needs force.
    const refused = await client
      .request("session.delete", { sessionId: session.id, deleteBranch: true })
      .catch((e: unknown) => e as RpcError);
    expect(refused).toMatchObject({ code: "conflict", data: { changes: [" M README.md", "?? wip.txt"] } });
    expect((refused as RpcError).details).toBe(" M README.md\n?? wip.txt");

    const deletedEvent = watcher.waitForEvent(session.id, "session_deleted");
    const res = await client.request("session.delete", { sessionId: session.id });
    expect(res).toMatchObject({
      deleted: true,
      branchKept: `pi/${session.id}`,
      historyKept: session.piSessionFile,
      committed: { branch: `pi/${session.id}`, files: 2 },
      filesKept: null,
    });
    await deletedEvent;
    expect(git(h.repo, "rev-parse", `pi/${session.id}`).trim()).toBe(res.committed?.commit);
    expect(git(h.repo, "show", `pi/${session.id}:wip.txt`)).toBe("work in progress\n");
    expect(git(h.repo, "show", `pi/${session.id}:README.md`)).toBe("# changed\n");
    expect(git(h.repo, "show", "main:README.md")).toBe("# demo\n");
    expect(existsSync(session.worktree)).toBe(false);
    expect(existsSync(session.piSessionFile)).toBe(true);
    expect(git(h.repo, "worktree", "list")).not.toContain(session.id);
    expect((await client.request("session.list", {})).sessions.map((s) => s.id)).not.toContain(session.id);
    await expect(client.request("get_state", {}, session.id)).rejects.toMatchObject({ code: "not_found" });
    await expect(client.request("session.delete", { sessionId: session.id })).rejects.toMatchObject({
      code: "not_found",
    });
  });

  it("force discards uncommitted changes", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    writeFileSync(join(session.worktree, "scrap.txt"), "throw away\n");
    const res = await client.request("session.delete", { sessionId: session.id, force: true });
    expect(res).toEqual({
      deleted: true,
      branchKept: `pi/${session.id}`,
      historyKept: null,
      committed: null,
      filesKept: null,
    });
    expect(git(h.repo, "rev-parse", `pi/${session.id}`)).toBe(git(h.repo, "rev-parse", "main"));
    expect(existsSync(session.worktree)).toBe(false);
  });

  it("deletes branch and history when asked", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    await runTurn(h, client, session.id, "hi", { kind: "text", text: "hello" });
    const res = await client.request("session.delete", {
      sessionId: session.id,
      deleteBranch: true,
      deleteHistory: true,
    });
    expect(res).toEqual({
      deleted: true,
      branchKept: null,
      historyKept: null,
      committed: null,
      filesKept: null,
    });
    expect(git(h.repo, "branch", "--list", `pi/${session.id}`)).toBe("");
    expect(existsSync(join(h.dataDir, "sessions", session.id))).toBe(false);
  });

  it("runs scratch sessions in an empty directory and keeps their files on delete unless forced", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", {});
    expect(session).toMatchObject({ repoId: null, branch: null });
    expect(readdirSync(session.worktree)).toEqual([]);
    await runTurn(
      h,
      client,
      session.id,
      "where are you",
      { kind: "tool_call", name: "bash", args: { command: "pwd > where.txt" } },
      { kind: "text", text: "done" },
    );
    expect(readFileSync(join(session.worktree, "where.txt"), "utf8").trim()).toBe(session.worktree);
    await expect(
      client.request("session.delete", { sessionId: session.id, deleteHistory: true }),
    ).rejects.toMatchObject({ code: "conflict", data: { changes: ["where.txt"] } });
    const res = await client.request("session.delete", { sessionId: session.id });
    const kept = join(h.dataDir, "sessions", session.id, "files");
    expect(res).toMatchObject({ committed: null, filesKept: kept, historyKept: session.piSessionFile });
    expect(readFileSync(join(kept, "where.txt"), "utf8").trim()).toBe(session.worktree);
    expect(existsSync(session.worktree)).toBe(false);

    const other = (await client.request("session.create", {})).session;
    writeFileSync(join(other.worktree, "junk.txt"), "x");
    const forced = await client.request("session.delete", { sessionId: other.id, force: true });
    expect(forced).toMatchObject({ filesKept: null });
    expect(existsSync(join(h.dataDir, "sessions", other.id))).toBe(false);
  });

  it("deletes a running session: the turn is aborted, the session is gone", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", {});
    h.llm.enqueue({ kind: "hang", text: "..." });
    const delta = client.waitForEvent(
      session.id,
      "message_update",
      (e) => e.payload.assistantMessageEvent.type === "text_delta",
    );
    await client.request("prompt", { message: "go" }, session.id);
    await delta;
    const deleted = client.waitForEvent(session.id, "session_deleted");
    await client.request("session.delete", { sessionId: session.id });
    await deleted;
    expect((await client.request("session.list", {})).sessions.map((s) => s.id)).not.toContain(session.id);
  });

  it("caps the number of sessions with limit_exceeded", async () => {
    const client = await h.connect();
    const count = (await client.request("session.list", {})).sessions.length;
    for (let i = count; i < 4; i++) await client.request("session.create", {});
    const racing = await Promise.allSettled([1, 2, 3, 4].map(() => client.request("session.create", {})));
    expect(racing.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    expect((await client.request("session.list", {})).sessions).toHaveLength(6);
    await expect(client.request("session.create", {})).rejects.toMatchObject({
      code: "limit_exceeded",
      data: { maxSessions: 6 },
    });
  });
});

describe("data dir", () => {
  it("keeps dirs 0700 and files 0600, and pi writes nothing to ~/.pi", () => {
    const check = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = statSync(p);
        // The agent's own files: a worktree, or a deleted scratch session's worktree kept as files/.
        if (name === "worktree" || name === "files") continue;
        if (st.isDirectory()) {
          expect([p, st.mode & 0o777]).toEqual([p, 0o700]);
          check(p);
        } else if (p.includes("/repos/") && (st.mode & 0o777) === 0o400) {
          // git keeps its object files read-only: stricter than 0600, still private
          continue;
        } else expect([p, st.mode & 0o777]).toEqual([p, 0o600]);
      }
    };
    mkdirSync(join(h.dataDir, "skills"), { recursive: true });
    check(h.dataDir);
    const home = process.env.PI_SERVER_TEST_HOME;
    expect(home).toBeTruthy();
    expect(existsSync(join(home!, ".pi"))).toBe(false);
  });
});
