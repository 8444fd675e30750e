import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PiClient } from "../src/client/client.js";
import { startHarness, type Harness } from "./helpers/harness.js";
import * as S from "./helpers/swift-decode.js";
import { type AppEvent, SwiftClient } from "./helpers/swift-client.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);
const git = (cwd: string, ...args: string[]): string =>
  execFileSync("git", ["-C", cwd, ...args], { encoding: "utf8" });

let h: Harness;
/** The URL a user types into the app, from `pi-server pair --pi-mobile`. */
let appUrl: string;
let owner: PiClient;
const apps: SwiftClient[] = [];

async function app(): Promise<SwiftClient> {
  const c = await SwiftClient.connect(appUrl);
  apps.push(c);
  return c;
}

function agentEnd(c: SwiftClient, sessionId: string): Promise<AppEvent> {
  return c.waitFor((e) => e.sessionId === sessionId && e.type === "agent_end");
}

beforeAll(async () => {
  h = await startHarness({ start: { limits: { maxFrameBytes: 64 * 1024 } } });
  // The CLI, in its own process, against the running server's data dir (as a user would).
  const out = await exec(process.execPath, [
    BIN,
    "pair",
    "--pi-mobile",
    "--json",
    "--host",
    "127.0.0.1",
    "--name",
    "iPhone",
    "--data-dir",
    h.dataDir,
  ]);
  appUrl = (JSON.parse(out.stdout) as { url: string }).url;
  owner = await h.connect();
});

afterAll(async () => {
  for (const c of apps) {
    // The whole run: no frame the app could not decode.
    expect(c.undecodable).toEqual([]);
    c.close();
  }
  await h.close();
});

describe("the Pi Mobile app against /rpc, unmodified", () => {
  it("passes the setup probe and connects by the paired URL, without a token", async () => {
    expect(appUrl).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${h.server.port}/d/[A-Za-z0-9_-]{43}$`));
    // ServerSetupView.testConnection: a bare socket, one hello with only `client`, exactly one frame back.
    const probe = new WebSocket(SwiftClient.rpcUrl(appUrl));
    await new Promise((r) => probe.once("open", r));
    const frame = new Promise<string>((r) => probe.once("message", (d) => r(String(d))));
    probe.send(
      JSON.stringify({
        v: 1,
        kind: "request",
        id: "test-hello",
        method: "hello",
        params: { client: { name: "pi-mobile", version: "1.0" } },
      }),
    );
    const answer = S.WSIncomingMessage(JSON.parse(await frame), "probe");
    expect(answer).toMatchObject({ id: "test-hello", ok: true });
    expect(S.HelloResult(answer.result, "HelloResult").capabilities.resume).toBe(true);
    probe.close();

    const c = await app();
    expect(c.connectionId).toMatch(/^[0-9a-f]{16}$/);
    // Without the path's token nothing is open.
    const bare = await SwiftClient.connect(`ws://127.0.0.1:${h.server.port}`).catch((e: Error) => e);
    expect(String(bare)).toContain("unauthorized");
  });

  it("lists repos and models, reads and writes the default model", async () => {
    const c = await app();
    const { repos } = await c.listRepos();
    expect(repos.map((r) => r.id)).toEqual(["demo"]);
    const { models } = await c.getAvailableModels();
    expect(models.map((m) => `${m.provider}/${m.id}`)).toEqual(["fake/fake-model", "fake/fake-model-2"]);
    expect(models[0]).toMatchObject({ api: "openai-completions", cost: { input: 0 } });
    expect((await c.getDefaultModel()).defaultModel).toEqual({
      id: "fake-model",
      name: "Fake Model",
      provider: "fake",
    });
    expect((await c.setDefaultModel("fake", "fake-model-2")).defaultModel.id).toBe("fake-model-2");
    expect((await c.getDefaultModel()).defaultModel?.id).toBe("fake-model-2");
    await c.setDefaultModel("fake", "fake-model");
  });

  it("creates a code and a chat session; the chat persona and model reach the LLM, without coding tools", async () => {
    const c = await app();
    const code = await c.createSession({
      mode: "code",
      repoId: "demo",
      provider: "fake",
      modelId: "fake-model-2",
    });
    const chat = await c.createSession({
      mode: "chat",
      systemPrompt: "You are a pirate. Answer in pirate speak.",
    });
    const { sessions } = await c.listSessions();
    const byId = new Map(sessions.map((s) => [s.sessionId, s]));
    expect(byId.get(code.sessionId)).toMatchObject({ mode: "code", repoId: "demo" });
    expect(byId.get(chat.sessionId)?.mode).toBe("chat");
    expect(byId.get(chat.sessionId)?.repoId).toBeUndefined();
    expect(Date.parse(byId.get(chat.sessionId)?.createdAt ?? "")).toBeGreaterThan(0);

    const { attached } = await c.switchTo(chat.sessionId);
    expect(attached).toEqual({
      ok: true,
      currentModel: { id: "fake-model", name: "Fake Model", provider: "fake" },
    });
    const before = h.llm.requests.length;
    h.llm.enqueue({ kind: "text", text: "Arr, ahoy!" });
    const ended = agentEnd(c, chat.sessionId);
    await c.prompt("hello");
    await ended;
    const body = h.llm.requests[before]!.body;
    expect(JSON.stringify(body.messages[0])).toContain("You are a pirate.");
    expect((body.tools ?? []).map((t) => t.function.name)).toEqual(["get_device_info"]);

    await c.switchTo(code.sessionId);
    h.llm.enqueue({ kind: "text", text: "ok" });
    const codeEnded = agentEnd(c, code.sessionId);
    await c.prompt("hi");
    await codeEnded;
    const codeBody = h.llm.requests.at(-1)!.body;
    expect(codeBody.model).toBe("fake-model-2");
    expect((codeBody.tools ?? []).map((t) => t.function.name).sort()).toEqual([
      "bash",
      "edit",
      "get_device_info",
      "read",
      "write",
    ]);
  });

  it("streams a reply the app rebuilds from text_delta alone, and runs bash with tool rows", async () => {
    const c = await app();
    const { sessionId } = await c.createSession({ mode: "code", repoId: "demo" });
    await c.switchTo(sessionId);
    const reply = "Here is a fairly long answer, streamed in small pieces so that it takes many deltas.";
    h.llm.enqueue({ kind: "text", text: reply, chunkSize: 3 });
    let ended = agentEnd(c, sessionId);
    await c.prompt("tell me");
    await ended;
    expect(c.transcript.bubbles.at(-1)).toBe(reply);
    expect(c.transcript.processing).toBe(false);

    h.llm.enqueue(
      { kind: "tool_call", id: "call_bash_1", name: "bash", args: { command: "echo one; echo two" } },
      { kind: "text", text: "done" },
    );
    ended = agentEnd(c, sessionId);
    const started = c.waitFor(
      (e) => e.type === "message_update" && S.assistantEvent(e.payload).type === "toolcall_start",
    );
    await c.prompt("run it");
    const start = S.assistantEvent((await started).payload);
    expect(start).toMatchObject({ toolCallId: "call_bash_1", toolName: "bash" });
    await ended;
    expect(c.transcript.tools.get("call_bash_1")).toEqual({
      name: "bash",
      output: "one\ntwo\n",
      isError: false,
    });
    const { messages } = await c.getMessages();
    expect(messages.map((m) => m.role)).toEqual([
      "user",
      "assistant",
      "user",
      "assistant",
      "toolResult",
      "assistant",
    ]);
  });

  it("aborts a running turn: agent_end clears the spinner", async () => {
    const c = await app();
    const { sessionId } = await c.createSession({ mode: "chat" });
    await c.switchTo(sessionId);
    h.llm.enqueue({ kind: "hang", text: "thinking about it" });
    const streaming = c.waitFor(
      (e) => e.type === "message_update" && S.assistantEvent(e.payload).type === "text_delta",
    );
    const ended = agentEnd(c, sessionId);
    await c.prompt("take your time");
    await streaming;
    expect(c.transcript.processing).toBe(true);
    await c.abort();
    const end = await ended;
    expect(end.payload.success).toBe(true);
    expect(c.transcript.bubbles.at(-1)).toBe("thinking about it");
  });

  it("switches models (set_model and model_changed decode) and sessions (detach by envelope)", async () => {
    const c = await app();
    const a = await c.createSession({ mode: "chat" });
    const b = await c.createSession({ mode: "chat" });
    await c.switchTo(a.sessionId);
    const changed = c.waitFor((e) => e.type === "model_changed");
    const set = await c.setModel(a.sessionId, "fake", "fake-model-2");
    expect(set.model).toEqual({ id: "fake-model-2", name: "Fake Model 2", provider: "fake" });
    expect(S.EventPayloads.model_changed!((await changed).payload, "model_changed")).toEqual({
      model: { id: "fake-model-2", name: "Fake Model 2", provider: "fake" },
    });
    expect((await c.getState()).model?.id).toBe("fake-model-2");

    const { attached } = await c.switchTo(b.sessionId);
    expect(attached.ok).toBe(true);
    // Session a runs a turn driven by another client: the app, now on b, sees none of it.
    await owner.request("session.attach", { sessionId: a.sessionId });
    h.llm.enqueue({ kind: "text", text: "for a" });
    const aDone = owner.waitForEvent(a.sessionId, "agent_end");
    await owner.request("prompt", { message: "go" }, a.sessionId);
    await aDone;
    h.llm.enqueue({ kind: "text", text: "for b" });
    const bDone = agentEnd(c, b.sessionId);
    await c.prompt("and you");
    await bDone;
    expect(c.events.filter((e) => e.sessionId === a.sessionId && e.type === "agent_end")).toEqual([]);
    expect(c.transcript.bubbles.at(-1)).toBe("for b");
  });

  it("a socket drop mid-turn and a resume by hello end with the full answer, without re-attaching", async () => {
    const c = await app();
    const { sessionId } = await c.createSession({ mode: "code", repoId: "demo" });
    await c.switchTo(sessionId);
    const answer = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");
    h.llm.enqueue({ kind: "text", text: answer, chunkSize: 4, delayMs: 15 });
    const someText = c.waitFor(
      (e) => e.type === "message_update" && S.assistantEvent(e.payload).type === "text_delta",
    );
    await c.prompt("a long one please");
    await someText;
    c.drop();
    const sawBefore = c.transcript.bubbles.at(-1) ?? "";
    // Wait until the turn is over on the server: everything after the drop must come from the replay.
    await owner.request("session.attach", { sessionId });
    await h.llm.waitForRequests(h.llm.requests.length);
    for (let i = 0; i < 200 && (await owner.request("get_state", {}, sessionId)).isStreaming; i++)
      await new Promise((r) => setTimeout(r, 25));
    const ended = agentEnd(c, sessionId);
    const hello = await c.reconnect();
    expect(hello.resume).toMatchObject({
      known: true,
      sessions: { [sessionId]: { ok: true, replay: "ok" } },
    });
    await ended;
    expect(sawBefore.length).toBeLessThan(answer.length);
    expect(c.transcript.bubbles.at(-1)).toBe(answer);
    expect(c.transcript.processing).toBe(false);
    // Still attached after the resume: the next turn streams too; the phone's tools came back with it.
    h.llm.enqueue({ kind: "text", text: "again" });
    const next = agentEnd(c, sessionId);
    await c.prompt("once more");
    await next;
    expect(c.transcript.bubbles.at(-1)).toBe("again");
    expect((h.llm.requests.at(-1)!.body.tools ?? []).map((t) => t.function.name)).toContain(
      "get_device_info",
    );
  });

  it("a resume while the old socket still looks open takes it over", async () => {
    const c = await app();
    const { sessionId } = await c.createSession({ mode: "chat" });
    await c.switchTo(sessionId);
    const old = c.ws;
    const oldClosed = new Promise((r) => old.once("close", r));
    await c.reconnect();
    await oldClosed;
    h.llm.enqueue({ kind: "text", text: "on the new socket" });
    const ended = agentEnd(c, sessionId);
    await c.prompt("hi");
    await ended;
    expect(c.transcript.bubbles.at(-1)).toBe("on the new socket");
  });

  it("deletes a session the agent changed without losing the change", async () => {
    const c = await app();
    const { sessionId } = await c.createSession({ mode: "code", repoId: "demo" });
    await c.switchTo(sessionId);
    h.llm.enqueue(
      { kind: "tool_call", name: "write", args: { path: "notes.md", content: "from the phone\n" } },
      { kind: "text", text: "written" },
    );
    const ended = agentEnd(c, sessionId);
    await c.prompt("write notes");
    await ended;
    await c.deleteSession(sessionId);
    expect((await c.listSessions()).sessions.map((s) => s.sessionId)).not.toContain(sessionId);
    expect(git(h.repo, "show", `pi/${sessionId}:notes.md`)).toBe("from the phone\n");
  });

  it("runs a native tool the app offers, answered by the app", async () => {
    const c = await app();
    c.nativeHandlers.set("get_device_info", () => ({
      model: "iPhone15,2",
      systemName: "iOS",
      systemVersion: "18.2",
    }));
    const { sessionId } = await c.createSession({ mode: "chat" });
    await c.switchTo(sessionId);
    h.llm.enqueue(
      { kind: "tool_call", id: "call_dev_1", name: "get_device_info", args: {} },
      { kind: "text", text: "You have an iPhone." },
    );
    const request = c.waitFor((e) => e.type === "native_tool_request");
    const ended = agentEnd(c, sessionId);
    await c.prompt("what phone do I have?");
    expect((await request).payload).toMatchObject({ toolName: "get_device_info", args: {} });
    await ended;
    expect(c.transcript.tools.get("call_dev_1")).toMatchObject({ name: "get_device_info", isError: false });
    expect(c.transcript.tools.get("call_dev_1")?.output).toContain("iPhone15,2");
    const toolMsg = h.llm.requests.at(-1)!.body.messages.find((m) => m.role === "tool");
    expect(JSON.stringify(toolMsg)).toContain("iPhone15,2");
    expect(c.transcript.bubbles.at(-1)).toBe("You have an iPhone.");
  });

  it("does not stall on a question it cannot answer: the tool row says why", async () => {
    const c = await app();
    const { sessionId } = await c.createSession({ mode: "code", repoId: "demo" });
    await c.switchTo(sessionId);
    h.llm.enqueue(
      { kind: "tool_call", id: "call_push", name: "bash", args: { command: "git push origin main" } },
      { kind: "text", text: "could not push" },
    );
    const ended = agentEnd(c, sessionId);
    await c.prompt("push it");
    await ended;
    const row = c.transcript.tools.get("call_push");
    expect(row?.isError).toBe(true);
    expect(row?.output).toContain("no attached client can answer permission requests");
  });

  it("decodes every error the server sends, and answers every request", async () => {
    const c = await app();
    const { sessionId } = await c.createSession({ mode: "chat" });
    await c.switchTo(sessionId);
    const rpc = (p: Promise<unknown>): Promise<{ code?: string; message: string; details?: string }> =>
      p.then(
        () => {
          throw new Error("expected an error");
        },
        (e: { rpc?: { code?: string; message: string; details?: string } }) => {
          if (!e.rpc) throw e;
          return e.rpc;
        },
      );
    expect((await rpc(c.call("no.such.method", {}))).code).toBe("unknown_method");
    const invalid = await rpc(c.command("set_model", { provider: "fake", modelId: 42 }, { sessionId }));
    expect(invalid.code).toBe("invalid_request");
    expect(invalid.details).toContain("/modelId");
    expect((await rpc(c.attach("nope"))).code).toBe("not_found");
    expect((await rpc(c.setModel(sessionId, "fake", "gone"))).code).toBe("not_found");
    expect((await rpc(c.createSession({ mode: "chat", repoId: "demo" }))).code).toBe("invalid_request");
    expect((await rpc(c.call("native_tool_response", { callId: "nc_none", result: {} }))).code).toBe(
      "not_found",
    );
    h.llm.enqueue({ kind: "hang" });
    await c.prompt("busy");
    // The app sends steer while it thinks a run is going: forget that and prompt again.
    c.transcript.processing = false;
    expect((await rpc(c.prompt("again"))).code).toBe("conflict");
    await c.abort();
    // Errors without an id (a frame too large) decode too; they match no request.
    c.ws.send("x".repeat(70 * 1024));
    expect((await rpc(c.call("session.delete", { sessionId: "nope" }))).code).toBe("not_found");
    await owner.request("session.detach", { sessionId }).catch(() => undefined);
    expect(c.undecodable).toEqual([]);
  });
});
