/**
 * The one connection to the current server: hello with the pinned key, reconnect with backoff,
 * and re-attaching every open session from the last seq it applied.
 */
import { signal } from "@preact/signals";
import { BrowserClient, IdentityError, type AnyEvent } from "../../src/client/browser.js";
import type { MethodName, ParamsOf, ResultOf } from "../../src/protocol/methods.js";
import { verifyEd25519 } from "./crypto.js";
import type { SessionStream } from "./session-stream.js";
import type { ServerRecord } from "./storage.js";

export type ConnState = "connecting" | "connected" | "reconnecting" | "offline" | "revoked" | "untrusted";

const UNAUTHORIZED = 4401;
/**
 * Streamed text arrives in frames of 50 ms: still smooth to read (a screen refresh is 16 ms, a reader
 * notices steps past about 100), and a reply takes a fraction of the frames, radio time and battery.
 */
const TEXT_WINDOW_MS = 50;

export interface ConnectionHooks {
  onEvent(e: AnyEvent): void;
  /** After hello and every re-attach: a good moment to refresh lists. */
  onReady(): void;
  onRevoked(): void;
}

export class Connection {
  readonly state = signal<ConnState>("connecting");
  readonly lastError = signal<string | undefined>(undefined);
  private client: BrowserClient | undefined;
  private readonly streams = new Map<string, SessionStream>();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private opening: Promise<void> | undefined;
  private stopped = false;
  private readonly onOnline = (): void => this.retryNow();
  /** On screen, the server holds back pushes about the sessions attached here; hidden, they go again. */
  private readonly onVisibility = (): void => {
    if (this.client && this.state.value === "connected") this.reportVisibility(this.client);
  };

  constructor(
    readonly server: ServerRecord,
    private readonly hooks: ConnectionHooks,
  ) {}

  start(): void {
    addEventListener("online", this.onOnline);
    document.addEventListener("visibilitychange", this.onVisibility);
    void this.open();
  }

  stop(): void {
    this.stopped = true;
    removeEventListener("online", this.onOnline);
    document.removeEventListener("visibilitychange", this.onVisibility);
    clearTimeout(this.retryTimer);
    void this.client?.close();
  }

  request<M extends MethodName>(method: M, params: ParamsOf<M>, sessionId?: string): Promise<ResultOf<M>> {
    if (!this.client || this.state.value !== "connected")
      return Promise.reject(new Error("Not connected to the server right now."));
    return this.client.request(method, params, sessionId);
  }

  /** Keeps `stream` attached (now and after every reconnect) until `unwatch`. */
  watch(stream: SessionStream): void {
    if (this.streams.get(stream.sessionId) === stream) return;
    this.streams.set(stream.sessionId, stream);
    if (this.client && this.state.value === "connected") void this.attach(this.client, stream);
  }

  unwatch(sessionId: string): void {
    this.streams.delete(sessionId);
    if (this.client && this.state.value === "connected")
      this.client.request("session.detach", { sessionId }).catch(() => undefined);
  }

  /** One attempt at a time: a tap on Retry, the online event and the retry timer may coincide. */
  private open(): Promise<void> {
    if (this.opening) return this.opening;
    this.opening = this.connectOnce().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async connectOnce(): Promise<void> {
    if (this.stopped) return;
    this.state.value = this.attempt === 0 ? "connecting" : "reconnecting";
    let client: BrowserClient;
    try {
      client = await BrowserClient.connect(this.server.url, {
        token: this.server.token,
        serverPublicKey: this.server.publicKey,
        clientName: `pi-server web app (${this.server.deviceName})`,
        coalesceMs: TEXT_WINDOW_MS,
        verify: verifyEd25519,
      });
    } catch (err) {
      if (err instanceof IdentityError) {
        this.state.value = "untrusted";
        this.lastError.value = err.message;
        return;
      }
      if (/\(4401\b/.test(String((err as Error).message))) return this.revoked();
      this.lastError.value = (err as Error).message;
      return this.scheduleRetry();
    }
    if (this.stopped) {
      void client.close();
      return;
    }
    this.client = client;
    client.onEvent((e) => {
      const stream = this.streams.get(e.sessionId);
      stream?.handle(e);
      if (stream && e.type === "session_status" && e.payload.status === "idle")
        void this.refreshDecisions(client, stream);
      this.hooks.onEvent(e);
    });
    client.onClose((code) => {
      if (this.client !== client) return;
      this.client = undefined;
      if (code === UNAUTHORIZED) this.revoked();
      else if (!this.stopped) this.scheduleRetry();
    });
    this.attempt = 0;
    this.lastError.value = undefined;
    this.state.value = "connected";
    this.reportVisibility(client);
    await Promise.all([...this.streams.values()].map((s) => this.attach(client, s)));
    this.hooks.onReady();
  }

  private async attach(client: BrowserClient, stream: SessionStream): Promise<void> {
    const { sessionId } = stream;
    try {
      if (stream.lastSeq === undefined) {
        // First sight: subscribe, then load the history; what streams in meanwhile waits in a buffer.
        stream.beginReload();
        const att = await client.request("session.attach", { sessionId });
        stream.status.value = att.session.status;
        const history = await client.request("get_messages", {}, sessionId);
        stream.finishReload(history as never, att.seq, att.epoch);
        return;
      }
      const att = await client.request("session.attach", {
        sessionId,
        sinceSeq: stream.lastSeq,
        ...(stream.epoch ? { epoch: stream.epoch } : {}),
      });
      if (att.replay === "gap") {
        // Some missed events are gone from the server's ring: rebuild from the history instead.
        stream.beginReload();
        const history = await client.request("get_messages", {}, sessionId);
        stream.status.value = att.session.status;
        stream.finishReload(history as never, att.seq, att.epoch);
      }
    } catch (err) {
      stream.notice(`Could not open this session: ${(err as Error).message}`);
    }
  }

  /**
   * At a turn's end, the recorded decisions of its last calls: the ones a rule allowed (no
   * permission_resolved says so) get their note, as they do after a reload.
   */
  private async refreshDecisions(client: BrowserClient, stream: SessionStream): Promise<void> {
    try {
      const page = await client.request("get_messages", { limit: 50 }, stream.sessionId);
      if (page.decisions) stream.applyDecisions(page.decisions);
    } catch {
      // Only a note is missing; the next reload brings it.
    }
  }

  private revoked(): void {
    this.state.value = "revoked";
    this.stopped = true;
    this.hooks.onRevoked();
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.state.value = navigator.onLine === false ? "offline" : "reconnecting";
    // 0.5 s doubling to 10 s, with jitter so many phones do not come back in step; a person waiting
    // on the screen can tap Retry, and coming online or back on screen retries at once.
    const base = Math.min(10_000, 500 * 2 ** this.attempt++);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.open(), base / 2 + Math.random() * (base / 2));
  }

  private reportVisibility(client: BrowserClient): void {
    client.setVisibility(document.visibilityState === "visible").catch(() => undefined);
  }

  /** Tries again now (the Retry button, the online event, the page coming back on screen). */
  retryNow(): void {
    if (this.stopped || this.client) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    void this.open();
  }
}
