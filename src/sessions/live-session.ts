import { chmodSync, statSync } from "node:fs";
import type { ImageContent } from "@mariozechner/pi-ai";
import type { Logger } from "pino";
import { PROTOCOL_VERSION } from "../protocol/envelope.js";
import { ProtocolError } from "../protocol/errors.js";
import type { SessionEvent } from "../protocol/events.js";
import type { ParamsOf, ResultOf } from "../protocol/methods.js";
import type {
  ImageInput,
  SessionInfo,
  SessionState,
  SessionStatus,
  ThinkingLevel,
} from "../protocol/types.js";
import type { SessionRecord, SessionsIndex } from "../store/sessions-index.js";
import { type AgentSession, type PiModel, modelInfo, modelKey } from "./pi.js";
import { translate } from "./translate.js";

/**
 * PI_SERVER_BENCH_TIMESTAMPS=1, read once at start, adds a diagnostic `ts` to every event frame (when
 * the server emitted it, ms, on performance.timeOrigin + performance.now()) so `npm run bench` can
 * measure the latency the relay adds. Off, `ts` is undefined and JSON.stringify leaves it out.
 */
const BENCH_TIMESTAMPS = process.env.PI_SERVER_BENCH_TIMESTAMPS === "1";

/** An event stamped with its seq and serialised once, whatever the number of listeners. */
export interface OutboundEvent {
  seq: number;
  type: SessionEvent["type"];
  data: string;
}

export type ReplayVerdict = "none" | "ok" | "gap";

/**
 * One connection's view of a session's events. Events that arrive before `start()` are held, so the
 * transport can send its attach response, then the replay, then live events, in that order.
 */
export class Subscription {
  private held: OutboundEvent[] | undefined = [];
  private listener: ((e: OutboundEvent) => void) | undefined;
  private isClosed = false;

  constructor(
    readonly verdict: ReplayVerdict,
    private readonly replay: OutboundEvent[],
    private readonly detach: (s: Subscription) => void,
    /** Still-pending permission_request events, sent again (same seq) to this connection only. */
    private readonly resend: OutboundEvent[] = [],
  ) {}

  get replayCount(): number {
    return this.replay.length;
  }

  push(e: OutboundEvent): void {
    if (this.held) this.held.push(e);
    else this.listener?.(e);
  }

  start(listener: (e: OutboundEvent) => void): void {
    const bySeq = new Map([...this.resend, ...this.replay].map((e) => [e.seq, e]));
    const pending = [...[...bySeq.values()].sort((a, b) => a.seq - b.seq), ...(this.held ?? [])];
    this.held = undefined;
    this.listener = listener;
    let last = 0;
    for (const e of pending) {
      if (e.seq > last) listener(e);
      last = Math.max(last, e.seq);
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    this.isClosed = true;
    this.held = undefined;
    this.listener = undefined;
    this.detach(this);
  }
}

export interface LiveSessionDeps {
  index: SessionsIndex;
  log: Logger;
  replayLimit: number;
  findModel: (provider: string, modelId: string) => PiModel;
  permissions?: SessionPermissions;
}

/** The session's side of the permission broker. */
export interface SessionPermissions {
  /** permission_request events still waiting for an answer. */
  pendingFrames(): OutboundEvent[];
  /** Ends every waiting request of the session as cancelled. */
  cancel(by: string): void;
}

function toImages(images: ImageInput[] | undefined): ImageContent[] | undefined {
  return images?.map((i) => ({ type: "image", data: i.data, mimeType: i.mimeType }));
}

/** A loaded pi AgentSession plus what the server adds: seq, replay ring, fan-out, status. */
export class LiveSession {
  private seq: number;
  private readonly ring: OutboundEvent[] = [];
  private readonly subs = new Set<Subscription>();
  private readonly unsubscribePi: () => void;
  private busy = false;
  private status: SessionStatus;
  private disposed = false;
  private disposing = false;

  constructor(
    private readonly record: SessionRecord,
    readonly agent: AgentSession,
    private readonly deps: LiveSessionDeps,
  ) {
    this.seq = record.lastSeq;
    this.status = record.status === "running" ? "interrupted" : record.status;
    this.unsubscribePi = agent.subscribe((e) => {
      const ev = translate(e);
      if (ev) this.emit(ev);
      if (e.type === "message_end" || e.type === "agent_end") this.secureHistoryFile();
      if (e.type === "agent_end") this.touch();
    });
  }

  get id(): string {
    return this.record.id;
  }

  get currentSeq(): number {
    return this.seq;
  }

  get isBusy(): boolean {
    return this.busy;
  }

  info(): SessionInfo {
    return {
      id: this.record.id,
      name: this.record.name,
      repoId: this.record.repoId,
      worktree: this.record.worktree,
      branch: this.record.branch,
      model: this.agent.model ? modelKey(this.agent.model) : this.record.model,
      thinkingLevel: this.agent.thinkingLevel as ThinkingLevel,
      piSessionFile: this.record.piSessionFile,
      createdAt: this.record.createdAt,
      lastActivity: this.record.lastActivity,
      status: this.status,
      loaded: !this.disposed,
      seq: this.seq,
    };
  }

  emit(ev: SessionEvent): OutboundEvent | undefined {
    if (this.disposed) return undefined;
    const seq = ++this.seq;
    const data = JSON.stringify({
      v: PROTOCOL_VERSION,
      kind: "event",
      sessionId: this.record.id,
      seq,
      ts: BENCH_TIMESTAMPS ? performance.timeOrigin + performance.now() : undefined,
      type: ev.type,
      payload: ev.payload,
    });
    const out: OutboundEvent = { seq, type: ev.type, data };
    if (this.deps.replayLimit > 0) {
      this.ring.push(out);
      if (this.ring.length > this.deps.replayLimit) this.ring.shift();
    }
    for (const s of this.subs) s.push(out);
    return out;
  }

  /**
   * Without sinceSeq: live events from now on. With sinceSeq: "ok" and every buffered event after
   * it, or "gap" when some of them are no longer buffered (or sinceSeq is from the future).
   */
  subscribe(sinceSeq?: number): Subscription {
    let verdict: ReplayVerdict = "none";
    let replay: OutboundEvent[] = [];
    if (sinceSeq !== undefined) {
      const oldest = this.ring[0]?.seq ?? this.seq + 1;
      if (sinceSeq > this.seq || sinceSeq < oldest - 1) verdict = "gap";
      else {
        verdict = "ok";
        replay = this.ring.filter((e) => e.seq > sinceSeq);
      }
    }
    const resend = this.deps.permissions?.pendingFrames() ?? [];
    const sub = new Subscription(verdict, replay, (s) => this.subs.delete(s), resend);
    this.subs.add(sub);
    return sub;
  }

  private setStatus(status: SessionStatus, reason?: string): void {
    if (this.status === status) return;
    this.status = status;
    this.deps.index.update(this.record.id, { status, lastSeq: this.seq });
    this.emit({ type: "session_status", payload: reason ? { status, reason } : { status } });
  }

  /** pi creates its JSONL lazily with the process umask; the history is the user's, so 0600. */
  private historySecured = false;
  private secureHistoryFile(): void {
    if (this.historySecured) return;
    try {
      if ((statSync(this.record.piSessionFile).mode & 0o777) !== 0o600)
        chmodSync(this.record.piSessionFile, 0o600);
      this.historySecured = true;
    } catch {
      // not written yet
    }
  }

  private touch(): void {
    this.record.lastActivity = Date.now();
    this.deps.index.update(this.record.id, { lastActivity: this.record.lastActivity, lastSeq: this.seq });
  }

  private assertOpen(): void {
    if (this.disposed) throw new ProtocolError("not_found", `session ${this.record.id} was closed`);
  }

  async prompt(params: ParamsOf<"prompt">): Promise<ResultOf<"prompt">> {
    this.assertOpen();
    const images = toImages(params.images);
    if (this.busy) {
      if (!params.streamingBehavior) {
        throw new ProtocolError(
          "conflict",
          "the agent is already running; pass streamingBehavior 'steer' or 'followUp' to queue this message",
        );
      }
      if (params.streamingBehavior === "steer") await this.agent.steer(params.message, images);
      else await this.agent.followUp(params.message, images);
      this.touch();
      return { accepted: true, queued: true };
    }
    this.busy = true;
    this.touch();
    return new Promise((resolve, reject) => {
      let answered = false;
      const run = this.agent.prompt(params.message, {
        images,
        source: "rpc",
        preflightResult: (ok) => {
          if (!ok || answered) return;
          answered = true;
          this.setStatus("running");
          resolve({ accepted: true, queued: false });
        },
      });
      run
        .then(
          () => {
            if (!answered) {
              answered = true;
              resolve({ accepted: true, queued: false });
            }
          },
          (err: unknown) => {
            const message = err instanceof Error ? err.message : String(err);
            if (!answered) {
              answered = true;
              reject(new ProtocolError("invalid_request", `prompt rejected: ${message}`));
            } else this.deps.log.error({ err, sessionId: this.id }, "agent run failed");
          },
        )
        .finally(() => {
          this.busy = false;
          if (!this.disposed && !this.disposing) {
            this.setStatus("idle");
            this.touch();
          }
        });
    });
  }

  async queue(kind: "steer" | "follow_up", params: ParamsOf<"steer">): Promise<ResultOf<"steer">> {
    this.assertOpen();
    if (!this.busy) {
      throw new ProtocolError(
        "conflict",
        `nothing is running to ${kind === "steer" ? "steer" : "follow up"}; use prompt`,
      );
    }
    const images = toImages(params.images);
    if (kind === "steer") await this.agent.steer(params.message, images);
    else await this.agent.followUp(params.message, images);
    return { queued: true };
  }

  async abort(): Promise<ResultOf<"abort">> {
    this.assertOpen();
    const wasBusy = this.busy;
    // Nothing queued: no queue_update event (and no seq) for a no-op.
    const cleared =
      this.agent.pendingMessageCount > 0 ? this.agent.clearQueue() : { steering: [], followUp: [] };
    this.deps.permissions?.cancel("abort");
    await this.agent.abort();
    return { aborted: wasBusy, cleared };
  }

  state(): SessionState {
    const model = this.agent.model;
    return {
      sessionId: this.record.id,
      name: this.record.name,
      model: model ? modelInfo(model) : null,
      thinkingLevel: this.agent.thinkingLevel as ThinkingLevel,
      status: this.status,
      isStreaming: this.agent.isStreaming,
      isCompacting: this.agent.isCompacting,
      messageCount: this.agent.messages.length,
      pendingMessageCount: this.agent.pendingMessageCount,
      steering: [...this.agent.getSteeringMessages()],
      followUp: [...this.agent.getFollowUpMessages()],
      seq: this.seq,
      worktree: this.record.worktree,
      branch: this.record.branch,
    };
  }

  messages(): unknown[] {
    return [...this.agent.messages];
  }

  async setModel(provider: string, modelId: string): Promise<ResultOf<"set_model">> {
    this.assertOpen();
    const model = this.deps.findModel(provider, modelId);
    await this.agent.setModel(model);
    this.record.model = modelKey(model);
    // pi re-clamps the thinking level to what the new model supports.
    this.record.thinkingLevel = this.agent.thinkingLevel;
    this.deps.index.update(this.record.id, {
      model: this.record.model,
      thinkingLevel: this.record.thinkingLevel,
    });
    this.emit({ type: "model_changed", payload: { provider: model.provider, modelId: model.id } });
    return { model: modelInfo(model) };
  }

  setThinkingLevel(level: ThinkingLevel): ResultOf<"set_thinking_level"> {
    this.assertOpen();
    this.agent.setThinkingLevel(level);
    const effective = this.agent.thinkingLevel as ThinkingLevel;
    this.deps.index.update(this.record.id, { thinkingLevel: effective });
    return { level: effective };
  }

  /** Stops the agent and releases it; listeners get `final` (if any) as the last event. */
  async dispose(final?: SessionEvent): Promise<void> {
    if (this.disposed || this.disposing) return;
    this.disposing = true;
    const wasBusy = this.busy;
    this.deps.permissions?.cancel(final?.type === "session_deleted" ? "deleted" : "shutdown");
    if (wasBusy) {
      this.agent.clearQueue();
      await this.agent
        .abort()
        .catch((err: unknown) => this.deps.log.warn({ err }, "abort on dispose failed"));
    }
    // A turn cut short by shutdown is reported as interrupted, on the wire and after the restart.
    if (final) this.emit(final);
    else if (wasBusy) this.setStatus("interrupted", "server shutting down");
    else if (this.status === "running") this.setStatus("idle");
    this.disposed = true;
    this.unsubscribePi();
    this.agent.dispose();
    this.deps.index.update(this.record.id, { lastSeq: this.seq, status: this.status });
    for (const s of [...this.subs]) s.close();
  }
}
