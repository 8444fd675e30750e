/**
 * The transport-neutral half of the typed client: request/response correlation, events and the
 * hello handshake. It imports no Node built-in, so the web app (over the browser's WebSocket) and
 * Node callers (over `ws`, in client.ts) share one implementation of the protocol.
 */
import { helloChallenge } from "../protocol/invite-format.js";
import type { EventFrame, RequestId, ResponseFrame } from "../protocol/envelope.js";
import type { ErrorCode, ErrorData } from "../protocol/errors.js";
import type { EventType, PayloadOf } from "../protocol/events.js";
import type { MethodName, ParamsOf, ResultOf } from "../protocol/methods.js";

// A literal rather than an import of envelope.ts, which would pull the schema library into the app.
const PROTOCOL_VERSION = 1;

/** A request the server answered with `ok: false`. */
export class RpcError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Human-readable elaboration. */
    readonly details?: string,
    /** Structured extras (issues, changes, limits). */
    readonly data?: ErrorData,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

/** The server could not prove it holds the key (or certificate) the client pinned. */
export class IdentityError extends Error {
  override name = "IdentityError";
}

export type TypedEvent<T extends EventType = EventType> = Omit<EventFrame, "type" | "payload"> & {
  type: T;
  payload: PayloadOf<T>;
};

/** Any event, discriminated on `type` so `payload` narrows. */
export type AnyEvent = { [T in EventType]: TypedEvent<T> }[EventType];

type EventListener = (e: AnyEvent) => void;

/** What the core needs from a socket; the owner feeds it frames with `receive` and `closedWith`. */
export interface Transport {
  isOpen(): boolean;
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Drop the connection without a closing handshake (a failed identity check). */
  terminate(): void;
}

export interface HelloOptions {
  token?: string;
  /** The token went in the upgrade's Authorization header; hello does not repeat it. */
  tokenInHeader?: boolean;
  clientName?: string;
  /** The server's Ed25519 public key (base64url, from the invite): hello sends a nonce and checks the signature. */
  serverPublicKey?: string;
  /** Whether this client answers permission requests (default true); see permissions.unanswerable. */
  answersPermissions?: boolean;
  /** Delta window for every session attached on this connection (hello coalesceMs, 0 … 250 ms). */
  coalesceMs?: number;
}

/** Ed25519 verification, sync on Node, async with WebCrypto. */
export type Verify = (publicKey: string, message: string, signature: string) => boolean | Promise<boolean>;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export function randomNonce(): string {
  const bytes = new Uint8Array(24);
  globalThis.crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** `ws://host:port/rpc` from any of `http(s)://host:port`, `ws(s)://host:port` or a URL ending in /rpc. */
export function rpcUrl(url: string): string {
  const base = url.replace(/^http/, "ws");
  return base.endsWith("/rpc") ? base : `${base.replace(/\/$/, "")}/rpc`;
}

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<RequestId, Pending>();
  private readonly listeners = new Set<EventListener>();
  private readonly closeListeners = new Set<(code: number, reason: string) => void>();
  /** Responses with `id: null` (unparsable frames), kept for inspection. */
  readonly orphanErrors: { code: ErrorCode; message: string }[] = [];
  connectionId = "";
  /** The server's answer to hello. */
  hello: ResultOf<"hello"> | undefined;
  closed: { code: number; reason: string } | undefined;

  constructor(
    protected readonly transport: Transport,
    private readonly requestTimeoutMs: number,
  ) {}

  /** Sends hello (with a nonce when a key is pinned) and checks the server's signature before anything else. */
  async sayHello(opts: HelloOptions, verify: Verify, extra: Partial<ParamsOf<"hello">> = {}): Promise<void> {
    const nonce = opts.serverPublicKey ? randomNonce() : undefined;
    const hello = await this.request("hello", {
      ...(opts.token !== undefined && !opts.tokenInHeader ? { token: opts.token } : {}),
      ...(nonce ? { nonce } : {}),
      client: { name: opts.clientName ?? "pi-server-client" },
      // It hands permission_request events to its caller, who answers with permission.respond.
      capabilities: { permissionRequests: opts.answersPermissions ?? true },
      ...(opts.coalesceMs !== undefined && { coalesceMs: opts.coalesceMs }),
      ...extra,
    });
    if (opts.serverPublicKey && nonce) {
      const { identity } = hello;
      const ok =
        identity.publicKey === opts.serverPublicKey &&
        identity.signature !== undefined &&
        (await verify(opts.serverPublicKey, helloChallenge(nonce, identity.serverId), identity.signature));
      if (!ok) {
        this.transport.terminate();
        throw new IdentityError("the server did not prove it holds the paired key");
      }
    }
    this.connectionId = hello.connectionId;
    this.hello = hello;
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

  /**
   * Tells the server whether this client is on screen (client.visibility): while it is, and
   * attached to a session, nothing about that session is pushed to the user's devices.
   */
  setVisibility(visible: boolean): Promise<ResultOf<"client.visibility">> {
    return this.request("client.visibility", { visible });
  }

  /** Sends any text and waits for the response with the given id. */
  sendRaw(text: string, id: RequestId): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed || !this.transport.isOpen()) {
        reject(new Error("connection is not open"));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`request ${id} timed out`));
      }, this.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.transport.send(text);
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
      this.closeListeners.add(() => resolve());
      this.transport.close(1000, "bye");
    });
  }

  /** The transport received a text frame. */
  protected receive(text: string): void {
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
    else p.reject(new RpcError(frame.error.code, frame.error.message, frame.error.details, frame.error.data));
  }

  /** The transport closed: fail what is pending and tell the listeners. */
  protected closedWith(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = { code, reason };
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`connection closed (${code} ${reason})`));
    }
    this.pending.clear();
    for (const l of this.closeListeners) l(code, reason);
  }
}
