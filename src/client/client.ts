import WebSocket from "ws";
import type { EventFrame, RequestId, ResponseFrame } from "../protocol/envelope.js";
import { PROTOCOL_VERSION } from "../protocol/envelope.js";
import type { ErrorCode } from "../protocol/errors.js";
import type { EventType, PayloadOf } from "../protocol/events.js";
import type { MethodName, ParamsOf, ResultOf } from "../protocol/methods.js";

/** A request the server answered with `ok: false`. */
export class RpcError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

export interface ConnectOptions {
  token?: string;
  /** Send the token as `Authorization: Bearer` on the upgrade instead of in hello. */
  tokenInHeader?: boolean;
  clientName?: string;
  /** Reject pending requests after this long (default 60 s). */
  requestTimeoutMs?: number;
}

export type TypedEvent<T extends EventType = EventType> = Omit<EventFrame, "type" | "payload"> & {
  type: T;
  payload: PayloadOf<T>;
};

/** Any event, discriminated on `type` so `payload` narrows. */
export type AnyEvent = { [T in EventType]: TypedEvent<T> }[EventType];

type EventListener = (e: AnyEvent) => void;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Typed client for the /rpc WebSocket: request/response correlation and event subscription. */
export class PiClient {
  private nextId = 1;
  private readonly pending = new Map<RequestId, Pending>();
  private readonly listeners = new Set<EventListener>();
  private readonly closeListeners = new Set<(code: number, reason: string) => void>();
  /** Responses with `id: null` (unparsable frames), kept for inspection. */
  readonly orphanErrors: { code: ErrorCode; message: string }[] = [];
  connectionId = "";
  closed: { code: number; reason: string } | undefined;

  private constructor(
    readonly ws: WebSocket,
    private readonly requestTimeoutMs: number,
  ) {
    ws.on("message", (data) => this.onFrame(String(data)));
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`connection closed (${code} ${String(reason)})`));
      }
      this.pending.clear();
      for (const l of this.closeListeners) l(code, String(reason));
    });
  }

  /** Opens the socket and performs `hello`. */
  static async connect(url: string, opts: ConnectOptions = {}): Promise<PiClient> {
    const client = await PiClient.open(url, opts);
    const hello = await client.request("hello", {
      ...(opts.token !== undefined && !opts.tokenInHeader ? { token: opts.token } : {}),
      client: { name: opts.clientName ?? "pi-server-client" },
    });
    client.connectionId = hello.connectionId;
    return client;
  }

  /** Opens the socket without saying hello (for callers that want to drive it themselves). */
  static open(url: string, opts: ConnectOptions = {}): Promise<PiClient> {
    const base = url.replace(/^http/, "ws");
    const wsUrl = base.endsWith("/rpc") ? base : `${base.replace(/\/$/, "")}/rpc`;
    const headers: Record<string, string> =
      opts.tokenInHeader && opts.token !== undefined ? { Authorization: `Bearer ${opts.token}` } : {};
    const ws = new WebSocket(wsUrl, { headers });
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new PiClient(ws, opts.requestTimeoutMs ?? 60_000)));
      ws.once("error", reject);
    });
  }

  request<M extends MethodName>(method: M, params: ParamsOf<M>, sessionId?: string): Promise<ResultOf<M>> {
    const id = this.nextId++;
    const frame = {
      v: PROTOCOL_VERSION,
      kind: "request",
      id,
      method,
      params,
      ...(sessionId ? { sessionId } : {}),
    };
    return this.sendRaw(JSON.stringify(frame), id) as Promise<ResultOf<M>>;
  }

  /** Sends any text and waits for the response with the given id. */
  sendRaw(text: string, id: RequestId): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error("connection is not open"));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`request ${id} timed out`));
      }, this.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(text);
    });
  }

  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onClose(listener: (code: number, reason: string) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Resolves with the first event (from now on) that matches. */
  waitForEvent<T extends EventType>(
    sessionId: string,
    type: T,
    match: (e: TypedEvent<T>) => boolean = () => true,
    timeoutMs = 30_000,
  ): Promise<TypedEvent<T>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out waiting for ${type} on ${sessionId}`));
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (e.sessionId === sessionId && e.type === type && match(e as TypedEvent<T>)) {
          clearTimeout(timer);
          off();
          resolve(e as TypedEvent<T>);
        }
      });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once("close", () => resolve());
      this.ws.close(1000, "bye");
    });
  }

  private onFrame(text: string): void {
    let frame: ResponseFrame | EventFrame;
    try {
      frame = JSON.parse(text) as ResponseFrame | EventFrame;
    } catch {
      return;
    }
    if (frame.kind === "event") {
      for (const l of this.listeners) l(frame as AnyEvent);
      return;
    }
    if (frame.kind !== "response") return;
    if (frame.id === null) {
      if (!frame.ok) this.orphanErrors.push(frame.error);
      return;
    }
    const p = this.pending.get(frame.id);
    if (!p) return;
    this.pending.delete(frame.id);
    clearTimeout(p.timer);
    if (frame.ok) p.resolve(frame.result);
    else p.reject(new RpcError(frame.error.code, frame.error.message, frame.error.details));
  }
}
