import { randomBytes } from "node:crypto";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import WebSocket, { type ClientOptions } from "ws";
import { helloChallenge, verifyEd25519 } from "../protocol/invite.js";
import type { EventFrame, RequestId, ResponseFrame } from "../protocol/envelope.js";
import { PROTOCOL_VERSION } from "../protocol/envelope.js";
import type { ErrorCode, ErrorData } from "../protocol/errors.js";
import type { EventType, PayloadOf } from "../protocol/events.js";
import type { MethodName, ParamsOf, ResultOf } from "../protocol/methods.js";

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

export interface ConnectOptions {
  token?: string;
  /** Send the token as `Authorization: Bearer` on the upgrade instead of in hello. */
  tokenInHeader?: boolean;
  clientName?: string;
  /** Reject pending requests after this long (default 60 s). */
  requestTimeoutMs?: number;
  /** wss:// only: accept exactly the certificate with this SHA-256 (hex, from the invite) instead of a CA chain. */
  tlsFingerprint?: string;
  /** The server's Ed25519 public key (base64url, from the invite): hello sends a nonce and checks the signature. */
  serverPublicKey?: string;
  /** Whether this client answers permission requests (default true); see permissions.unanswerable. */
  answersPermissions?: boolean;
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
  /** The server's answer to hello. */
  hello: ResultOf<"hello"> | undefined;
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
    const nonce = opts.serverPublicKey ? randomBytes(24).toString("base64url") : undefined;
    const hello = await client.request("hello", {
      ...(opts.token !== undefined && !opts.tokenInHeader ? { token: opts.token } : {}),
      ...(nonce ? { nonce } : {}),
      client: { name: opts.clientName ?? "pi-server-client" },
      // It hands permission_request events to its caller, who answers with permission.respond.
      capabilities: { permissionRequests: opts.answersPermissions ?? true },
    });
    if (opts.serverPublicKey && nonce) {
      const { identity } = hello;
      const ok =
        identity.publicKey === opts.serverPublicKey &&
        identity.signature !== undefined &&
        verifyEd25519(opts.serverPublicKey, helloChallenge(nonce, identity.serverId), identity.signature);
      if (!ok) {
        client.ws.terminate();
        throw new IdentityError("the server did not prove it holds the paired key");
      }
    }
    client.connectionId = hello.connectionId;
    client.hello = hello;
    return client;
  }

  /** Opens the socket without saying hello (for callers that want to drive it themselves). */
  static open(url: string, opts: ConnectOptions = {}): Promise<PiClient> {
    const base = url.replace(/^http/, "ws");
    const wsUrl = base.endsWith("/rpc") ? base : `${base.replace(/\/$/, "")}/rpc`;
    const headers: Record<string, string> =
      opts.tokenInHeader && opts.token !== undefined ? { Authorization: `Bearer ${opts.token}` } : {};
    const pin = opts.tlsFingerprint?.replace(/:/g, "").toLowerCase();
    const ws = new WebSocket(wsUrl, {
      headers,
      ...(pin
        ? {
            rejectUnauthorized: false,
            // Checked when the TLS handshake completes, before the upgrade request leaves.
            createConnection: ((options: ConnectionOptions) => {
              const socket = tlsConnect({ ...options, rejectUnauthorized: false });
              socket.once("secureConnect", () => {
                const got = socket.getPeerCertificate().fingerprint256?.replace(/:/g, "").toLowerCase();
                if (got !== pin)
                  socket.destroy(
                    new IdentityError(`TLS certificate fingerprint ${got} is not the pinned one`),
                  );
              });
              return socket;
            }) as unknown as ClientOptions["createConnection"],
          }
        : {}),
    });
    return new Promise((resolve, reject) => {
      if (pin) {
        // No CA vouches for a self-signed certificate: the pinned fingerprint is the trust anchor.
        ws.once("upgrade", (res) => {
          const cert = (res.socket as TLSSocket).getPeerCertificate?.();
          const got = cert?.fingerprint256?.replace(/:/g, "").toLowerCase();
          if (got !== pin) {
            ws.terminate();
            reject(
              new IdentityError(
                `TLS certificate fingerprint ${got ?? "(none)"} does not match the pinned one`,
              ),
            );
          }
        });
      }
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
    else p.reject(new RpcError(frame.error.code, frame.error.message, frame.error.details, frame.error.data));
  }
}
