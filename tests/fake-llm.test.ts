import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import {
  complete,
  streamSimple,
  Type,
  type AssistantMessage,
  type Context,
  type Tool,
  type ToolCall,
} from "@mariozechner/pi-ai";
import { FAKE_API_KEY, fakeModel, fakeModelsJson, startFakeLlm, type FakeLlm } from "./helpers/fake-llm.js";

function userContext(text: string, extra: Partial<Context> = {}): Context {
  return {
    systemPrompt: "You are a test.",
    messages: [{ role: "user", content: text, timestamp: Date.now() }],
    ...extra,
  };
}

function textOf(msg: AssistantMessage): string {
  return msg.content.map((b) => (b.type === "text" ? b.text : "")).join("");
}

function toolCallsOf(msg: AssistantMessage): ToolCall[] {
  return msg.content.filter((b): b is ToolCall => b.type === "toolCall");
}

interface SseChunk {
  id: string;
  object: string;
  model: string;
  choices: {
    index: number;
    delta: { role?: string; content?: string | null; tool_calls?: unknown[] };
    finish_reason: string | null;
  }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

function parseSse(raw: string): { chunks: SseChunk[]; events: string[] } {
  const events = raw
    .split("\n\n")
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  const chunks: SseChunk[] = [];
  for (const e of events) {
    expect(e.startsWith("data: ")).toBe(true);
    const data = e.slice("data: ".length);
    if (data !== "[DONE]") chunks.push(JSON.parse(data) as SseChunk);
  }
  return { chunks, events };
}

const readTool: Tool = {
  name: "read",
  description: "Read a file",
  parameters: Type.Object({ path: Type.String(), offset: Type.Optional(Type.Number()) }),
};

describe("fake LLM server", () => {
  let llm: FakeLlm;

  beforeAll(async () => {
    llm = await startFakeLlm();
  });
  afterEach(() => llm.reset());
  afterAll(async () => {
    await llm.close();
  });

  describe("raw HTTP", () => {
    it("streams a well-formed SSE response ending in [DONE]", async () => {
      llm.enqueue({ kind: "text", text: "Hello from the fake model!", chunkSize: 5 });
      const res = await fetch(`${llm.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer x" },
        body: JSON.stringify({
          model: "fake-model",
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      const { chunks, events } = parseSse(await res.text());

      expect(events.at(-1)).toBe("data: [DONE]");
      for (const c of chunks) {
        expect(c.id).toMatch(/^chatcmpl-/);
        expect(c.object).toBe("chat.completion.chunk");
        expect(c.model).toBe("fake-model");
        expect(Array.isArray(c.choices)).toBe(true);
      }
      expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
      const content = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
      expect(content).toBe("Hello from the fake model!");
      expect(chunks.filter((c) => (c.choices[0]?.delta.content ?? "").length > 0).length).toBeGreaterThan(1);
      const finishes = chunks.map((c) => c.choices[0]?.finish_reason).filter((f) => f);
      expect(finishes).toEqual(["stop"]);
      const usage = chunks.at(-1)?.usage;
      expect(usage?.total_tokens).toBeGreaterThan(0);
      expect(chunks.at(-1)?.choices).toEqual([]);

      expect(llm.requests).toHaveLength(1);
      expect(llm.requests[0]?.body.model).toBe("fake-model");
      expect(llm.requests[0]?.headers.authorization).toBe("Bearer x");
    });

    it("omits the usage chunk unless stream_options.include_usage is set", async () => {
      const res = await fetch(`${llm.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({
          model: "fake-model",
          stream: true,
          messages: [{ role: "user", content: "hi" }],
        }),
      });
      const { chunks } = parseSse(await res.text());
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("ok");
      expect(chunks.some((c) => c.usage !== undefined)).toBe(false);
    });

    it("lists models, 404s unknown paths and 400s bad bodies", async () => {
      const models = (await (await fetch(`${llm.url}/v1/models`)).json()) as { data: { id: string }[] };
      expect(models.data.map((m) => m.id)).toEqual(["fake-model", "fake-model-2"]);

      const missing = await fetch(`${llm.url}/v1/nope`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/nope/);

      const bad = await fetch(`${llm.url}/v1/chat/completions`, { method: "POST", body: "{not json" });
      expect(bad.status).toBe(400);
      expect(llm.requests).toHaveLength(0);
    });

    it("uses the responder when the queue is empty and the queue first otherwise", async () => {
      llm.setResponder((req) => ({ kind: "text", text: `echo:${req.body.model}` }));
      llm.enqueue({ kind: "text", text: "queued" });
      const model = fakeModel(llm, "fake-model-2");
      const first = await complete(model, userContext("a"), { apiKey: FAKE_API_KEY });
      const second = await complete(model, userContext("b"), { apiKey: FAKE_API_KEY });
      expect(textOf(first)).toBe("queued");
      expect(textOf(second)).toBe("echo:fake-model-2");
    });
  });

  describe("through pi-ai", () => {
    it("builds the model from the models.json content", () => {
      const json = fakeModelsJson(llm);
      const model = fakeModel(llm);
      expect(json.providers.fake.baseUrl).toBe(`${llm.url}/v1`);
      expect(json.providers.fake.models.map((m) => m.id)).toEqual(["fake-model", "fake-model-2"]);
      expect(model).toMatchObject({ id: "fake-model", api: "openai-completions", provider: "fake" });
      expect(model.baseUrl).toBe(json.providers.fake.baseUrl);
    });

    it("yields the enqueued text with stopReason stop and usage", async () => {
      const text = "The quick brown fox jumps over the lazy dog. ünïcödé 🚀 done.";
      llm.enqueue({ kind: "text", text, chunkSize: 3 });
      const s = streamSimple(fakeModel(llm), userContext("say something"), { apiKey: FAKE_API_KEY });
      const deltas: string[] = [];
      for await (const ev of s) if (ev.type === "text_delta") deltas.push(ev.delta);
      const msg = await s.result();

      expect(msg.stopReason).toBe("stop");
      expect(msg.errorMessage).toBeUndefined();
      expect(textOf(msg)).toBe(text);
      expect(deltas.length).toBeGreaterThan(1);
      expect(msg.usage.input).toBeGreaterThan(0);
      expect(msg.usage.output).toBeGreaterThan(0);
      expect(msg.responseId).toMatch(/^chatcmpl-fake-/);

      const req = llm.requests[0];
      expect(req?.body.stream).toBe(true);
      expect(req?.body.stream_options).toEqual({ include_usage: true });
      expect(req?.body.max_tokens).toBe(4096);
      expect(req?.body.store).toBeUndefined();
      expect(req?.headers.authorization).toBe(`Bearer ${FAKE_API_KEY}`);
      expect(req?.body.messages).toEqual([
        { role: "system", content: "You are a test." },
        { role: "user", content: "say something" },
      ]);
    });

    it("maps finish_reason length to stopReason length", async () => {
      llm.enqueue({ kind: "text", text: "truncat", finishReason: "length" });
      const msg = await complete(fakeModel(llm), userContext("x"), { apiKey: FAKE_API_KEY });
      expect(msg.stopReason).toBe("length");
      expect(textOf(msg)).toBe("truncat");
    });

    it("yields a tool call with exact name and parsed arguments", async () => {
      const args = { path: "src/some/long/file/name.ts", offset: 10, nested: { list: [1, "two", null] } };
      llm.enqueue({ kind: "tool_call", name: "read", args, id: "call_abc", text: "Let me look." });
      const s = streamSimple(fakeModel(llm), userContext("read it", { tools: [readTool] }), {
        apiKey: FAKE_API_KEY,
      });
      let toolDeltas = 0;
      for await (const ev of s) if (ev.type === "toolcall_delta") toolDeltas++;
      const msg = await s.result();

      expect(msg.stopReason).toBe("toolUse");
      expect(textOf(msg)).toBe("Let me look.");
      expect(toolCallsOf(msg)).toEqual([{ type: "toolCall", id: "call_abc", name: "read", arguments: args }]);
      expect(toolDeltas).toBeGreaterThan(2);

      const tools = llm.requests[0]?.body.tools;
      expect(tools?.map((t) => t.type)).toEqual(["function"]);
      expect(tools?.[0]?.function.name).toBe("read");
      expect(tools?.[0]?.function.parameters).toMatchObject({ type: "object", required: ["path"] });

      // Replaying the turn shows how pi-ai encodes tool calls and results on the wire.
      llm.enqueue({ kind: "text", text: "Done." });
      const followUp = await complete(
        fakeModel(llm),
        {
          systemPrompt: "You are a test.",
          tools: [readTool],
          messages: [
            { role: "user", content: "read it", timestamp: Date.now() },
            msg,
            {
              role: "toolResult",
              toolCallId: "call_abc",
              toolName: "read",
              content: [{ type: "text", text: "file contents" }],
              isError: false,
              timestamp: Date.now(),
            },
          ],
        },
        { apiKey: FAKE_API_KEY },
      );
      expect(textOf(followUp)).toBe("Done.");
      expect(llm.requests[1]?.body.messages.slice(2)).toEqual([
        {
          role: "assistant",
          content: "Let me look.",
          tool_calls: [
            { id: "call_abc", type: "function", function: { name: "read", arguments: JSON.stringify(args) } },
          ],
        },
        { role: "tool", content: "file contents", tool_call_id: "call_abc" },
      ]);
    });

    it("yields several tool calls from one response", async () => {
      llm.enqueue({
        kind: "tool_calls",
        calls: [
          { name: "read", args: { path: "a.ts" } },
          { name: "bash", args: { command: "ls -la" }, id: "call_2" },
        ],
      });
      const msg = await complete(fakeModel(llm), userContext("go", { tools: [readTool] }), {
        apiKey: FAKE_API_KEY,
      });
      expect(msg.stopReason).toBe("toolUse");
      const calls = toolCallsOf(msg);
      expect(calls.map((c) => [c.name, c.arguments])).toEqual([
        ["read", { path: "a.ts" }],
        ["bash", { command: "ls -la" }],
      ]);
      expect(calls[0]?.id).toMatch(/^call_fake_/);
      expect(calls[1]?.id).toBe("call_2");
    });

    it("turns an HTTP 500 into stopReason error without retrying", async () => {
      llm.enqueue({ kind: "error", status: 500 });
      const msg = await complete(fakeModel(llm), userContext("x"), { apiKey: FAKE_API_KEY });
      expect(msg.stopReason).toBe("error");
      expect(msg.errorMessage).toMatch(/500/);
      expect(msg.content).toEqual([]);
      expect(llm.requests).toHaveLength(1);
    });

    it("passes a custom error body through (401)", async () => {
      llm.enqueue({
        kind: "error",
        status: 401,
        body: JSON.stringify({ error: { message: "Invalid API key", type: "invalid_request_error" } }),
      });
      const msg = await complete(fakeModel(llm), userContext("x"), { apiKey: FAKE_API_KEY });
      expect(msg.stopReason).toBe("error");
      expect(msg.errorMessage).toMatch(/401/);
      expect(msg.errorMessage).toMatch(/Invalid API key/);
    });

    it("lets the OpenAI SDK retry a retryable error", async () => {
      llm.enqueue({ kind: "error", status: 429, retryable: true }, { kind: "text", text: "after retry" });
      const msg = await complete(fakeModel(llm), userContext("x"), { apiKey: FAKE_API_KEY });
      expect(msg.stopReason).toBe("stop");
      expect(textOf(msg)).toBe("after retry");
      expect(llm.requests).toHaveLength(2);
    });

    it("stops a slow stream when the client aborts mid-way", async () => {
      llm.enqueue({ kind: "text", text: "x".repeat(400), chunkSize: 1, delayMs: 20 });
      const ac = new AbortController();
      const s = streamSimple(fakeModel(llm), userContext("slow"), {
        apiKey: FAKE_API_KEY,
        signal: ac.signal,
      });
      for await (const ev of s) if (ev.type === "text_delta") ac.abort();
      const msg = await s.result();
      expect(msg.stopReason).toBe("aborted");
      expect(textOf(msg).length).toBeLessThan(400);
    });
  });

  it("aborts a hanging request and leaves no open sockets after close()", async () => {
    const own = await startFakeLlm();
    try {
      own.enqueue({ kind: "hang", text: "partial" });
      const ac = new AbortController();
      const s = streamSimple(fakeModel(own), userContext("hang"), {
        apiKey: FAKE_API_KEY,
        signal: ac.signal,
      });
      const seen: string[] = [];
      for await (const ev of s) {
        seen.push(ev.type);
        if (ev.type === "text_delta") ac.abort();
      }
      const msg = await s.result();

      expect(seen).toContain("start");
      expect(seen.at(-1)).toBe("error");
      expect(msg.stopReason).toBe("aborted");
      expect(textOf(msg)).toBe("partial");
      expect(own.requests).toHaveLength(1);
      // The client's abort alone must end the hanging response. Sockets are not checked here because
      // Node 20's fetch opens a fresh idle pooled connection right after an abort.
      await vi.waitFor(() => expect(own.activeStreams()).toBe(0), { timeout: 2000 });
    } finally {
      await own.close();
    }
    expect(own.openSockets()).toBe(0);
  });

  it("close() tears down a hanging stream the client never aborts", async () => {
    const own = await startFakeLlm();
    own.enqueue({ kind: "hang" });
    const res = await fetch(`${own.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "fake-model", stream: true, messages: [] }),
    });
    expect(res.status).toBe(200);
    expect(own.activeStreams()).toBe(1);
    expect(own.openSockets()).toBe(1);
    const reading = res.text().then(
      () => "ended",
      () => "failed",
    );
    await own.close();
    expect(own.openSockets()).toBe(0);
    expect(own.activeStreams()).toBe(0);
    expect(await reading).toBe("failed");
  });
});
