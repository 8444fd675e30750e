import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PiClient, RpcError } from "../src/client/client.js";
import { type Harness, makeRepo, startHarness } from "./helpers/harness.js";

/**
 * Checkpoints and session.rename through the real server: real tools change the worktree in the
 * real sandbox, the server commits each turn that changed it, and a revert puts the files back.
 */

let h: Harness;
let client: PiClient;

function allowAll(c: PiClient): void {
  c.onEvent((e) => {
    if (e.type === "permission_request") {
      const id = (e.payload as { id: string }).id;
      void c.request("permission.respond", { id, decision: "allow_once" }).catch(() => undefined);
    }
  });
}

/** One turn that runs `command` with the bash tool; resolves once the session is idle again. */
async function bashTurn(sessionId: string, prompt: string, command?: string): Promise<void> {
  if (command !== undefined) h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command } });
  h.llm.enqueue({ kind: "text", text: "done" });
  const idle = client.waitForEvent(sessionId, "session_status", (e) => e.payload.status === "idle", 60_000);
  await client.request("prompt", { message: prompt }, sessionId);
  await idle;
}

async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RpcError);
  return err as RpcError;
}

function gitIn(repo: string, ...args: string[]): string {
  return execFileSync("git", ["-C", repo, ...args], { encoding: "utf8" });
}

beforeAll(async () => {
  const repo = makeRepo({ "README.md": "# demo\n", "src/a.txt": "one\n" });
  h = await startHarness({ repos: { work: repo } });
  client = await h.connect();
  allowAll(client);
}, 60_000);

afterAll(async () => {
  await h.close();
});

describe("checkpoints", () => {
  let sessionId: string;
  let worktree: string;

  it("commits each turn that changed the worktree, and none for a turn that did not", async () => {
    const { session } = await client.request("session.create", { repoId: "work" });
    sessionId = session.id;
    worktree = session.worktree;
    await bashTurn(sessionId, "Write the second line\nand more detail here", "printf 'two\\n' >> src/a.txt");
    await bashTurn(sessionId, "Just look around", "ls > /dev/null");
    await bashTurn(sessionId, "Add notes", "printf 'n\\n' > notes.txt && rm README.md");

    const { checkpoints, enabled } = await client.request("session.checkpoints", { sessionId });
    expect(enabled).toBe(true);
    expect(checkpoints.map((c) => [c.turn, c.message, c.filesChanged])).toEqual([
      [1, "Write the second line", 1],
      [3, "Add notes", 2],
    ]);
    expect(checkpoints[0]!.files).toEqual(["src/a.txt"]);
    expect([...checkpoints[1]!.files].sort()).toEqual(["README.md", "notes.txt"]);
    expect(checkpoints[0]!.entryId).toEqual(expect.any(String));

    // The commits are on the session's branch, by pi-server, and reach the user's repo (session.checkpoints
    // answers once the last turn's export is done).
    const repos = JSON.parse(readFileSync(join(h.dataDir, "repos.json"), "utf8")) as {
      repos: { path: string }[];
    };
    const log = gitIn(repos.repos[0]!.path, "log", "--format=%an|%s", `pi/${sessionId}`);
    expect(log.split("\n").slice(0, 3)).toEqual([
      "pi-server|Add notes",
      "pi-server|Write the second line",
      "Test|init",
    ]);
  });

  it("reverts the worktree to a checkpoint as a new commit, keeping later work in history", async () => {
    const { checkpoints } = await client.request("session.checkpoints", { sessionId });
    const first = checkpoints[0]!;
    // Uncommitted work at revert time is committed first, not lost.
    await bashTurn(sessionId, "scribble", "printf 'x\\n' > scribble.txt");
    const r = await client.request("session.revert", { sessionId, checkpoint: first.id });
    expect(r.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(readFileSync(join(worktree, "src/a.txt"), "utf8")).toBe("one\ntwo\n");
    expect(readFileSync(join(worktree, "README.md"), "utf8")).toBe("# demo\n");
    expect(existsSync(join(worktree, "notes.txt"))).toBe(false);
    expect(existsSync(join(worktree, "scribble.txt"))).toBe(false);
    const after = await client.request("session.checkpoints", { sessionId });
    const last = after.checkpoints.at(-1)!;
    expect(last.commit).toBe(r.commit);
    expect(last.message).toBe(`Revert to checkpoint ${first.id}: Write the second line`);
    // The diff of the session against its base is the first checkpoint's change alone.
    const diff = await client.request("session.diff", {}, sessionId);
    expect(diff.files.map((f) => f.path)).toEqual(["src/a.txt"]);
  });

  it("refuses a revert while a turn runs, and an unknown checkpoint", async () => {
    h.llm.enqueue({ kind: "hang" });
    const started = client.waitForEvent(sessionId, "session_status", (e) => e.payload.status === "running");
    await client.request("prompt", { message: "hang" }, sessionId);
    await started;
    const busy = await rpcError(client.request("session.revert", { sessionId, checkpoint: 1 }));
    expect(busy.code).toBe("conflict");
    const idle = client.waitForEvent(sessionId, "session_status", (e) => e.payload.status === "idle");
    await client.request("abort", {}, sessionId);
    await idle;
    const missing = await rpcError(client.request("session.revert", { sessionId, checkpoint: 999_999 }));
    expect(missing.code).toBe("not_found");
  });

  it("takes no checkpoint when checkpoints.enabled is false", async () => {
    const configFile = join(h.dataDir, "config.json");
    const config = JSON.parse(readFileSync(configFile, "utf8")) as Record<string, unknown>;
    const { writeFileSync } = await import("node:fs");
    writeFileSync(configFile, JSON.stringify({ ...config, checkpoints: { enabled: false } }));
    try {
      const { session } = await client.request("session.create", { repoId: "work" });
      await bashTurn(session.id, "change", "printf 'y\\n' > y.txt");
      const r = await client.request("session.checkpoints", { sessionId: session.id });
      expect(r).toEqual({ checkpoints: [], enabled: false });
      expect(existsSync(join(session.worktree, "y.txt"))).toBe(true);
    } finally {
      writeFileSync(configFile, JSON.stringify(config));
    }
  });
});

describe("session.rename", () => {
  it("renames in session.list and tells another attached client", async () => {
    const { session } = await client.request("session.create", { repoId: "work" });
    expect(session.nameSource).toBe("default");
    const other = await h.connect();
    await other.request("session.attach", { sessionId: session.id });
    const told = other.waitForEvent(session.id, "session_info_changed");
    const r = await client.request("session.rename", { sessionId: session.id, name: "  Fix the parser  " });
    expect(r.session).toMatchObject({ name: "Fix the parser", nameSource: "user" });
    expect((await told).payload.name).toBe("Fix the parser");
    const { sessions } = await other.request("session.list", {});
    expect(sessions.find((s) => s.id === session.id)).toMatchObject({
      name: "Fix the parser",
      nameSource: "user",
    });
    // The name survives a restart (index and pi's history agree).
    await h.restart();
    const again = await h.connect();
    const listed = (await again.request("session.list", {})).sessions.find((s) => s.id === session.id);
    expect(listed).toMatchObject({ name: "Fix the parser", nameSource: "user" });
    client = again;
    allowAll(client);
  });

  it("refuses empty names, control characters and unknown sessions", async () => {
    const { session } = await client.request("session.create", { mode: "chat" });
    for (const name of ["   ", "evil\u001b[2Jname", "two\nlines", "x".repeat(201)]) {
      const err = await rpcError(client.request("session.rename", { sessionId: session.id, name }));
      expect(err.code).toBe("invalid_request");
    }
    const err = await rpcError(client.request("session.rename", { sessionId: "nope", name: "x" }));
    expect(err.code).toBe("not_found");
  });

  it("marks a name given at creation as the user's", async () => {
    const { session } = await client.request("session.create", { mode: "chat", name: "Mine" });
    expect(session.nameSource).toBe("user");
  });
});
