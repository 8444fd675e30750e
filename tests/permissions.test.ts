import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PiClient, TypedEvent } from "../src/client/client.js";
import { recordEvents, startHarness, type Harness } from "./helpers/harness.js";

/** The strict profile asks before every write and bash command, which is what these tests drive. */
const CONFIG = { security: { profile: "strict" } };

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ config: CONFIG });
});
afterAll(async () => {
  await h?.close();
});

function setConfig(extra: Record<string, unknown>): void {
  writeFileSync(
    join(h.dataDir, "config.json"),
    JSON.stringify({ defaultModel: "fake/fake-model", ...CONFIG, ...extra }),
  );
}

/** Starts a turn whose only tool call is `call`, and resolves with the permission request it raises. */
async function askFor(
  client: PiClient,
  sessionId: string,
  call: { name: string; args: Record<string, unknown> },
  finalText: string | null = "done",
): Promise<TypedEvent<"permission_request">> {
  h.llm.enqueue({ kind: "tool_call", ...call });
  // A turn that is aborted or cut short never makes the follow-up LLM call.
  if (finalText !== null) h.llm.enqueue({ kind: "text", text: finalText });
  const asked = client.waitForEvent(sessionId, "permission_request");
  await client.request("prompt", { message: `please ${call.name}` }, sessionId);
  return asked;
}

/** What the model was told about the last tool call, from the last LLM request. */
function lastToolResult(): string {
  const messages = h.llm.requests.at(-1)!.body.messages;
  const tool = messages.filter((m) => m.role === "tool").at(-1);
  return tool && typeof tool.content === "string" ? tool.content : JSON.stringify(tool);
}

describe("a tool call the policy asks about", () => {
  it("reaches the client as permission_request; deny keeps the file unwritten and the model sees why", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const events = recordEvents(client, session.id);
    const req = await askFor(client, session.id, {
      name: "write",
      args: { path: "denied.txt", content: "never\n" },
    });
    expect(req.payload).toMatchObject({
      tool: "write",
      input: { path: "denied.txt", content: "never\n" },
      summary: "write denied.txt (6 bytes)",
      options: ["allow_once", "allow_turn", "allow_session", "allow_always", "deny_once", "deny_always"],
    });
    expect(req.payload.reason).toContain("strict profile");
    expect(req.payload.expiresAt - req.payload.createdAt).toBe(10 * 60 * 1000);
    const started = events.find((e) => e.type === "tool_execution_start");
    expect(started?.type === "tool_execution_start" && started.payload.toolCallId).toBe(
      req.payload.toolCallId,
    );

    const { requests } = await client.request("permission.list", { sessionId: session.id });
    expect(requests).toEqual([{ ...req.payload, sessionId: session.id }]);

    const resolved = client.waitForEvent(session.id, "permission_resolved");
    const ended = client.waitForEvent(session.id, "agent_end");
    const answer = await client.request("permission.respond", { id: req.payload.id, decision: "deny_once" });
    expect(answer).toEqual({ id: req.payload.id, decision: "deny_once", rules: [] });
    expect((await resolved).payload).toEqual({
      id: req.payload.id,
      decision: "deny_once",
      by: expect.any(String),
    });
    await ended;

    expect(existsSync(join(session.worktree, "denied.txt"))).toBe(false);
    expect(lastToolResult()).toContain("denied this tool call: write denied.txt");
    const toolEnd = events.find((e) => e.type === "tool_execution_end");
    expect(toolEnd?.type === "tool_execution_end" && toolEnd.payload.isError).toBe(true);

    await expect(
      client.request("permission.respond", { id: req.payload.id, decision: "allow_once" }),
    ).rejects.toMatchObject({ code: "not_found" });
    await expect(
      client.request("permission.respond", { id: "p_0000000000000000", decision: "allow_once" }),
    ).rejects.toMatchObject({ code: "not_found" });
    expect((await client.request("permission.list", {})).requests).toEqual([]);

    const { entries } = await client.request("audit.list", { sessionId: session.id, limit: 10 });
    expect(entries.map((e) => [e.tool, e.layer, e.decision])).toEqual([
      ["write", "user", "deny"],
      ["write", "profile", "ask"],
    ]);
    expect(entries[0]).toMatchObject({
      requestId: req.payload.id,
      reason: "deny_once",
      sessionId: session.id,
    });
  });

  it("allow_once lets the write happen", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const req = await askFor(client, session.id, {
      name: "write",
      args: { path: "allowed.txt", content: "yes\n" },
    });
    const ended = client.waitForEvent(session.id, "agent_end");
    await client.request("permission.respond", { id: req.payload.id, decision: "allow_once" });
    await ended;
    expect(readFileSync(join(session.worktree, "allowed.txt"), "utf8")).toBe("yes\n");
  });

  it("allow_always stores a workspace rule, and the next such call runs without asking", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const req = await askFor(client, session.id, {
      name: "bash",
      args: { command: "git status --short && echo first-run" },
    });
    expect(req.payload.reason).toContain("strict profile asks before running git status --short");
    const resolved = client.waitForEvent(session.id, "permission_resolved");
    const ended = client.waitForEvent(session.id, "agent_end");
    const answer = await client.request("permission.respond", {
      id: req.payload.id,
      decision: "allow_always",
    });
    expect(answer.rules.map((r) => [r.tool, r.match, r.decision, r.scope, r.workspace])).toEqual([
      ["bash", "git status *", "allow", "workspace", "demo"],
      ["bash", "echo first-run *", "allow", "workspace", "demo"],
    ]);
    expect((await resolved).payload.rules).toEqual(answer.rules);
    await ended;
    expect(lastToolResult()).toContain("first-run");

    // Another session on the same repo: the rule applies there too.
    const { session: next } = await client.request("session.create", { repoId: "demo" });
    const events = recordEvents(client, next.id);
    h.llm.enqueue(
      { kind: "tool_call", name: "bash", args: { command: "git status" } },
      { kind: "text", text: "clean" },
    );
    const done = client.waitForEvent(next.id, "agent_end");
    await client.request("prompt", { message: "status again" }, next.id);
    await done;
    expect(events.filter((e) => e.type === "permission_request")).toEqual([]);
    const end = events.find((e) => e.type === "tool_execution_end");
    expect(end?.type === "tool_execution_end" && end.payload.isError).toBe(false);
    const { entries } = await client.request("audit.list", { sessionId: next.id, limit: 5 });
    expect(entries[0]).toMatchObject({ layer: "rule", decision: "allow", ruleId: answer.rules[0]!.id });

    const { rules } = await client.request("rules.list", { sessionId: next.id });
    expect(rules.filter((r) => !r.builtIn).map((r) => r.id)).toEqual(answer.rules.map((r) => r.id));
    for (const r of answer.rules) await client.request("rules.remove", { id: r.id });
  });

  it("allow_session remembers for that session only", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const req = await askFor(client, session.id, { name: "bash", args: { command: "ls -a" } });
    const ended = client.waitForEvent(session.id, "agent_end");
    const { rules } = await client.request("permission.respond", {
      id: req.payload.id,
      decision: "allow_session",
    });
    expect(rules).toMatchObject([{ tool: "bash", match: "ls -a", scope: "session", sessionId: session.id }]);
    await ended;
    const { session: other } = await client.request("session.create", { repoId: "demo" });
    const again = await askFor(client, other.id, { name: "bash", args: { command: "ls -a" } });
    const otherEnded = client.waitForEvent(other.id, "agent_end");
    await client.request("permission.respond", { id: again.payload.id, decision: "deny_once" });
    await otherEnded;
  });

  it("deny_always stores a deny rule: the next such call is blocked without a question", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const req = await askFor(client, session.id, {
      name: "bash",
      args: { command: "git push origin main" },
    });
    expect(req.payload.reason).toContain("pushes to a git remote");
    const ended = client.waitForEvent(session.id, "agent_end");
    const { rules } = await client.request("permission.respond", {
      id: req.payload.id,
      decision: "deny_always",
    });
    expect(rules).toMatchObject([{ match: "git push *", decision: "deny", scope: "workspace" }]);
    await ended;

    const events = recordEvents(client, session.id);
    h.llm.enqueue(
      { kind: "tool_call", name: "bash", args: { command: "timeout 5 git push --force" } },
      { kind: "text", text: "ok" },
    );
    const done = client.waitForEvent(session.id, "agent_end");
    await client.request("prompt", { message: "push harder" }, session.id);
    await done;
    expect(events.filter((e) => e.type === "permission_request")).toEqual([]);
    expect(lastToolResult()).toContain(`Blocked by permission rule ${rules[0]!.id}`);
    await client.request("rules.remove", { id: rules[0]!.id });
  });
});

describe("answering from several clients", () => {
  it("two clients race to answer: exactly one wins, both see the one resolution", async () => {
    const a = await h.connect();
    const b = await h.connect();
    const { session } = await a.request("session.create", { repoId: "demo" });
    await b.request("session.attach", { sessionId: session.id });
    const seenA = recordEvents(a, session.id);
    const seenB = recordEvents(b, session.id);
    const onB = b.waitForEvent(session.id, "permission_request");
    const req = await askFor(a, session.id, { name: "write", args: { path: "race.txt", content: "x" } });
    expect((await onB).payload.id).toBe(req.payload.id);

    const ended = a.waitForEvent(session.id, "agent_end");
    const resolvedOnB = b.waitForEvent(session.id, "permission_resolved");
    const answers = await Promise.allSettled([
      a.request("permission.respond", { id: req.payload.id, decision: "allow_once" }),
      b.request("permission.respond", { id: req.payload.id, decision: "deny_once" }),
    ]);
    const won = answers.filter((r) => r.status === "fulfilled");
    const lost = answers.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: "not_found" });
    const winner = (won[0] as PromiseFulfilledResult<{ decision: string }>).value.decision;
    await Promise.all([ended, resolvedOnB]);

    for (const seen of [seenA, seenB]) {
      const resolutions = seen.filter((e) => e.type === "permission_resolved");
      expect(resolutions.map((e) => e.payload)).toEqual([
        { id: req.payload.id, decision: winner, by: expect.any(String) },
      ]);
    }
    expect(existsSync(join(session.worktree, "race.txt"))).toBe(winner === "allow_once");
  });

  it("a client that reconnects gets the pending request again, right after its attach response", async () => {
    const a = await h.connect();
    const watcher = await h.connect();
    const { session } = await a.request("session.create", { repoId: "demo" });
    await watcher.request("session.attach", { sessionId: session.id });
    const watched = recordEvents(watcher, session.id);
    const req = await askFor(a, session.id, {
      name: "write",
      args: { path: "later.txt", content: "later\n" },
    });
    await a.close();

    const b = await h.connect();
    const frames: string[] = [];
    b.ws.on("message", (data) => {
      const f = JSON.parse(String(data)) as { kind: string; type?: string; result?: unknown };
      frames.push(f.kind === "event" ? `event:${f.type}` : "response");
    });
    const delivered = b.waitForEvent(session.id, "permission_request");
    const attach = await b.request("session.attach", { sessionId: session.id });
    expect(attach.replay).toBe("none");
    const again = await delivered;
    expect(again.payload).toEqual(req.payload);
    expect(again.seq).toBe(req.seq);
    expect(frames.slice(0, 2)).toEqual(["response", "event:permission_request"]);

    // Resuming with sinceSeq from before the request: it arrives once, not twice.
    const c = await h.connect();
    const seenC = recordEvents(c, session.id);
    const resumed = await c.request("session.attach", { sessionId: session.id, sinceSeq: req.seq - 1 });
    expect(resumed.replay).toBe("ok");
    const resolvedOnC = c.waitForEvent(session.id, "permission_resolved");

    const ended = b.waitForEvent(session.id, "agent_end");
    await b.request("permission.respond", { id: req.payload.id, decision: "allow_once" });
    await Promise.all([ended, resolvedOnC]);
    expect(readFileSync(join(session.worktree, "later.txt"), "utf8")).toBe("later\n");
    expect(seenC.filter((e) => e.type === "permission_request")).toHaveLength(1);
    // The re-delivery went to the attaching connection only; the watcher saw the original once.
    expect(watched.filter((e) => e.type === "permission_request")).toHaveLength(1);
  });
});

describe("a waiting gate never hangs", () => {
  it("abort cancels the pending request and ends the turn", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const req = await askFor(
      client,
      session.id,
      {
        name: "write",
        args: { path: "aborted.txt", content: "x" },
      },
      null,
    );
    const resolved = client.waitForEvent(session.id, "permission_resolved");
    const ended = client.waitForEvent(session.id, "agent_end");
    const result = await client.request("abort", {}, session.id);
    expect(result.aborted).toBe(true);
    expect((await resolved).payload).toEqual({ id: req.payload.id, decision: "cancelled", by: "abort" });
    await ended;
    expect(existsSync(join(session.worktree, "aborted.txt"))).toBe(false);
    const state = await client.request("get_state", {}, session.id);
    expect(state).toMatchObject({ status: "idle", isStreaming: false });
    await expect(
      client.request("permission.respond", { id: req.payload.id, decision: "allow_once" }),
    ).rejects.toMatchObject({ code: "not_found" });
    const { entries } = await client.request("audit.list", { sessionId: session.id, limit: 1 });
    expect(entries[0]).toMatchObject({
      layer: "cancel",
      decision: "deny",
      by: "abort",
      requestId: req.payload.id,
    });

    h.llm.enqueue({ kind: "text", text: "still here" });
    const next = client.waitForEvent(session.id, "agent_end");
    await client.request("prompt", { message: "hello again" }, session.id);
    await next;
  });

  it("expiry denies with a reason the model sees", async () => {
    setConfig({ permissions: { timeoutMs: 1500 } });
    try {
      const client = await h.connect();
      const { session } = await client.request("session.create", { repoId: "demo" });
      const resolved = client.waitForEvent(session.id, "permission_resolved");
      const ended = client.waitForEvent(session.id, "agent_end");
      const req = await askFor(client, session.id, {
        name: "write",
        args: { path: "slow.txt", content: "x" },
      });
      expect(req.payload.expiresAt - req.payload.createdAt).toBe(1500);
      expect((await resolved).payload).toEqual({ id: req.payload.id, decision: "expired", by: "timeout" });
      await ended;
      expect(existsSync(join(session.worktree, "slow.txt"))).toBe(false);
      expect(lastToolResult()).toContain("Nobody answered the permission request within 2 seconds");
    } finally {
      setConfig({});
    }
  });
});

describe("a restart during a wait", () => {
  it("keeps the request pending: answered after the restart, the call runs and the turn goes on", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const req = await askFor(
      client,
      session.id,
      {
        name: "write",
        args: { path: "restart.txt", content: "x" },
      },
      null,
    );
    await h.restart();

    const again = await h.connect();
    const pending = (await again.request("permission.list", {})).requests;
    expect(pending.map((r) => r.id)).toEqual([req.payload.id]);
    const resent = again.waitForEvent(session.id, "permission_request");
    await again.request("session.attach", { sessionId: session.id });
    expect((await resent).payload.id).toBe(req.payload.id);
    expect(existsSync(join(session.worktree, "restart.txt"))).toBe(false);

    h.llm.enqueue({ kind: "text", text: "written after the restart" });
    const ended = again.waitForEvent(session.id, "agent_end");
    await again.request("permission.respond", { id: req.payload.id, decision: "allow_once" });
    await ended;
    expect(readFileSync(join(session.worktree, "restart.txt"), "utf8")).toBe("x");
    const { entries } = await again.request("audit.list", { sessionId: session.id, limit: 1 });
    expect(entries[0]).toMatchObject({ layer: "user", decision: "allow", requestId: req.payload.id });
    expect((await again.request("get_state", {}, session.id)).status).toBe("idle");
  });
});
