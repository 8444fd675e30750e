import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, recordEvents, textOf, type Harness } from "./helpers/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("a full turn on a git worktree", () => {
  it("streams text, runs pi's real write and bash tools in the worktree, and reports seqs in order", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo", name: "first" });
    expect(session.branch).toBe(`pi/${session.id}`);
    expect(session.worktree).toBe(join(h.dataDir, "sessions", session.id, "worktree"));
    expect(readFileSync(join(session.worktree, "README.md"), "utf8")).toBe("# demo\n");
    expect(session.model).toBe("fake/fake-model");

    const events = recordEvents(client, session.id);
    h.llm.enqueue(
      { kind: "tool_call", name: "write", args: { path: "hello.txt", content: "hi from pi\n" } },
      {
        kind: "tool_call",
        name: "bash",
        args: { command: "cat hello.txt | tr a-z A-Z > upper.txt && echo done" },
      },
      { kind: "text", text: "I wrote hello.txt and upper.txt for you." },
    );
    const ended = client.waitForEvent(session.id, "agent_end");
    const ack = await client.request("prompt", { message: "write a greeting" }, session.id);
    expect(ack).toEqual({ accepted: true, queued: false });
    await ended;

    expect(readFileSync(join(session.worktree, "hello.txt"), "utf8")).toBe("hi from pi\n");
    expect(readFileSync(join(session.worktree, "upper.txt"), "utf8")).toBe("HI FROM PI\n");
    expect(existsSync(join(h.repo, "hello.txt"))).toBe(false);

    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("session_status");
    expect(types).toContain("agent_start");
    expect(types.filter((t) => t === "tool_execution_end")).toHaveLength(2);
    expect(types.at(-1)).toBe("session_status");

    const bashEnd = events.find((e) => e.type === "tool_execution_end" && e.payload.toolName === "bash");
    expect(JSON.stringify(bashEnd?.payload)).toContain("done");

    const text = events
      .filter((e) => e.type === "message_update" && e.payload.delta.type === "text_delta")
      .map((e) => (e.type === "message_update" ? e.payload.delta.delta : ""))
      .join("");
    expect(text).toBe("I wrote hello.txt and upper.txt for you.");
    for (const e of events.filter((e) => e.type === "message_update")) {
      expect(JSON.stringify(e.payload)).not.toContain("partial");
    }
    const finals = events
      .filter((e) => e.type === "message_end")
      .map((e) => e.type === "message_end" && e.payload.message);
    expect(textOf(finals.at(-1))).toBe("I wrote hello.txt and upper.txt for you.");

    const { state } = await client.request("get_state", {}, session.id);
    expect(state.status).toBe("idle");
    expect(state.isStreaming).toBe(false);
    expect(state.seq).toBe(seqs.at(-1));

    const { messages } = await client.request("get_messages", {}, session.id);
    const roles = messages.map((m) => (m as { role: string }).role);
    expect(roles).toEqual(["user", "assistant", "toolResult", "assistant", "toolResult", "assistant"]);

    // The model saw the tool result of the write.
    const third = h.llm.requests[2]!.body.messages;
    expect(JSON.stringify(third)).toContain("upper.txt");
  });
});
