import { existsSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordEvents, startHarness, type Harness } from "./helpers/harness.js";

/** Strict, so that a call the tests expect to run without a question would otherwise have asked. */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ config: { security: { profile: "strict" } } });
});
afterAll(async () => {
  await h?.close();
});

describe("the hard-deny list", () => {
  it("catches a symlink and a .. escape into the data dir without asking, whatever the tool", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    symlinkSync(h.dataDir, join(session.worktree, "innocent"));
    const events = recordEvents(client, session.id);
    h.llm.enqueue(
      { kind: "tool_call", name: "read", args: { path: "innocent/config.json" } },
      { kind: "tool_call", name: "bash", args: { command: 'c=innocent; cat "$c/state.db"' } },
      { kind: "tool_call", name: "write", args: { path: "innocent/sessions/evil.txt", content: "x" } },
      { kind: "tool_call", name: "read", args: { path: "../session.jsonl" } },
      { kind: "text", text: "gave up" },
    );
    const ended = client.waitForEvent(session.id, "agent_end");
    await client.request("prompt", { message: "look around" }, session.id);
    await ended;
    expect(events.filter((e) => e.type === "permission_request")).toEqual([]);
    const results = h.llm.requests
      .slice(-4)
      .map((r) => r.body.messages.filter((m) => m.role === "tool").at(-1))
      .map((m) => (m && typeof m.content === "string" ? m.content : ""));
    expect(results).toHaveLength(4);
    for (const r of results) expect(r).toContain("is inside the server's data directory");
    expect(existsSync(join(h.dataDir, "sessions", "evil.txt"))).toBe(false);
    const { entries } = await client.request("audit.list", { sessionId: session.id, limit: 10 });
    expect(entries.map((e) => [e.layer, e.ruleId, e.decision])).toEqual(
      Array(4).fill(["builtin", "builtin:server-data-dir", "deny"]),
    );
  });
});

describe("rules and audit over the protocol", () => {
  it("lists built-in entries, refuses to remove them, adds and removes stored rules, pages the audit", async () => {
    const client = await h.connect();
    const { rules } = await client.request("rules.list", {});
    const builtIn = rules.filter((r) => r.builtIn);
    expect(builtIn.map((r) => r.id)).toEqual([
      "builtin:privilege-escalation",
      "builtin:destroy-root-or-home",
      "builtin:fork-bomb",
      "builtin:server-data-dir",
      "builtin:secret-env",
    ]);
    expect(builtIn.every((r) => r.decision === "deny" && r.scope === "global")).toBe(true);
    await expect(
      client.request("rules.remove", { id: "builtin:privilege-escalation" }),
    ).rejects.toMatchObject({
      code: "forbidden",
    });

    const { rule } = await client.request("rules.add", {
      tool: "write",
      match: "notes/**",
      decision: "allow",
      scope: "global",
      note: "scratch notes",
    });
    expect(rule).toMatchObject({
      tool: "write",
      match: "notes/**",
      builtIn: false,
      createdBy: expect.any(String),
    });
    await expect(
      client.request("rules.add", { tool: "bash", decision: "allow", scope: "session" }),
    ).rejects.toMatchObject({ code: "invalid_request" });
    await expect(
      client.request("rules.add", { tool: "bash", decision: "allow", scope: "session", sessionId: "nope" }),
    ).rejects.toMatchObject({ code: "not_found" });
    await expect(
      client.request("rules.add", { tool: "bash", decision: "allow", scope: "global", expiresAt: 1 }),
    ).rejects.toMatchObject({ code: "invalid_request" });

    const { session } = await client.request("session.create", { repoId: "demo" });
    const events = recordEvents(client, session.id);
    h.llm.enqueue(
      { kind: "tool_call", name: "write", args: { path: "notes/today.md", content: "hi\n" } },
      { kind: "text", text: "noted" },
    );
    const ended = client.waitForEvent(session.id, "agent_end");
    await client.request("prompt", { message: "take a note" }, session.id);
    await ended;
    expect(events.filter((e) => e.type === "permission_request")).toEqual([]);
    expect(readFileSync(join(session.worktree, "notes/today.md"), "utf8")).toBe("hi\n");

    expect(await client.request("rules.remove", { id: rule.id })).toEqual({ removed: rule });
    await expect(client.request("rules.remove", { id: rule.id })).rejects.toMatchObject({
      code: "not_found",
    });

    const first = await client.request("audit.list", { limit: 2 });
    expect(first.entries).toHaveLength(2);
    expect(first.entries[0]!.id).toBeGreaterThan(first.entries[1]!.id);
    const second = await client.request("audit.list", { limit: 2, before: first.nextBefore! });
    expect(second.entries[0]!.id).toBeLessThan(first.entries[1]!.id);
    const all = await client.request("audit.list", { limit: 1000 });
    expect(all.nextBefore).toBeNull();
  });
});
