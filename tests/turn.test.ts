import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeModelsJson } from "./helpers/fake-llm.js";
import {
  coveredSeqs,
  startHarness,
  recordEvents,
  runTurn,
  textOf,
  TOKEN,
  type Harness,
} from "./helpers/harness.js";

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
    // The turn's last event is its idle status, sent once the turn's checkpoint is taken.
    const ended = client.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle");
    const ack = await client.request("prompt", { message: "write a greeting" }, session.id);
    expect(ack).toEqual({ accepted: true, queued: false });
    await ended;

    expect(readFileSync(join(session.worktree, "hello.txt"), "utf8")).toBe("hi from pi\n");
    expect(readFileSync(join(session.worktree, "upper.txt"), "utf8")).toBe("HI FROM PI\n");
    expect(existsSync(join(h.repo, "hello.txt"))).toBe(false);

    // A title may still arrive later (session_info_changed); the turn ends at its idle status.
    const turn = events.slice(
      0,
      events.findIndex((e) => e.type === "session_status" && e.payload.status === "idle") + 1,
    );
    const seqs = coveredSeqs(turn);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    const types = turn.map((e) => e.type);
    expect(types[0]).toBe("session_status");
    expect(types).toContain("agent_start");
    expect(types.filter((t) => t === "tool_execution_end")).toHaveLength(2);
    expect(types.at(-1)).toBe("session_status");

    const bashEnd = events.find((e) => e.type === "tool_execution_end" && e.payload.toolName === "bash");
    expect(JSON.stringify(bashEnd?.payload)).toContain("done");

    const text = events
      .filter((e) => e.type === "message_update" && e.payload.assistantMessageEvent.type === "text_delta")
      .map((e) => (e.type === "message_update" ? e.payload.assistantMessageEvent.delta : ""))
      .join("");
    expect(text).toBe("I wrote hello.txt and upper.txt for you.");
    for (const e of events.filter((e) => e.type === "message_update")) {
      expect(JSON.stringify(e.payload)).not.toContain("partial");
    }
    const finals = events
      .filter((e) => e.type === "message_end")
      .map((e) => e.type === "message_end" && e.payload.message);
    expect(textOf(finals.at(-1))).toBe("I wrote hello.txt and upper.txt for you.");

    const state = await client.request("get_state", {}, session.id);
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

describe("controlling a running turn", () => {
  it("aborts mid-stream, clears queued follow-ups, and accepts the next prompt", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const events = recordEvents(client, session.id);
    h.llm.enqueue({ kind: "hang", text: "Thinking about it" });
    const firstDelta = client.waitForEvent(
      session.id,
      "message_update",
      (e) => e.payload.assistantMessageEvent.type === "text_delta",
    );
    await client.request("prompt", { message: "take your time" }, session.id);
    await firstDelta;

    await expect(client.request("prompt", { message: "again" }, session.id)).rejects.toMatchObject({
      code: "conflict",
    });
    expect(await client.request("follow_up", { message: "later please" }, session.id)).toEqual({
      queued: true,
    });
    const queued = await client.request("get_state", {}, session.id);
    expect(queued).toMatchObject({ status: "running", isStreaming: true, followUp: ["later please"] });

    const ended = client.waitForEvent(session.id, "agent_end");
    const idle = client.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle");
    const result = await client.request("abort", {}, session.id);
    expect(result).toEqual({ aborted: true, cleared: { steering: [], followUp: ["later please"] } });
    await Promise.all([ended, idle]);
    const last = events.filter((e) => e.type === "message_end").at(-1);
    expect(last?.type === "message_end" && (last.payload.message as { stopReason: string }).stopReason).toBe(
      "aborted",
    );
    const state = await client.request("get_state", {}, session.id);
    expect(state).toMatchObject({ status: "idle", isStreaming: false, pendingMessageCount: 0 });
    expect(await h.llm.waitForRequests(1)).toBeTruthy();
    const before = h.llm.requests.length;

    await runTurn(h, client, session.id, "go on", { kind: "text", text: "fresh start" });
    expect(h.llm.requests.length).toBe(before + 1);
  });

  it("delivers steer and follow_up through pi's queues while a turn runs", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", {});
    await expect(client.request("steer", { message: "nothing runs" }, session.id)).rejects.toMatchObject({
      code: "conflict",
    });
    h.llm.enqueue(
      { kind: "tool_call", name: "bash", args: { command: "sleep 0.3; echo slept" } },
      { kind: "text", text: "after steering" },
      { kind: "text", text: "after follow-up" },
    );
    const started = client.waitForEvent(session.id, "tool_execution_start");
    await client.request("prompt", { message: "start" }, session.id);
    await started;
    await client.request("steer", { message: "STEER-NOTE" }, session.id);
    const q = await client.request(
      "prompt",
      { message: "FOLLOW-NOTE", streamingBehavior: "followUp" },
      session.id,
    );
    expect(q).toEqual({ accepted: true, queued: true });
    await client.waitForEvent(session.id, "agent_end");
    const { messages } = await client.request("get_messages", {}, session.id);
    const userTexts = messages.filter((m) => (m as { role: string }).role === "user").map(textOf);
    expect(userTexts).toEqual(["start", "STEER-NOTE", "FOLLOW-NOTE"]);
    expect(JSON.stringify(h.llm.requests.at(-2)!.body.messages)).toContain("STEER-NOTE");
  });

  it("turns an LLM HTTP error into an assistant message with stopReason error and stays usable", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", {});
    await runTurn(h, client, session.id, "hello?", { kind: "error", status: 500, body: "upstream exploded" });
    const { messages } = await client.request("get_messages", {}, session.id);
    const last = messages.at(-1) as { role: string; stopReason: string; errorMessage?: string };
    expect(last.role).toBe("assistant");
    expect(last.stopReason).toBe("error");
    expect(last.errorMessage).toContain("500");
    const state = await client.request("get_state", {}, session.id);
    expect(state.status).toBe("idle");
  });
});

describe("several clients", () => {
  it("see the same events with the same seqs; a detached one sees none", async () => {
    const a = await h.connect();
    const b = await h.connect();
    const c = await h.connect();
    const { session } = await a.request("session.create", { repoId: "demo" });
    const attach = await b.request("session.attach", { sessionId: session.id });
    expect(attach.replay).toBe("none");
    await c.request("session.attach", { sessionId: session.id });
    expect(await c.request("session.detach", { sessionId: session.id })).toEqual({ detached: true });
    const ea = recordEvents(a, session.id);
    const eb = recordEvents(b, session.id);
    const ec = recordEvents(c, session.id);
    h.llm.enqueue({ kind: "text", text: "one two three four five six seven", chunkSize: 3, delayMs: 2 });
    const doneA = a.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle");
    const doneB = b.waitForEvent(session.id, "session_status", (e) => e.payload.status === "idle");
    await b.request("prompt", { message: "count" }, session.id);
    await Promise.all([doneA, doneB]);
    expect(ea.length).toBeGreaterThan(10);
    // The same seqs and the same events; deltas may be framed differently (a merged delta covers a range).
    expect(coveredSeqs(eb)).toEqual(coveredSeqs(ea));
    expect(JSON.stringify(eb.filter((e) => e.type !== "message_update"))).toBe(
      JSON.stringify(ea.filter((e) => e.type !== "message_update")),
    );
    expect(ec).toHaveLength(0);
  });
});

describe("models and thinking", () => {
  it("lists models, switches model (model_changed) and thinking level", async () => {
    const client = await h.connect();
    const { models } = await client.request("get_available_models", {});
    expect(models.map((m) => `${m.provider}/${m.id}`)).toEqual(["fake/fake-model", "fake/fake-model-2"]);
    const { session } = await client.request("session.create", { model: "fake/fake-model-2" });
    expect(session.model).toBe("fake/fake-model-2");
    const changed = client.waitForEvent(session.id, "model_changed");
    const res = await client.request("set_model", { provider: "fake", modelId: "fake-model" }, session.id);
    expect(res.model).toMatchObject({ provider: "fake", id: "fake-model" });
    expect((await changed).payload).toEqual({
      model: { provider: "fake", id: "fake-model", name: "Fake Model" },
      provider: "fake",
      modelId: "fake-model",
    });
    await expect(
      client.request("set_model", { provider: "fake", modelId: "gone" }, session.id),
    ).rejects.toMatchObject({ code: "not_found" });

    await runTurn(h, client, session.id, "which model?", { kind: "text", text: "from model one" });
    expect(h.llm.requests.at(-1)!.body.model).toBe("fake-model");

    // fake models do not reason, so pi clamps every level to "off"
    expect(await client.request("set_thinking_level", { level: "high" }, session.id)).toEqual({
      level: "off",
    });
    await expect(
      client.request("set_thinking_level", { level: "extreme" as "high" }, session.id),
    ).rejects.toMatchObject({ code: "invalid_request" });
  });
});

describe("secrets stay on the host", () => {
  it("the agent's bash sees neither provider keys from .env nor credential-like variables", async () => {
    writeFileSync(join(h.dataDir, ".env"), "MY_PROVIDER_KEY_FOR_TEST=super-secret-value-123\n");
    process.env.MY_PROVIDER_KEY_FOR_TEST = "super-secret-value-123";
    process.env.SOME_SERVICE_API_KEY = "another-secret-456";
    try {
      const client = await h.connect();
      const { session } = await client.request("session.create", {});
      await runTurn(
        h,
        client,
        session.id,
        "dump env",
        { kind: "tool_call", name: "bash", args: { command: "env > env.txt" } },
        { kind: "text", text: "ok" },
      );
      const dumped = readFileSync(join(session.worktree, "env.txt"), "utf8");
      expect(dumped).toContain("PATH=");
      expect(dumped).not.toContain("super-secret-value-123");
      expect(dumped).not.toContain("another-secret-456");
      expect(dumped).not.toContain(TOKEN);
      expect(dumped).not.toMatch(/^PI_CODING_AGENT_DIR=/m);
    } finally {
      delete process.env.MY_PROVIDER_KEY_FOR_TEST;
      delete process.env.SOME_SERVICE_API_KEY;
      rmSync(join(h.dataDir, ".env"));
    }
  });
});

describe("the user's shell environment", () => {
  it("the agent's bash gets the PATH captured by `pi-server env init`", async () => {
    const bin = join(h.dataDir, "..", `host-bin-${Date.now()}`);
    mkdirSync(bin);
    writeFileSync(join(bin, "hello-from-host"), "#!/bin/sh\necho host tool ran\n", { mode: 0o755 });
    const hostEnv = {
      shell: "/bin/sh",
      capturedAt: Date.now(),
      PATH: `${bin}:/usr/bin:/bin`,
      vars: { MY_TOOL_MODE: "fast" },
    };
    writeFileSync(join(h.dataDir, "host-env.json"), JSON.stringify(hostEnv));
    try {
      const client = await h.connect();
      const { session } = await client.request("session.create", {});
      h.llm.enqueue(
        {
          kind: "tool_call",
          name: "bash",
          args: { command: "hello-from-host > out.txt; echo $MY_TOOL_MODE >> out.txt" },
        },
        { kind: "text", text: "ok" },
      );
      const ended = client.waitForEvent(session.id, "agent_end");
      await client.request("prompt", { message: "run the host tool" }, session.id);
      await ended;
      expect(readFileSync(join(session.worktree, "out.txt"), "utf8")).toBe("host tool ran\nfast\n");
    } finally {
      rmSync(join(h.dataDir, "host-env.json"));
      rmSync(bin, { recursive: true });
    }
  });
});

describe("images", () => {
  it("passes prompt images to a model that accepts them", async () => {
    const models = fakeModelsJson(h.llm);
    models.providers.fake.models[1]!.input = ["text", "image"];
    writeFileSync(join(h.dataDir, "models.json"), JSON.stringify(models));
    const client = await h.connect();
    const { session } = await client.request("session.create", { model: "fake/fake-model-2" });
    const png = Buffer.from("89504e470d0a1a0a", "hex").toString("base64");
    h.llm.enqueue({ kind: "text", text: "a tiny picture" });
    const ended = client.waitForEvent(session.id, "agent_end");
    await client.request(
      "prompt",
      { message: "what is this?", images: [{ type: "image", data: png, mimeType: "image/png" }] },
      session.id,
    );
    await ended;
    expect(JSON.stringify(h.llm.requests.at(-1)!.body.messages)).toContain(`data:image/png;base64,${png}`);
    await expect(
      client.request(
        "prompt",
        { message: "bad", images: [{ type: "image", data: png, mimeType: "image/tiff" as "image/png" }] },
        session.id,
      ),
    ).rejects.toMatchObject({ code: "invalid_request" });
  });
});
