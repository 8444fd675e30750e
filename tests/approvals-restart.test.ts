import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PiClient } from "../src/client/client.js";
import { serveDataDir } from "./helpers/child-server.js";
import { fakeModelsJson, startFakeLlm, type FakeLlm, type FakeRequest } from "./helpers/fake-llm.js";
import { makeRepo, textOf, tmp, TOKEN } from "./helpers/harness.js";

const serve = (dataDir: string) => serveDataDir(dataDir);

/** The model's last tool result, as the fake LLM received it. */
function toolResultOf(req: FakeRequest): string {
  const tool = req.body.messages.filter((m) => m.role === "tool").at(-1);
  return tool && typeof tool.content === "string" ? tool.content : "";
}

let llm: FakeLlm;
let dataDir: string;
beforeAll(async () => {
  llm = await startFakeLlm();
  dataDir = tmp("resume");
  const repo = makeRepo();
  writeFileSync(join(dataDir, "models.json"), JSON.stringify(fakeModelsJson(llm)));
  writeFileSync(
    join(dataDir, "config.json"),
    JSON.stringify({ defaultModel: "fake/fake-model", security: { profile: "strict" } }),
  );
  writeFileSync(join(dataDir, "settings.json"), JSON.stringify({ retry: { enabled: false } }));
  writeFileSync(
    join(dataDir, "repos.json"),
    JSON.stringify({ repos: [{ id: "demo", name: "demo", path: repo }] }),
  );
  // The final answer quotes what the tool told the model: the resumed turn must have fed it back.
  llm.setResponder((req) =>
    req.body.messages.at(-1)?.role === "tool"
      ? { kind: "text", text: `final: ${toolResultOf(req).trim()}` }
      : { kind: "text", text: "unexpected" },
  );
});
afterAll(async () => {
  await llm.close();
});

/** Starts a turn whose bash call the strict profile asks about; resolves with the request. */
async function waitingTurn(c: PiClient, command: string) {
  const { session } = await c.request("session.create", { repoId: "demo" });
  llm.enqueue({ kind: "tool_call", name: "bash", args: { command } });
  const asked = c.waitForEvent(session.id, "permission_request");
  await c.request("prompt", { message: "run it" }, session.id);
  return { session, request: (await asked).payload };
}

describe("a tool call waiting for approval survives a restart", () => {
  it("kill -9 during the wait: pending again, re-sent on attach, approved, the tool runs, the turn completes", async () => {
    const first = serve(dataDir);
    const c = await PiClient.connect(await first.ready, { token: TOKEN });
    const { session, request } = await waitingTurn(c, "echo resumed-run > proof.txt && cat proof.txt");
    const requestsBefore = llm.requests.length;
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    await c.close().catch(() => undefined);
    expect(existsSync(join(session.worktree, "proof.txt"))).toBe(false);

    const second = serve(dataDir);
    try {
      const c2 = await PiClient.connect(await second.ready, { token: TOKEN });
      const listed = (await c2.request("permission.list", {})).requests;
      expect(listed.map((r) => [r.id, r.sessionId, r.toolCallId])).toEqual([
        [request.id, session.id, request.toolCallId],
      ]);
      const resent = c2.waitForEvent(session.id, "permission_request");
      await c2.request("session.attach", { sessionId: session.id });
      expect((await resent).payload).toMatchObject({
        id: request.id,
        toolCallId: request.toolCallId,
        input: { command: "echo resumed-run > proof.txt && cat proof.txt" },
        expiresAt: request.expiresAt,
      });
      expect((await c2.request("get_state", {}, session.id)).status).toBe("running");

      const idle = c2.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle", 60_000);
      const ended = c2.waitForEvent(session.id, "agent_end", undefined, 60_000);
      await c2.request("permission.respond", { id: request.id, decision: "allow_once" });
      expect((await ended).payload.success).toBe(true);
      await idle;
      expect(readFileSync(join(session.worktree, "proof.txt"), "utf8")).toBe("resumed-run\n");
      expect(llm.requests.length).toBe(requestsBefore + 1);
      expect(toolResultOf(llm.requests.at(-1)!)).toContain("resumed-run");
      const { messages } = await c2.request("get_messages", {}, session.id);
      expect(messages.map((m) => (m as { role: string }).role)).toEqual([
        "user",
        "assistant",
        "toolResult",
        "assistant",
      ]);
      expect(textOf(messages.at(-1))).toBe("final: resumed-run");
      // Answered once: a second answer finds nothing, and nothing is left pending.
      await expect(
        c2.request("permission.respond", { id: request.id, decision: "deny_once" }),
      ).rejects.toMatchObject({ code: "not_found" });
      expect((await c2.request("permission.list", {})).requests).toEqual([]);
      await c2.close();
    } finally {
      second.child.kill("SIGKILL");
      await second.exited;
    }
  }, 120_000);

  it("clean stop during the wait: after the restart a denial reaches the model and the tool never runs", async () => {
    const first = serve(dataDir);
    const c = await PiClient.connect(await first.ready, { token: TOKEN });
    const { session, request } = await waitingTurn(c, "echo never > denied.txt");
    first.child.kill("SIGTERM");
    expect((await first.exited).code).toBe(0);
    await c.close().catch(() => undefined);

    const second = serve(dataDir);
    try {
      const c2 = await PiClient.connect(await second.ready, { token: TOKEN });
      const resent = c2.waitForEvent(session.id, "permission_request");
      await c2.request("session.attach", { sessionId: session.id });
      expect((await resent).payload.id).toBe(request.id);
      const ended = c2.waitForEvent(session.id, "agent_end", undefined, 60_000);
      await c2.request("permission.respond", { id: request.id, decision: "deny_once" });
      await ended;
      expect(existsSync(join(session.worktree, "denied.txt"))).toBe(false);
      expect(toolResultOf(llm.requests.at(-1)!)).toContain("denied this tool call");
      const { messages } = await c2.request("get_messages", {}, session.id);
      expect(textOf(messages.at(-1))).toMatch(/^final: .*denied this tool call/);
      const { entries } = await c2.request("audit.list", { sessionId: session.id, limit: 10 });
      expect(entries[0]).toMatchObject({ layer: "user", decision: "deny", requestId: request.id });
      await c2.close();
    } finally {
      second.child.kill("SIGKILL");
      await second.exited;
    }
  }, 120_000);
});
