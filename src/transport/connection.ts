import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Socket } from "node:net";
import type { WebSocket } from "ws";
import { PROTOCOL_VERSION, type RequestFrame, type RequestId } from "../protocol/envelope.js";
import { CloseCode, type ErrorCode, type ErrorData, errorBody, ProtocolError } from "../protocol/errors.js";
import { isMethodName, Methods, type ParamsOf } from "../protocol/methods.js";
import type { ServerInfo } from "../protocol/types.js";
import { formatIssues } from "../protocol/validate.js";
import { checkRequest, idOf, paramChecker } from "./request-checks.js";
import type { NativeToolSpec } from "../protocol/native-tools.js";
import type {
  AttachLevel,
  LiveSession,
  OutboundEvent,
  SubscriberTraits,
  Subscription,
} from "../sessions/live-session.js";
import type { NativeCalls } from "../sessions/native-calls.js";
import type { TokenMatch } from "../store/tokens.js";
import type { Identity } from "../pairing/identity.js";
import { isStorageFull, STORAGE_FULL_MESSAGE } from "../store/storage-errors.js";
import { capIncomingBytes } from "./admission.js";
import type { Authenticator } from "./auth.js";
import type { AuthThrottle } from "./guards.js";
import type { CallContext, Handlers } from "./handlers.js";
import { acceptedTools, clientTraits, helloResult, resumeSessions } from "./hello.js";
import { jsonTooDeep } from "./json-depth.js";
import type { ConnectionSnapshot, Resumable, ResumeRegistry } from "./resume.js";
import { DeltaCoalescer } from "./coalescer.js";
import { SendQueue, type TransportStats } from "./send-queue.js";

export interface ConnectionOptions {
  maxFrameBytes: number;
  helloTimeoutMs: number;
  heartbeatMs: number;
  /** Bytes that may wait in the connection's own queue before it is closed with 4409. */
  sendQueueBytes: number;
  maxJsonDepth: number;
  maxRequestsPerSecond: number;
  maxSessionsPerConnection: number;
  /** Bytes the socket may deliver before hello succeeds; past it the socket is terminated. */
  maxPreHelloBytes: number;
}

export interface ConnectionDeps {
  handlers: Handlers;
  auth: Authenticator;
  info: () => ServerInfo;
  identity: Identity;
  throttle: AuthThrottle;
  log: Logger;
  options: ConnectionOptions;
  stats: TransportStats;
  resume: ResumeRegistry;
  openSession: (sessionId: string) => Promise<LiveSession>;
  nativeCalls: NativeCalls;
}

/** One /rpc WebSocket: authentication, validation, dispatch, and the session events it is attached to. */
export class RpcConnection implements Resumable {
  readonly id = randomBytes(8).toString("hex");
  private principal: TokenMatch | undefined;
  private helloDone = false;
  /** Message bytes after inflation: with permessage-deflate the socket's count understates them. */
  private preHelloMessageBytes = 0;
  /** What the client said in hello it can do; attached sessions learn it through their subscription. */
  private traits: SubscriberTraits = { permissionRequests: false };
  private nativeTools: NativeToolSpec[] = [];
  /** Taken over by a resuming connection: its attachments live on there, not in the registry. */
  private handedOver = false;
  private closed = false;
  /** Set once an unauthenticated socket is being cut off: nothing more it sends is handled. */
  private ending = false;
  private cleanedUp = false;
  private alive = true;
  private readonly subs = new Map<string, Subscription>();
  /** client.visibility: the client said it is on screen. */
  private visible = false;
  /** Delta window of each attachment that asked for one (ms), and the coalescer holding its deltas. */
  private readonly windows = new Map<Subscription, { ms: number; coalescer: DeltaCoalescer }>();
  /** hello's coalesceMs: the window of attachments that do not name their own. */
  private defaultCoalesceMs = 0;
  private readonly helloTimer: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly queue: SendQueue;
  /** Token bucket: maxRequestsPerSecond sustained, twice that in a burst. */
  private tokens: number;
  private tokensAt = Date.now();
  private readonly stopCountingBytes: () => void;

  constructor(
    private readonly ws: WebSocket,
    private readonly deps: ConnectionDeps,
    headerToken: string | undefined,
    readonly address: string,
    socket: Socket,
    private readonly onAuthenticated: () => void,
  ) {
    this.log = deps.log.child({ conn: this.id });
    const o = deps.options;
    this.tokens = o.maxRequestsPerSecond * 2;
    this.queue = new SendQueue(
      ws,
      o.sendQueueBytes,
      Math.min(1024 * 1024, Math.floor(o.sendQueueBytes / 4)),
      deps.stats,
      (queued) => {
        deps.stats.slowConsumerCloses++;
        this.log.warn({ queued }, "client too slow; dropping connection");
        this.close(CloseCode.slowConsumer, "send queue full; reconnect and attach with sinceSeq");
        // A client that does not read will not read the close frame either.
        setTimeout(() => ws.terminate(), 2000).unref();
      },
    );
    ws.on("message", (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on("close", () => this.cleanup());
    ws.on("error", (err) => this.log.debug({ err }, "socket error"));
    ws.on("pong", () => (this.alive = true));
    // Until hello succeeds nobody knows who is sending: a few KiB is all a hello needs, so the
    // socket is cut off while an oversized frame is still arriving, not once ws has buffered it.
    this.stopCountingBytes = capIncomingBytes(socket, o.maxPreHelloBytes, () => {
      this.log.info({ limit: o.maxPreHelloBytes, address }, "too many bytes before hello; terminating");
      this.terminate();
    });
    // terminate, not close: a peer that does not answer the close handshake would keep the socket
    // (and its descriptor) for ws's 30 s close timeout.
    this.helloTimer = setTimeout(
      () => this.terminate(CloseCode.helloTimeout, "no hello in time"),
      deps.options.helloTimeoutMs,
    );
    this.heartbeat = setInterval(() => {
      if (!this.alive) {
        this.log.info("no pong; dropping connection");
        ws.terminate();
        return;
      }
      this.alive = false;
      ws.ping();
    }, deps.options.heartbeatMs);
    this.heartbeat.unref();
    if (headerToken !== undefined) {
      try {
        this.principal = this.authenticate(headerToken);
      } catch {
        this.principal = undefined;
      }
      if (!this.principal) {
        this.sendError(null, "unauthorized", "invalid token");
        this.terminateAfterSend(CloseCode.unauthorized, "unauthorized");
      }
    }
  }

  /** The token id this connection authenticated with, once it has. */
  get principalId(): string | undefined {
    return this.principal?.id;
  }

  /**
   * The throttle slows guessing, never a valid token: an old client retrying with a rotated token
   * must not lock its owner out. A hello with no token at all guesses nothing and is not counted.
   */
  private authenticate(token: string | undefined): TokenMatch | undefined {
    const match = this.deps.auth.verify(token, this.address);
    if (match || token === undefined) return match;
    if (this.deps.throttle.blocked(this.address)) {
      throw new ProtocolError("limit_exceeded", "too many failed authentications; wait a minute");
    }
    this.deps.throttle.fail(this.address);
    this.log.info({ address: this.address }, "authentication failed: invalid token");
    return undefined;
  }

  /** Bytes waiting in this connection's own send queue. */
  get queuedBytes(): number {
    return this.queue.queuedBytes;
  }

  /** Whether this client is on screen and attached to the session: pushes about it are held back then. */
  watches(sessionId: string): boolean {
    if (!this.visible || this.closed || this.cleanedUp) return false;
    const sub = this.subs.get(sessionId);
    return sub !== undefined && !sub.closed;
  }

  /** Whether one more session may be attached (an already attached one always may). */
  private attachable(sessionId?: string): boolean {
    return (
      (sessionId !== undefined && this.subs.has(sessionId)) ||
      this.subs.size < this.deps.options.maxSessionsPerConnection
    );
  }

  private attach(
    live: LiveSession,
    sinceSeq?: number,
    level?: AttachLevel,
    coalesceMs = this.defaultCoalesceMs,
  ): Subscription {
    if (!this.attachable(live.id)) {
      const max = this.deps.options.maxSessionsPerConnection;
      throw new ProtocolError("limit_exceeded", `at most ${max} sessions attached per connection`, {
        maxSessionsPerConnection: max,
      });
    }
    const old = this.subs.get(live.id);
    if (old) this.closeSub(old);
    const sub = live.subscribe(sinceSeq, level, this.traits);
    this.subs.set(live.id, sub);
    if (coalesceMs > 0)
      this.windows.set(sub, { ms: coalesceMs, coalescer: new DeltaCoalescer(coalesceMs, this.sendEvent) });
    return sub;
  }

  /** Starts the flow of a subscription's events (replay first), through its delta window if it has one. */
  private start(sub: Subscription): void {
    sub.start(this.windows.get(sub)?.coalescer.push ?? this.sendEvent);
  }

  private closeSub(sub: Subscription): void {
    sub.close();
    this.windows.get(sub)?.coalescer.close();
    this.windows.delete(sub);
  }

  private detach(sessionId: string): boolean {
    const sub = this.subs.get(sessionId);
    this.subs.delete(sessionId);
    if (!sub) return false;
    const wasOpen = !sub.closed;
    this.closeSub(sub);
    return wasOpen;
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.close(code, reason);
    this.cleanup();
  }

  /** Sends a close frame when told why (best effort) and destroys the socket at once. */
  private terminate(code?: number, reason?: string): void {
    if (!this.closed && code !== undefined) this.ws.close(code, reason);
    this.closed = true;
    this.ws.terminate();
    this.cleanup();
  }

  /**
   * An unauthenticated peer gets its error and close frame, but is not waited on for the close
   * handshake: the queued frames are flushed (briefly) and the socket destroyed.
   */
  private terminateAfterSend(code: number, reason: string): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    void this.queue.drained(1000).then(() => this.terminate(code, reason));
  }

  /** Waits (at most timeoutMs) until what is queued for this client has left the server. */
  flush(timeoutMs: number): Promise<void> {
    return this.queue.drained(timeoutMs);
  }

  private snapshot(): ConnectionSnapshot | undefined {
    if (!this.principal) return undefined;
    return {
      principalId: this.principal.id,
      attachments: [...this.subs].map(([sessionId, sub]) => ({
        sessionId,
        level: sub.level,
        fromSeq: sub.fromSeq,
        coalesceMs: this.windows.get(sub)?.ms ?? 0,
      })),
      nativeTools: this.nativeTools,
      permissionRequests: this.traits.permissionRequests,
    };
  }

  handOver(): ConnectionSnapshot {
    const snapshot = this.snapshot() as ConnectionSnapshot;
    this.handedOver = true;
    this.log.info("taken over by a resuming connection");
    this.cleanup();
    this.ws.terminate();
    return snapshot;
  }

  private cleanup(): void {
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    // Remembered for a successor's hello.resume (a dropped phone reconnects with this id).
    const snapshot = this.handedOver ? undefined : this.snapshot();
    if (snapshot) this.deps.resume.remember(this.id, snapshot);
    this.closed = true;
    this.stopCountingBytes();
    clearTimeout(this.helloTimer);
    clearInterval(this.heartbeat);
    this.deps.nativeCalls.dropConnection(this.id);
    for (const sub of this.subs.values()) this.closeSub(sub);
    this.subs.clear();
    this.queue.drop();
  }

  private send(data: string, event?: OutboundEvent): void {
    if (this.closed) return;
    this.queue.send(data, event);
  }

  private sendEvent = (e: OutboundEvent): void => this.send(e.data, e);

  private rateLimited(): boolean {
    const now = Date.now();
    const rate = this.deps.options.maxRequestsPerSecond;
    this.tokens = Math.min(rate * 2, this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    if (this.tokens < 1) return true;
    this.tokens--;
    return false;
  }

  private sendResult(id: RequestId, result: unknown): void {
    // A response never overtakes a delta held in a window: an answer that stands at a seq
    // (get_messages, session.attach) then means every event up to it has already been sent.
    for (const w of this.windows.values()) w.coalescer.flush();
    this.send(JSON.stringify({ v: PROTOCOL_VERSION, kind: "response", id, ok: true, result }));
  }

  private sendError(
    id: RequestId | null,
    code: ErrorCode,
    message: string,
    data?: ErrorData,
    details?: string,
  ): void {
    const error = errorBody(code, message, data, details);
    this.send(JSON.stringify({ v: PROTOCOL_VERSION, kind: "response", id, ok: false, error }));
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.closed || this.ending) return;
    if (!this.helloDone) {
      this.preHelloMessageBytes += data.length;
      if (this.preHelloMessageBytes > this.deps.options.maxPreHelloBytes) {
        this.log.info(
          { limit: this.deps.options.maxPreHelloBytes },
          "too many bytes before hello; terminating",
        );
        this.terminate();
        return;
      }
    }
    if (isBinary) {
      this.sendError(null, "parse_error", "binary frames are not supported; send JSON text");
      return;
    }
    if (data.length > this.deps.options.maxFrameBytes) {
      this.sendError(null, "limit_exceeded", `frame of ${data.length} bytes exceeds the limit`, {
        maxFrameBytes: this.deps.options.maxFrameBytes,
      });
      return;
    }
    const text = data.toString("utf8");
    const maxDepth = this.deps.options.maxJsonDepth;
    if (jsonTooDeep(text, maxDepth)) {
      this.sendError(null, "limit_exceeded", `JSON nested deeper than ${maxDepth} levels`, {
        maxJsonDepth: maxDepth,
      });
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      this.sendError(null, "parse_error", `invalid JSON: ${(err as Error).message}`);
      return;
    }
    if (this.rateLimited()) {
      const rate = this.deps.options.maxRequestsPerSecond;
      this.sendError(idOf(raw), "limit_exceeded", `more than ${rate} requests per second; slow down`, {
        maxRequestsPerSecond: rate,
      });
      return;
    }
    const checked = checkRequest(raw);
    if (!checked.ok) {
      this.sendError(
        idOf(raw),
        "invalid_request",
        `not a v${PROTOCOL_VERSION} request: ${formatIssues(checked.issues)}`,
      );
      return;
    }
    void this.handle(checked.value);
  }

  private async handle(req: RequestFrame): Promise<void> {
    const { id, method } = req;
    try {
      if (!this.helloDone) {
        if (method !== "hello") {
          if (!this.principal) throw new ProtocolError("unauthorized", "send hello with a valid token first");
          throw new ProtocolError("invalid_request", "send hello first");
        }
      } else if (method === "hello") {
        throw new ProtocolError("invalid_request", "hello was already sent on this connection");
      }
      if (!isMethodName(method)) throw new ProtocolError("unknown_method", `unknown method "${method}"`);
      const spec = Methods[method];
      const params = paramChecker(method)(req.params ?? {});
      if (!params.ok) {
        const text = formatIssues(params.issues);
        throw new ProtocolError(
          "invalid_request",
          `invalid params for ${method}: ${text}`,
          {
            issues: params.issues,
          },
          text,
        );
      }
      if (method === "hello") {
        await this.hello(id, params.value as ParamsOf<"hello">);
        return;
      }
      if (spec.scoped && req.sessionId === undefined) {
        throw new ProtocolError("invalid_request", `${method} needs the envelope's sessionId`);
      }
      const started: Subscription[] = [];
      const principal = this.principal;
      if (!principal) throw new ProtocolError("unauthorized", "not authenticated");
      const ctx: CallContext = {
        connectionId: this.id,
        principal,
        sessionId: req.sessionId ?? "",
        attachable: () => this.attachable(),
        attach: (live, sinceSeq, level, coalesceMs) => {
          const sub = this.attach(live, sinceSeq, level, coalesceMs);
          started.push(sub);
          return sub;
        },
        detach: (sessionId) => this.detach(sessionId),
        setVisible: (visible) => (this.visible = visible),
      };
      const handler = this.deps.handlers[method] as (
        p: unknown,
        c: CallContext,
      ) => Promise<unknown> | unknown;
      let result: unknown;
      try {
        result = await handler(params.value, ctx);
      } catch (err) {
        for (const sub of started) {
          this.closeSub(sub);
          for (const [sid, s] of this.subs) if (s === sub) this.subs.delete(sid);
        }
        throw err;
      }
      this.sendResult(id, result);
      for (const sub of started) this.start(sub);
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.sendError(id, err.code, err.message, err.data, err.details);
        if (!this.helloDone && err.code === "unauthorized")
          this.terminateAfterSend(CloseCode.unauthorized, "unauthorized");
        if (!this.helloDone && err.code === "limit_exceeded") {
          this.terminateAfterSend(CloseCode.tooManyAttempts, "too many failed authentications");
        }
      } else if (isStorageFull(err)) {
        // SQLite rolled the statement back: state.db stays consistent, and the next request may
        // succeed once there is space again.
        this.log.error({ err, method }, "request failed: disk full");
        this.sendError(id, "internal", STORAGE_FULL_MESSAGE, { reason: "disk_full" });
      } else {
        // Raw errors can carry host paths or subprocess output: the details go to the log only.
        const ref = randomBytes(4).toString("hex");
        this.log.error({ err, method, ref }, "request failed");
        this.sendError(id, "internal", `internal error (ref ${ref}; see the server log)`);
      }
    }
  }

  private async hello(id: RequestId, params: ParamsOf<"hello">): Promise<void> {
    if (!this.principal) {
      this.principal = this.authenticate(params.token);
      if (!this.principal) throw new ProtocolError("unauthorized", "invalid or missing token");
    }
    this.helloDone = true;
    clearTimeout(this.helloTimer);
    this.stopCountingBytes();
    this.onAuthenticated();
    const previous = params.resume
      ? this.deps.resume.take(params.resume.connectionId, this.principal.id)
      : undefined;
    const offered = acceptedTools(params, previous);
    this.nativeTools = offered.accepted;
    this.traits = clientTraits(params, previous, offered.accepted, this.id, (data) => this.send(data));
    this.defaultCoalesceMs = params.coalesceMs ?? 0;
    let resumed: Awaited<ReturnType<typeof resumeSessions>> | undefined;
    if (params.resume) {
      resumed = await resumeSessions(
        {
          open: this.deps.openSession,
          attach: (live, since, level, coalesceMs) => this.attach(live, since, level, coalesceMs),
        },
        params.resume,
        previous,
      );
    }
    const result = helloResult({
      connectionId: this.id,
      server: this.deps.info(),
      replayWindowSec: this.deps.resume.windowSec,
      principal: this.principal,
      identity: this.deps.identity,
      params,
      tools: offered,
      resume: resumed?.result,
    });
    this.sendResult(id, result);
    for (const sub of resumed?.started ?? []) this.start(sub);
  }
}
