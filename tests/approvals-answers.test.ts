import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PiClient, TypedEvent } from "../src/client/client.js";
import { startHarness, type Harness } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ config: { security: { profile: "strict" } } });
});
afterAll(async () => {
  await h?.close();
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec(process.execPath, [BIN, ...args, "--data-dir", h.dataDir]).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

async function ask(
  c: PiClient,
  sessionId: string,
  command: string,
  final = "done",
): Promise<TypedEvent<"permission_request">> {
  h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command } }, { kind: "text", text: final });
  const asked = c.waitForEvent(sessionId, "permission_request");
  await c.request("prompt", { message: "go" }, sessionId);
  return asked;
}

function lastToolResult(): string {
  const tool = h.llm.requests
    .at(-1)!
    .body.messages.filter((m) => m.role === "tool")
    .at(-1);
  return tool && typeof tool.content === "string" ? tool.content : "";
}

describe("an approval is answered exactly once, wherever it is answered", () => {
  it("from the CLI: the call runs, every client sees it close, later answers find nothing", async () => {
    const a = await h.connect();
    const b = await h.connect();
    const { session } = await a.request("session.create", { repoId: "demo" });
    await b.request("session.attach", { sessionId: session.id });
    const req = await ask(a, session.id, "echo from-cli > cli.txt");

    const listed = await cli("approvals", "list", "--json");
    expect(listed.code).toBe(0);
    const rows = (JSON.parse(listed.stdout) as { requests: { id: string; summary: string }[] }).requests;
    expect(rows.map((r) => r.id)).toEqual([req.payload.id]);

    const seenA = a.waitForEvent(session.id, "permission_resolved");
    const seenB = b.waitForEvent(session.id, "permission_resolved");
    const ended = a.waitForEvent(session.id, "agent_end");
    const allowed = await cli("approvals", "allow", req.payload.id);
    expect(allowed).toMatchObject({ code: 0 });
    expect(allowed.stdout).toContain("allow_once: echo from-cli");
    for (const seen of [await seenA, await seenB])
      expect(seen.payload).toEqual({ id: req.payload.id, decision: "allow_once", by: "cli" });
    await ended;
    expect(readFileSync(join(session.worktree, "cli.txt"), "utf8")).toBe("from-cli\n");

    await expect(
      b.request("permission.respond", { id: req.payload.id, decision: "deny_once" }),
    ).rejects.toMatchObject({ code: "not_found" });
    const again = await cli("approvals", "deny", req.payload.id);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(`no pending permission request ${req.payload.id}`);
  });

  it("from a socket first: the CLI's answer is refused and changes nothing", async () => {
    const c = await h.connect();
    const { session } = await c.request("session.create", { repoId: "demo" });
    const req = await ask(c, session.id, "echo never > socket.txt");
    const ended = c.waitForEvent(session.id, "agent_end");
    await c.request("permission.respond", { id: req.payload.id, decision: "deny_once" });
    const late = await cli("approvals", "allow", req.payload.id);
    expect(late.code).not.toBe(0);
    await ended;
    expect(existsSync(join(session.worktree, "socket.txt"))).toBe(false);
    expect((await cli("approvals", "list")).stdout).toContain("nothing is waiting");
  });
});

describe("steering while waiting", () => {
  it("a denial with a message: the model reads the user's words", async () => {
    const c = await h.connect();
    const { session } = await c.request("session.create", { repoId: "demo" });
    const req = await ask(c, session.id, "git push origin main");
    const resolved = c.waitForEvent(session.id, "permission_resolved");
    const ended = c.waitForEvent(session.id, "agent_end");
    await c.request("permission.respond", {
      id: req.payload.id,
      decision: "deny_once",
      message: "push to the staging branch instead",
    });
    expect((await resolved).payload.message).toBe("push to the staging branch instead");
    await ended;
    expect(lastToolResult()).toContain("denied this tool call: git push origin main");
    expect(lastToolResult()).toContain("The user says: push to the staging branch instead");
    await expect(
      c.request("permission.respond", { id: "p_x", decision: "allow_once", message: "hi" }),
    ).rejects.toMatchObject({ code: "not_found" });
  });

  it("a message only goes with a denial; the CLI's denial carries one too", async () => {
    const c = await h.connect();
    const { session } = await c.request("session.create", { repoId: "demo" });
    const req = await ask(c, session.id, "rm -r build");
    await expect(
      c.request("permission.respond", { id: req.payload.id, decision: "allow_once", message: "sure" }),
    ).rejects.toMatchObject({ code: "invalid_request" });
    const ended = c.waitForEvent(session.id, "agent_end");
    const denied = await cli("approvals", "deny", req.payload.id, "--message", "keep build/, run make clean");
    expect(denied.code).toBe(0);
    await ended;
    expect(lastToolResult()).toContain("The user says: keep build/, run make clean");
  });

  it("allow_turn: calls like it run without asking for the rest of the run, and ask again in the next", async () => {
    const c = await h.connect();
    const { session } = await c.request("session.create", { repoId: "demo" });
    const requests: string[] = [];
    c.onEvent((e) => {
      if (e.sessionId === session.id && e.type === "permission_request") requests.push(e.payload.id);
    });
    h.llm.enqueue(
      { kind: "tool_call", name: "bash", args: { command: "git status --short" } },
      { kind: "tool_call", name: "bash", args: { command: "git status --porcelain" } },
      { kind: "text", text: "both ran" },
    );
    const asked = c.waitForEvent(session.id, "permission_request");
    await c.request("prompt", { message: "status twice" }, session.id);
    const req = await asked;
    const ended = c.waitForEvent(session.id, "agent_end");
    const answer = await c.request("permission.respond", { id: req.payload.id, decision: "allow_turn" });
    expect(answer.rules.map((r) => [r.tool, r.match, r.scope, r.sessionId])).toEqual([
      ["bash", "git status *", "session", session.id],
    ]);
    await ended;
    expect(requests).toEqual([req.payload.id]);
    const results = h.llm.requests
      .at(-1)!
      .body.messages.filter((m) => m.role === "tool")
      .map((m) => String(m.content));
    expect(results.slice(-2).some((r) => /denied|Blocked|Not run/.test(r))).toBe(false);
    expect(
      (await c.request("rules.list", { sessionId: session.id })).rules.filter((r) => !r.builtIn),
    ).toEqual([]);

    const next = await ask(c, session.id, "git status --branch");
    expect(next.payload.summary).toContain("git status --branch");
    const done = c.waitForEvent(session.id, "agent_end");
    await c.request("permission.respond", { id: next.payload.id, decision: "deny_once" });
    await done;
  });
});
