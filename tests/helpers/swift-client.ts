import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import * as S from "./swift-decode.js";

/** The tools the app always offers (get_device_info is always available, so every hello has some). */
export const APP_NATIVE_TOOLS = [
  {
    name: "get_device_info",
    description: "Get information about the user's device",
    parameters: { type: "object", properties: {} },
  },
];

type Obj = Record<string, unknown>;
export interface AppEvent {
  sessionId: string;
  seq: number;
  type: string;
  payload: Obj;
}

/** What the conversation view shows, rebuilt the way the app's SessionEngine does. */
export interface Transcript {
  processing: boolean;
  /** Assistant bubbles, built from text_delta alone. */
  bubbles: string[];
  tools: Map<string, { name: string; output: string; isError?: boolean }>;
  errorBanner: string | undefined;
}

/**
 * Speaks to /rpc exactly as the Pi Mobile app does (shared/clients/pi-mobile.md): uppercase UUID ids,
 * the method name as `type` in every command's params, the current session in every envelope, no
 * params on detach, nativeTools in every first hello, resume by hello only. Every frame is decoded with
 * the Swift structs' strictness; what would not decode is collected in `undecodable` instead of being
 * silently dropped, and a request no response answers is reported instead of hanging forever.
 */
export class SwiftClient {
  ws!: WebSocket;
  connectionId: string | undefined;
  currentSessionId: string | undefined;
  readonly lastSeqBySession: Record<string, number> = {};
  readonly undecodable: string[] = [];
  readonly events: AppEvent[] = [];
  readonly transcript: Transcript = {
    processing: false,
    bubbles: [],
    tools: new Map(),
    errorBanner: undefined,
  };
  /** Answers for native tool requests, by tool name. */
  nativeHandlers = new Map<string, (args: Obj) => Obj | Promise<Obj>>();
  private readonly pending = new Map<string, { resolve(f: Obj): void; method: string }>();
  private readonly waiters = new Set<{ match(e: AppEvent): boolean; resolve(e: AppEvent): void }>();

  private constructor(readonly url: string) {}

  /** ServerConfig.url + "/rpc" unless it already ends with it (WebSocketTransport). */
  static rpcUrl(serverUrl: string): string {
    return serverUrl.endsWith("/rpc") ? serverUrl : `${serverUrl.replace(/\/$/, "")}/rpc`;
  }

  static async connect(serverUrl: string): Promise<SwiftClient> {
    const c = new SwiftClient(SwiftClient.rpcUrl(serverUrl));
    await c.open(APP_NATIVE_TOOLS, undefined);
    return c;
  }

  private async open(nativeTools: Obj[], resume: Obj | undefined): Promise<void> {
    this.ws = new WebSocket(this.url);
    this.ws.on("message", (data) => this.onFrame(String(data)));
    await new Promise<void>((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    const params: Obj = { client: { name: "pi-mobile", version: "1.0" } };
    if (nativeTools.length > 0) params.nativeTools = nativeTools;
    if (resume) params.resume = resume;
    const hello = S.HelloResult(await this.call("hello", params, { noSession: true }), "HelloResult");
    this.connectionId = hello.connectionId;
  }

  /** The network drops: the socket dies without a close frame; the app keeps its ids and seqs. */
  drop(): void {
    this.ws.terminate();
  }

  /** The automatic reconnect: a full connect with no native tools and resume, then no session.attach. */
  /** Returns the raw hello result (the app ignores its `resume` part; tests read it). */
  async reconnect(): Promise<Obj> {
    if (!this.connectionId) throw new Error("never connected");
    const resume = { connectionId: this.connectionId, lastSeqBySession: { ...this.lastSeqBySession } };
    this.ws = undefined as unknown as WebSocket;
    const previous = this.connectionId;
    this.connectionId = undefined;
    try {
      await this.open([], resume);
    } catch (err) {
      this.connectionId = previous;
      throw err;
    }
    return this.lastHelloRaw ?? {};
  }

  private lastHelloRaw: Obj | undefined;

  close(): void {
    this.ws?.close();
  }

  /** A typed request (WST.send): ok == true and a non-null object result, else it throws. */
  async call(
    method: string,
    params: Obj | undefined,
    o: { sessionId?: string; noSession?: boolean } = {},
  ): Promise<Obj> {
    const id = randomUUID().toUpperCase();
    const sessionId = o.noSession ? undefined : (o.sessionId ?? this.currentSessionId);
    const frame: Obj = { v: 1, kind: "request", id };
    if (sessionId !== undefined) frame.sessionId = sessionId;
    frame.method = method;
    if (params !== undefined) frame.params = params;
    const answer = await new Promise<Obj>((resolve, reject) => {
      // The app waits forever; a test reports the hang instead.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`request ${method} was never answered (the app would hang here)`));
      }, 30_000);
      this.pending.set(id, {
        method,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
      this.ws.send(JSON.stringify(frame));
    });
    if (answer.ok !== true) {
      const err = S.RPCError(answer.error, "RPCError");
      throw Object.assign(new Error(`serverError(${err.code}: ${err.message})`), { rpc: err });
    }
    if (method === "hello") this.lastHelloRaw = answer.result as Obj;
    return S.dict(answer.result, `${method} result`);
  }

  /** A command struct: its constant `type` is encoded into params. */
  command(method: string, extra: Obj = {}, o: { sessionId?: string } = {}): Promise<Obj> {
    return this.call(method, { type: method, ...extra }, o);
  }

  // --- ServerConnection's calls -----------------------------------------------------------------

  async getDefaultModel() {
    return S.GetDefaultModelResponse(await this.command("get_default_model"), "GetDefaultModelResponse");
  }
  async setDefaultModel(provider: string, modelId: string) {
    return S.SetDefaultModelResponse(
      await this.command("set_default_model", { provider, modelId }),
      "SetDefaultModelResponse",
    );
  }
  async getAvailableModels() {
    return S.GetAvailableModelsResponse(
      await this.command("get_available_models"),
      "GetAvailableModelsResponse",
    );
  }
  async listSessions() {
    return S.SessionListResult(await this.call("session.list", undefined), "SessionListResult");
  }
  async listRepos() {
    return S.ReposListResult(await this.call("repos.list", undefined), "ReposListResult");
  }
  async createSession(p: {
    mode: "chat" | "code";
    repoId?: string;
    provider?: string;
    modelId?: string;
    systemPrompt?: string;
  }) {
    return S.SessionCreateResult(await this.call("session.create", p), "SessionCreateResult");
  }
  /** sendVoid, only when a session is current; its id only in the envelope. */
  async detach(): Promise<void> {
    if (this.currentSessionId === undefined) return;
    await this.call("session.detach", undefined);
    this.currentSessionId = undefined;
  }
  async attach(sessionId: string) {
    const r = S.AttachSessionResponse(
      await this.call("session.attach", { sessionId }),
      "AttachSessionResponse",
    );
    this.currentSessionId = sessionId;
    return r;
  }
  /** ConversationView's switch: detach (awaited, errors ignored), attach, then load the history. */
  async switchTo(sessionId: string) {
    await this.detach().catch(() => undefined);
    const attached = await this.attach(sessionId);
    const history = await this.getMessages();
    return { attached, history };
  }
  async getMessages() {
    return S.GetMessagesResponse(await this.command("get_messages"), "GetMessagesResponse");
  }
  async getState() {
    return S.GetStateResponse(await this.command("get_state"), "GetStateResponse");
  }
  async prompt(message: string): Promise<void> {
    await this.command("prompt", {
      message,
      ...(this.transcript.processing && { streamingBehavior: "steer" }),
    });
  }
  async abort(): Promise<void> {
    await this.command("abort");
    this.transcript.processing = false;
  }
  async setModel(sessionId: string, provider: string, modelId: string) {
    return S.SetModelResponse(
      await this.command("set_model", { provider, modelId }, { sessionId }),
      "SetModelResponse",
    );
  }
  async deleteSession(sessionId: string): Promise<void> {
    await this.call("session.delete", { sessionId });
    if (this.currentSessionId === sessionId) this.currentSessionId = undefined;
  }

  // --- events -----------------------------------------------------------------------------------

  /** Resolves with the first event from now on that matches. */
  waitFor(match: (e: AppEvent) => boolean, timeoutMs = 30_000): Promise<AppEvent> {
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (e: AppEvent) => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error("timed out waiting for an event"));
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  private onFrame(text: string): void {
    let msg: ReturnType<typeof S.WSIncomingMessage>;
    try {
      msg = S.WSIncomingMessage(JSON.parse(text), "WSIncomingMessage");
    } catch (err) {
      this.undecodable.push(`${(err as Error).message} in ${text.slice(0, 200)}`);
      return;
    }
    if (msg.kind === "response") {
      if (msg.id === undefined) return;
      this.pending.get(msg.id)?.resolve(msg as unknown as Obj);
      this.pending.delete(msg.id);
      return;
    }
    if (msg.kind !== "event") return;
    if (msg.sessionId === undefined || msg.seq === undefined || msg.type === undefined) {
      this.undecodable.push(`event without sessionId/seq/type: ${text.slice(0, 200)}`);
      return;
    }
    let payload: Obj;
    try {
      payload = S.dict(msg.payload, `${msg.type} payload`);
      S.EventPayloads[msg.type]?.(payload, `${msg.type} payload`);
      if (msg.type === "message_update") S.str(S.assistantEvent(payload).type, "assistantMessageEvent.type");
    } catch (err) {
      this.undecodable.push(`${(err as Error).message} in ${text.slice(0, 200)}`);
      return;
    }
    this.lastSeqBySession[msg.sessionId] = msg.seq;
    const e: AppEvent = { sessionId: msg.sessionId, seq: msg.seq, type: msg.type, payload };
    this.events.push(e);
    this.apply(e);
    for (const w of [...this.waiters]) if (w.match(e)) w.resolve(e);
  }

  /** ConversationView.handleEvent + SessionEngine: every event, whatever its session. */
  private apply(e: AppEvent): void {
    const t = this.transcript;
    const p = e.payload;
    switch (e.type) {
      case "agent_start":
        t.processing = true;
        t.bubbles.push("");
        break;
      case "agent_end": {
        t.processing = false;
        if (p.success === false) t.errorBanner = String((p.error as Obj | undefined)?.message ?? "error");
        break;
      }
      case "message_update": {
        const a = S.assistantEvent(p);
        if (a.type === "text_delta" && typeof a.delta === "string") {
          if (t.bubbles.length === 0) t.bubbles.push("");
          t.bubbles[t.bubbles.length - 1] += a.delta;
        }
        if ((a.type === "toolcall_start" || a.type === "tool_use_start") && typeof a.toolCallId === "string")
          t.tools.set(a.toolCallId, { name: String(a.toolName ?? ""), output: "" });
        break;
      }
      case "tool_execution_start":
        if (!t.tools.has(String(p.toolCallId)))
          t.tools.set(String(p.toolCallId), { name: String(p.toolName), output: "" });
        break;
      case "tool_execution_end": {
        const row = t.tools.get(String(p.toolCallId)) ?? { name: String(p.toolName), output: "" };
        const content = ((p.result as Obj | undefined)?.content as { text?: string }[] | undefined) ?? [];
        row.output = content.map((c) => c.text ?? "").join("");
        row.isError = p.isError === true;
        t.tools.set(String(p.toolCallId), row);
        break;
      }
      case "native_tool_request":
        void this.runNativeTool(e);
        break;
    }
  }

  /** SC.handleNativeToolRequest: run it, answer with native_tool_response to the requesting session. */
  private async runNativeTool(e: AppEvent): Promise<void> {
    const { callId, toolName, args } = e.payload as { callId: string; toolName: string; args?: Obj };
    const handler = this.nativeHandlers.get(toolName);
    const params: Obj = { callId };
    try {
      if (!handler) throw new Error(`unknown tool ${toolName}`);
      params.result = await handler(args ?? {});
    } catch (err) {
      params.error = { message: (err as Error).message };
    }
    await this.call("native_tool_response", params, { sessionId: e.sessionId });
  }
}
