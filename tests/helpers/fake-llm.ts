import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import type { Model } from "@mariozechner/pi-ai";
import { TITLE_SYSTEM_PROMPT } from "../../src/sessions/titles.js";

export type FakeStep =
  | {
      kind: "text";
      text: string;
      chunkSize?: number;
      delayMs?: number;
      finishReason?: "stop" | "length";
      /** Prompt tokens reported as read from the provider's cache. */
      cachedTokens?: number;
    }
  | {
      kind: "tool_call";
      name: string;
      args: Record<string, unknown>;
      id?: string;
      text?: string;
      delayMs?: number;
      cachedTokens?: number;
    }
  | {
      kind: "tool_calls";
      calls: { name: string; args: Record<string, unknown>; id?: string }[];
      text?: string;
      delayMs?: number;
      cachedTokens?: number;
    }
  | {
      kind: "error";
      status: number;
      body?: string;
      /** The OpenAI SDK retries 408/409/429/5xx on its own; by default the fake forbids that so one step = one attempt. */
      retryable?: boolean;
    }
  | { kind: "hang"; text?: string };

export interface ChatToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export type ChatContentPart =
  { type: "text"; text: string } | { type: "image_url"; image_url: { url: string } };

export type ChatMessage =
  | { role: "system" | "developer"; content: string | ChatContentPart[] }
  | { role: "user"; content: string | ChatContentPart[] }
  | { role: "assistant"; content: string | ChatContentPart[] | null; tool_calls?: ChatToolCall[] }
  | { role: "tool"; content: string; tool_call_id: string; name?: string };

export interface ChatTool {
  type: "function";
  function: {
    name: string;
    description?: string;
    parameters?: Record<string, unknown>;
    strict?: boolean;
  };
}

export interface ChatRequestBody {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  tools?: ChatTool[];
  tool_choice?: unknown;
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  store?: boolean;
  [key: string]: unknown;
}

/** The token counts a response reported (OpenAI's usage fields). */
export interface FakeUsage {
  prompt: number;
  completion: number;
  cached: number;
}

export interface FakeRequest {
  body: ChatRequestBody;
  headers: Record<string, string | string[] | undefined>;
  /** Set once the response reported its usage. */
  usage?: FakeUsage;
}

export interface FakeLlm {
  /** Server base, e.g. http://127.0.0.1:PORT; pi's baseUrl is `${url}/v1`. */
  url: string;
  requests: FakeRequest[];
  /**
   * pi-server's session-title requests (told by their system prompt): kept out of `requests` and
   * the step queue, so scripted turns stay as they are. Answered by the title responder.
   */
  titleRequests: FakeRequest[];
  setTitleResponder(fn: ((req: FakeRequest) => FakeStep) | undefined): void;
  enqueue(...steps: FakeStep[]): void;
  setResponder(fn: ((req: FakeRequest) => FakeStep) | undefined): void;
  /** Resolves once at least `count` chat requests have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<FakeRequest[]>;
  /** Chat responses still being written (a hanging one stays until the client goes away). */
  activeStreams(): number;
  /** Sockets open on the server, idle keep-alive ones included. */
  openSockets(): number;
  reset(): void;
  close(): Promise<void>;
}

export const FAKE_PROVIDER = "fake";
export const FAKE_MODEL_IDS = ["fake-model", "fake-model-2"] as const;
export const FAKE_API_KEY = "fake-key";

export interface FakeModelDef {
  id: string;
  name: string;
  reasoning: boolean;
  input: ("text" | "image")[];
  contextWindow: number;
  maxTokens: number;
  cost: { input: number; output: number; cacheRead: number; cacheWrite: number };
}

export interface FakeModelsJson {
  providers: {
    fake: {
      baseUrl: string;
      api: "openai-completions";
      apiKey: string;
      compat: {
        supportsStore: boolean;
        supportsDeveloperRole: boolean;
        supportsReasoningEffort: boolean;
        supportsUsageInStreaming: boolean;
        maxTokensField: "max_completion_tokens" | "max_tokens";
      };
      models: FakeModelDef[];
    };
  };
}

/** USD per million tokens, as in models.json. */
export type FakeCost = FakeModelDef["cost"];
const FREE: FakeCost = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 };

export function fakeModelsJson(llm: Pick<FakeLlm, "url">, cost: FakeCost = FREE): FakeModelsJson {
  return {
    providers: {
      fake: {
        baseUrl: `${llm.url}/v1`,
        api: "openai-completions",
        apiKey: FAKE_API_KEY,
        // Explicit so the request shape does not depend on pi's URL-based auto-detection.
        compat: {
          supportsStore: false,
          supportsDeveloperRole: false,
          supportsReasoningEffort: false,
          supportsUsageInStreaming: true,
          maxTokensField: "max_tokens",
        },
        models: FAKE_MODEL_IDS.map((id, i) => ({
          id,
          name: i === 0 ? "Fake Model" : "Fake Model 2",
          reasoning: false,
          input: ["text"],
          contextWindow: 128000,
          maxTokens: 4096,
          cost: { ...cost },
        })),
      },
    },
  };
}

/** The pi-ai Model that pi builds from fakeModelsJson (same defaults as pi's model registry). */
export function fakeModel(
  llm: Pick<FakeLlm, "url">,
  id: string = FAKE_MODEL_IDS[0],
): Model<"openai-completions"> {
  const provider = fakeModelsJson(llm).providers.fake;
  const def = provider.models.find((m) => m.id === id);
  if (!def) throw new Error(`fake LLM has no model ${id}`);
  return {
    ...def,
    api: provider.api,
    provider: FAKE_PROVIDER,
    baseUrl: provider.baseUrl,
    compat: provider.compat,
  };
}

const DEFAULT_CHUNK_SIZE = 8;

interface ToolCallSpec {
  id: string;
  name: string;
  args: string;
}

interface Plan {
  text: string;
  chunkSize: number;
  delayMs: number;
  toolCalls: ToolCallSpec[];
  finishReason: "stop" | "length" | "tool_calls";
  cachedTokens: number;
}

function splitChunks(s: string, size: number): string[] {
  const n = Math.max(1, Math.floor(size));
  const out: string[] = [];
  // Split on code points so surrogate pairs are never cut apart.
  const chars = Array.from(s);
  for (let i = 0; i < chars.length; i += n) out.push(chars.slice(i, i + n).join(""));
  return out;
}

function estimateTokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseChatBody(raw: string): ChatRequestBody | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return "body is not valid JSON";
  }
  if (!isRecord(parsed)) return "body must be a JSON object";
  if (typeof parsed.model !== "string") return "'model' must be a string";
  if (!Array.isArray(parsed.messages)) return "'messages' must be an array";
  return parsed as ChatRequestBody;
}

function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    ...extra,
  });
  res.end(payload);
}

function errorBody(status: number, message: string, type: string): { error: Record<string, unknown> } {
  return { error: { message, type, code: status } };
}

export async function startFakeLlm(): Promise<FakeLlm> {
  const queue: FakeStep[] = [];
  let responder: ((req: FakeRequest) => FakeStep) | undefined;
  const requests: FakeRequest[] = [];
  const titleRequests: FakeRequest[] = [];
  let titleResponder: ((req: FakeRequest) => FakeStep) | undefined;
  const sockets = new Set<Socket>();
  const streams = new Set<http.ServerResponse>();
  const waiters = new Set<() => void>();
  let completionCounter = 0;
  let toolCallCounter = 0;

  const notifyWaiters = (): void => {
    for (const w of [...waiters]) w();
  };

  const nextStep = (req: FakeRequest): FakeStep => {
    const queued = queue.shift();
    if (queued) return queued;
    if (responder) return responder(req);
    return { kind: "text", text: "ok" };
  };

  const toPlan = (step: Exclude<FakeStep, { kind: "error" } | { kind: "hang" }>): Plan => {
    const newId = (): string => `call_fake_${++toolCallCounter}`;
    switch (step.kind) {
      case "text":
        return {
          text: step.text,
          chunkSize: step.chunkSize ?? DEFAULT_CHUNK_SIZE,
          delayMs: step.delayMs ?? 0,
          toolCalls: [],
          finishReason: step.finishReason ?? "stop",
          cachedTokens: step.cachedTokens ?? 0,
        };
      case "tool_call":
        return {
          text: step.text ?? "",
          chunkSize: DEFAULT_CHUNK_SIZE,
          delayMs: step.delayMs ?? 0,
          toolCalls: [{ id: step.id ?? newId(), name: step.name, args: JSON.stringify(step.args) }],
          finishReason: "tool_calls",
          cachedTokens: step.cachedTokens ?? 0,
        };
      case "tool_calls":
        return {
          text: step.text ?? "",
          chunkSize: DEFAULT_CHUNK_SIZE,
          delayMs: step.delayMs ?? 0,
          toolCalls: step.calls.map((c) => ({
            id: c.id ?? newId(),
            name: c.name,
            args: JSON.stringify(c.args),
          })),
          finishReason: "tool_calls",
          cachedTokens: step.cachedTokens ?? 0,
        };
    }
  };

  const handleChat = async (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    signal: AbortSignal,
  ): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const parsed = parseChatBody(Buffer.concat(chunks).toString("utf8"));
    if (typeof parsed === "string") {
      sendJson(res, 400, errorBody(400, parsed, "invalid_request_error"));
      return;
    }
    const fakeReq: FakeRequest = { body: parsed, headers: { ...req.headers } };
    const first = parsed.messages[0];
    const isTitle = first?.role === "system" && first.content === TITLE_SYSTEM_PROMPT;
    if (isTitle) titleRequests.push(fakeReq);
    else requests.push(fakeReq);
    notifyWaiters();

    let step: FakeStep;
    try {
      step = isTitle
        ? (titleResponder?.(fakeReq) ?? { kind: "text", text: "Fake title" })
        : nextStep(fakeReq);
    } catch (err) {
      sendJson(res, 500, errorBody(500, `fake responder threw: ${String(err)}`, "server_error"));
      return;
    }

    if (step.kind === "error") {
      const headers: Record<string, string> = step.retryable
        ? { "x-should-retry": "true", "retry-after-ms": "10" }
        : { "x-should-retry": "false" };
      const body =
        step.body ?? JSON.stringify(errorBody(step.status, `Fake error ${step.status}`, "fake_error"));
      res.writeHead(step.status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        ...headers,
      });
      res.end(body);
      return;
    }

    const id = `chatcmpl-fake-${++completionCounter}`;
    const created = Math.floor(Date.now() / 1000);
    const model = parsed.model;
    const promptTokens = estimateTokens(JSON.stringify(parsed.messages).length);

    if (parsed.stream !== true) {
      if (step.kind === "hang") {
        // Headers only: the client sees a response that never completes.
        res.writeHead(200, { "content-type": "application/json" });
        res.flushHeaders();
        return;
      }
      const plan = toPlan(step);
      const completionTokens = estimateTokens(
        plan.text.length + plan.toolCalls.reduce((n, t) => n + t.args.length, 0),
      );
      const cached = Math.min(plan.cachedTokens, promptTokens);
      fakeReq.usage = { prompt: promptTokens, completion: completionTokens, cached };
      sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: plan.text.length > 0 ? plan.text : null,
              ...(plan.toolCalls.length > 0
                ? {
                    tool_calls: plan.toolCalls.map((t) => ({
                      id: t.id,
                      type: "function",
                      function: { name: t.name, arguments: t.args },
                    })),
                  }
                : {}),
            },
            finish_reason: plan.finishReason,
          },
        ],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
          prompt_tokens_details: { cached_tokens: cached },
        },
      });
      return;
    }

    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });

    const write = (data: string): boolean => {
      if (signal.aborted || res.writableEnded || res.destroyed) return false;
      res.write(`data: ${data}\n\n`);
      return true;
    };
    const chunk = (delta: Record<string, unknown>, finishReason: string | null = null): boolean =>
      write(
        JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        }),
      );

    if (step.kind === "hang") {
      chunk({ role: "assistant", content: step.text ?? "" });
      // Resolved by the response's close listener (client abort or server close()).
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener("abort", () => resolve(), { once: true });
      });
      return;
    }

    const plan = toPlan(step);
    const pause = async (): Promise<boolean> => {
      if (plan.delayMs > 0) await delay(plan.delayMs, undefined, { signal }).catch(() => undefined);
      return !signal.aborted;
    };

    if (!chunk({ role: "assistant", content: "" })) return;
    for (const piece of splitChunks(plan.text, plan.chunkSize)) {
      if (!(await pause())) return;
      if (!chunk({ content: piece })) return;
    }
    for (const [index, call] of plan.toolCalls.entries()) {
      if (!(await pause())) return;
      if (
        !chunk({
          tool_calls: [
            { index, id: call.id, type: "function", function: { name: call.name, arguments: "" } },
          ],
        })
      )
        return;
      for (const piece of splitChunks(call.args, plan.chunkSize)) {
        if (!(await pause())) return;
        if (!chunk({ tool_calls: [{ index, function: { arguments: piece } }] })) return;
      }
    }
    if (!(await pause())) return;
    if (!chunk({}, plan.finishReason)) return;

    if (parsed.stream_options?.include_usage) {
      const completionTokens = estimateTokens(
        plan.text.length + plan.toolCalls.reduce((n, t) => n + t.args.length, 0),
      );
      const cached = Math.min(plan.cachedTokens, promptTokens);
      fakeReq.usage = { prompt: promptTokens, completion: completionTokens, cached };
      write(
        JSON.stringify({
          id,
          object: "chat.completion.chunk",
          created,
          model,
          choices: [],
          usage: {
            prompt_tokens: promptTokens,
            completion_tokens: completionTokens,
            total_tokens: promptTokens + completionTokens,
            prompt_tokens_details: { cached_tokens: cached },
          },
        }),
      );
    }
    write("[DONE]");
    res.end();
  };

  const server = http.createServer((req, res) => {
    const ac = new AbortController();
    // 'close' on the response fires both after a normal end and when the client goes away; either way pending sleeps must stop.
    res.on("close", () => ac.abort());

    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "POST" && path === "/v1/chat/completions") {
      streams.add(res);
      res.on("close", () => streams.delete(res));
      handleChat(req, res, ac.signal).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, errorBody(500, String(err), "server_error"));
        else res.destroy();
      });
      return;
    }
    if (req.method === "GET" && path === "/v1/models") {
      sendJson(res, 200, {
        object: "list",
        data: FAKE_MODEL_IDS.map((id) => ({ id, object: "model", created: 0, owned_by: FAKE_PROVIDER })),
      });
      return;
    }
    req.resume();
    sendJson(res, 404, errorBody(404, `Unknown route ${req.method ?? "?"} ${path}`, "not_found"));
  });

  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    titleRequests,
    setTitleResponder(fn): void {
      titleResponder = fn;
    },
    enqueue(...steps: FakeStep[]): void {
      queue.push(...steps);
    },
    setResponder(fn): void {
      responder = fn;
    },
    waitForRequests(count: number, timeoutMs = 5000): Promise<FakeRequest[]> {
      if (requests.length >= count) return Promise.resolve(requests.slice());
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (requests.length >= count) {
            finish();
            resolve(requests.slice());
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new Error(`fake LLM: expected ${count} request(s), got ${requests.length} within ${timeoutMs}ms`),
          );
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
      });
    },
    activeStreams(): number {
      return streams.size;
    },
    openSockets(): number {
      return sockets.size;
    },
    reset(): void {
      queue.length = 0;
      responder = undefined;
      requests.length = 0;
      titleRequests.length = 0;
      titleResponder = undefined;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        // server.close() can report completion before the destroyed sockets emit 'close', so wait for those too.
        const socketsClosed = [...sockets].map(
          (s) => new Promise<void>((resolve) => s.once("close", () => resolve())),
        );
        const serverClosed = new Promise<void>((resolve, reject) =>
          server.close((err) => (err ? reject(err) : resolve())),
        );
        // Hanging streams and idle keep-alive sockets would otherwise keep server.close() pending.
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
        await Promise.all([serverClosed, ...socketsClosed]);
      })();
      return closing;
    },
  };
}
