import { randomBytes } from "node:crypto";
import { chmodSync, statSync } from "node:fs";
import type { ImageContent } from "@mariozechner/pi-ai";
import type { Logger } from "pino";
import { ProtocolError } from "../protocol/errors.js";
import type { SessionEvent } from "../protocol/events.js";
import type { ParamsOf, ResultOf } from "../protocol/methods.js";
import type {
  ImageInput,
  ModelSummary,
  SessionInfo,
  SessionState,
  SessionStatus,
  ThinkingLevel,
} from "../protocol/types.js";
import type { SessionRecord, SessionsIndex } from "../store/sessions-index.js";
import { isStorageFull } from "../store/storage-errors.js";
import {
  type AgentSession,
  type AgentSessionEvent,
  type PiModel,
  modelInfo,
  modelKey,
  modelSummary,
} from "./pi.js";
import { sessionInfo, sessionState } from "./views.js";
import { portableMessage } from "./portable-messages.js";
import { runOutcome, translate } from "./translate.js";
import { outboundEvent, targetedFrame } from "./frames.js";
import { type OutboundEvent, type ReplayBudget, ReplayRing } from "./replay-ring.js";
import type { NativeFrame, NativeToolHost } from "./native-tools.js";
import { type AttachLevel, type ReplayVerdict, type SubscriberTraits, Subscription } from "./subscription.js";
import { TurnIds } from "./turn-ids.js";
import type { ToolRuntime } from "../runtime/index.js";
import type { TurnMetrics } from "../metrics/metrics.js";
import { contentText } from "./message-text.js";

export type { OutboundEvent } from "./replay-ring.js";
export { Subscription, type AttachLevel, type ReplayVerdict, type SubscriberTraits } from "./subscription.js";

/** Seqs reserved in state.db per write: after a kill -9 the session restarts above the last block. */
const SEQ_BLOCK = 1000;

export interface LiveSessionDeps {
  index: SessionsIndex;
  log: Logger;
  replayLimit: number;
  replayBytes: number;
  /** Shared by every loaded session: bounds all replay rings together. */
  replayBudget?: ReplayBudget;
  findModel: (provider: string, modelId: string) => PiModel;
  permissions?: SessionPermissions;
  /** Where the session's tools run; every process still running is killed on abort and dispose. */
  runtime?: Pick<ToolRuntime, "killAll">;
  /**
   * Called when a run of the agent ends (the worktree is checkpointed and the session's branch
   * exported then). The next prompt starts only once it has settled.
   */
  afterTurn?: (turn: TurnEnd) => Promise<void> | void;
  /** What holds the session (a revert, a fork) while it must not start a turn; undefined when free. */
  heldBy?: () => string | undefined;
  /** Builds the session's native tool host once the session's frames can be made. */
  nativeTools?: (frame: NativeFrame) => NativeToolHost;
  /** The last turn waits for an answer and will go on (resumeTurn): it is not interrupted. */
  resuming?: boolean;
  metrics?: TurnMetrics;
  /** Sees every pi event of the session (usage, search index, titles). */
  observe?: (e: AgentSessionEvent) => void;
  /** A running turn was cut short by a stop (not an abort, not a turn that waits for the restart). */
  onInterrupted?: (reason: string) => void;
}

/** A run of the agent that just ended. */
export interface TurnEnd {
  /** The message that started it. */
  prompt: string;
  /** pi's history entry the run ended on. */
  entryId: string | null;
  /** User messages on the conversation's branch now. */
  turn: number;
}

/** The session's side of the permission broker. */
export interface SessionPermissions {
  /** permission_request events still waiting for an answer. */
  pendingFrames(): OutboundEvent[];
  /** Ends every waiting request of the session as cancelled. */
  cancel(by: string): void;
  /** Freezes the waiting requests for a shutdown (they wait again after the restart); false if none. */
  suspend(): boolean;
  /** The session's run ended: what was allowed for the rest of it is asked about again. */
  endTurn(): void;
}

function toImages(images: ImageInput[] | undefined): ImageContent[] | undefined {
  return images?.map((i) => ({ type: "image", data: i.data, mimeType: i.mimeType }));
}

/** A loaded pi AgentSession plus what the server adds: seq, replay ring, fan-out, status. */
export class LiveSession {
  private seq: number;
  /** pi's assistant message in flight (message_start … message_end), as of the last emitted event. */
  private streaming: unknown;
  /** New every time this process opens the session; with seq, names an event uniquely forever. */
  readonly epoch = randomBytes(6).toString("hex");
  /** Seqs up to this value may have been used: state.db says so before any of them is sent. */
  private seqReserved: number;
  private readonly ring: ReplayRing;
  private readonly turnIds = new TurnIds<{ accepted: true; queued: boolean } | { queued: true }>();
  /** The session_status "interrupted" event, re-sent on attach while the session stays interrupted. */
  private interruptedFrame: OutboundEvent | undefined;
  private readonly subs = new Set<Subscription>();
  private readonly unsubscribePi: () => void;
  private busy = false;
  private turnStartedAt = 0;
  private status: SessionStatus;
  private disposed = false;
  private disposing = false;
  private readonly native: NativeToolHost | undefined;
  /** Aborts the tool calls of a turn resumed after a restart, before pi's loop takes over. */
  private resumeAbort: AbortController | undefined;
  /** When anything last happened to the session: an event, an attach, a detach, a call. */
  private lastUse = Date.now();
  /** What runs after the last turn (its checkpoint); never rejects. */
  private settling: Promise<void> = Promise.resolve();
  private currentPrompt = "";

  constructor(
    private readonly record: SessionRecord,
    readonly agent: AgentSession,
    private readonly deps: LiveSessionDeps,
  ) {
    this.seq = Math.max(record.lastSeq, record.seqReserved);
    this.seqReserved = this.seq;
    this.ring = new ReplayRing(deps.replayLimit, deps.replayBytes, deps.replayBudget);
    this.status = record.status === "running" ? "interrupted" : record.status;
    this.native = deps.nativeTools?.((type, payload) =>
      targetedFrame(this.record.id, this.epoch, this.seq, type, payload),
    );
    this.unsubscribePi = agent.subscribe((e) => this.onPiEvent(e));
    // The process that ran the last turn died or stopped mid-turn: say so to whoever attaches.
    if (this.status === "interrupted" && deps.resuming !== true) {
      this.interruptedFrame = this.emit({
        type: "session_status",
        payload: { status: "interrupted", reason: "the server stopped during the last turn" },
      });
    }
  }

  /** pi's events, and those the server makes on pi's behalf for a resumed turn. */
  onPiEvent(e: AgentSessionEvent): void {
    this.trackStreaming(e);
    const ev = translate(e);
    if (ev) this.emit(ev);
    this.deps.observe?.(e);
    if (e.type === "message_end" || e.type === "agent_end") this.secureHistoryFile();
    if (e.type === "agent_end") {
      if (this.turnStartedAt > 0) {
        const seconds = (performance.now() - this.turnStartedAt) / 1000;
        this.deps.metrics?.turnEnded(seconds, runOutcome(e.messages));
        this.turnStartedAt = 0;
      }
      this.touch();
      this.endTurn();
    }
  }

  /**
   * The assistant message being written as of the last emitted event, so get_messages can hand a
   * client that opens the session mid-message what streamed before it attached.
   */
  private trackStreaming(e: AgentSessionEvent): void {
    if (e.type === "message_start" || e.type === "message_update") {
      const m = e.message as { role?: string };
      if (m.role === "assistant") this.streaming = e.message;
    } else if (e.type === "message_end" || e.type === "agent_end") this.streaming = undefined;
  }

  /**
   * Picks up a turn a previous process left waiting for a permission answer: `calls` runs the
   * waiting calls (once answered) and appends their results, then pi's loop goes on from there.
   */
  resumeTurn(calls: (signal: AbortSignal) => Promise<void>): void {
    const controller = new AbortController();
    this.resumeAbort = controller;
    this.busy = true;
    this.turnStartedAt = performance.now();
    this.setStatus("running");
    void (async () => {
      try {
        await calls(controller.signal);
        if (controller.signal.aborted || this.disposed || this.disposing) return;
        this.resumeAbort = undefined;
        await this.agent.agent.continue();
      } catch (err) {
        this.deps.log.error({ err, sessionId: this.id }, "the resumed turn failed");
      } finally {
        this.resumeAbort = undefined;
        this.busy = false;
        this.deps.permissions?.endTurn();
        if (!this.disposed && !this.disposing) {
          this.setStatus("idle");
          this.touch();
        }
      }
    })();
  }

  get id(): string {
    return this.record.id;
  }

  private endTurn(): void {
    const afterTurn = this.deps.afterTurn;
    if (!afterTurn) return;
    const manager = this.agent.sessionManager;
    const users = manager.getBranch().filter((e) => e.type === "message" && e.message.role === "user");
    // A turn resumed after a restart was not started by a prompt of this process: its last user message is.
    const last = users.at(-1);
    const lastText =
      last?.type === "message" ? contentText((last.message as { content?: unknown }).content) : "";
    const turn: TurnEnd = {
      prompt: this.currentPrompt || lastText,
      entryId: manager.getLeafId(),
      turn: users.length,
    };
    this.settling = Promise.resolve()
      .then(() => afterTurn(turn))
      .catch((err: unknown) => this.deps.log.warn({ err, sessionId: this.id }, "after-turn work failed"));
  }

  /** Resolves once what follows the last turn (its checkpoint) is done. */
  settled(): Promise<void> {
    return this.settling;
  }

  /** A name the user chose; pi's history records it too, and attached clients get session_info_changed. */
  rename(name: string): void {
    this.assertOpen();
    this.record.name = name;
    this.record.nameSource = "user";
    this.agent.setSessionName(name);
  }

  get currentSeq(): number {
    return this.seq;
  }

  get isBusy(): boolean {
    return this.busy;
  }

  info(): SessionInfo {
    return sessionInfo(this.record, {
      agent: this.agent,
      status: this.status,
      seq: this.seq,
      loaded: !this.disposed,
    });
  }

  /**
   * How long the session has been idle: 0 while a turn runs, an approval waits, or a client is
   * attached (an unloaded session could not answer any of them).
   */
  idleMs(now = Date.now()): number {
    if (this.disposed || this.disposing || this.busy || this.subs.size > 0) return 0;
    if (this.agent.isStreaming || this.agent.isCompacting) return 0;
    if ((this.deps.permissions?.pendingFrames().length ?? 0) > 0) return 0;
    return Math.max(0, now - this.lastUse);
  }

  /** Marks the session as used now (the idle clock starts over). */
  used(): void {
    this.lastUse = Date.now();
  }

  emit(ev: SessionEvent): OutboundEvent | undefined {
    if (this.disposed) return undefined;
    this.lastUse = Date.now();
    const seq = ++this.seq;
    if (seq > this.seqReserved) {
      // Durable before the event leaves: a restart after kill -9 resumes above every seq ever sent.
      this.reserveSeqs(seq);
    }
    const out = outboundEvent(this.record.id, this.epoch, seq, ev);
    this.ring.push(out);
    for (const s of this.subs) s.push(out);
    return out;
  }

  /**
   * Makes the next block of seqs durable. Runs inside pi's event callbacks: a full disk must not
   * throw out of them (that would take the process down). The reservation stays where it was,
   * so every following event retries it until the disk has room again.
   */
  private reserveSeqs(seq: number): void {
    try {
      this.deps.index.update(this.record.id, { seqReserved: seq + SEQ_BLOCK });
      this.seqReserved = seq + SEQ_BLOCK;
    } catch (err) {
      if (!isStorageFull(err)) throw err;
      this.deps.log.error({ err, sessionId: this.record.id, seq }, "could not reserve seqs: disk full");
    }
  }

  /**
   * Without sinceSeq: live events from now on. With sinceSeq: "ok" and every buffered event after
   * it, or "gap" when some of them are no longer buffered (or sinceSeq is from the future).
   */
  subscribe(sinceSeq?: number, level: AttachLevel = "full", traits?: SubscriberTraits): Subscription {
    let verdict: ReplayVerdict = "none";
    let replay: OutboundEvent[] = [];
    if (sinceSeq !== undefined) {
      // Seqs are never reused, across restarts too, so coverage alone decides, whatever the epoch.
      const oldest = this.ring.oldestSeq ?? this.seq + 1;
      if (sinceSeq > this.seq || sinceSeq < oldest - 1) verdict = "gap";
      else {
        verdict = "ok";
        replay = this.ring.since(sinceSeq);
      }
      this.deps.metrics?.replay(verdict);
    }
    const resend = this.deps.permissions?.pendingFrames() ?? [];
    if (this.status === "interrupted" && this.interruptedFrame) resend.push(this.interruptedFrame);
    const detach = (s: Subscription): void => {
      this.subs.delete(s);
      this.lastUse = Date.now();
      if (s.traits.native) this.refreshNativeTools();
    };
    const fromSeq = sinceSeq ?? this.seq;
    const sub = new Subscription({
      verdict,
      replay,
      detach,
      resend,
      level,
      fromSeq,
      ...(traits && { traits }),
    });
    this.subs.add(sub);
    this.lastUse = Date.now();
    if (traits?.native) this.refreshNativeTools();
    return sub;
  }

  /** Whether an attached client said it answers permission requests. */
  get canAnswerPermissions(): boolean {
    for (const s of this.subs) if (s.traits.permissionRequests) return true;
    return false;
  }

  private refreshNativeTools(): void {
    if (this.disposed || this.disposing) return;
    const clients = [...this.subs].reverse().flatMap((s) => (s.traits.native ? [s.traits.native] : []));
    this.native?.update(clients);
  }

  private setStatus(status: SessionStatus, reason?: string): void {
    if (this.status === status) return;
    const was = this.status;
    this.status = status;
    if (status === "running") this.deps.log.info({ sessionId: this.id }, "turn started");
    else if (was === "running")
      this.deps.log.info({ sessionId: this.id, status, ...(reason && { reason }) }, "turn ended");
    this.persistQuietly({ status, lastSeq: this.seq });
    const frame = this.emit({ type: "session_status", payload: reason ? { status, reason } : { status } });
    this.interruptedFrame = status === "interrupted" ? frame : undefined;
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
    this.lastUse = this.record.lastActivity;
    this.persistQuietly({ lastActivity: this.record.lastActivity, lastSeq: this.seq });
  }

  /**
   * Index writes made from pi's event callbacks, where a throw would crash the process: on a
   * full disk the in-memory state goes on (and is written with the next update that succeeds).
   */
  private persistQuietly(patch: Parameters<SessionsIndex["update"]>[1]): void {
    try {
      this.deps.index.update(this.record.id, patch);
    } catch (err) {
      if (!isStorageFull(err)) throw err;
      this.deps.log.error(
        { err, sessionId: this.record.id },
        "could not update the sessions index: disk full",
      );
    }
  }

  private assertOpen(): void {
    if (this.disposed) throw new ProtocolError("not_found", `session ${this.record.id} was closed`);
  }

  prompt(params: ParamsOf<"prompt">): Promise<ResultOf<"prompt">> {
    return this.turnIds.run(params.clientTurnId, () => this.promptOnce(params)) as Promise<
      ResultOf<"prompt">
    >;
  }

  private async promptOnce(params: ParamsOf<"prompt">): Promise<ResultOf<"prompt">> {
    this.assertOpen();
    const held = this.deps.heldBy?.();
    if (held !== undefined)
      throw new ProtocolError("conflict", `the session is busy: ${held}; try again when it is done`);
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
    this.turnStartedAt = performance.now();
    this.touch();
    // The last turn's checkpoint is taken before this turn can change the worktree.
    await this.settling;
    if (this.disposed || this.disposing) {
      this.busy = false;
      throw new ProtocolError("not_found", `session ${this.record.id} was closed`);
    }
    this.currentPrompt = params.message;
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
          this.deps.permissions?.endTurn();
          if (!this.disposed && !this.disposing) {
            this.setStatus("idle");
            this.touch();
          }
        });
    });
  }

  queue(kind: "steer" | "follow_up", params: ParamsOf<"steer">): Promise<ResultOf<"steer">> {
    const once = (): Promise<ResultOf<"steer">> => this.queueOnce(kind, params);
    return this.turnIds.run(params.clientTurnId, once) as Promise<ResultOf<"steer">>;
  }

  private async queueOnce(
    kind: "steer" | "follow_up",
    params: ParamsOf<"steer">,
  ): Promise<ResultOf<"steer">> {
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
    this.resumeAbort?.abort();
    await this.agent.abort();
    this.deps.runtime?.killAll();
    return { aborted: wasBusy, cleared };
  }

  state(): SessionState {
    return sessionState(this.record, this.agent, { status: this.status, seq: this.seq, epoch: this.epoch });
  }

  /** The session's model as session.attach reports it. */
  currentModel(): ModelSummary | undefined {
    return this.agent.model ? modelSummary(this.agent.model) : undefined;
  }

  /** The conversation, or with limit the `limit` messages before index `before` (default: the end). */
  messages(params: ParamsOf<"get_messages">): ResultOf<"get_messages"> {
    const all = this.agent.messages;
    const end = Math.min(params.before ?? all.length, all.length);
    const start = params.limit === undefined ? 0 : Math.max(0, end - params.limit);
    return {
      messages: params.raw === true ? all.slice(start, end) : all.slice(start, end).map(portableMessage),
      total: all.length,
      start,
      nextBefore: start > 0 ? start : null,
      ...(end === all.length &&
        this.streaming !== undefined && {
          streaming: params.raw === true ? this.streaming : portableMessage(this.streaming),
        }),
      seq: this.seq,
    };
  }

  /** Tells attached clients the server is going away, before their turn is aborted. */
  announceShutdown(): void {
    // Only where someone listens: an unobserved seq would turn every later resume into a gap.
    if (this.subs.size === 0) return;
    this.emit({ type: "server_shutdown", payload: { reason: "the server is shutting down" } });
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
    this.emit({
      type: "model_changed",
      payload: { model: modelSummary(model), provider: model.provider, modelId: model.id },
    });
    return { model: modelInfo(model) };
  }

  setThinkingLevel(level: ThinkingLevel): ResultOf<"set_thinking_level"> {
    this.assertOpen();
    this.agent.setThinkingLevel(level);
    const effective = this.agent.thinkingLevel as ThinkingLevel;
    this.deps.index.update(this.record.id, { thinkingLevel: effective });
    return { level: effective };
  }

  /** A generated title, already in the index: pi's session name, sent as session_info_changed. */
  showTitle(name: string): void {
    if (this.disposed || this.disposing) return;
    this.agent.setSessionName(name);
  }

  /** Stops the agent and releases it; listeners get `final` (if any) as the last event. */
  async dispose(final?: SessionEvent): Promise<void> {
    if (this.disposed || this.disposing) return;
    this.disposing = true;
    const wasBusy = this.busy;
    // A call waiting for an answer at shutdown stays waiting (in state.db) and resumes after the restart.
    const suspended = !final && (this.deps.permissions?.suspend() ?? false);
    if (!suspended) this.deps.permissions?.cancel(final?.type === "session_deleted" ? "deleted" : "shutdown");
    if (wasBusy) {
      this.agent.clearQueue();
      // A suspended turn is not aborted: it must not go on to write a result for the waiting call.
      if (!suspended) {
        this.resumeAbort?.abort();
        await this.agent
          .abort()
          .catch((err: unknown) => this.deps.log.warn({ err }, "abort on dispose failed"));
      }
    }
    // A turn cut short by shutdown is reported as interrupted, on the wire and after the restart.
    if (final) this.emit(final);
    else if (suspended)
      this.setStatus("interrupted", "server shutting down; the permission request waits for the restart");
    else if (wasBusy) {
      this.setStatus("interrupted", "server shutting down");
      this.deps.onInterrupted?.("the server stopped during the turn");
    } else if (this.status === "running") this.setStatus("idle");
    this.deps.runtime?.killAll();
    this.disposed = true;
    this.unsubscribePi();
    this.agent.dispose();
    this.ring.release();
    // A clean stop knows the exact last seq: the next start continues right after it.
    this.deps.index.update(this.record.id, { lastSeq: this.seq, seqReserved: this.seq, status: this.status });
    for (const s of [...this.subs]) s.close();
  }
}
