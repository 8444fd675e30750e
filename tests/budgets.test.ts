import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TypedEvent } from "../src/client/client.js";
import { recordEvents, startHarness, type Harness } from "./helpers/harness.js";

/** Only output tokens cost: 1000 USD per million, so one token is $0.001 and the fake's counts decide. */
const COST = { input: 0, output: 1000, cacheRead: 0, cacheWrite: 0 };

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ modelCost: COST, config: { budgets: { perSessionUsd: 0.005 } } });
});
afterAll(async () => {
  await h?.close();
});

function setBudgets(budgets: Record<string, number>): void {
  writeFileSync(join(h.dataDir, "config.json"), JSON.stringify({ defaultModel: "fake/fake-model", budgets }));
}

/** `echo one` as a tool call: {"command":"echo one"} is 21 characters, 6 output tokens, $0.006. */
const echo = (word: string) => ({
  kind: "tool_call" as const,
  name: "bash",
  args: { command: `echo ${word}` },
});

describe("budgets", () => {
  it("pause a multi-step turn before the LLM call that would cross them; continue resumes, stop ends it", async () => {
    setBudgets({ perSessionUsd: 0.005 });
    const client = await h.connect();
    // A name of its own: no title call, so only the turn spends.
    const { session } = await client.request("session.create", { repoId: "demo", name: "spender" });
    const events = recordEvents(client, session.id);
    h.llm.enqueue(echo("one"), echo("two"), { kind: "text", text: "never sent" });
    let asked = client.waitForEvent(session.id, "permission_request");
    const ended = client.waitForEvent(session.id, "agent_end");
    await client.request("prompt", { message: "run two commands" }, session.id);

    // The first call spent $0.006: the second waits for an answer.
    let req: TypedEvent<"permission_request"> = await asked;
    expect(req.payload).toMatchObject({
      kind: "budget",
      tool: "budget",
      options: ["allow_once", "deny_once"],
      budget: { scope: "session", limitUsd: 0.005, stepUsd: 0.005 },
    });
    expect(req.payload.budget?.spentUsd).toBeCloseTo(0.006, 9);
    expect(req.payload.summary).toContain("budget");
    expect(h.llm.requests).toHaveLength(1);
    const listed = await client.request("permission.list", { sessionId: session.id });
    expect(listed.requests.map((r) => r.id)).toEqual([req.payload.id]);
    // Only continue and stop are answers.
    const wrong = await client
      .request("permission.respond", { id: req.payload.id, decision: "allow_session" })
      .catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: "invalid_request" });

    asked = client.waitForEvent(session.id, "permission_request");
    await client.request("permission.respond", { id: req.payload.id, decision: "allow_once" });
    // Continue: one more step from what was spent ($0.011); the second command runs, then the next call asks again.
    req = await asked;
    expect(req.payload.budget?.limitUsd).toBeCloseTo(0.011, 9);
    expect(h.llm.requests).toHaveLength(2);
    await client.request("permission.respond", { id: req.payload.id, decision: "deny_once" });
    const end = await ended;
    expect(end.payload.success).toBe(true);
    expect(h.llm.requests).toHaveLength(2);

    const toolEnds = events.filter((e) => e.type === "tool_execution_end");
    expect(toolEnds.map((e) => JSON.stringify(e.payload.result))).toEqual([
      expect.stringContaining("one"),
      expect.stringContaining("two"),
    ]);
    const resolved = events.filter((e) => e.type === "permission_resolved").map((e) => e.payload.decision);
    expect(resolved).toEqual(["allow_once", "deny_once"]);
    const state = await client.request("get_state", {}, session.id);
    expect(state).toMatchObject({ status: "idle", isStreaming: false });
    const { messages } = await client.request("get_messages", { raw: true }, session.id);
    expect(messages.at(-1)).toMatchObject({ role: "assistant", stopReason: "aborted" });

    const audit = await client.request("audit.list", { sessionId: session.id, limit: 10 });
    expect(audit.entries.filter((e) => e.tool === "budget").map((e) => [e.layer, e.decision])).toEqual([
      ["user", "deny"],
      ["user", "allow"],
    ]);

    // The session is still over its raised budget: the next prompt asks before its first call.
    h.llm.enqueue({ kind: "text", text: "hello" });
    asked = client.waitForEvent(session.id, "permission_request");
    const ended2 = client.waitForEvent(session.id, "agent_end");
    await client.request("prompt", { message: "one more" }, session.id);
    req = await asked;
    expect(h.llm.requests).toHaveLength(2);
    await client.request("permission.respond", { id: req.payload.id, decision: "allow_once" });
    await ended2;
    expect(h.llm.requests).toHaveLength(3);
    h.llm.reset();
  });

  it("a daily budget counts every session of the day, and nobody to ask means stop", async () => {
    setBudgets({ dailyUsd: 0.001 });
    const client = await h.connect();
    const { session } = await client.request("session.create", { mode: "chat", name: "daily" });
    h.llm.enqueue({ kind: "text", text: "unused" });
    const asked = client.waitForEvent(session.id, "permission_request");
    const ended = client.waitForEvent(session.id, "agent_end");
    await client.request("prompt", { message: "hi" }, session.id);
    const req = await asked;
    expect(req.payload.budget).toMatchObject({ scope: "day", limitUsd: 0.001 });
    expect(req.payload.budget?.day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    await client.request("permission.respond", { id: req.payload.id, decision: "deny_once" });
    await ended;
    expect(h.llm.requests).toHaveLength(0);

    // A client that does not answer permission requests: the turn stops at once, unasked.
    const mute = await h.connect({ answersPermissions: false });
    await mute.request("session.attach", { sessionId: session.id });
    await client.request("session.detach", { sessionId: session.id });
    const mutedEnd = mute.waitForEvent(session.id, "agent_end");
    await mute.request("prompt", { message: "hi again" }, session.id);
    await mutedEnd;
    expect(h.llm.requests).toHaveLength(0);
    const audit = await mute.request("audit.list", { sessionId: session.id, limit: 5 });
    expect(audit.entries[0]).toMatchObject({ tool: "budget", layer: "cancel", decision: "deny" });

    const summary = await mute.request("usage.summary", { groupBy: "day" });
    expect(summary.budgets).toMatchObject({ dailyUsd: 0.001, todayLimitUsd: 0.001 });
    h.llm.reset();
  });
});
